"""What changed since last month: who moved between quadrants of the potential matrix and between RFM
segments, who is new and who is gone, who needs attention now, and where the largest opportunities are.

The previous month is the newest earlier *published* month in data/processed/ that holds the same artifact
(``customer_segments.parquet``, or ``rfm.parquet`` while the potential matrix is not there yet): a month
prepared by hand, or one a killed run left half-built, is never compared with. In the first month there is
nothing to compare with, and :class:`Comparison` says so (``previous is None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from helpers.clv.valuation import likely_lost
from helpers.core import artifacts as processed
from helpers.core import paths
from helpers.potential import summaries
from helpers.reporting import i18n
from helpers.reporting.plots.common import new_figure

AT_RISK = "At Risk"
BASES = {"customer_segments": "quadrant", "rfm": "rfm_segment"}


# --------------------------------------------------------------------------------------------------
# which months
# --------------------------------------------------------------------------------------------------
def months_with(artifact: str) -> list[str]:
    """Published months in data/processed/ that hold ``artifact``, oldest first."""
    file_name = processed.ARTIFACTS[artifact]
    return [m for m in processed.published_months() if (paths.published_processed_dir(m) / file_name).exists()]


def previous_month(month: str, artifact: str = "customer_segments", max_gap_months: int = 12) -> str | None:
    """The newest month before ``month`` that has ``artifact`` and lies at most ``max_gap_months`` back, or None
    in the first month (a month years earlier belongs to another data set, not to last month)."""
    oldest = str(pd.Period(month, freq="M") - max_gap_months)
    earlier = [m for m in months_with(artifact) if oldest <= m < month]
    return earlier[-1] if earlier else None


@dataclass
class Comparison:
    """This month's and the previous month's frame of one artifact, compared on ``column``."""

    month: str
    artifact: str | None
    column: str | None
    current: pd.DataFrame | None
    previous_month: str | None = None
    previous: pd.DataFrame | None = None

    @property
    def available(self) -> bool:
        return self.current is not None and self.previous is not None

    @property
    def basis_key(self) -> str:
        return "changes_basis_quadrant" if self.column == "quadrant" else "changes_basis_segment"


def compare(month: str) -> Comparison:
    """Compare ``month`` with the previous month on the quadrant when this month has customer_segments,
    else on the RFM segment when it has rfm; with nothing to compare on, ``current`` is None."""
    for artifact, column in BASES.items():
        if processed.has_artifact(month, artifact):
            current = processed.read_artifact(month, artifact)
            if column not in current:
                continue
            before = previous_month(month, artifact)
            previous = processed.read_artifact(before, artifact) if before else None
            if previous is not None and (
                column not in previous
                or not set(current["customer_id"].astype(str)) & set(previous["customer_id"].astype(str))
            ):
                # not one customer in common: another data set, nothing to compare
                before, previous = None, None
            return Comparison(month, artifact, column, current, before, previous)
    return Comparison(month, None, None, None)


# --------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------
def _keyed(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.Series(frame[column].astype("object").to_numpy(), index=frame["customer_id"].astype(str))


def _order(values: pd.Series, order: list[str] | None) -> list[str]:
    seen = [v for v in pd.unique(values.dropna()) if v is not None]
    if order is None:
        return sorted(map(str, seen))
    return [o for o in order if o in set(seen)] + sorted(str(v) for v in seen if v not in set(order))


def movements(current: pd.DataFrame, previous: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per customer of either month: ``before`` and ``now`` (NaN when absent), and ``status``:
    stayed, moved, new or gone."""
    now, before = _keyed(current, column), _keyed(previous, column)
    ids = now.index.union(before.index)
    table = pd.DataFrame({"before": before.reindex(ids), "now": now.reindex(ids)})
    table.index.name = "customer_id"
    status = np.where(
        table["before"].isna(), "new",
        np.where(table["now"].isna(), "gone", np.where(table["before"] == table["now"], "stayed", "moved")),
    )
    table["status"] = status
    return table.reset_index()


def movement_counts(current: pd.DataFrame, previous: pd.DataFrame, column: str) -> dict[str, int]:
    counts = movements(current, previous, column)["status"].value_counts()
    result = {key: int(counts.get(key, 0)) for key in ("stayed", "moved", "new", "gone")}
    result["total"] = result["stayed"] + result["moved"] + result["new"] + result["gone"]
    return result


def transition_table(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    column: str,
    order: list[str] | None = None,
    language: str = "en",
) -> pd.DataFrame:
    """Customers counted by last month's value (rows, plus "new") and this month's (columns, plus "gone")."""
    moves = movements(current, previous, column)
    new, gone = i18n.t("changes_new", language), i18n.t("changes_gone", language)
    rows = _order(moves["before"], order)
    columns = _order(moves["now"], order)
    categories = list(dict.fromkeys(rows + columns))
    before = moves["before"].where(moves["before"].notna(), new)
    now = moves["now"].where(moves["now"].notna(), gone)
    table = pd.crosstab(before, now).reindex(index=categories + [new], columns=categories + [gone], fill_value=0)
    table = table.fillna(0).astype("int64")
    table.index.name = i18n.t("changes_chart_y", language)
    table.columns.name = i18n.t("changes_chart_x", language)
    return table


def counts_table(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    column: str,
    order: list[str] | None = None,
    first: tuple[str, ...] = (),
    mean: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Customers per value of ``column`` this month and last month (when known), with the change; ``first``
    columns add the group's first value (e.g. its service level), ``mean`` columns the group's mean (named
    ``mean_<column>``)."""
    key = current[column].astype("object")
    now = key.value_counts()
    values = _order(key, order)
    table = pd.DataFrame({column: values})
    for extra_column in first:
        if extra_column in current:
            # the most common value of the group (a few customers may carry an exception)
            common = current.groupby(key)[extra_column].agg(lambda v: v.mode().iloc[0] if v.notna().any() else None)
            table[extra_column] = table[column].map(common)
    table["this_month"] = [int(now.get(v, 0)) for v in values]
    for extra_column in mean:
        if extra_column in current:
            table[f"mean_{extra_column}"] = table[column].map(current.groupby(key)[extra_column].mean())
    if previous is not None and column in previous:
        before = previous[column].astype("object").value_counts()
        extra = [v for v in _order(previous[column].astype("object"), order) if v not in values]
        if extra:
            table = pd.concat([table, pd.DataFrame({column: extra, "this_month": 0})], ignore_index=True)
        table["last_month"] = [int(before.get(v, 0)) for v in table[column]]
        table["change"] = table["this_month"] - table["last_month"]
    return table


def moved_into(current: pd.DataFrame, previous: pd.DataFrame, column: str, value: str = AT_RISK) -> pd.DataFrame:
    """Customers of both months who are in ``value`` now and were elsewhere before, with their rows of
    this month; ``before`` holds where they came from."""
    moves = movements(current, previous, column)
    ids = moves.loc[(moves["now"] == value) & moves["before"].notna() & (moves["before"] != value)]
    return _with_rows(ids, current)


def moved_out_of(
    current: pd.DataFrame, previous: pd.DataFrame, column: str, value: str, language: str = "en"
) -> pd.DataFrame:
    """Customers who were in ``value`` last month and are elsewhere now, or gone (``now`` says where)."""
    moves = movements(current, previous, column)
    ids = moves.loc[(moves["before"] == value) & (moves["now"] != value)].copy()
    ids["now"] = ids["now"].where(ids["now"].notna(), i18n.t("changes_gone", language))
    return _with_rows(ids, current)


def _with_rows(moves: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in ("customer_id", "before", "now") if c in moves]
    rows = current.assign(customer_id=current["customer_id"].astype(str))
    extra = [c for c in ("name", "cltv", "p_alive", "next_action") if c in rows]
    out = moves[keep].merge(rows[["customer_id", *extra]], on="customer_id", how="left")
    if "cltv" in out:
        out = out.sort_values("cltv", ascending=False, kind="stable", na_position="last")
    return out.reset_index(drop=True)


def top_quadrant(segments: pd.DataFrame) -> str | None:
    """The top-right quadrant of the matrix (Develop: high on both axes), by its key where the month has
    quadrant keys; else the quadrant whose customers have the highest mean percentile rank of upsell and
    growth score."""
    if {"quadrant", "quadrant_key"} <= set(segments.columns):
        top = segments.loc[segments["quadrant_key"].astype("object") == "develop", "quadrant"]
        return str(top.iloc[0]) if len(top) else None
    needed = {"quadrant", "upsell_score", "growth_score"}
    if not needed <= set(segments.columns) or segments.empty:
        return None
    ranks = segments["upsell_score"].rank(pct=True) + segments["growth_score"].rank(pct=True)
    means = ranks.groupby(segments["quadrant"].astype("object")).mean()
    return None if means.empty else str(means.idxmax())


def attention_table(segments: pd.DataFrame) -> pd.DataFrame:
    """Where the management hours go, from customer_segments: per attention group (quadrant, floor, win-back)
    its service level, clients, hours per client and in total, share of the hours and expected value; the
    groups with most hours per client first."""
    key = segments["attention"].astype("object")
    grouped = segments.groupby(key)
    table = pd.DataFrame({
        "service_level": grouped["service_level"].first(),
        "this_month": grouped.size(),
        "hours_per_month": grouped["hours_per_month"].first(),
        "hours_total": grouped["hours_per_month"].sum(),
        "value_at_stake": grouped["cltv"].sum(min_count=1) if "cltv" in segments else np.nan,
    })
    table["hours_share"] = table["hours_total"] / max(float(table["hours_total"].sum()), 1e-9)
    table = table.rename_axis("attention").reset_index()
    table = table.sort_values(["hours_per_month", "this_month"], ascending=False, kind="stable")
    return table[["attention", "service_level", "this_month", "hours_per_month", "hours_total", "hours_share",
                  "value_at_stake"]].reset_index(drop=True)


OPPORTUNITY_GROUPS = summaries.OPPORTUNITY_GROUPS


def largest_opportunities(segments: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The ``top`` opportunities of :func:`helpers.potential.summaries.top_opportunities` (live clients with
    high cross- and upsell potential by money at stake, as in notebook 04) with their group, value at stake,
    scores and next action. An older export without quadrant keys ranks its live clients by upsell potential
    and CLTV; the likely lost (clv.valuation.likely_lost, as scored) are never an opportunity."""
    if "quadrant_key" in segments and "value_at_stake" in segments:
        ranked = summaries.top_opportunities(segments, top)
    else:
        if "likely_lost" in segments:
            segments = segments[~segments["likely_lost"].astype(bool)]
        elif "p_alive" in segments:
            segments = segments[~likely_lost(segments["p_alive"])]
        keys = [c for c in ("upsell_score", "cltv", "growth_score") if c in segments]
        if not keys:
            return segments.head(0)
        ranked = segments.sort_values(keys, ascending=False, kind="stable", na_position="last").head(top)
    columns = [c for c in ("customer_id", "name", "quadrant", "value_at_stake", "cltv", "upsell_score", "growth_score",
                           "next_action") if c in ranked and not (c == "cltv" and "value_at_stake" in ranked)]
    ranked = ranked[columns]
    # a column without any value (e.g. names when no accounts file was given) says nothing
    empty = [c for c in ranked.columns if c != "customer_id" and (ranked[c].isna() | (ranked[c].astype(str) == "")).all()]
    return ranked.drop(columns=empty).reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# pictures
# --------------------------------------------------------------------------------------------------
def transition_reading(counts: dict[str, int], basis: str, language: str = "en") -> str:
    return i18n.t(
        "changes_chart_reading", language,
        moved=i18n.number(counts["moved"], language), total=i18n.number(counts["total"], language),
        basis=basis, new=i18n.number(counts["new"], language), gone=i18n.number(counts["gone"], language),
    )


def transition_chart(table: pd.DataFrame, title: str, reading: str) -> Figure:
    """Heat map of a transition table: how many customers went from each row to each column. The diagonal
    (stayed) is drawn in grey so that the movements stand out."""
    rows, cols = table.shape
    figure, axis = new_figure(min(12.0, 3.0 + 1.1 * cols), min(9.0, 2.0 + 0.5 * rows))
    values = table.to_numpy(dtype="float64")
    stayed = np.zeros_like(values, dtype=bool)
    for i, name in enumerate(table.index):
        if name in table.columns:
            stayed[i, list(table.columns).index(name)] = True
    moves = np.where(stayed, np.nan, values)
    annotations = np.where(values > 0, values.astype("int64").astype(str), "")
    sns.heatmap(
        pd.DataFrame(moves, index=table.index, columns=table.columns), ax=axis, cmap="Blues", cbar=False,
        annot=annotations, fmt="", linewidths=0.5, linecolor="white", vmin=0,
        vmax=max(1.0, float(np.nanmax(moves)) if np.isfinite(moves).any() else 1.0),
    )
    sns.heatmap(
        pd.DataFrame(np.where(stayed, values, np.nan), index=table.index, columns=table.columns), ax=axis,
        cmap="Greys", cbar=False, annot=False, vmin=0, vmax=max(1.0, float(values.max()) * 4), linewidths=0.5,
        linecolor="white",
    )
    axis.set_xlabel(table.columns.name or "")
    axis.set_ylabel(table.index.name or "")
    axis.tick_params(axis="x", rotation=30)
    for text in axis.get_xticklabels():
        text.set_horizontalalignment("right")
    axis.tick_params(axis="y", rotation=0)
    axis.set_title(f"{title}\n{reading}", loc="left")
    figure.tight_layout()
    return figure


def moved_ids(comparison: Comparison) -> set[str]:
    """Customers present in both months whose value changed."""
    if not comparison.available:
        return set()
    moves = movements(comparison.current, comparison.previous, comparison.column)
    return set(moves.loc[moves["status"] == "moved", "customer_id"])


def describe(comparison: Comparison, language: str = "en") -> str:
    """One plain sentence on the comparison (or that there is none yet)."""
    if not comparison.available:
        return i18n.t("changes_first_month", language)
    counts = movement_counts(comparison.current, comparison.previous, comparison.column)
    return i18n.t(
        "changes_compared", language, previous=i18n.month_name(comparison.previous_month, language),
        **{k: i18n.number(v, language) for k, v in counts.items() if k != "total"},
    )


def any_value(frame: pd.DataFrame, column: str, value: Any) -> bool:
    return column in frame and bool((frame[column].astype("object") == value).any())
