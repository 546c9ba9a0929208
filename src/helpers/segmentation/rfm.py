"""RFM analysis: recency, frequency and monetary scores 1-5 and named segments.

- :func:`rfm_table` turns the per-customer summary into recency in days, frequency in purchase days and
  monetary value as total revenue.
- :func:`score_quantiles` scores a column 1..5 by rank (not by fixed quantile edges), so that tiny customer
  bases (one customer, seven customers) still get scores, and equal values always get equal scores.
- The 125 codes "111".."555" map onto 11 named segments through the editable table
  ``config/rfm_segments.yaml``; :func:`load_segment_rules` refuses a table that leaves a code without a
  segment or gives it several, and names the codes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers.core import paths
from helpers.core.config import Settings
from helpers.core.errors import WorkbookError
from helpers.core.language import LANGUAGES, check_language

SEGMENT_NAMES: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)
ALL_CODES: tuple[str, ...] = tuple(f"{r}{f}{m}" for r, f, m in itertools.product(range(1, 6), repeat=3))
_RULE_KEYS = ("r", "f", "m", "fm")
_LANGS = LANGUAGES


class SegmentRulesError(WorkbookError, ValueError):
    """The segment table cannot be used; the message names the file, the segment or the codes."""


@dataclass
class Segment:
    name: str
    rules: list[dict[str, tuple[float, float]]]
    meaning: dict[str, str]
    action: dict[str, str]

    def matches(self, r: int, f: int, m: int) -> bool:
        values = {"r": r, "f": f, "m": m, "fm": (f + m) / 2}
        return any(all(lo <= values[key] <= hi for key, (lo, hi) in rule.items()) for rule in self.rules)


@dataclass
class SegmentRules:
    """Validated segment table: the segments in file order and the code -> segment lookup (125 codes)."""

    segments: list[Segment]
    code_to_segment: dict[str, str]
    path: str = ""
    order: list[str] = field(default_factory=list)

    def describe(self, language: str = "en") -> pd.DataFrame:
        """One row per segment: name, meaning, action (``language`` 'en' or 'de'), number of codes."""
        check_language(language)
        counts = pd.Series(self.code_to_segment).value_counts()
        return pd.DataFrame(
            {
                "segment": [s.name for s in self.segments],
                "meaning": [s.meaning[language] for s in self.segments],
                "action": [s.action[language] for s in self.segments],
                "codes": [int(counts.get(s.name, 0)) for s in self.segments],
            }
        )


def default_rules_path() -> Path:
    return paths.config_dir() / "rfm_segments.yaml"


# --------------------------------------------------------------------------------------------------
# table and scores
# --------------------------------------------------------------------------------------------------
def rfm_table(summary: pd.DataFrame, analysis_date: Any = None) -> pd.DataFrame:
    """Recency, frequency and monetary value per customer.

    Columns: ``customer_id``, ``recency_days`` (whole days from the last purchase to ``analysis_date``),
    ``frequency`` (number of purchase days, ``purchase_days``) and ``monetary`` (``total_revenue``).
    ``analysis_date`` defaults to the latest ``last_purchase`` of the base (recency 0 for that customer).
    """
    missing = [c for c in ("customer_id", "last_purchase", "purchase_days", "total_revenue") if c not in summary]
    if missing:
        raise KeyError(f"summary lacks the column(s) {missing}")
    last = pd.to_datetime(summary["last_purchase"])
    when = last.max() if analysis_date is None else pd.Timestamp(analysis_date)
    recency = (when.normalize() - last.dt.normalize()).dt.days
    if (recency < 0).any():
        raise ValueError(f"analysis_date {when.date()} lies before some customers' last purchase")
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"].astype(str).to_numpy(),
            "recency_days": recency.astype("int64").to_numpy(),
            "frequency": summary["purchase_days"].astype("int64").to_numpy(),
            "monetary": summary["total_revenue"].astype("float64").to_numpy(),
        },
        index=summary.index,
    )


def score_quantiles(values: Any, higher_is_better: bool = True, bins: int = 5) -> pd.Series:
    """Rank-based scores 1..``bins`` (5 = best).

    score = ceil(bins x average rank / n): the average rank gives equal values equal scores, works for any
    number of customers (1 customer scores ``bins``; 7 customers score 1,2,3,3,4,5,5) and is monotone in the
    value. With ``higher_is_better=False`` (recency) lower values score higher. NaN values are refused.
    """
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if bins < 1:
        raise ValueError("bins must be >= 1")
    if series.isna().any():
        raise ValueError(f"cannot score NaN values ({int(series.isna().sum())} found)")
    if series.empty:
        return pd.Series([], dtype="int64", index=series.index, name=series.name)
    numeric = series.astype("float64")
    keyed = numeric if higher_is_better else -numeric
    pct = keyed.rank(method="average", pct=True)
    scores = np.ceil(pct.to_numpy() * bins - 1e-9).clip(1, bins).astype("int64")
    return pd.Series(scores, index=series.index, name=series.name)


# --------------------------------------------------------------------------------------------------
# segment rules
# --------------------------------------------------------------------------------------------------
def _range(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), float(value)
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        lo, hi = float(value[0]), float(value[1])
        if lo > hi:
            raise SegmentRulesError(f"{where}: range [{value[0]}, {value[1]}] has low > high")
        return lo, hi
    raise SegmentRulesError(f"{where}: expected a number or a range [low, high], got {value!r}")


def _texts(entry: dict, key: str, where: str) -> dict[str, str]:
    texts = entry.get(key)
    if not isinstance(texts, dict) or any(not isinstance(texts.get(lang), str) for lang in _LANGS):
        raise SegmentRulesError(f"{where}: '{key}' needs one sentence for each of {list(_LANGS)}")
    return {lang: texts[lang].strip() for lang in _LANGS}


def _parse(content: Any, source: str) -> list[Segment]:
    if not isinstance(content, dict) or not isinstance(content.get("segments"), list):
        raise SegmentRulesError(f"{source}: expected a top-level 'segments' list")
    segments: list[Segment] = []
    for i, entry in enumerate(content["segments"]):
        where = f"{source}: segment #{i + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise SegmentRulesError(f"{where}: needs a 'name'")
        where = f"{source}: segment '{entry['name']}'"
        rules_raw = entry.get("rules")
        if not isinstance(rules_raw, list) or not rules_raw:
            raise SegmentRulesError(f"{where}: needs a non-empty 'rules' list")
        rules = []
        for j, rule in enumerate(rules_raw):
            if not isinstance(rule, dict):
                raise SegmentRulesError(f"{where}, rule {j + 1}: expected a mapping like {{r: [4, 5], fm: [4, 5]}}")
            unknown = sorted(set(rule) - set(_RULE_KEYS))
            if unknown:
                raise SegmentRulesError(f"{where}, rule {j + 1}: unknown key(s) {unknown}; use {list(_RULE_KEYS)}")
            rules.append({k: _range(v, f"{where}, rule {j + 1}, '{k}'") for k, v in rule.items()})
        segments.append(
            Segment(
                name=entry["name"],
                rules=rules,
                meaning=_texts(entry, "meaning", where),
                action=_texts(entry, "action", where),
            )
        )
    names = [s.name for s in segments]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SegmentRulesError(f"{source}: segment name(s) {duplicates} appear more than once")
    return segments


def validate_segments(segments: list[Segment], source: str = "segment rules") -> dict[str, str]:
    """The code -> segment lookup; raises naming codes with no segment or with several."""
    lookup: dict[str, str] = {}
    unmapped: list[str] = []
    multiple: list[str] = []
    for code in ALL_CODES:
        r, f, m = (int(c) for c in code)
        hits = [s.name for s in segments if s.matches(r, f, m)]
        if len(hits) == 1:
            lookup[code] = hits[0]
        elif not hits:
            unmapped.append(code)
        else:
            multiple.append(f"{code} ({' / '.join(hits)})")
    if unmapped or multiple:
        parts = []
        if unmapped:
            parts.append(f"{len(unmapped)} code(s) map to no segment: {', '.join(unmapped)}")
        if multiple:
            parts.append(f"{len(multiple)} code(s) map to several segments: {', '.join(multiple)}")
        raise SegmentRulesError(f"{source}: every RFM code must map to exactly one segment; " + "; ".join(parts))
    return lookup


def load_segment_rules(path: str | Path | None = None) -> SegmentRules:
    """Read and validate the segment table (default ``config/rfm_segments.yaml``)."""
    source = Path(path) if path else default_rules_path()
    try:
        content = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SegmentRulesError(f"{source}: segment rules file not found") from exc
    except yaml.YAMLError as exc:
        raise SegmentRulesError(f"{source}: not valid YAML: {exc}") from exc
    segments = _parse(content, str(source))
    lookup = validate_segments(segments, str(source))
    return SegmentRules(segments=segments, code_to_segment=lookup, path=str(source), order=[s.name for s in segments])


def assign_segments(rfm: pd.DataFrame, rules: SegmentRules | None = None, bins: int = 5) -> pd.DataFrame:
    """Add ``r_score``, ``f_score``, ``m_score``, ``rfm_code`` (e.g. "545") and ``rfm_segment``.

    Scores come from :func:`score_quantiles` over the whole base given (recency: fewer days is better).
    ``rfm_segment`` is an ordered categorical in the order of the segment table.
    """
    if bins != 5:
        raise ValueError("the segment table is defined on 1..5 scores; use bins=5")
    rules = rules or load_segment_rules()
    out = rfm.copy()
    out["r_score"] = score_quantiles(out["recency_days"], higher_is_better=False)
    out["f_score"] = score_quantiles(out["frequency"])
    out["m_score"] = score_quantiles(out["monetary"])
    out["rfm_code"] = (
        out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    ).astype(str)
    segment = out["rfm_code"].map(rules.code_to_segment)
    out["rfm_segment"] = pd.Categorical(segment, categories=rules.order, ordered=True)
    return out


def segment_summary(scored: pd.DataFrame, rules: SegmentRules | None = None, language: str = "en") -> pd.DataFrame:
    """Per segment: customers, share of customers, revenue, share of revenue, mean recency, meaning, action."""
    rules = rules or load_segment_rules()
    grouped = scored.groupby("rfm_segment", observed=False)
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "revenue": grouped["monetary"].sum(),
            "mean_recency_days": grouped["recency_days"].mean(),
        }
    ).reindex(rules.order)
    table["customers"] = table["customers"].fillna(0).astype("int64")
    table["revenue"] = table["revenue"].fillna(0.0)
    n, total = table["customers"].sum(), table["revenue"].sum()
    table["customer_share"] = table["customers"] / n if n else 0.0
    table["revenue_share"] = table["revenue"] / total if total else 0.0
    texts = rules.describe(language).set_index("segment")
    table["meaning"] = texts["meaning"]
    table["action"] = texts["action"]
    table.index.name = "rfm_segment"
    return table.reset_index()



# ------------------------------------------------------------------------------------ one month's RFM table
RFM_COLUMNS = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
    "rfm_segment",
    "abc_class",
]


def segment_rules_path(settings: Settings) -> Path:
    """The RFM segment table named in settings ``rfm.segments_file`` (relative to the settings file)."""
    return settings.resolve(settings.rfm.segments_file)


def segment_customers(summary: pd.DataFrame, cutoff: Any, rules: SegmentRules) -> pd.DataFrame:
    """RFM table at ``cutoff`` (recency in days up to that date) with scores, code and segment."""
    return assign_segments(rfm_table(summary, analysis_date=cutoff), rules).reset_index(drop=True)


def segment_reading(segments: pd.DataFrame) -> str:
    """'Champions: 12% of clients, 45% of revenue' for the segment with the largest revenue share."""
    present = segments[segments["customers"] > 0]
    if present.empty:
        return "No customers to segment."
    top = present.sort_values("revenue_share", ascending=False, kind="stable").iloc[0]
    return (
        f"{top['rfm_segment']}: {top['customer_share']:.0%} of customers bring "
        f"{top['revenue_share']:.0%} of revenue"
    )


def rf_grid(scored: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean monetary value and number of customers per (R score, F score) cell.

    Both tables have R scores 5..1 as rows (most recent on top) and F scores 1..5 as columns; an empty
    cell has mean NaN and count 0.
    """
    grouped = scored.groupby(["r_score", "f_score"])["monetary"]
    scores = list(range(1, 6))
    mean = grouped.mean().unstack().reindex(index=scores[::-1], columns=scores)
    count = grouped.size().unstack().reindex(index=scores[::-1], columns=scores).fillna(0).astype("int64")
    for table in (mean, count):
        table.index.name, table.columns.name = "R score", "F score"
    return mean, count


def rfm_output(scored: pd.DataFrame, abc_class: Any) -> pd.DataFrame:
    """The rfm artifact: exactly :data:`RFM_COLUMNS`, one row per scored customer."""
    out = scored.reset_index(drop=True).copy()
    out["abc_class"] = np.asarray(abc_class, dtype=object)
    out["customer_id"] = out["customer_id"].astype(str)
    out["rfm_segment"] = out["rfm_segment"].astype(str)
    return out[RFM_COLUMNS]
