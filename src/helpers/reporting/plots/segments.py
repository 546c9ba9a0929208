"""RFM and ABC for the report: the scored customer table, the tables behind the charts, and the charts.

The scoring itself lives in :mod:`helpers.segmentation.rfm` and :mod:`helpers.segmentation.abc_analysis`; this module puts them
together for one analysis month and draws what stakeholders read. Every chart returns a Figure (from
:func:`helpers.reporting.plots.common.new_figure`) whose title carries a one-line reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from helpers.core import paths
from helpers.core.config import ConfigError
from helpers.reporting.plots.common import money, new_figure
from helpers.segmentation import abc_analysis, rfm

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
CLASS_COLORS = {"A": "#2e7d32", "B": "#f9a825", "C": "#9e9e9e"}


# --------------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------------
def segment_rules_path(settings: dict[str, Any]) -> Path:
    """The RFM segment table named in settings ``rfm.segments_file`` (relative to the settings file)."""
    name = Path(settings.get("rfm", {}).get("segments_file", "rfm_segments.yaml"))
    return name if name.is_absolute() else Path(settings.get("_dir", paths.config_dir())) / name


def abc_cutoffs(settings: dict[str, Any]) -> tuple[float, float]:
    """The A and B cut-offs from settings ``abc.cutoffs`` (default 0.80, 0.95), checked."""
    raw = settings.get("abc", {}).get("cutoffs", [0.80, 0.95])
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise ConfigError(f"{settings.get('_path', 'settings')}: abc.cutoffs must be two fractions like [0.80, 0.95]")
    c1, c2 = (float(v) for v in raw)
    if not 0.0 < c1 <= c2 <= 1.0:
        raise ConfigError(f"{settings.get('_path', 'settings')}: abc.cutoffs must satisfy 0 < A <= B <= 1, got {raw}")
    return c1, c2


def margin_known(summary: pd.DataFrame) -> bool:
    """True when the summary carries a contribution margin for at least one customer (cost was given)."""
    return "total_margin" in summary and bool(summary["total_margin"].notna().any())


# --------------------------------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------------------------------
def score_customers(summary: pd.DataFrame, cutoff: Any, rules: rfm.SegmentRules) -> pd.DataFrame:
    """RFM table at ``cutoff`` (recency in days up to that date) with scores, code and segment."""
    return rfm.assign_segments(rfm.rfm_table(summary, analysis_date=cutoff), rules).reset_index(drop=True)


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


def segment_share_chart(segments: pd.DataFrame) -> Figure:
    """Share of customers next to share of revenue per RFM segment (rows of rfm.segment_summary)."""
    figure, axis = new_figure(10, 5)
    names = list(segments["rfm_segment"].astype(str))
    y = np.arange(len(names))
    axis.barh(y - 0.2, segments["customer_share"], height=0.4, color="#9bb7d4", label="share of customers")
    axis.barh(y + 0.2, segments["revenue_share"], height=0.4, color="#3b6ea5", label="share of revenue")
    for yi, (c, r) in enumerate(zip(segments["customer_share"], segments["revenue_share"], strict=True)):
        axis.text(max(c, r) + 0.005, yi, f"{c:.0%} / {r:.0%}", va="center", fontsize=9)
    axis.set_yticks(y, names)
    axis.invert_yaxis()
    axis.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    axis.set_xlim(0, min(1.0, float(max(segments["customer_share"].max(), segments["revenue_share"].max())) + 0.12))
    axis.legend(loc="lower right")
    axis.set_title(f"RFM segments: customers and revenue\n{segment_reading(segments)}", loc="left")
    figure.tight_layout()
    return figure


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


def _short(value: float) -> str:
    if not np.isfinite(value):
        return ""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def rf_heatmap_chart(scored: pd.DataFrame, currency: str) -> Figure:
    """Heat map of mean revenue per customer by recency (rows) and frequency score (columns)."""
    mean, count = rf_grid(scored)
    labels = np.array(
        [[f"{_short(m)}\n({n})" if n else "" for m, n in zip(mr, nr, strict=True)]
         for mr, nr in zip(mean.to_numpy(), count.to_numpy(), strict=True)]
    )
    figure, axis = new_figure(8, 5.5)
    sns.heatmap(mean, annot=labels, fmt="", cmap="Blues", ax=axis, cbar_kws={"label": f"mean revenue ({currency})"})
    axis.set_xlabel("F score (5 = buys most often)")
    axis.set_ylabel("R score (5 = bought most recently)")
    best = mean.stack().idxmax() if mean.notna().any().any() else None
    reading = (
        f"highest mean revenue in cell R{best[0]} F{best[1]}: {money(mean.loc[best], currency)} per customer "
        f"({count.loc[best]} customers)"
        if best is not None
        else "no customers"
    )
    axis.set_title(f"Mean revenue per customer by R and F score (customers in brackets)\n{reading}", loc="left")
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------------------------------
# ABC
# --------------------------------------------------------------------------------------------------
def abc_classes_by_dimension(summary: pd.DataFrame, cutoffs: tuple[float, float]) -> pd.DataFrame:
    """Per customer: ``abc_revenue`` and, when the margin is known, ``abc_margin`` (same row order)."""
    out = pd.DataFrame({"customer_id": summary["customer_id"].astype(str).to_numpy()})
    out["abc_revenue"] = abc_analysis.abc_classes(summary["total_revenue"].reset_index(drop=True), cutoffs).to_numpy()
    if margin_known(summary):
        out["abc_margin"] = abc_analysis.abc_classes(summary["total_margin"].reset_index(drop=True), cutoffs).to_numpy()
    return out


def abc_overview(summary: pd.DataFrame, classes: pd.DataFrame) -> pd.DataFrame:
    """Per class A, B, C: customers and revenue with shares, and, when known, the same by margin."""
    frame = summary.reset_index(drop=True).assign(
        abc_revenue=classes["abc_revenue"].to_numpy(),
        **({"abc_margin": classes["abc_margin"].to_numpy()} if "abc_margin" in classes else {}),
    )
    table = abc_analysis.abc_summary(frame, "total_revenue", class_col="abc_revenue").set_index("abc_class")
    table.columns = ["customers", "customer_share", "revenue", "revenue_share"]
    if "abc_margin" in frame:
        by_margin = abc_analysis.abc_summary(frame, "total_margin", class_col="abc_margin").set_index("abc_class")
        by_margin.columns = ["customers_by_margin", "customer_share_by_margin", "margin", "margin_share"]
        table = table.join(by_margin)
    return table


def pareto_curve(values: Any) -> pd.DataFrame:
    """The Pareto form of the Lorenz curve: customers sorted from the largest value down,
    ``customer_share`` (0..1) against the cumulative ``value_share`` (0..1)."""
    lorenz = abc_analysis.lorenz_curve(values)
    return pd.DataFrame(
        {
            "customer_share": 1.0 - lorenz["customer_share"].to_numpy()[::-1],
            "value_share": 1.0 - lorenz["value_share"].to_numpy()[::-1],
        }
    )


def abc_reading(overview: pd.DataFrame, value: str = "revenue") -> str:
    """'A customers: 18% of customers, 81% of revenue'."""
    row = overview.loc["A"]
    share = row["revenue_share"] if value == "revenue" else row["margin_share"]
    customers = row["customer_share"] if value == "revenue" else row["customer_share_by_margin"]
    return f"A customers: {customers:.0%} of customers, {share:.0%} of {value}"


def pareto_chart(summary: pd.DataFrame, classes: pd.DataFrame, overview: pd.DataFrame) -> Figure:
    """Cumulative share of revenue (and of margin, when known) against the share of customers, largest
    first, with the A / B / C zones of the revenue classes and the Gini coefficients."""
    figure, axis = new_figure(9, 5)
    revenue = summary["total_revenue"]
    curve = pareto_curve(revenue)
    g_rev = abc_analysis.gini(revenue)
    axis.plot(curve["customer_share"], curve["value_share"], color="#3b6ea5", lw=2.2,
              label=f"revenue (Gini {g_rev:.2f})")
    if "abc_margin" in classes:
        margin_curve = pareto_curve(summary["total_margin"])
        g_mar = abc_analysis.gini(summary["total_margin"])
        axis.plot(margin_curve["customer_share"], margin_curve["value_share"], color="#c0504d", lw=1.6, ls="--",
                  label=f"contribution margin (Gini {g_mar:.2f})")
    axis.plot([0, 1], [0, 1], color="#999999", lw=1, ls=":", label="all customers equal (Gini 0)")
    start = 0.0
    for cls in abc_analysis.CLASSES:
        width = float(overview.loc[cls, "customer_share"])
        if width > 0:
            axis.axvspan(start, start + width, color=CLASS_COLORS[cls], alpha=0.12)
            axis.text(start + width / 2, 0.03, cls, ha="center", fontsize=13, fontweight="bold",
                      color=CLASS_COLORS[cls])
        start += width
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    axis.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    axis.set_xlabel("share of customers, largest first")
    axis.set_ylabel("cumulative share")
    axis.legend(loc="center right")
    axis.set_title(f"Pareto curve of revenue (ABC by revenue)\n{abc_reading(overview)}", loc="left")
    figure.tight_layout()
    return figure


def a_customers(
    summary: pd.DataFrame,
    classes: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    scored: pd.DataFrame | None = None,
    top: int = 15,
) -> pd.DataFrame:
    """The ``top`` A customers by revenue: rank, id, name (from accounts, if present), revenue, share and
    cumulative share of revenue, margin (if known) and RFM segment (if ``scored`` is given)."""
    frame = summary.reset_index(drop=True)
    total = float(frame["total_revenue"].clip(lower=0).sum())
    table = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "revenue": frame["total_revenue"].astype("float64"),
            "abc_class": classes["abc_revenue"].to_numpy(),
        }
    )
    if margin_known(frame):
        table["margin"] = frame["total_margin"].astype("float64")
    table = table.sort_values("revenue", ascending=False, kind="stable")
    table["revenue_share"] = table["revenue"] / total if total else 0.0
    table["cumulative_share"] = table["revenue_share"].cumsum()
    table = table[table["abc_class"] == "A"].head(top).drop(columns="abc_class")
    if accounts is not None and "name" in accounts:
        names = accounts.assign(customer_id=accounts["customer_id"].astype(str)).set_index("customer_id")["name"]
        table.insert(1, "name", table["customer_id"].map(names))
    if scored is not None:
        segment = scored.set_index(scored["customer_id"].astype(str))["rfm_segment"].astype(str)
        table["rfm_segment"] = table["customer_id"].map(segment)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def class_shift(classes: pd.DataFrame) -> pd.DataFrame:
    """Customers by class on revenue (rows) and on margin (columns); empty when the margin is unknown."""
    if "abc_margin" not in classes:
        return pd.DataFrame()
    table = pd.crosstab(classes["abc_revenue"], classes["abc_margin"]).reindex(
        index=list(abc_analysis.CLASSES), columns=list(abc_analysis.CLASSES), fill_value=0
    )
    table.index.name, table.columns.name = "class by revenue", "class by margin"
    return table


def segments_by_class(scored: pd.DataFrame, abc_class: Any) -> pd.DataFrame:
    """Customers per RFM segment (rows, in segment order) and ABC class (columns A, B, C, total):
    shows how one ABC class splits into several RFM segments."""
    classes = pd.Series(np.asarray(abc_class), index=scored.index, name="abc_class")
    table = pd.crosstab(scored["rfm_segment"], classes, dropna=False).reindex(
        columns=list(abc_analysis.CLASSES), fill_value=0
    )
    table = table.reindex(scored["rfm_segment"].cat.categories, fill_value=0)
    table["total"] = table.sum(axis=1)
    table.index.name, table.columns.name = "RFM segment", "ABC class"
    return table[table["total"] > 0]


def rfm_output(scored: pd.DataFrame, abc_class: Any) -> pd.DataFrame:
    """The rfm artifact: exactly :data:`RFM_COLUMNS`, one row per scored customer."""
    out = scored.reset_index(drop=True).copy()
    out["abc_class"] = np.asarray(abc_class, dtype=object)
    out["customer_id"] = out["customer_id"].astype(str)
    out["rfm_segment"] = out["rfm_segment"].astype(str)
    return out[RFM_COLUMNS]


def chosen_abc_class(classes: pd.DataFrame, settings: dict[str, Any]) -> tuple[np.ndarray, str]:
    """The class written to the rfm artifact: by ``abc.basis`` ('revenue' or 'margin'; margin only when it
    is known, else revenue), with a sentence saying which."""
    basis = str(settings.get("abc", {}).get("basis", "revenue"))
    if basis not in ("revenue", "margin"):
        raise ConfigError(f"{settings.get('_path', 'settings')}: abc.basis is {basis!r}; use 'revenue' or 'margin'")
    if basis == "margin" and "abc_margin" in classes:
        return classes["abc_margin"].to_numpy(), "The saved ABC class is by contribution margin (abc.basis: margin)."
    note = "The saved ABC class is by revenue"
    if basis == "margin":
        note += " (abc.basis asks for margin, but the cost is unknown)"
    return classes["abc_revenue"].to_numpy(), note + "."
