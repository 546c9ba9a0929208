"""What the scored customers of the potential matrix add up to, for notebook 04 and the report: per quadrant
and win-back group (:func:`quadrant_summary`), where the management hours go (:func:`attention_summary`), the
components' weights (:func:`weights_table`), the ranked lists (:func:`top_opportunities`,
:func:`win_back_list`) and their readings in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.core.config import Settings
from helpers.potential.points import AXES, COMPONENT_LABELS, SCALES
from helpers.potential.scoring import PotentialResult
from helpers.potential.service_levels import (
    GROUP_ORDER,
    PROTECT,
    QUADRANT_POSITIONS,
    WIN_BACK,
    attention_table,
)


# --------------------------------------------------------------------------------------------------
def quadrant_summary(result: PotentialResult, settings: Settings | None = None) -> pd.DataFrame:
    """Per group (the four quadrants, then the win-back group of the likely lost): customers, share (of the
    live clients, for the quadrants), clients lifted by the attention floor, revenue of the last 12 months,
    total CLTV, mean scores, the quadrant's service level and lead action, and the hours per month its
    clients get (floor included)."""
    table = result.table
    groups = attention_table(settings, result.language, result.profile).set_index("attention_key")
    grouped = table.groupby("quadrant_key")
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "protected": grouped["attention_key"].agg(lambda keys: int((keys == PROTECT).sum())),
            "revenue_12m": grouped["revenue_12m"].sum(),
            "cltv": grouped["cltv"].sum(min_count=1),
            "upsell_score": grouped["upsell_score"].mean(),
            "growth_score": grouped["growth_score"].mean(),
            "hours_per_month_total": grouped["hours_per_month"].sum(),
        }
    ).reindex(list(GROUP_ORDER))
    for column in ("customers", "protected"):
        out[column] = out[column].fillna(0).astype("int64")
    out["revenue_12m"] = out["revenue_12m"].fillna(0.0)
    out["hours_per_month_total"] = out["hours_per_month_total"].fillna(0.0)
    live = int(out.loc[list(QUADRANT_POSITIONS), "customers"].sum())
    out["share"] = (out["customers"] / max(live, 1)).where(out.index != WIN_BACK)
    positions = {key: ("high" if x else "low", "high" if y else "low") for key, (x, y) in QUADRANT_POSITIONS.items()}
    out["upsell"] = [positions.get(key, ("", ""))[0] for key in out.index]
    out["growth"] = [positions.get(key, ("", ""))[1] for key in out.index]
    out["quadrant"] = groups["name"].reindex(out.index)
    out["service_level"] = groups["service_level"].reindex(out.index)
    out["lead_action"] = groups["lead_action"].reindex(out.index)
    out.index.name = "quadrant_key"
    columns = ["quadrant", "upsell", "growth", "customers", "share", "protected", "revenue_12m", "cltv",
               "upsell_score", "growth_score", "service_level", "lead_action", "hours_per_month_total"]
    return out.reset_index()[["quadrant_key", *columns]]


def attention_summary(result: PotentialResult, settings: Settings | None = None) -> pd.DataFrame:
    """Where the management hours go: per attention group (the four quadrants, the floor, the win-back
    group) the clients, their service level, the hours per client and in total, the share of all hours
    and the value at stake."""
    table = result.table
    groups = attention_table(settings, result.language, result.profile).set_index("attention_key")
    grouped = table.groupby("attention_key")
    out = pd.DataFrame({
        "clients": grouped.size(),
        "hours_per_month_total": grouped["hours_per_month"].sum(),
        "value_at_stake": grouped["value_at_stake"].sum(min_count=1),
    }).reindex(list(groups.index))
    out["clients"] = out["clients"].fillna(0).astype("int64")
    out["hours_per_month_total"] = out["hours_per_month_total"].fillna(0.0)
    out["hours_share"] = out["hours_per_month_total"] / max(float(out["hours_per_month_total"].sum()), 1e-9)
    out.insert(0, "group", groups["name"])
    out.insert(2, "service_level", groups["service_level"])
    out.insert(3, "hours_per_client", groups["hours_per_month"])
    out.index.name = "attention_key"
    return out.reset_index()


def win_back_list(result: PotentialResult, n: int = 15) -> pd.DataFrame:
    """The likely lost, ranked by what is at stake: the revenue of the last 12 months (what leaves with
    them), then the expected value; with the retention call as next action."""
    table = result.table
    rows = np.flatnonzero(table["quadrant_key"].to_numpy() == WIN_BACK)
    keys = table[["revenue_12m", "value_at_stake"]].iloc[rows].reset_index(drop=True)
    keys = keys.sort_values(["revenue_12m", "value_at_stake"], ascending=False, kind="stable")
    return table.iloc[rows[keys.index[:n]]]


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


#: the groups with high cross- and upsell potential: where there is more to sell
OPPORTUNITY_GROUPS = ("develop", "expand")
_OPPORTUNITY_KEYS = ["value_at_stake", "upsell_score", "growth_score", "revenue_12m"]


def top_opportunities(table: PotentialResult | pd.DataFrame, n: int = 15,
                      quadrants: Sequence[str] = OPPORTUNITY_GROUPS) -> pd.DataFrame:
    """The ``n`` live customers of the given quadrants (by quadrant key; the likely lost are in the win-back
    group, never here) with the most money at stake: value_at_stake, the expected value where the model gave
    one, else the revenue of the last 12 months; ties by upsell score, then growth score and revenue of the
    last 12 months. ``table``: :attr:`PotentialResult.table` or the month's customer_segments, so that
    notebook 04 and the report list the same clients."""
    table = table.table if isinstance(table, PotentialResult) else table
    rows = np.flatnonzero(table["quadrant_key"].isin(quadrants).to_numpy())
    # sort only the keys, then take the first n rows whole: sorting every column of half a million
    # customers takes seconds
    keys = table[[c for c in _OPPORTUNITY_KEYS if c in table]].iloc[rows].reset_index(drop=True)
    keys = keys.sort_values(list(keys.columns), ascending=False, kind="stable", na_position="last")
    return table.iloc[rows[keys.index[:n]]]


def quadrant_reading(quadrants: pd.DataFrame) -> str:
    """'Develop holds 53 of 214 live clients with 14% of their revenue ...': the top quadrant, the protected
    clients and the win-back group of :func:`quadrant_summary`, in plain words (English)."""
    frame = quadrants.set_index("quadrant_key")
    live = frame.loc[list(QUADRANT_POSITIONS)]
    top = frame.loc["develop"]
    revenue = max(float(live["revenue_12m"].sum()), 1e-9)
    text = (f"**{top['quadrant']}** holds {int(top['customers']):,} of {int(live['customers'].sum()):,} live clients "
            f"with {top['revenue_12m'] / revenue:.0%} of their revenue of the last 12 months; their service level: "
            f"{top['service_level']}.")
    protected = int(live["protected"].sum())
    if protected:
        text += (f" {protected:,} class-A clients in quadrants with less attention are protected by the floor "
                 f"({int(live.loc['grow_with', 'protected']):,} in {live.loc['grow_with', 'quadrant']}, "
                 f"{int(live.loc['maintain', 'protected']):,} in {live.loc['maintain', 'quadrant']}).")
    lost = frame.loc[WIN_BACK]
    if lost["customers"]:
        text += (f" {int(lost['customers']):,} likely lost clients are on the win-back list, with "
                 f"{lost['revenue_12m'] / max(float(frame['revenue_12m'].sum()), 1e-9):.0%} of all revenue of the "
                 "last 12 months.")
    return text


def attention_reading(hours: pd.DataFrame, profile: str = "agency") -> str:
    """Where most of the management hours go, from :func:`attention_summary` (English)."""
    total = float(hours["hours_per_month_total"].sum())
    if profile == "retail" or total <= 0:
        return ("These are consumers: the service levels are offers and campaigns, no management hours are "
                "planned per customer.")
    frame = hours.set_index("attention_key")
    parts = [f"{row['group']} {row['hours_share']:.0%}" for _, row in frame.iterrows() if row["clients"]]
    value = frame["value_at_stake"].fillna(0.0)
    big = value.idxmax()
    return (f"{total:,.0f} hours of management attention a month in all: " + ", ".join(parts) + ". "
            f"The most value at stake lies with {frame.loc[big, 'group']} "
            f"({value[big] / max(float(value.sum()), 1e-9):.0%} of the expected value).")
