"""RFM and ABC charts. They draw tables prepared by :mod:`helpers.segmentation.rfm` and
:mod:`helpers.segmentation.abc_analysis`; titles and labels come from the caller (English by default, for
the analysis notebooks; the report passes its own language)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from helpers.reporting.plots.common import money, new_figure, percent, percent_axis
from helpers.segmentation import abc_analysis, rfm

CLASS_COLORS = {"A": "#2e7d32", "B": "#f9a825", "C": "#9e9e9e"}


def segment_share_chart(
    segments: pd.DataFrame,
    title: str | None = None,
    legend: Sequence[str] = ("share of customers", "share of revenue"),
    segment_names: Sequence[str] | None = None,
    ax=None,
    language: str = "en",
) -> Figure:
    """Share of customers next to share of revenue per RFM segment (rows of rfm.segment_summary);
    `segment_names` replaces the segment names shown, `language` writes the shares (the report's)."""
    figure, axis = new_figure(10, 5) if ax is None else (ax.figure, ax)
    names = list(segment_names) if segment_names is not None else list(segments["rfm_segment"].astype(str))
    y = np.arange(len(names))
    axis.barh(y - 0.2, segments["customer_share"], height=0.4, color="#9bb7d4", label=legend[0])
    axis.barh(y + 0.2, segments["revenue_share"], height=0.4, color="#3b6ea5", label=legend[1])
    for yi, (c, r) in enumerate(zip(segments["customer_share"], segments["revenue_share"], strict=True)):
        axis.text(max(c, r) + 0.005, yi, f"{percent(c, language)} / {percent(r, language)}", va="center", fontsize=9)
    axis.set_yticks(y, names)
    axis.invert_yaxis()
    percent_axis(axis, language)
    axis.set_xlim(0, min(1.0, float(max(segments["customer_share"].max(), segments["revenue_share"].max())) + 0.12))
    axis.legend(loc="lower right")
    if title is None:
        title = f"RFM segments: customers and revenue\n{rfm.segment_reading(segments)}"
    axis.set_title(title, loc="left")
    figure.tight_layout()
    return figure


def _short(value: float) -> str:
    if not np.isfinite(value):
        return ""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def rf_heatmap_chart(grid: tuple[pd.DataFrame, pd.DataFrame], currency: str, ax=None) -> Figure:
    """Heat map of mean revenue per customer by recency (rows) and frequency score (columns), from
    rfm.rf_grid: (mean revenue, customers) per cell."""
    mean, count = grid
    labels = np.array(
        [[f"{_short(m)}\n({n})" if n else "" for m, n in zip(mr, nr, strict=True)]
         for mr, nr in zip(mean.to_numpy(), count.to_numpy(), strict=True)]
    )
    figure, axis = new_figure(8, 5.5) if ax is None else (ax.figure, ax)
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


def pareto_chart(curves: abc_analysis.ParetoCurves, overview: pd.DataFrame, ax=None) -> Figure:
    """Cumulative share of revenue (and of margin, when known) against the share of customers, largest
    first (abc_analysis.pareto_curves), with the A / B / C zones of the revenue classes (abc_overview)."""
    figure, axis = new_figure(9, 5) if ax is None else (ax.figure, ax)
    axis.plot(curves.revenue["customer_share"], curves.revenue["value_share"], color="#3b6ea5", lw=2.2,
              label=f"revenue (Gini {curves.revenue_gini:.2f})")
    if curves.margin is not None:
        axis.plot(curves.margin["customer_share"], curves.margin["value_share"], color="#c0504d", lw=1.6, ls="--",
                  label=f"contribution margin (Gini {curves.margin_gini:.2f})")
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
    axis.set_title(f"Pareto curve of revenue (ABC by revenue)\n{abc_analysis.abc_reading(overview)}", loc="left")
    figure.tight_layout()
    return figure
