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

This module gathers the inputs, computes the raw components and puts the result together; the points,
peers and thresholds are in :mod:`~helpers.potential.points`, the settings and service levels in
:mod:`~helpers.potential.service_levels`, the sentences in :mod:`~helpers.potential.reasons`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.clv.inputs import margin_rates
from helpers.core.config import Settings, default_settings
from helpers.core.language import check_language
from helpers.features.transaction_queries import revenue_12m_by_customer
from helpers.potential import funnel
from helpers.potential.points import (
    AXES,
    COMPONENT_LABELS,
    COMPONENTS,
    SCALES,
    SOURCE_COLUMNS,
    component_points,
    peer_adoption,
    peer_groups,
    threshold_value,
    weighted_score,
)
from helpers.potential.reasons import reason_sentences
from helpers.potential.service_levels import (
    QUADRANT_POSITIONS,
    lost_service_level,
    potential_settings,
    quadrant_table,
)


def _margin_rates(summary: pd.DataFrame, default_margin: float) -> np.ndarray:
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


def raw_components(inputs: PotentialInputs, settings: Settings | None = None) -> pd.DataFrame:
    """One row per customer of the summary (index customer_id): the raw value of every component (NaN
    when its data are missing) and the details the reasons need."""
    settings = settings or default_settings()
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

    revenue_12m = revenue_12m_by_customer(inputs.transactions, ids, inputs.as_of)
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
        q = config.cltv_peer_quantile
        level = cltv.groupby(groups.to_numpy()).transform(lambda s: s.quantile(q))
        out["cltv_peer_level"] = level
        # a gap to strong peers is potential only while the customer is still buying: weight it by
        # P(alive), so that lapsed small buyers do not look like the best upsell prospects
        alive = out["p_alive"].fillna(1.0)
        out["cltv_headroom"] = ((level - cltv).clip(lower=0.0) * alive).where(cltv.notna())
        horizon = float(settings.cltv.horizon_months)
        default_margin = settings.cltv.margin
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


def score_customers(
    inputs: PotentialInputs, settings: Settings | None = None, language: str = "en"
) -> PotentialResult:
    """Components, points, both scores, quadrant, service level, next action and reasons per customer.

    The table has one row per customer of ``inputs.summary``, in its order."""
    check_language(language)
    settings = settings or default_settings()
    config = potential_settings(settings)
    currency = settings.currency
    table = raw_components(inputs, settings).reset_index()

    weights_used: dict[str, dict[str, float]] = {}
    components_used: dict[str, list[str]] = {}
    for axis in AXES:
        weights = config.weights[axis]
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
        axis: threshold_value(table[f"{axis}_score"], config.thresholds[axis], among=~lost) for axis in AXES
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
    table["reasons"] = reason_sentences(
        table, weights_used, currency, language, config.cltv_peer_quantile,
        config.reasons_per_axis,
    )

    full = {n for axis in AXES for n in COMPONENTS[axis] if float(config.weights[axis].get(n, 0)) > 0}
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
def quadrant_summary(result: PotentialResult, settings: Settings | None = None) -> pd.DataFrame:
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


def weights_reading(weights: pd.DataFrame) -> str:
    """'What the scores are made of - strongest: ...': the heaviest component per axis of :func:`weights_table`."""
    top = weights.sort_values("weight").groupby("axis").tail(1).set_index("axis")["component"]
    return "What the scores are made of - strongest: " + ", ".join(f"{c} for {a}" for a, c in top.items())


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
