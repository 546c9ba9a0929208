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

**Likely lost** customers (the one rule :func:`helpers.clv.valuation.likely_lost`: P(alive) below
``cltv.likely_lost_below``) are in none of the four quadrants: ``quadrant_key`` is ``win_back``, with the
service level and action of ``potential.lost`` (a retention call); the median thresholds are taken over the
live clients, so the lines split the live portfolio.

**Attention floor.** A live client of class ``attention_floor.abc_class`` (A) by value at stake - the ABC rule
over the live clients' expected value (CLTV; revenue of the last 12 months without one) - in a quadrant the
floor ``lifts`` keeps its quadrant and gets the floor's service level (``attention_key`` ``protect``), named
first in its reasons. **Profiles**: ``potential.profile`` (agency, retail; auto: agency with accounts or a
service map) chooses the texts of quadrants, floor and win-back group.

**Reasons.** For each axis the components that contribute most (high axis) or pull it down most (low
axis), as a short sentence; whitespace names the missing stage/kind cells that most peers buy.

This module gathers the inputs, computes the raw components and puts the result together; the points,
peers and thresholds are in :mod:`~helpers.potential.points`, the settings and service levels in
:mod:`~helpers.potential.service_levels`, the sentences in :mod:`~helpers.potential.reasons`, the per-group
summaries and ranked lists in :mod:`~helpers.potential.summaries`, the backtest in
:mod:`~helpers.potential.backtest`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.clv.inputs import margin_rates
from helpers.clv.valuation import likely_lost
from helpers.core.config import Settings, default_settings
from helpers.core.language import check_language
from helpers.features.transaction_queries import revenue_12m_by_customer
from helpers.potential import funnel
from helpers.potential.points import (
    AXES,
    COMPONENTS,
    SOURCE_COLUMNS,
    component_points,
    peer_adoption,
    peer_groups,
    threshold_value,
    weighted_score,
)
from helpers.potential.reasons import floor_phrase, reason_sentences
from helpers.potential.service_levels import (
    GROUP_ORDER,
    PROTECT,
    QUADRANT_POSITIONS,
    WIN_BACK,
    advice_profile,
    attention_table,
    floor_class,
    potential_settings,
)
from helpers.segmentation.abc_analysis import abc_classes


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
    profile: str = "agency"

    def counts(self) -> pd.Series:
        """Customers per group: the four quadrants (live clients only), then the win-back group."""
        return self.table["quadrant_key"].value_counts().reindex(list(GROUP_ORDER), fill_value=0)

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

    profile = advice_profile(settings, inputs.accounts, inputs.service_map)
    lost = pd.Series(likely_lost(table["p_alive"], settings), index=table.index)
    table["likely_lost"] = lost
    thresholds = {
        axis: threshold_value(table[f"{axis}_score"], config.thresholds[axis], among=~lost) for axis in AXES
    }
    for axis in AXES:
        table[f"{axis}_high"] = table[f"{axis}_score"] >= thresholds[axis]
    _assign_attention(table, settings, language, profile)
    table["reasons"] = reason_sentences(
        table, weights_used, currency, language, config.cltv_peer_quantile,
        config.reasons_per_axis,
    )
    protected = table["attention_key"].to_numpy() == PROTECT
    if protected.any():
        phrase = floor_phrase(floor_class(settings, profile), settings.abc.cutoffs, table.loc[protected, "review"].iloc[0],
                              language)
        reasons = table["reasons"].to_numpy(dtype=object)
        reasons[protected] = phrase + "; " + reasons[protected]
        table["reasons"] = reasons

    full = {n for axis in AXES for n in COMPONENTS[axis] if float(config.weights[axis].get(n, 0)) > 0}
    missing = sorted(full - {n for axis in AXES for n in components_used[axis]})
    notes = []
    if missing:
        notes.append(
            "Not available and left out (weights re-normalised over the rest): " + ", ".join(missing) + "."
        )
    if lost.any():
        notes.append(
            f"{int(lost.sum()):,} customer(s) are likely lost (P(alive) below {settings.cltv.likely_lost_below:.0%}): "
            "they are not in the four quadrants but on the win-back list (drawn as grey crosses where their scores "
            "place them), the median lines are drawn over the live clients, and their next action is a retention call."
        )
    if protected.any():
        notes.append(
            f"{int(protected.sum()):,} live client(s) of class {floor_class(settings, profile)} by expected value sit in "
            "a quadrant with less attention than the floor: they keep their quadrant and get the floor's service "
            "level (potential.attention_floor)."
        )
    return PotentialResult(
        table=table,
        components_used=components_used,
        weights_used=weights_used,
        thresholds=thresholds,
        fallback=bool({"whitespace", "budget_headroom", "yoy_growth"} & set(missing)),
        notes=notes,
        language=language,
        profile=profile,
    )


def value_at_stake(table: pd.DataFrame) -> pd.Series:
    """What a client is worth to us from here: the expected value (CLTV) where the model gave one, else the
    revenue of the last 12 months."""
    return table["cltv"].where(table["cltv"].notna(), table["revenue_12m"]).astype("float64")


def _assign_attention(table: pd.DataFrame, settings: Settings, language: str, profile: str) -> None:
    """Quadrant, value class, attention group, service level and next action per row (in place).

    The quadrant follows the two scores; the likely lost leave the four quadrants for the win-back group.
    A live client of the floor's ABC class by value at stake (ABC over the live clients' value) in a
    quadrant the floor lifts keeps its quadrant and gets the floor's service level ("protect")."""
    groups = attention_table(settings, language, profile).set_index("attention_key").reindex(
        [*QUADRANT_POSITIONS, PROTECT, WIN_BACK])
    position = {key: i for i, key in enumerate(groups.index)}
    lost = table["likely_lost"].to_numpy(dtype=bool)
    quadrant = np.select(
        [table["upsell_high"] & table["growth_high"], table["upsell_high"], table["growth_high"]],
        [position["develop"], position["expand"], position["grow_with"]],
        default=position["maintain"],
    )
    quadrant = np.where(lost, position[WIN_BACK], quadrant)
    value = value_at_stake(table).where(~lost)
    table["value_at_stake"] = value_at_stake(table).to_numpy()
    table["value_class"] = abc_classes(value.reset_index(drop=True), settings.abc.cutoffs).to_numpy()
    lifted = groups["lifted"].to_numpy(dtype=bool)
    protected = ~lost & (table["value_class"].to_numpy() == floor_class(settings, profile)) & lifted[quadrant]
    attention = np.where(protected, position[PROTECT], quadrant)
    # Each row takes its texts by position from the small group table: looking a million keys up by text,
    # or overwriting a million texts by mask, takes seconds.
    table["quadrant_key"] = groups.index.to_series().array.take(quadrant)
    table["quadrant"] = groups["name"].array.take(quadrant)
    table["lead_action"] = groups["lead_action"].array.take(quadrant)
    table["attention_key"] = groups.index.to_series().array.take(attention)
    table["attention"] = groups["name"].array.take(attention)
    for column in ("review", "hours_per_month", "service_level"):
        table[column] = groups[column].array.take(attention)
    table["next_action"] = groups["lead_action"].array.take(attention)
