"""Business settings: one typed, frozen object built from the shipped config/settings.yaml and a user file.

The shipped config/settings.yaml is the one statement of the defaults (documented where users read it); a
user's own file given with --config needs only the keys it changes. Every key a file names must exist in
the shipped file: a typo ('curency') is an error that names the file and suggests the key meant, never a
setting silently ignored. A key written twice in one file is an error too (YAML would keep the last).
Modules read `settings.cltv.horizon_months`; each section checks its own values when it is built (the reading
and the checks are in helpers.core.settings_files).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.core import paths
from helpers.core.settings_files import (
    ConfigError,
    SectionCheck,
    check_keys,
    frozen,
    merge,
    plain,
    read_yaml,
)

SETTINGS_FILE = "settings.yaml"

# --------------------------------------------------------------------------------------------------
# the sections
# --------------------------------------------------------------------------------------------------
# the days pandas can hold (datetime64[ns]): a limit outside them could never be met
_FIRST_DAY, _LAST_DAY = dt.date(1678, 1, 1), dt.date(2262, 4, 11)


@dataclass(frozen=True)
class IntakeSettings:
    refunds: str
    column_mapping: str
    engine: str
    max_amount: float
    min_date: dt.date
    max_field_length: int

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> IntakeSettings:
        return cls(refunds=check.choice(values, "refunds", ("net", "quarantine")),
                   column_mapping=str(values["column_mapping"]),
                   engine=check.choice(values, "engine", ("auto", "pandas")),
                   max_amount=check.number(values, "max_amount", low=0, low_open=True, hint=" (e.g. 1000000000)"),
                   min_date=_day(values, "min_date", check),
                   max_field_length=int(check.whole(values, "max_field_length", minimum=1)))


def _day(values: Mapping, key: str, check: SectionCheck) -> dt.date:
    """A calendar day written as yyyy-mm-dd (YAML reads it as a date; a quoted one is text)."""
    value = values[key]
    day = value.date() if isinstance(value, dt.datetime) else value
    if isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:  # e.g. 2024-02-30: named below
            pass
    if not isinstance(day, dt.date) or not _FIRST_DAY <= day <= _LAST_DAY:
        raise check.fail(key, f"must be a day yyyy-mm-dd between {_FIRST_DAY} and {_LAST_DAY}, got {value!r}")
    return day


@dataclass(frozen=True)
class SummarySettings:
    unit_days: float
    holdout_months: int

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> SummarySettings:
        return cls(unit_days=check.number(values, "unit_days", low=0, low_open=True),
                   holdout_months=check.whole(values, "holdout_months", minimum=0))


@dataclass(frozen=True)
class RfmSettings:
    segments_file: str

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> RfmSettings:
        return cls(segments_file=str(values["segments_file"]))


@dataclass(frozen=True)
class AbcSettings:
    cutoffs: tuple[float, float]
    basis: str

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> AbcSettings:
        cutoffs = check.pair(values, "cutoffs", "[0.80, 0.95]")
        if not 0.0 < cutoffs[0] <= cutoffs[1] <= 1.0:
            raise check.fail("cutoffs", f"must satisfy 0 < A <= B <= 1, got {list(values['cutoffs'])}")
        return cls(cutoffs=cutoffs, basis=check.choice(values, "basis", ("revenue", "margin")))


CLTV_MODELS = ("auto", "bgnbd", "pareto", "mbgnbd")
CLTV_SETTINGS = ("auto", "contractual", "noncontractual")


@dataclass(frozen=True)
class CltvSettings:
    horizon_months: int
    discount_rate: float
    margin: float
    model: str
    pareto_max_customers: int | None
    setting: str
    contract_gap_months: int
    interval: float
    likely_lost_below: float

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> CltvSettings:
        return cls(
            horizon_months=check.whole(values, "horizon_months", minimum=1),
            discount_rate=check.number(values, "discount_rate", low=0, hint=" (a yearly rate: 0.10 = 10%)"),
            margin=check.number(values, "margin", low=0, high=1, low_open=True, hint=" (0.4 = 40%)"),
            model=check.choice(values, "model", CLTV_MODELS),
            pareto_max_customers=check.whole(values, "pareto_max_customers", minimum=0, allow_none=True),
            setting=check.choice(values, "setting", CLTV_SETTINGS),
            contract_gap_months=check.whole(values, "contract_gap_months", minimum=1),
            interval=_open_fraction(values, "interval", check),
            likely_lost_below=check.number(values, "likely_lost_below", low=0, high=1, hint=" (0.5 = 50%)"),
        )


def _open_fraction(values: Mapping, key: str, check: SectionCheck) -> float:
    """A level strictly between 0 and 1 (0.9 = 90%)."""
    value = check.number(values, key, low=0, high=1, low_open=True, hint=" (0.9 = 90%)")
    if value >= 1:
        raise check.fail(key, f"must be a number > 0 and < 1 (0.9 = 90%), got {values[key]!r}")
    return value


@dataclass(frozen=True)
class ClusteringSettings:
    k_min: int
    k_max: int
    k: int | None
    sample_size: int
    fit_sample_size: int
    resamples: int
    random_state: int
    min_cluster_share: float
    min_stability: float

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> ClusteringSettings:
        whole = {key: check.whole(values, key) for key in
                 ("k_min", "k_max", "sample_size", "fit_sample_size", "resamples", "random_state")}
        if whole["k_min"] < 2 or whole["k_max"] < whole["k_min"]:
            raise check.fail("k_min", f"and k_max need 2 <= k_min <= k_max, got k_min={whole['k_min']}, "
                                      f"k_max={whole['k_max']}")
        if whole["sample_size"] < 10:
            raise check.fail("sample_size", f"must be at least 10, got {whole['sample_size']}")
        k = values["k"]
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 2):
            raise check.fail("k", f"must be null (automatic) or a whole number >= 2, got {k!r}")
        return cls(k=k, min_cluster_share=check.number(values, "min_cluster_share", low=0, high=0.5, hint=" (0.05 = 5%)"),
                   min_stability=check.number(values, "min_stability", low=0, high=1), **whole)


POTENTIAL_PROFILES = ("auto", "agency", "retail")


def _check_floor(floor: Mapping, quadrants: Mapping, prefix: str, check: SectionCheck) -> None:
    """The attention floor keeps its promise: the quadrants it lifts give fewer (or as many) hours than the
    floor, the others at least as many, so that no client of its class gets less than the floor."""
    if floor["abc_class"] not in ("A", "B", "C"):
        raise check.fail(f"{prefix}attention_floor.abc_class", f"must be A, B or C, got {floor['abc_class']!r}")
    lifts = floor["lifts"]
    if not isinstance(lifts, list | tuple) or not set(lifts) <= set(quadrants):
        raise check.fail(f"{prefix}attention_floor.lifts", f"must list quadrants of {sorted(quadrants)}, got {lifts!r}")
    hours = float(floor["hours_per_month"])
    for key, entry in quadrants.items():
        own = float(entry["hours_per_month"])
        if (key in lifts and own > hours) or (key not in lifts and own < hours):
            raise check.fail(
                f"{prefix}attention_floor.lifts",
                f"must name exactly the quadrants with fewer hours than the floor's {hours:g}: {key} has {own:g}",
            )


def _colours(values: Mapping, check: SectionCheck) -> dict[str, str]:
    """Each group's colour as #rrggbb."""
    for key, colour in values.items():
        if not (isinstance(colour, str) and len(colour) == 7 and colour.startswith("#")
                and all(c in "0123456789abcdefABCDEF" for c in colour[1:])):
            raise check.fail(f"colours.{key}", f'must be a colour "#rrggbb", got {colour!r}')
    return dict(values)


@dataclass(frozen=True)
class PotentialSettings:
    """The potential matrix; the nested parts (weights, quadrants, texts per language) stay read-only
    mappings, checked here against the names the scoring knows (helpers.potential)."""

    weights: Mapping[str, Mapping[str, float]]
    thresholds: Mapping[str, Any]
    growth_range: tuple[float, float]
    cltv_peer_quantile: float
    min_peers: int
    size_bands: tuple[int, ...]
    maturity: Mapping[str, Mapping[str, float]]
    reasons_per_axis: int
    lost: Mapping[str, Any]
    quadrants: Mapping[str, Mapping[str, Any]]
    profile: str
    attention_floor: Mapping[str, Any]
    backtest_months: int
    retail: Mapping[str, Mapping[str, Any]]
    colours: Mapping[str, str]

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> PotentialSettings:
        for axis, weights in values["weights"].items():
            for name, weight in (weights or {}).items():
                if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                    raise check.fail(f"weights.{axis}.{name}", f"must be a number >= 0, got {weight!r}")
        for axis, threshold in values["thresholds"].items():
            if not (threshold == "median" or (isinstance(threshold, int | float) and not isinstance(threshold, bool)
                                              and 0 <= threshold <= 100)):
                raise check.fail(f"thresholds.{axis}", f"must be 'median' or a number 0-100, got {threshold!r}")
        low, high = check.pair(values, "growth_range", "[-0.20, 0.40]")
        if not low < high:
            raise check.fail("growth_range", f"must be [low, high] with low < high, got {list(values['growth_range'])}")
        for part in ("stage_weights", "kind_weights"):
            weights = values["maturity"][part]
            if any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights.values()) or not any(
                    weights.values()):
                raise check.fail(f"maturity.{part}", f"must be numbers >= 0, not all 0, got {dict(weights)!r}")
        for prefix, part in (("", values), ("retail.", values["retail"])):
            _check_floor(part["attention_floor"], part["quadrants"], prefix, check)
        for entry in (values["lost"], values["attention_floor"], *values["quadrants"].values(), values["retail"]["lost"],
                      values["retail"]["attention_floor"], *values["retail"]["quadrants"].values()):
            hours = entry["hours_per_month"]
            if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
                raise check.fail("hours_per_month", f"must be a number of hours >= 0, got {hours!r}")
        return cls(
            weights=frozen(values["weights"]), thresholds=frozen(values["thresholds"]), growth_range=(low, high),
            cltv_peer_quantile=check.number(values, "cltv_peer_quantile", low=0, high=1),
            min_peers=check.whole(values, "min_peers", minimum=1), size_bands=check.edges(values, "size_bands"),
            maturity=frozen(values["maturity"]), reasons_per_axis=check.whole(values, "reasons_per_axis", minimum=1),
            lost=frozen(values["lost"]), quadrants=frozen(values["quadrants"]),
            profile=check.choice(values, "profile", POTENTIAL_PROFILES),
            attention_floor=frozen(values["attention_floor"]),
            backtest_months=check.whole(values, "backtest_months", minimum=0),
            retail=frozen(values["retail"]),
            colours=frozen(_colours(values["colours"], check)),
        )


@dataclass(frozen=True)
class QualificationSettings:
    rules: tuple[Mapping[str, Any], ...]
    sorters: tuple[str, ...]
    size_bands: tuple[int, ...]

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> QualificationSettings:
        rules = values["rules"] or []
        if not isinstance(rules, list | tuple) or not all(isinstance(rule, Mapping) for rule in rules):
            raise check.fail("rules", "must be a list of rules like {column: employees, min: 10}")
        sorters = values["sorters"]
        if not isinstance(sorters, list | tuple) or len(sorters) < 3:
            raise check.fail("sorters", f"must name three account columns (or size_band), got {sorters!r}")
        return cls(rules=frozen(list(rules)), sorters=tuple(str(s) for s in sorters),
                   size_bands=check.edges(values, "size_bands"))


@dataclass(frozen=True)
class RunSettings:
    keep_failed_runs: int
    build_previous_month: bool

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> RunSettings:
        return cls(keep_failed_runs=int(check.whole(values, "keep_failed_runs", minimum=1)),
                   build_previous_month=check.flag(values, "build_previous_month"))


_SPARK_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|yarn|(spark|k8s|mesos)://\S+")


@dataclass(frozen=True)
class SparkSettings:
    master: str
    accepted_rows_dir: str

    @classmethod
    def build(cls, values: Mapping, check: SectionCheck) -> SparkSettings:
        master = str(values["master"] or "").strip()
        if master and not _SPARK_MASTER.fullmatch(master):
            raise check.fail("master", "must be empty (Spark's own configuration, else a local session) or a "
                             "master URL such as spark://host:7077, yarn, k8s://https://host:443 or local[4], "
                             f"got {master!r}")
        folder = str(values["accepted_rows_dir"] or "").strip()
        if "://" in folder and not folder.startswith("file://"):
            raise check.fail("accepted_rows_dir", "must be a folder that this machine reads as well as the "
                             f"executors (a shared mount such as /mnt/shared/workbook), got {folder!r}")
        return cls(master=master, accepted_rows_dir=folder.removeprefix("file://"))


SECTIONS: dict[str, type] = {
    "intake": IntakeSettings, "summary": SummarySettings, "rfm": RfmSettings, "abc": AbcSettings,
    "cltv": CltvSettings, "clustering": ClusteringSettings, "potential": PotentialSettings,
    "qualification": QualificationSettings, "run": RunSettings, "spark": SparkSettings,
}


@dataclass(frozen=True)
class Settings:
    """Every business setting of a run, checked. `source` is the settings file; names of other files in
    it (the column mapping, the RFM segments) are relative to its folder (`resolve`)."""

    currency: str
    intake: IntakeSettings
    summary: SummarySettings
    rfm: RfmSettings
    abc: AbcSettings
    cltv: CltvSettings
    clustering: ClusteringSettings
    potential: PotentialSettings
    qualification: QualificationSettings
    run: RunSettings
    spark: SparkSettings
    source: Path = field(compare=False)
    values: Mapping[str, Any] = field(repr=False, compare=False)

    def resolve(self, name: str | Path) -> Path:
        """A file named in the settings: absolute as it is, else next to the settings file. (A file that a
        user's settings file does not name is the shipped default, made absolute by `load_settings`.)"""
        path = Path(name)
        return path if path.is_absolute() else self.source.parent / path

    def as_dict(self) -> dict[str, Any]:
        """The merged values as plain YAML types (what the run records; what a copy would be written from)."""
        return plain(self.values)

    def with_changes(self, changes: Mapping[str, Any] | None = None, **top_level: Any) -> Settings:
        """These settings with some values changed (a nested mapping, as in a settings file), checked anew."""
        given = merge(changes or {}, top_level)
        values = plain(self.values)
        check_keys(given, values, self.source)
        return build_settings(merge(values, given), self.source)


def build_settings(values: Mapping[str, Any], source: Path) -> Settings:
    """Settings from merged values (every key present): each section built and checked."""
    currency = values["currency"]
    if not isinstance(currency, str) or not currency.strip():
        raise ConfigError(f"{source}: currency must be a currency code like EUR or USD, got {currency!r}")
    sections = {name: kind.build(values[name], SectionCheck(source, name)) for name, kind in SECTIONS.items()}
    return Settings(currency=currency.strip(), source=source, values=frozen(values), **sections)


def shipped_settings_file() -> Path:
    return paths.config_dir() / SETTINGS_FILE


@functools.cache
def _defaults() -> Mapping[str, Any]:
    return frozen(read_yaml(shipped_settings_file()))


# settings that name another file: a relative name is relative to the folder of the file that names it
FILE_KEYS = (("intake", "column_mapping"), ("rfm", "segments_file"))


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from `path` (default: the shipped config/settings.yaml) over the shipped defaults.

    A file named in `path` (e.g. `intake.column_mapping: my_mapping.yaml`) is looked for next to `path`; a
    file that `path` does not name is the shipped one, in the shipped config folder, wherever `path` is."""
    settings_path = Path(path) if path else shipped_settings_file()
    defaults = plain(_defaults())
    given = read_yaml(settings_path)
    check_keys(given, defaults, settings_path)
    values = merge(defaults, given)
    for section, key in FILE_KEYS:
        if key not in given.get(section, {}):
            values[section][key] = str(shipped_settings_file().parent / defaults[section][key])
    return build_settings(values, settings_path)


@functools.cache
def default_settings() -> Settings:
    """The shipped settings (for helpers called without settings, e.g. in tests); built once."""
    return load_settings()


def settings_with(changes: Mapping[str, Any] | None = None, **top_level: Any) -> Settings:
    """The shipped settings with some values changed (tests, notebooks trying a variant)."""
    return default_settings().with_changes(changes, **top_level)


class ColumnMapping(dict):
    """table -> {user's column: contract column}; `source`: its file (checked in helpers.data.intake.columns)."""

    source: Path | str = "config/column_mapping.yaml"


def load_column_mapping(settings: Settings | None = None) -> ColumnMapping:
    """The per-table mapping of user column names to contract names (config/column_mapping.yaml)."""
    settings = settings or default_settings()
    mapping_file = settings.resolve(settings.intake.column_mapping)
    if not mapping_file.is_file():
        raise ConfigError(
            f"{settings.source}: intake.column_mapping names {mapping_file}, which does not exist; fix the name "
            f"(a relative name is relative to the folder of {settings.source.name}) or remove the key to use the "
            f"shipped mapping"
        )
    mapping = {table: columns or {} for table, columns in read_yaml(mapping_file).items()}
    for table, columns in mapping.items():
        if not isinstance(columns, dict):
            raise ConfigError(f"{mapping_file}: '{table}' must map column names to contract names")
    result = ColumnMapping(
        {str(table): {str(k): str(v).strip() for k, v in cols.items()} for table, cols in mapping.items()}
    )
    result.source = mapping_file
    return result


__all__ = [
    "AbcSettings", "CltvSettings", "ClusteringSettings", "ColumnMapping", "ConfigError", "IntakeSettings",
    "PotentialSettings", "QualificationSettings", "RfmSettings", "Settings", "SummarySettings", "build_settings", "check_keys",
    "default_settings", "load_column_mapping", "load_settings", "merge", "read_yaml", "settings_with",
]
