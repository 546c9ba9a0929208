"""Components and points of the potential matrix: what each axis is made of, how a raw value becomes 0-100
points, the weighted score, the quadrant thresholds, and the peers a customer is compared with.

See :mod:`helpers.potential.scoring` for the components' raw values and the scales.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.config import PotentialSettings
from helpers.potential import funnel
from helpers.potential.qualification import size_band

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


def component_points(name: str, raw: pd.Series, config: PotentialSettings) -> pd.Series:
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
    low, high = config.growth_range
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
# peers
# --------------------------------------------------------------------------------------------------
def peer_groups(ids: pd.Index, accounts: pd.DataFrame | None, config: PotentialSettings) -> pd.Series:
    """Peer group key per customer: 'funnel_type / size band', falling back to 'funnel_type' and 'all'
    when a group has fewer than ``min_peers`` other members."""
    min_peers = config.min_peers
    if accounts is None or accounts.empty:
        return pd.Series("all", index=ids, name="peer_group")
    acc = accounts.assign(customer_id=accounts["customer_id"].astype(str)).drop_duplicates("customer_id")
    acc = acc.set_index("customer_id").reindex(ids)
    ftype = acc["funnel_type"].astype("object") if "funnel_type" in acc else pd.Series(None, index=ids, dtype=object)
    ftype = ftype.where(ftype.notna(), "unknown").astype(str)
    employees = acc["employees"] if "employees" in acc else pd.Series(np.nan, index=ids)
    band = size_band(employees.to_numpy(), config.size_bands).astype("object")
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
