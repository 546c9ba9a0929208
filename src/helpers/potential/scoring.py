"""The potential matrix (seed 000): upsell potential (X), growth potential (Y), quadrant and service level.

Every customer gets two scores from 0 to 100, each a weighted mean of **components** that are first put
on 0-100 points themselves. Weights live in settings ``potential.weights``.

**Upsell potential (X)** - how much more the customer could buy from us:

=================  ========================================================================  ============
component          raw value                                                                 0-100 points
=================  ========================================================================  ============
whitespace         sum, over the stage x kind cells the customer does NOT cover, of the      rank
                   share of peers that cover the cell (expected number of services that
                   comparable clients buy and this one does not)
budget_headroom    1 - revenue of the last 12 months / yearly ``marketing_budget``,          fixed: x 100
                   clipped to 0..1 (share of the budget not spent with us)
cltv_headroom      (peers' upper-quantile CLTV (``cltv_peer_quantile``, 0.75) - own CLTV)     rank
                   x P(alive),
                   at least 0 (in currency)
frequency          purchase days (repeat buyers accept offers more easily)                   rank
=================  ========================================================================  ============

**Growth potential (Y)** - how much the customer's own business and value with us grows:

=================  ========================================================================  ============
yoy_growth         the account's growth year over year (0.12 = +12%)                         fixed range
                                                                                             ``growth_range``
                                                                                             (-20%..+40%)
cltv_vs_past       (next - past) / (next + past + typical): next = CLTV scaled to 12 months,   fixed: -1..1
                   past = revenue of the last 12 months x the customer's margin rate,        -> 0..100
                   typical = median past of the customers with a past > 0 (so that a few
                   euros ahead of nothing do not count as a big rise); -1 when nothing is
                   expected, near +1 for a large value that only lies ahead
p_alive            probability that the customer is still active (BG/NBD); left out for a    fixed: x 100
                   customer without a repeat purchase whose P(alive) is 100%: BG/NBD
                   assumes such customers alive, it is no evidence
recency            days since the last purchase (fewer is better)                            rank
=================  ========================================================================  ============

*Rank* points are the percentile rank among the customers scored: (average rank - 1) / (n - 1) x 100, so
the lowest value gets 0 and the highest 100, equal values equal points. *Fixed* points use a documented
range and are clipped to 0..100, so they mean the same every month.

**Peers** are the customers of the same ``funnel_type`` and employee size band; a group with fewer than
``min_peers`` other members falls back to the funnel type, then to all customers. For whitespace only
peers with at least one active service count (current clients), and the customer itself is left out.

**Missing data.** A component is *used* when it has a weight above 0 and a value for at least one
customer. Without accounts or service map (CDNOW) whitespace, budget headroom and yoy growth are not
available; without the CLTV table the CLTV components and P(alive) are not. Each customer's score is the
weighted mean over the components that have a value for that customer, i.e. the weights are re-normalised
over what is available. :class:`PotentialResult` says which components were used.

**Quadrants.** A score at or above its threshold is *high* (``thresholds``: ``median`` of the customers
scored, or a number 0-100). High X & high Y: *develop*, high X & low Y: *expand*, low X & high Y:
*grow_with*, low X & low Y: *maintain*; names, review cadence, management hours per month and the lead
action of each come from settings ``potential.quadrants`` in English and German.

**Likely lost** customers (P(alive) below ``lost.below_p_alive``) are placed like everyone else, but the
median thresholds are taken over the other customers (so the lines split the live portfolio), and they
get the service level and action of ``potential.lost`` (a retention call) instead of their quadrant's.

**Reasons.** For each axis the components that contribute most (high axis) or pull it down most (low
axis), as a short sentence; whitespace names the missing stage/kind cells that most peers buy.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.core import duck
from helpers.core.errors import UsageError, WorkbookError
from helpers.potential import funnel
from helpers.potential.qualification import DEFAULT_SIZE_BANDS, size_band
from helpers.reporting import i18n

AXES: tuple[str, ...] = ("upsell", "growth")
COMPONENTS: dict[str, tuple[str, ...]] = {
    "upsell": ("whitespace", "budget_headroom", "cltv_headroom", "frequency"),
    "growth": ("yoy_growth", "cltv_vs_past", "p_alive", "recency"),
}
SCALES: dict[str, str] = {
    "whitespace": "rank",
    "budget_headroom": "fraction",
    "cltv_headroom": "rank",
    "frequency": "rank",
    "yoy_growth": "range",
    "cltv_vs_past": "symmetric",
    "p_alive": "fraction",
    "recency": "rank_inverse",
}
COMPONENT_LABELS: dict[str, dict[str, str]] = {
    "whitespace": {"en": "whitespace (services peers buy, this client not)", "de": "Lücken (was Vergleichskunden kaufen, dieser nicht)"},
    "budget_headroom": {"en": "budget headroom (budget not spent with us)", "de": "Budgetspielraum (Budget nicht bei uns)"},
    "cltv_headroom": {"en": "CLTV headroom (gap to strong peers)", "de": "CLTV-Spielraum (Abstand zu starken Vergleichskunden)"},
    "frequency": {"en": "purchase frequency", "de": "Kaufhäufigkeit"},
    "yoy_growth": {"en": "client's growth year over year", "de": "Wachstum des Kunden ggü. Vorjahr"},
    "cltv_vs_past": {"en": "expected value vs last 12 months", "de": "erwarteter Wert ggü. letzten 12 Monaten"},
    "p_alive": {"en": "P(alive): still an active customer", "de": "P(aktiv): noch aktiver Kunde"},
    "recency": {"en": "recency of the last purchase", "de": "Aktualität des letzten Kaufs"},
}
# the raw column a component is scored from, where it differs from the component's name
SOURCE_COLUMNS: dict[str, str] = {"p_alive": "p_alive_evidence"}
QUADRANT_POSITIONS: dict[str, tuple[bool, bool]] = {
    # quadrant key: (upsell high, growth high)
    "develop": (True, True),
    "expand": (True, False),
    "grow_with": (False, True),
    "maintain": (False, False),
}
LANGUAGES = ("en", "de")


class PotentialSettingsError(WorkbookError, ValueError):
    """Settings ``potential`` that cannot be used; the message names the key."""


# --------------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------------
def potential_settings(settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Settings ``potential`` over the defaults of :mod:`helpers.core.config`, checked."""
    from helpers.core.config import DEFAULTS, _merge

    given = dict((settings or {}).get("potential", {}) or {})
    merged = _merge(copy.deepcopy(DEFAULTS["potential"]), given)
    for axis in AXES:
        weights = merged["weights"].get(axis, {}) or {}
        unknown = [k for k in weights if k not in COMPONENTS[axis]]
        if unknown:
            raise PotentialSettingsError(
                f"potential.weights.{axis}: unknown component(s) {unknown}; known: {', '.join(COMPONENTS[axis])}"
            )
        for name, value in weights.items():
            if not isinstance(value, int | float) or value < 0:
                raise PotentialSettingsError(f"potential.weights.{axis}.{name} must be a number >= 0, got {value!r}")
        threshold = merged["thresholds"].get(axis, "median")
        if not (threshold == "median" or (isinstance(threshold, int | float) and 0 <= threshold <= 100)):
            raise PotentialSettingsError(
                f"potential.thresholds.{axis} must be 'median' or a number 0-100, got {threshold!r}"
            )
    missing = [q for q in QUADRANT_POSITIONS if q not in merged["quadrants"]]
    if missing:
        raise PotentialSettingsError(f"potential.quadrants lacks {missing}")
    low, high = (float(v) for v in merged["growth_range"])
    if not low < high:
        raise PotentialSettingsError(f"potential.growth_range must be [low, high] with low < high, got {merged['growth_range']}")
    return merged


def _text(entry: Any, language: str) -> str:
    if isinstance(entry, Mapping):
        return str(entry.get(language) or entry.get("en") or next(iter(entry.values()), ""))
    return "" if entry is None else str(entry)


def _service_level(entry: Mapping[str, Any], language: str) -> tuple[str, float, str]:
    hours = float(entry.get("hours_per_month", 0))
    review = _text(entry.get("review"), language)
    unit = "h/month" if language == "en" else "Std./Monat"
    return review, hours, f"{review}; {hours:g} {unit}"


def lost_service_level(settings: Mapping[str, Any] | None = None, language: str = "en") -> dict[str, Any]:
    """The review, hours, service level sentence and action for likely lost customers."""
    entry = potential_settings(settings)["lost"]
    review, hours, level = _service_level(entry, language)
    return {"review": review, "hours_per_month": hours, "service_level": level,
            "action": _text(entry.get("action"), language), "below_p_alive": float(entry.get("below_p_alive", 0))}


def quadrant_table(settings: Mapping[str, Any] | None = None, language: str = "en") -> pd.DataFrame:
    """One row per quadrant: key, upsell/growth high or low, name, review cadence, hours per month,
    lead action and the service level sentence, in ``language`` (en or de)."""
    config = potential_settings(settings)
    rows = []
    for key, (x_high, y_high) in QUADRANT_POSITIONS.items():
        entry = config["quadrants"][key]
        review, hours, level = _service_level(entry, language)
        rows.append(
            {
                "quadrant_key": key,
                "upsell": "high" if x_high else "low",
                "growth": "high" if y_high else "low",
                "quadrant": _text(entry.get("name"), language),
                "review": review,
                "hours_per_month": hours,
                "lead_action": _text(entry.get("action"), language),
                "service_level": level,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# points
# --------------------------------------------------------------------------------------------------
def rank_points(values: Any, higher_is_better: bool = True) -> pd.Series:
    """Percentile rank 0-100 among the non-missing values (average rank for ties); missing stays NaN."""
    series = pd.Series(values, dtype="float64") if not isinstance(values, pd.Series) else values.astype("float64")
    keyed = series if higher_is_better else -series
    ranks = keyed.rank(method="average")
    n = int(keyed.notna().sum())
    if n <= 1:
        return pd.Series(np.where(keyed.notna(), 50.0, np.nan), index=series.index)
    return (ranks - 1.0) / (n - 1.0) * 100.0


def component_points(name: str, raw: pd.Series, config: Mapping[str, Any]) -> pd.Series:
    """The 0-100 points of one component's raw values (see the module text for the scale)."""
    scale = SCALES[name]
    raw = raw.astype("float64")
    if scale == "rank":
        return rank_points(raw)
    if scale == "rank_inverse":
        return rank_points(raw, higher_is_better=False)
    if scale == "fraction":
        return (raw * 100.0).clip(0.0, 100.0)
    if scale == "symmetric":
        return ((raw + 1.0) / 2.0 * 100.0).clip(0.0, 100.0)
    low, high = (float(v) for v in config["growth_range"])
    return ((raw - low) / (high - low) * 100.0).clip(0.0, 100.0)


def weighted_score(points: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Weighted mean of the points per row over the components with a value (weights re-normalised per
    row); NaN where no weighted component has a value."""
    names = [n for n, w in weights.items() if w > 0 and n in points]
    if not names:
        return pd.Series(np.nan, index=points.index)
    values = points[names].to_numpy(dtype="float64")
    w = np.array([float(weights[n]) for n in names])
    present = ~np.isnan(values)
    total = (np.where(present, values, 0.0) * w).sum(axis=1)
    norm = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(norm > 0, total / norm, np.nan), index=points.index)


def threshold_value(scores: pd.Series, threshold: Any, among: pd.Series | None = None) -> float:
    """The numeric threshold: for 'median' the median of the scores (of the rows where ``among`` is True,
    all rows when none is), else the number."""
    if threshold == "median":
        pool = scores[among] if among is not None and bool(among.any()) else scores
        return float(pool.median()) if pool.notna().any() else 50.0
    return float(threshold)


# --------------------------------------------------------------------------------------------------
# raw components
# --------------------------------------------------------------------------------------------------
def peer_groups(ids: pd.Index, accounts: pd.DataFrame | None, config: Mapping[str, Any]) -> pd.Series:
    """Peer group key per customer: 'funnel_type / size band', falling back to 'funnel_type' and 'all'
    when a group has fewer than ``min_peers`` other members."""
    min_peers = int(config.get("min_peers", 5))
    if accounts is None or accounts.empty:
        return pd.Series("all", index=ids, name="peer_group")
    acc = accounts.assign(customer_id=accounts["customer_id"].astype(str)).drop_duplicates("customer_id")
    acc = acc.set_index("customer_id").reindex(ids)
    ftype = acc["funnel_type"].astype("object") if "funnel_type" in acc else pd.Series(None, index=ids, dtype=object)
    ftype = ftype.where(ftype.notna(), "unknown").astype(str)
    employees = acc["employees"] if "employees" in acc else pd.Series(np.nan, index=ids)
    band = size_band(employees.to_numpy(), config.get("size_bands", DEFAULT_SIZE_BANDS)).astype("object")
    band = pd.Series(band.where(band.notna(), "unknown size").astype(str).to_numpy(), index=ids)
    fine = ftype + " / " + band
    group = fine.copy()
    fine_size = fine.map(fine.value_counts())
    coarse_size = ftype.map(ftype.value_counts())
    group[fine_size - 1 < min_peers] = ftype[fine_size - 1 < min_peers]
    group[(fine_size - 1 < min_peers) & (coarse_size - 1 < min_peers)] = "all"
    return group.rename("peer_group")


def peer_adoption(covered: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Per customer and cell: the share of the customer's peers (other current clients of the group)
    that cover the cell. Current clients are those with at least one covered cell."""
    cells = covered[list(funnel.CELL_COLUMNS)].astype(float)
    current = (cells.sum(axis=1) > 0).astype(float)
    cells_current = cells.mul(current, axis=0)
    group_sum = cells_current.groupby(groups.to_numpy()).transform("sum")
    group_n = current.groupby(groups.to_numpy()).transform("sum")
    others_sum = group_sum - cells_current  # leave the customer out
    others_n = group_n - current
    # a group without other current clients: use all current clients (except the customer)
    all_sum = cells_current.sum() - cells_current
    all_n = current.sum() - current
    use_all = others_n < 1
    sums = others_sum.where(~use_all, all_sum, axis=0)
    ns = others_n.where(~use_all, all_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        adoption = sums.div(ns.where(ns > 0), axis=0)
    return adoption.fillna(0.0)


def trailing_12m(transactions: pd.DataFrame | str | os.PathLike | None, ids: pd.Index, as_of: Any) -> pd.Series:
    """Net revenue per customer in the 12 months up to and including ``as_of`` (default: the day of the
    last transaction). ``transactions`` is a DataFrame or the path of a Parquet file with customer_id,
    date and amount; of a file DuckDB reads only the window's customer_id and amount, so that ten million
    transactions are never loaded whole into pandas."""
    if transactions is None or (isinstance(transactions, pd.DataFrame) and transactions.empty):
        return pd.Series(0.0, index=ids)
    if isinstance(transactions, pd.DataFrame):
        dates = pd.to_datetime(transactions["date"])
        start, end = _twelve_months(as_of if as_of is not None else dates.max())
        in_window = ((dates > start) & (dates <= end)).to_numpy()
        customers = pa.array(transactions["customer_id"][in_window].astype(str), type=pa.large_string())
        return _revenue_by_customer(customers, transactions["amount"][in_window].to_numpy(), ids)
    if not Path(transactions).is_file():
        raise FileNotFoundError(f"{transactions}: no such transactions file (Parquet: customer_id, date, amount)")
    source = Path(transactions).as_posix()
    with duck.connect() as con:
        if as_of is None:
            as_of = con.sql("SELECT max(date) FROM read_parquet($source)", params={"source": source}).fetchall()[0][0]
            if as_of is None:
                return pd.Series(0.0, index=ids)
        start, end = _twelve_months(as_of)
        # no ORDER BY needed: DuckDB keeps the file's row order (preserve_insertion_order), which the
        # sums below rely on to equal those of the DataFrame path
        window = con.sql(
            "SELECT CAST(customer_id AS VARCHAR) AS customer_id, amount FROM read_parquet($source) "
            "WHERE date > $start AND date <= $end",
            params={"source": source, "start": start.to_pydatetime(), "end": end.to_pydatetime()},
        ).to_arrow_table()
    return _revenue_by_customer(window["customer_id"].cast(pa.large_string()), window["amount"].to_numpy(), ids)


def _twelve_months(as_of: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window of :func:`trailing_12m`: after ``start``, up to and including ``end``."""
    last_day = pd.Timestamp(as_of).normalize()
    return last_day - pd.DateOffset(months=12), last_day + pd.Timedelta(hours=23, minutes=59)


def _revenue_by_customer(customer_ids: pa.Array | pa.ChunkedArray, amounts: np.ndarray, ids: pd.Index) -> pd.Series:
    """Sum of ``amounts`` per customer of ``ids`` (0 for customers without any), in the order of ``ids``;
    rows of other customers are left out.

    The sums are pandas' groupby sums (compensated, in row order), so that they equal to the last bit
    those of grouping by the customer id text; grouping by the customer's position in ``ids`` instead
    of by text and writing the sums in place saves seconds at a million customers."""
    known_ids = pa.array(ids.astype(str), type=pa.large_string())
    position = pc.index_in(customer_ids, value_set=known_ids)
    position = pc.fill_null(position, -1).to_numpy(zero_copy_only=False)
    known = position >= 0
    sums = pd.Series(amounts[known]).groupby(position[known]).sum()
    revenue = np.zeros(len(ids))
    revenue[sums.index.to_numpy()] = sums.to_numpy()
    if not ids.is_unique:  # a customer listed twice: index_in found the first place, every place takes from it
        revenue = revenue[pc.index_in(known_ids, value_set=known_ids).to_numpy(zero_copy_only=False)]
    return pd.Series(revenue, index=ids)


def _margin_rates(summary: pd.DataFrame, default_margin: float) -> np.ndarray:
    from helpers.clv.valuation import margin_rates

    return np.clip(np.nan_to_num(margin_rates(summary, default_margin), nan=default_margin), 0.0, 1.0)


@dataclass
class PotentialInputs:
    """The tables the scores are built from; only ``summary`` is required."""

    summary: pd.DataFrame
    # a DataFrame, or the path of the transactions' Parquet file (only the last 12 months are read)
    transactions: pd.DataFrame | str | os.PathLike | None = None
    cltv: pd.DataFrame | None = None
    accounts: pd.DataFrame | None = None
    service_map: pd.DataFrame | None = None
    as_of: Any = None


def raw_components(inputs: PotentialInputs, settings: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per customer of the summary (index customer_id): the raw value of every component (NaN
    when its data are missing) and the details the reasons need."""
    config = potential_settings(settings)
    summary = inputs.summary
    ids = pd.Index(summary["customer_id"].astype(str), name="customer_id")
    out = pd.DataFrame(index=ids)
    groups = peer_groups(ids, inputs.accounts, config)
    out["peer_group"] = groups
    accounts = None
    if inputs.accounts is not None and not inputs.accounts.empty:
        accounts = inputs.accounts.assign(customer_id=inputs.accounts["customer_id"].astype(str))
        accounts = accounts.drop_duplicates("customer_id").set_index("customer_id").reindex(ids)

    revenue_12m = trailing_12m(inputs.transactions, ids, inputs.as_of)
    out["revenue_12m"] = revenue_12m
    out["revenue_total"] = summary["total_revenue"].astype("float64").to_numpy()

    # whitespace --------------------------------------------------------------------------------
    out["whitespace"] = np.nan
    out["whitespace_gaps"] = [[] for _ in range(len(out))]
    if inputs.service_map is not None and not inputs.service_map.empty:
        covered = funnel.coverage(inputs.service_map, ids)
        adoption = peer_adoption(covered, groups)
        missing = ~covered[list(funnel.CELL_COLUMNS)].to_numpy()
        out["whitespace"] = (adoption.to_numpy() * missing).sum(axis=1)
        cols = np.array(funnel.CELL_COLUMNS)
        gaps = []
        for row_adoption, row_missing in zip(adoption.to_numpy(), missing, strict=True):
            order = np.argsort(-row_adoption, kind="stable")
            gaps.append([(str(cols[j]), float(row_adoption[j])) for j in order if row_missing[j] and row_adoption[j] > 0])
        out["whitespace_gaps"] = gaps

    # budget headroom ---------------------------------------------------------------------------
    out["marketing_budget"] = np.nan
    out["budget_headroom"] = np.nan
    if accounts is not None and "marketing_budget" in accounts:
        budget = pd.to_numeric(accounts["marketing_budget"], errors="coerce").astype("float64")
        budget = budget.where(budget > 0)
        out["marketing_budget"] = budget
        out["budget_headroom"] = (1.0 - revenue_12m.clip(lower=0.0) / budget).clip(0.0, 1.0)

    # CLTV-based components -----------------------------------------------------------------------
    out["cltv"] = np.nan
    out["p_alive"] = np.nan
    out["cltv_headroom"] = np.nan
    out["cltv_peer_level"] = np.nan
    out["cltv_vs_past"] = np.nan
    out["value_next_12m"] = np.nan
    out["value_past_12m"] = np.nan
    if inputs.cltv is not None and not inputs.cltv.empty:
        table = inputs.cltv.assign(customer_id=inputs.cltv["customer_id"].astype(str))
        table = table.drop_duplicates("customer_id").set_index("customer_id").reindex(ids)
        cltv = pd.to_numeric(table["cltv"], errors="coerce").astype("float64")
        out["cltv"] = cltv
        if "p_alive" in table:
            out["p_alive"] = pd.to_numeric(table["p_alive"], errors="coerce").astype("float64").clip(0.0, 1.0)
        q = float(config.get("cltv_peer_quantile", 0.75))
        level = cltv.groupby(groups.to_numpy()).transform(lambda s: s.quantile(q))
        out["cltv_peer_level"] = level
        # a gap to strong peers is potential only while the customer is still buying: weight it by
        # P(alive), so that lapsed small buyers do not look like the best upsell prospects
        alive = out["p_alive"].fillna(1.0)
        out["cltv_headroom"] = ((level - cltv).clip(lower=0.0) * alive).where(cltv.notna())
        horizon = float((settings or {}).get("cltv", {}).get("horizon_months", 12) or 12)
        default_margin = float((settings or {}).get("cltv", {}).get("margin", 0.4))
        nxt = cltv.clip(lower=0.0) * 12.0 / horizon
        past = revenue_12m.clip(lower=0.0) * _margin_rates(summary, default_margin)
        typical = float(past[past > 0].median()) if (past > 0).any() else float(nxt[nxt > 0].median() or 1.0)
        typical = typical if np.isfinite(typical) and typical > 0 else 1.0
        total = nxt + past
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(total > 0, (nxt - past) / (total + typical), -1.0)
        out["value_next_12m"] = nxt
        out["value_past_12m"] = past
        out["cltv_vs_past"] = pd.Series(ratio, index=ids).where(cltv.notna())

    # P(alive) as a component: not for customers without a repeat purchase at exactly 100% (BG/NBD
    # assumes them alive; no evidence either way)
    no_repeat = summary["frequency"].astype("float64").to_numpy() <= 0 if "frequency" in summary else False
    out["p_alive_evidence"] = out["p_alive"].where(~(no_repeat & (out["p_alive"] >= 0.999)))

    # growth of the client ------------------------------------------------------------------------
    out["yoy_growth"] = np.nan
    if accounts is not None and "yoy_growth" in accounts:
        out["yoy_growth"] = pd.to_numeric(accounts["yoy_growth"], errors="coerce").astype("float64")

    # behaviour (always there) ---------------------------------------------------------------------
    out["frequency"] = summary["purchase_days"].astype("float64").to_numpy()
    last = pd.to_datetime(summary["last_purchase"])
    as_of = pd.Timestamp(inputs.as_of) if inputs.as_of is not None else last.max()
    out["recency"] = (as_of.normalize() - last.dt.normalize()).dt.days.astype("float64").clip(lower=0).to_numpy()
    return out


# --------------------------------------------------------------------------------------------------
# scores, quadrants, reasons
# --------------------------------------------------------------------------------------------------
@dataclass
class PotentialResult:
    """The scored customers and what went into the scores."""

    table: pd.DataFrame
    components_used: dict[str, list[str]] = field(default_factory=dict)
    weights_used: dict[str, dict[str, float]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    fallback: bool = False
    notes: list[str] = field(default_factory=list)
    language: str = "en"

    def counts(self) -> pd.Series:
        """Customers per quadrant key (all four, fixed order)."""
        return self.table["quadrant_key"].value_counts().reindex(list(QUADRANT_POSITIONS), fill_value=0)

    def components_text(self) -> str:
        parts = []
        for axis in AXES:
            used = ", ".join(f"{n} {w:.0%}" for n, w in self.weights_used.get(axis, {}).items())
            parts.append(f"{axis}: {used or 'none'}")
        return "; ".join(parts)


def _money(value: float, currency: str, language: str) -> str:
    return i18n.money(value, currency, language)


def _pct(value: float, signed: bool = False, language: str = "en") -> str:
    text = f"{100.0 * value:+.0f}" if signed else f"{100.0 * value:.0f}"
    return f"{text} %" if language == "de" else f"{text}%"


def describe_component(name: str, row: Mapping[str, Any], high: bool, currency: str, language: str,
                       quantile: float = 0.75, max_gaps: int = 2) -> str:
    """A short phrase for one component of one customer (``row`` from the scored table)."""
    de = language == "de"
    if name == "whitespace":
        gaps = list(row.get("whitespace_gaps") or [])[:max_gaps]
        if high and gaps:
            cells = ", ".join(
                f"{funnel.cell_label(c)} ({_pct(a, language=language)}" + (" der Vergleichskunden)" if de else " of peers)")
                for c, a in gaps
            )
            return ("Lücken in " if de else "whitespace in ") + cells
        return "kauft das meiste, was Vergleichskunden kaufen" if de else "buys most of what peers buy"
    if name == "budget_headroom":
        share, budget = float(row["budget_headroom"]), float(row["marketing_budget"])
        if high:
            return (f"Budgetspielraum {_pct(share, language=language)} von {_money(budget, currency, language)}" if de
                    else f"budget headroom {_pct(share)} of {_money(budget, currency, language)}")
        return (f"Budget weitgehend bei uns ({_pct(share, language=language)} frei)" if de
                else f"budget mostly spent with us ({_pct(share)} left)")
    if name == "cltv_headroom":
        top = _pct(1.0 - quantile, language=language)
        if high:
            gap = _money(float(row["cltv_headroom"]), currency, language)
            return (f"CLTV {gap} unter den besten {top} der Vergleichskunden" if de
                    else f"CLTV {gap} below the top {top} of peers")
        return (f"CLTV bereits unter den besten {top} der Vergleichskunden" if de
                else f"CLTV already among the top {top} of peers")
    if name == "frequency":
        n = int(row["frequency"])
        if de:
            return f"{n} Kauftage" if high else f"nur {n} Kauftag{'e' if n != 1 else ''}"
        return f"{n} purchase days" if high else f"only {n} purchase day{'s' if n != 1 else ''}"
    if name == "yoy_growth":
        g = float(row["yoy_growth"])
        if round(100.0 * g) == 0:
            return "stagniert (±0 % p. a.)" if de else "flat (±0% a year)"
        only = "" if high or g < 0 else ("nur " if de else "only ")
        if de:
            return f"{'wächst ' + only if g >= 0 else 'schrumpft '}{_pct(g, signed=True, language=language)} p. a."
        return f"{'growing ' + only if g >= 0 else 'shrinking '}{_pct(g, signed=True)} a year"
    if name == "cltv_vs_past":
        nxt, past = float(row["value_next_12m"]), float(row["value_past_12m"])
        if past <= 0:
            if nxt > 0:
                return (f"erwarteter Wert {_money(nxt, currency, language)} in 12 Monaten, zuletzt kein Umsatz" if de
                        else f"{_money(nxt, currency, language)} value expected in 12 months after none in the last 12")
            return "kein Wert erwartet" if de else "no value expected"
        change = nxt / past - 1.0
        if change >= 2.0:  # +1221% reads badly: say 13x
            times = f"{nxt / past:.0f}"
            return (f"erwarteter Wert {times}-mal so hoch wie in den letzten 12 Monaten" if de
                    else f"expected value {times}x that of the last 12 months")
        return (f"erwarteter Wert {_pct(change, signed=True, language=language)} ggü. den letzten 12 Monaten" if de
                else f"expected value {_pct(change, signed=True)} vs the last 12 months")
    if name == "p_alive":
        p = _pct(float(row["p_alive"]), language=language)
        if high:
            return f"P(aktiv) {p}" if de else f"P(alive) {p}"
        if row.get("likely_lost"):
            return f"wahrscheinlich verloren: P(aktiv) {p}" if de else f"likely lost: P(alive) {p}"
        return f"P(aktiv) nur {p}" if de else f"P(alive) only {p}"
    if name == "recency":
        days = int(row["recency"])
        return f"letzter Kauf vor {days} Tagen" if de else f"last purchase {days} days ago"
    raise KeyError(name)


# --------------------------------------------------------------------------------------------------
# reasons for a whole table: describe_component is called once per distinct phrase, not once per row
# --------------------------------------------------------------------------------------------------
# The columns each component's phrase reads (besides the constants currency, language and quantile).
PHRASE_INPUTS: dict[str, tuple[str, ...]] = {
    "whitespace": ("whitespace_gaps",),
    "budget_headroom": ("budget_headroom", "marketing_budget"),
    "cltv_headroom": ("cltv_headroom",),
    "frequency": ("frequency",),
    "yoy_growth": ("yoy_growth",),
    "cltv_vs_past": ("value_next_12m", "value_past_12m"),
    "p_alive": ("p_alive", "likely_lost"),
    "recency": ("recency",),
}


class _DeclaredRow(Mapping[str, Any]):
    """A row holding only the columns :data:`PHRASE_INPUTS` declares for one phrase. Reading any other
    column raises, also through ``get``: a phrase that starts to read an undeclared column must fail
    here rather than be shared between rows that differ in that column."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            raise KeyError(f"describe_component reads {key!r}, which PHRASE_INPUTS does not declare")
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _shown_whole(values: np.ndarray) -> list[np.ndarray]:
    """What an f"{v:.0f}" or f"{v:+.0f}" format shows of ``values``: the sign bit (-0.0 prints as
    "-0") and the value rounded half to even, which is how Python's format rounds."""
    return [np.signbit(values), np.rint(values)]


def _shown_money(values: np.ndarray) -> list[np.ndarray]:
    """What :func:`helpers.reporting.i18n.money` (no decimals) shows: "-" when not finite, the sign, the amount."""
    with np.errstate(invalid="ignore"):
        return [~np.isfinite(values), values < 0, np.rint(np.abs(values))]


def _only_where(condition: np.ndarray, keys: list[np.ndarray]) -> list[np.ndarray]:
    """``keys`` where the phrase shows them, 0 elsewhere, so that rows whose phrase does not show a value
    are not told apart by it (fewer distinct phrases to write)."""
    return [np.where(condition, key, 0) for key in keys]


def _phrase_keys(name: str, values: Mapping[str, np.ndarray], high: np.ndarray) -> list[np.ndarray]:
    """Arrays that together determine the phrase :func:`describe_component` writes for component ``name``:
    rows with equal keys get the same text. They must follow its wording's branches and roundings; a key
    finer than needed only costs calls, a coarser one would be a bug (the test compares the reasons with
    describe_component row by row)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "whitespace":
            gaps = np.empty(len(high), dtype=object)
            gaps[:] = [tuple(tuple(gap) for gap in row) if is_high and row is not None else ()
                       for row, is_high in zip(values["whitespace_gaps"], high, strict=True)]
            return [high, gaps]
        if name == "budget_headroom":
            share = values["budget_headroom"].astype("float64")
            budget = values["marketing_budget"].astype("float64")
            return [high, *_shown_whole(100.0 * share), *_only_where(high, _shown_money(budget))]
        if name == "cltv_headroom":
            return [high, *_only_where(high, _shown_money(values["cltv_headroom"].astype("float64")))]
        if name in ("frequency", "recency"):
            return [high, np.trunc(values[name].astype("float64"))]  # int() truncates
        if name == "yoy_growth":
            growth = values["yoy_growth"].astype("float64")
            return [high, growth >= 0, growth < 0, *_shown_whole(100.0 * growth)]
        if name == "cltv_vs_past":
            nxt = values["value_next_12m"].astype("float64")
            past = values["value_past_12m"].astype("float64")
            nothing_before = past <= 0
            ratio = nxt / past
            change = ratio - 1.0
            return [nothing_before, nxt > 0, *_only_where(nothing_before & (nxt > 0), _shown_money(nxt)),
                    change >= 2.0, *_only_where(~nothing_before & (change >= 2.0), _shown_whole(ratio)),
                    *_only_where(~nothing_before & ~(change >= 2.0), _shown_whole(100.0 * change))]
        if name == "p_alive":
            lost = values["likely_lost"].astype(bool)
            return [high, lost & ~high, *_shown_whole(100.0 * values["p_alive"].astype("float64"))]
    raise KeyError(name)


def distinct_phrases(name: str, table: pd.DataFrame, rows: np.ndarray, high: np.ndarray, currency: str,
                     language: str, quantile: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """:func:`describe_component` for the rows ``rows`` (positions in ``table``), ``high`` per row, called
    once per distinct phrase (:func:`_phrase_keys`): the distinct texts and, per row, the position of its
    text in them (``texts[codes]`` is the phrase of every row)."""
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    high = np.asarray(high, dtype=bool)
    inputs = table[list(PHRASE_INPUTS[name])].iloc[rows]
    keys = _phrase_keys(name, {column: inputs[column].to_numpy() for column in inputs.columns}, high)
    codes = pd.DataFrame(dict(enumerate(keys))).groupby(list(range(len(keys))), sort=False, dropna=False).ngroup()
    codes = codes.to_numpy()
    _, first = np.unique(codes, return_index=True)  # groups are numbered 0..k-1: first[k] is a row of group k
    records = inputs.iloc[first].to_dict("records")  # the same Python values as a row of to_dict("records")
    texts = np.array(
        [describe_component(name, _DeclaredRow(record), bool(high[i]), currency, language, quantile)
         for record, i in zip(records, first, strict=True)],
        dtype=object,
    )
    return codes, texts


def _chosen_components(points: np.ndarray, weights: np.ndarray, high: np.ndarray, excluded: np.ndarray,
                       per_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """For one axis, the components each row's reasons name: on a high axis the ``per_axis`` that lift it
    most (points >= 50, by weight x points), on a low axis the one that holds it down most (points < 50,
    by weight x (100 - points)); ties keep the order of the weights. ``points`` is rows x components,
    ``excluded`` marks cells to leave out. Returns the component positions (rows x slots, strongest first)
    and which slots are filled."""
    with np.errstate(invalid="ignore"):
        candidate = ~np.isnan(points) & ~excluded & np.where(high[:, None], points >= 50, points < 50)
    strength = np.where(high[:, None], weights * points, weights * (100.0 - points))
    # descending strength, stable like list.sort(key=lambda c: -strength); non-candidates last
    order = np.argsort(np.where(candidate, -strength, np.inf), axis=1, kind="stable")
    count = candidate.sum(axis=1)
    # as many as the slice candidates[:per_axis] (high) or candidates[:1] (low) keeps
    limit = np.where(high, per_axis, 1)
    limit = np.where(limit < 0, np.maximum(count + limit, 0), np.minimum(limit, count))
    return order, np.arange(points.shape[1])[None, :] < limit[:, None]


def _reasons(table: pd.DataFrame, weights_used: Mapping[str, Mapping[str, float]], currency: str,
             language: str, quantile: float, per_axis: int) -> pd.api.extensions.ExtensionArray:
    """Per row the reasons sentence: for likely lost customers the P(alive) phrase first, then per axis
    the phrases of the components :func:`_chosen_components` picks, joined by "; "."""
    n = len(table)
    lost = table["likely_lost"].to_numpy(dtype=bool) if "likely_lost" in table else np.zeros(n, dtype=bool)
    names = ["p_alive"]  # component position -> name, over both axes
    # the phrases in sentence order, each: (component position per row, filled per row, high per row)
    slots = [(np.zeros(n, dtype=np.int64), lost, np.zeros(n, dtype=bool))]
    for axis in AXES:
        axis_names = list(weights_used[axis])
        if not axis_names:
            continue
        names += [name for name in axis_names if name not in names]
        positions = np.array([names.index(name) for name in axis_names])
        points = np.column_stack([table[f"points_{name}"].to_numpy(dtype="float64") for name in axis_names])
        weights = np.array([weights_used[axis][name] for name in axis_names], dtype="float64")
        excluded = lost[:, None] & (np.array(axis_names) == "p_alive")[None, :]
        high = table[f"{axis}_high"].to_numpy(dtype=bool)
        order, filled = _chosen_components(points, weights, high, excluded, per_axis)
        slots += [(positions[order[:, slot]], filled[:, slot], high) for slot in range(order.shape[1])
                  if filled[:, slot].any()]

    # A row names each component at most once (the axes share none, and the likely lost have their
    # P(alive) phrase instead of it on the growth axis): one phrase per row and component.
    needed = np.zeros((len(names), n), dtype=bool)
    high = np.zeros((len(names), n), dtype=bool)
    for component, filled, slot_high in slots:
        rows = np.flatnonzero(filled)
        needed[component[rows], rows] = True
        high[component[rows], rows] = slot_high[rows]
    # codes[component, row]: the row's phrase among all distinct phrases; code 0 is "no phrase"
    codes = np.zeros((len(names), n), dtype=np.int64)
    texts = [np.array([""], dtype=object)]
    count = 1
    for position, name in enumerate(names):
        rows = np.flatnonzero(needed[position])
        row_codes, distinct = distinct_phrases(name, table, rows, high[position, rows], currency, language, quantile)
        codes[position, rows] = count + row_codes
        texts.append(distinct)
        count += len(distinct)
    phrases = np.concatenate(texts)
    # each phrase also with the separator in front, for all but a sentence's first phrase; the sentences
    # are put together by Arrow, several times faster than adding up a million Python strings per slot
    variants = pa.array(np.concatenate([phrases, "; " + phrases]), type=pa.large_string())
    parts = []
    started = np.zeros(n, dtype=bool)
    every_row = np.arange(n)
    for component, filled, _ in slots:
        parts.append(variants.take(np.where(filled, codes[component, every_row], 0) + np.where(started & filled, count, 0)))
        started |= filled
    sentences = pc.binary_join_element_wise(*parts, pa.scalar("", type=pa.large_string()))
    return sentences.to_pandas().array  # texts as pandas makes them (str in pandas 3)


def score_customers(
    inputs: PotentialInputs, settings: Mapping[str, Any] | None = None, language: str = "en"
) -> PotentialResult:
    """Components, points, both scores, quadrant, service level, next action and reasons per customer.

    The table has one row per customer of ``inputs.summary``, in its order."""
    if language not in LANGUAGES:
        raise UsageError(f"language must be one of {LANGUAGES}, got {language!r}")
    config = potential_settings(settings)
    currency = str((settings or {}).get("currency", ""))
    table = raw_components(inputs, settings).reset_index()

    weights_used: dict[str, dict[str, float]] = {}
    components_used: dict[str, list[str]] = {}
    for axis in AXES:
        weights = config["weights"][axis]
        used = {}
        for name in COMPONENTS[axis]:
            w = float(weights.get(name, 0.0))
            column = SOURCE_COLUMNS.get(name, name)
            table[f"points_{name}"] = component_points(name, table[column], config)
            if w > 0 and table[column].notna().any():
                used[name] = w
        total = sum(used.values())
        weights_used[axis] = {n: w / total for n, w in used.items()} if total else {}
        components_used[axis] = list(used)
        table[f"{axis}_score"] = weighted_score(
            table[[f"points_{n}" for n in used]].rename(columns=lambda c: c.removeprefix("points_")), used
        ).fillna(50.0).round(2).to_numpy()

    lost_level = lost_service_level(settings, language)
    lost = table["p_alive"].notna() & (table["p_alive"] < lost_level["below_p_alive"])
    table["likely_lost"] = lost
    thresholds = {
        axis: threshold_value(table[f"{axis}_score"], config["thresholds"][axis], among=~lost) for axis in AXES
    }
    for axis in AXES:
        table[f"{axis}_high"] = table[f"{axis}_score"] >= thresholds[axis]

    quadrants = quadrant_table(settings, language).set_index("quadrant_key").reindex(list(QUADRANT_POSITIONS))
    position = {key: i for i, key in enumerate(QUADRANT_POSITIONS)}
    # Each row takes its texts by position from a small table (looking a million keys up by text, or
    # overwriting a million texts by mask, takes seconds): the quadrant's position in QUADRANT_POSITIONS,
    # and for the service level and action one more row, the retention call of the likely lost.
    quadrant = np.select(
        [table["upsell_high"] & table["growth_high"], table["upsell_high"], table["growth_high"]],
        [position["develop"], position["expand"], position["grow_with"]],
        default=position["maintain"],
    )
    levels = pd.concat([
        quadrants[["review", "hours_per_month", "service_level", "lead_action"]],
        pd.DataFrame([{"review": lost_level["review"], "hours_per_month": lost_level["hours_per_month"],
                       "service_level": lost_level["service_level"], "lead_action": lost_level["action"]}]),
    ])
    level = np.where(lost, len(quadrants), quadrant)
    table["quadrant_key"] = quadrants.index.to_series().array.take(quadrant)
    for column in ("quadrant", "review", "hours_per_month", "lead_action", "service_level"):
        if column in ("quadrant", "lead_action"):
            table[column] = quadrants[column].array.take(quadrant)
        else:
            table[column] = levels[column].array.take(level)
    table["next_action"] = levels["lead_action"].array.take(level)
    table["reasons"] = _reasons(
        table, weights_used, currency, language, float(config.get("cltv_peer_quantile", 0.75)),
        int(config.get("reasons_per_axis", 2)),
    )

    full = {n for axis in AXES for n in COMPONENTS[axis] if float(config["weights"][axis].get(n, 0)) > 0}
    missing = sorted(full - {n for axis in AXES for n in components_used[axis]})
    notes = []
    if missing:
        notes.append(
            "Not available and left out (weights re-normalised over the rest): " + ", ".join(missing) + "."
        )
    if lost.any():
        notes.append(
            f"{int(lost.sum()):,} customer(s) are likely lost (P(alive) below {lost_level['below_p_alive']:.0%}): "
            "they keep their place in the matrix, the median lines are drawn over the others, and their next "
            "action is a retention call."
        )
    return PotentialResult(
        table=table,
        components_used=components_used,
        weights_used=weights_used,
        thresholds=thresholds,
        fallback=bool({"whitespace", "budget_headroom", "yoy_growth"} & set(missing)),
        notes=notes,
        language=language,
    )


# --------------------------------------------------------------------------------------------------
# summaries for the report
# --------------------------------------------------------------------------------------------------
def quadrant_summary(result: PotentialResult, settings: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Per quadrant (all four, in a fixed order): customers, share, revenue of the last 12 months, total
    CLTV, mean scores, service level and lead action."""
    table = result.table
    quadrants = quadrant_table(settings, result.language).set_index("quadrant_key")
    grouped = table.groupby("quadrant_key")
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "likely_lost": grouped["likely_lost"].sum(),
            "revenue_12m": grouped["revenue_12m"].sum(),
            "cltv": grouped["cltv"].sum(min_count=1),
            "upsell_score": grouped["upsell_score"].mean(),
            "growth_score": grouped["growth_score"].mean(),
        }
    ).reindex(list(QUADRANT_POSITIONS))
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["likely_lost"] = out["likely_lost"].fillna(0).astype("int64")
    out["revenue_12m"] = out["revenue_12m"].fillna(0.0)
    out["share"] = out["customers"] / max(int(out["customers"].sum()), 1)
    out["hours_per_month_total"] = grouped["hours_per_month"].sum().reindex(out.index).fillna(0.0)
    for column in ("quadrant", "upsell", "growth", "service_level", "lead_action"):
        out[column] = quadrants[column].reindex(out.index)
    out.index.name = "quadrant_key"
    columns = ["quadrant", "upsell", "growth", "customers", "likely_lost", "share", "revenue_12m", "cltv", "upsell_score",
               "growth_score", "service_level", "lead_action", "hours_per_month_total"]
    return out.reset_index()[["quadrant_key", *columns]]


def weights_table(result: PotentialResult, language: str | None = None) -> pd.DataFrame:
    """The components used per axis with their effective weight and the mean and median points."""
    language = language or result.language
    rows = []
    for axis in AXES:
        for name, w in result.weights_used.get(axis, {}).items():
            points = result.table[f"points_{name}"]
            rows.append(
                {
                    "axis": axis,
                    "component": name,
                    "meaning": COMPONENT_LABELS[name][language],
                    "weight": w,
                    "scale": SCALES[name].replace("_inverse", " (lower is better)"),
                    "customers_with_value": int(points.notna().sum()),
                    "median_points": float(points.median()),
                }
            )
    return pd.DataFrame(rows)


def top_opportunities(result: PotentialResult, n: int = 15, quadrants: Sequence[str] = ("develop", "expand")) -> pd.DataFrame:
    """The customers of the given quadrants (not likely lost) in quadrant order (Develop first), each
    quadrant by upsell score, then growth score and revenue of the last 12 months; with the reasons."""
    table = result.table
    rows = np.flatnonzero(table["quadrant_key"].isin(quadrants) & ~table["likely_lost"])
    # sort only the keys, then take the first n rows whole: sorting every column of half a million
    # customers takes seconds
    keys = table[["quadrant_key", "upsell_score", "growth_score", "revenue_12m"]].iloc[rows].reset_index(drop=True)
    keys["_order"] = keys["quadrant_key"].map({q: i for i, q in enumerate(quadrants)})
    keys = keys.sort_values(["_order", "upsell_score", "growth_score", "revenue_12m"],
                            ascending=[True, False, False, False], kind="stable")
    return table.iloc[rows[keys.index[:n]]]
