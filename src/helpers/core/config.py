"""Business settings: one typed, frozen object built from the shipped config/settings.yaml and a user file.

The shipped config/settings.yaml is the one statement of the defaults (documented where users read it); a
user's own file given with --config needs only the keys it changes. Every key a file names must exist in
the shipped file: a typo ('curency') is an error that names the file and suggests the key meant, never a
setting silently ignored. A key written twice in one file is an error too (YAML would keep the last).
Modules read `settings.cltv.horizon_months`; each section checks its own values when it is built.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from helpers.core import paths
from helpers.core.errors import WorkbookError

SETTINGS_FILE = "settings.yaml"


class ConfigError(WorkbookError, ValueError):
    """A settings file that cannot be used; the message names the file and the key, and the fix."""


# --------------------------------------------------------------------------------------------------
# reading YAML: duplicate keys are errors
# --------------------------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (plain YAML keeps the last one)."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"{loader.name}: key {key!r} is written twice (lines {seen[key] + 1} and "
                f"{key_node.start_mark.line + 1}); keep one"
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_yaml(path: Path) -> dict:
    """A YAML file whose top level is a mapping; an error names the file (and the line) otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: settings file not found") from exc
    loader = _UniqueKeyLoader(text)
    loader.name = str(path)
    try:
        content = loader.get_single_data() or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return content


# --------------------------------------------------------------------------------------------------
# unknown keys
# --------------------------------------------------------------------------------------------------
def _suggestion(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"


def check_keys(given: Mapping, defaults: Mapping, source: Path, where: str = "") -> None:
    """Every key of `given` exists in `defaults` (recursively, mapping by mapping)."""
    for key, value in given.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in defaults:
            known = [str(k) for k in defaults]
            raise ConfigError(f"{source}: unknown key '{dotted}'; {_suggestion(str(key), known)}")
        if isinstance(defaults[key], Mapping) and not isinstance(value, Mapping):
            inner = ", ".join(str(k) for k in defaults[key])
            raise ConfigError(f"{source}: '{dotted}' must be a mapping of keys to values ({inner}), got {value!r}; "
                              f"write the keys it changes under it, or remove it")
        if isinstance(value, Mapping):
            check_keys(value, defaults[key], source, dotted)


def merge(base: Mapping, override: Mapping) -> dict:
    merged = copy.deepcopy(_plain(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _frozen(value: Any) -> Any:
    """Mappings read-only and lists tuples, all the way down: a section cannot be changed by accident."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# value checks
# --------------------------------------------------------------------------------------------------
class _Check:
    """Checks of one section's values; every message names the file and the dotted key."""

    def __init__(self, source: Path, section: str):
        self.source, self.section = source, section

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.section}.{key} {message}")

    def whole(self, values: Mapping, key: str, minimum: int = 0, allow_none: bool = False) -> int | None:
        value = values[key]
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            extra = " or null" if allow_none else ""
            raise self.fail(key, f"must be a whole number >= {minimum}{extra}, got {value!r}")
        return int(value)

    def number(self, values: Mapping, key: str, low: float | None = None, high: float | None = None,
               low_open: bool = False, hint: str = "") -> float:
        value = values[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            bounds = "" if low is None else (f" > {low:g}" if low_open else f" >= {low:g}")
            bounds += "" if high is None else f" and <= {high:g}"
            raise self.fail(key, f"must be a number{bounds}{hint}, got {value!r}")
        return float(value)

    def choice(self, values: Mapping, key: str, choices: tuple[str, ...]) -> str:
        value = values[key]
        if value not in choices:
            raise self.fail(key, f"is {value!r}; use one of {', '.join(repr(c) for c in choices)}")
        return str(value)

    def pair(self, values: Mapping, key: str, example: str) -> tuple[float, float]:
        value = values[key]
        if not isinstance(value, list | tuple) or len(value) != 2 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            raise self.fail(key, f"must be two numbers like {example}, got {value!r}")
        return float(value[0]), float(value[1])

    def edges(self, values: Mapping, key: str) -> tuple[int, ...]:
        value = values[key]
        if not isinstance(value, list | tuple) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value) or list(value) != sorted(
                set(value)):
            raise self.fail(key, f"must be increasing whole numbers like [10, 50, 250], got {value!r}")
        return tuple(int(v) for v in value)


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
    def build(cls, values: Mapping, check: _Check) -> IntakeSettings:
        return cls(refunds=check.choice(values, "refunds", ("net", "quarantine")),
                   column_mapping=str(values["column_mapping"]),
                   engine=check.choice(values, "engine", ("auto", "pandas")),
                   max_amount=check.number(values, "max_amount", low=0, low_open=True, hint=" (e.g. 1000000000)"),
                   min_date=_day(values, "min_date", check),
                   max_field_length=int(check.whole(values, "max_field_length", minimum=1)))


def _day(values: Mapping, key: str, check: _Check) -> dt.date:
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
    def build(cls, values: Mapping, check: _Check) -> SummarySettings:
        return cls(unit_days=check.number(values, "unit_days", low=0, low_open=True),
                   holdout_months=check.whole(values, "holdout_months", minimum=0))


@dataclass(frozen=True)
class RfmSettings:
    segments_file: str

    @classmethod
    def build(cls, values: Mapping, check: _Check) -> RfmSettings:
        return cls(segments_file=str(values["segments_file"]))


@dataclass(frozen=True)
class AbcSettings:
    cutoffs: tuple[float, float]
    basis: str

    @classmethod
    def build(cls, values: Mapping, check: _Check) -> AbcSettings:
        cutoffs = check.pair(values, "cutoffs", "[0.80, 0.95]")
        if not 0.0 < cutoffs[0] <= cutoffs[1] <= 1.0:
            raise check.fail("cutoffs", f"must satisfy 0 < A <= B <= 1, got {list(values['cutoffs'])}")
        return cls(cutoffs=cutoffs, basis=check.choice(values, "basis", ("revenue", "margin")))


CLTV_MODELS = ("auto", "bgnbd", "pareto", "mbgnbd")


@dataclass(frozen=True)
class CltvSettings:
    horizon_months: int
    discount_rate: float
    margin: float
    model: str
    pareto_max_customers: int | None

    @classmethod
    def build(cls, values: Mapping, check: _Check) -> CltvSettings:
        return cls(
            horizon_months=check.whole(values, "horizon_months", minimum=1),
            discount_rate=check.number(values, "discount_rate", low=0, hint=" (a yearly rate: 0.10 = 10%)"),
            margin=check.number(values, "margin", low=0, high=1, low_open=True, hint=" (0.4 = 40%)"),
            model=check.choice(values, "model", CLTV_MODELS),
            pareto_max_customers=check.whole(values, "pareto_max_customers", minimum=0, allow_none=True),
        )


@dataclass(frozen=True)
class ClusteringSettings:
    k_min: int
    k_max: int
    k: int | None
    sample_size: int
    fit_sample_size: int
    resamples: int
    random_state: int

    @classmethod
    def build(cls, values: Mapping, check: _Check) -> ClusteringSettings:
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
        return cls(k=k, **whole)


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

    @classmethod
    def build(cls, values: Mapping, check: _Check) -> PotentialSettings:
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
        check.number(values["lost"], "below_p_alive", low=0, high=1)
        return cls(
            weights=_frozen(values["weights"]), thresholds=_frozen(values["thresholds"]), growth_range=(low, high),
            cltv_peer_quantile=check.number(values, "cltv_peer_quantile", low=0, high=1),
            min_peers=check.whole(values, "min_peers", minimum=1), size_bands=check.edges(values, "size_bands"),
            maturity=_frozen(values["maturity"]), reasons_per_axis=check.whole(values, "reasons_per_axis", minimum=1),
            lost=_frozen(values["lost"]), quadrants=_frozen(values["quadrants"]),
        )


@dataclass(frozen=True)
class QualificationSettings:
    rules: tuple[Mapping[str, Any], ...]
    sorters: tuple[str, ...]
    size_bands: tuple[int, ...]

    @classmethod
    def build(cls, values: Mapping, check: _Check) -> QualificationSettings:
        rules = values["rules"] or []
        if not isinstance(rules, list | tuple) or not all(isinstance(rule, Mapping) for rule in rules):
            raise check.fail("rules", "must be a list of rules like {column: employees, min: 10}")
        sorters = values["sorters"]
        if not isinstance(sorters, list | tuple) or len(sorters) < 3:
            raise check.fail("sorters", f"must name three account columns (or size_band), got {sorters!r}")
        return cls(rules=_frozen(list(rules)), sorters=tuple(str(s) for s in sorters),
                   size_bands=check.edges(values, "size_bands"))


@dataclass(frozen=True)
class RunSettings:
    keep_failed_runs: int

    @classmethod
    def build(cls, values: Mapping, check: _Check) -> RunSettings:
        return cls(keep_failed_runs=int(check.whole(values, "keep_failed_runs", minimum=1)))


SECTIONS: dict[str, type] = {
    "intake": IntakeSettings, "summary": SummarySettings, "rfm": RfmSettings, "abc": AbcSettings,
    "cltv": CltvSettings, "clustering": ClusteringSettings, "potential": PotentialSettings,
    "qualification": QualificationSettings, "run": RunSettings,
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
    source: Path = field(compare=False)
    values: Mapping[str, Any] = field(repr=False, compare=False)

    def resolve(self, name: str | Path) -> Path:
        """A file named in the settings: absolute as it is, else next to the settings file. (A file that a
        user's settings file does not name is the shipped default, made absolute by `load_settings`.)"""
        path = Path(name)
        return path if path.is_absolute() else self.source.parent / path

    def as_dict(self) -> dict[str, Any]:
        """The merged values as plain YAML types (what the run records; what a copy would be written from)."""
        return _plain(self.values)

    def with_changes(self, changes: Mapping[str, Any] | None = None, **top_level: Any) -> Settings:
        """These settings with some values changed (a nested mapping, as in a settings file), checked anew."""
        given = merge(changes or {}, top_level)
        values = _plain(self.values)
        check_keys(given, values, self.source)
        return build_settings(merge(values, given), self.source)


def build_settings(values: Mapping[str, Any], source: Path) -> Settings:
    """Settings from merged values (every key present): each section built and checked."""
    currency = values["currency"]
    if not isinstance(currency, str) or not currency.strip():
        raise ConfigError(f"{source}: currency must be a currency code like EUR or USD, got {currency!r}")
    sections = {name: kind.build(values[name], _Check(source, name)) for name, kind in SECTIONS.items()}
    return Settings(currency=currency.strip(), source=source, values=_frozen(values), **sections)


def shipped_settings_file() -> Path:
    return paths.config_dir() / SETTINGS_FILE


@functools.cache
def _defaults() -> Mapping[str, Any]:
    return _frozen(read_yaml(shipped_settings_file()))


# settings that name another file: a relative name is relative to the folder of the file that names it
FILE_KEYS = (("intake", "column_mapping"), ("rfm", "segments_file"))


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from `path` (default: the shipped config/settings.yaml) over the shipped defaults.

    A file named in `path` (e.g. `intake.column_mapping: my_mapping.yaml`) is looked for next to `path`; a
    file that `path` does not name is the shipped one, in the shipped config folder, wherever `path` is."""
    settings_path = Path(path) if path else shipped_settings_file()
    defaults = _plain(_defaults())
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
