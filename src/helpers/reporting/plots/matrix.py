"""Charts of the potential matrix: funnel maturity, the coverage heat map, the weights and the matrix itself,
once for notebook 04 and once, with the customers who changed quadrant, for the report.

They draw what :mod:`helpers.potential` prepared (the funnel tables, :class:`~helpers.potential.matrix_view.MatrixView`)
and :class:`~helpers.reporting.matrix_moves.MatrixMovesView`; titles come from the caller.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from helpers.potential import funnel
from helpers.potential.matrix_view import MatrixView
from helpers.reporting.matrix_moves import MatrixMovesView
from helpers.reporting.plots.common import new_figure

# where each quadrant's name is written: (x, y) in axes fractions, alignment
_CORNERS: dict[str, tuple[float, float, str, str]] = {
    "develop": (0.99, 0.99, "right", "top"),
    "expand": (0.99, 0.01, "right", "bottom"),
    "grow_with": (0.01, 0.99, "left", "top"),
    "maintain": (0.01, 0.01, "left", "bottom"),
}


def maturity_chart(
    distribution: pd.Series,
    title: str,
    xlabel: str = "funnel maturity (0 = no active service, 100 = every stage with operations and consulting)",
    ylabel: str = "clients",
    ax=None,
) -> Figure:
    """Bars: how many clients have which funnel maturity score (:func:`helpers.potential.funnel.maturity_distribution`)."""
    figure, axis = new_figure(10, 3.4) if ax is None else (ax.figure, ax)
    axis.bar(distribution.index, distribution.to_numpy(), width=3.5, color="#3b6ea5")
    axis.set_xlim(-4, 104)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title, loc="left")
    figure.tight_layout()
    return figure


def heat_chart(heat: pd.DataFrame, title: str, ylabel: str = "funnel type (clients)", ax=None) -> Figure:
    """Heat map of :func:`helpers.potential.funnel.heat_table`: the share of the clients of each funnel type
    that buy something in each stage x kind cell."""
    data = heat[list(funnel.CELL_COLUMNS)].astype(float)
    figure, axis = new_figure(11, 1.3 + 0.55 * len(data)) if ax is None else (ax.figure, ax)
    labels = [f"{s.capitalize()}\n{k}" for s, k in funnel.CELLS]
    rows = [f"{t.replace('_', ' ')} ({int(n)})" for t, n in zip(data.index, heat["clients"], strict=True)]
    sns.heatmap(
        data.to_numpy() * 100.0, ax=axis, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100,
        xticklabels=labels, yticklabels=rows, cbar_kws={"label": "% of clients"}, linewidths=0.5,
    )
    axis.set_xticklabels(axis.get_xticklabels(), rotation=0, fontsize=9)
    axis.set_yticklabels(axis.get_yticklabels(), rotation=0)
    axis.set_ylabel(ylabel)
    axis.set_title(title, loc="left")
    figure.tight_layout()
    return figure


def matrix_chart(
    view: MatrixView,
    xlabel: str = "cross- and upsell potential (0-100) - more to sell to the right",
    ylabel: str = "growth potential (0-100) - growing faster upwards",
    ax=None,
) -> Figure:
    """Every customer of the view as a point: upsell score (x) against growth score (y), coloured by
    quadrant, sized by revenue of the last 12 months; likely lost customers as grey crosses. Lines at the
    thresholds, the quadrant names in the corners, the largest customers named."""
    figure, axis = new_figure(10, 7.5) if ax is None else (ax.figure, ax)
    drawn = view.points
    revenue = drawn["revenue_12m"].clip(lower=0.0)
    scale = float(revenue.quantile(0.95)) or 1.0
    sizes = 12 + 150 * np.sqrt(np.clip(revenue / scale, 0, 1.5))
    live = ~drawn["likely_lost"].astype(bool)
    for key in _CORNERS:
        color = view.colours[key]
        part = live & (drawn["quadrant_key"] == key)
        axis.scatter(drawn.loc[part, "upsell_score"], drawn.loc[part, "growth_score"], s=sizes[part], c=color,
                     alpha=0.55, edgecolors="white", linewidths=0.4)
    axis.scatter(drawn.loc[~live, "upsell_score"], drawn.loc[~live, "growth_score"], s=18, c="#b0b0b0",
                 marker="x", linewidths=0.8, alpha=0.8)
    axis.axvline(view.thresholds["upsell"], color="#444444", linewidth=1, linestyle="--")
    axis.axhline(view.thresholds["growth"], color="#444444", linewidth=1, linestyle="--")
    for key, (x, y, ha, va) in _CORNERS.items():
        axis.text(x, y, view.corners[key], transform=axis.transAxes, ha=ha, va=va, fontsize=11, fontweight="bold",
                  color=view.colours[key], bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none"})
    for _, row in view.named.iterrows():
        # a name is data: drawn as written ("$...$" in it is no formula, parse_math off)
        axis.annotate(row["label"][:28], (row["upsell_score"], row["growth_score"]), fontsize=8,
                      xytext=(4, 3), textcoords="offset points", color="#222222", parse_math=False)
    axis.set_xlim(-3, 103)
    axis.set_ylim(-3, 103)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    handles = [Line2D([], [], marker="o", linestyle="", color=view.colours[k], label=view.quadrant_names.get(k, k),
                      alpha=0.7) for k in _CORNERS]
    if view.lost_label:
        handles.append(Line2D([], [], marker="x", linestyle="", color="#b0b0b0", label=view.lost_label))
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=len(handles), frameon=False)
    axis.set_title(view.title, loc="left", fontsize=11)
    figure.tight_layout()
    return figure


def matrix_moves_chart(view: MatrixMovesView, ax=None) -> Figure:
    """The report's potential matrix: upsell score (x) against growth score (y), one colour per quadrant,
    with the customers who changed quadrant since last month ringed; legend beside the picture."""
    figure, axis = new_figure(10, 6) if ax is None else (ax.figure, ax)
    drawn = view.points
    palette = sns.color_palette("deep", n_colors=max(1, len(view.quadrants)))
    # each group in its colour of the settings (view.colours by name); an unknown name takes the palette's
    colours = [view.colours.get(str(quadrant), fallback) for (quadrant, _), fallback in
               zip(view.quadrants, palette, strict=False)]
    for colour, (quadrant, label) in zip(colours, view.quadrants, strict=False):
        part = drawn[drawn["quadrant"] == quadrant]
        axis.scatter(part["upsell_score"], part["growth_score"], s=22, alpha=0.75, color=colour, label=label)
    ringed = drawn[drawn["moved"]]
    if not ringed.empty:
        axis.scatter(ringed["upsell_score"], ringed["growth_score"], s=70, facecolors="none",
                     edgecolors="black", linewidths=1.0, label=view.moved_label)
    axis.set_xlabel(view.xlabel)
    axis.set_ylabel(view.ylabel)
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    axis.set_title(view.title, loc="left")
    figure.tight_layout()
    return figure


def component_chart(weights: pd.DataFrame, title: str, xlabel: str = "weight in the score (%)", ax=None) -> Figure:
    """Horizontal bars: the effective weight of each component used, per axis
    (:func:`helpers.potential.summaries.weights_table`)."""
    figure, axis = new_figure(10, 0.6 + 0.38 * max(len(weights), 1)) if ax is None else (ax.figure, ax)
    frame = weights.iloc[::-1]
    colors = ["#3b6ea5" if a == "upsell" else "#f9a825" for a in frame["axis"]]
    axis.barh([f"{a}: {c}" for a, c in zip(frame["axis"], frame["component"], strict=True)],
              frame["weight"] * 100.0, color=colors)
    axis.set_xlabel(xlabel)
    axis.set_xlim(0, 100)
    axis.set_title(title, loc="left")
    figure.tight_layout()
    return figure
