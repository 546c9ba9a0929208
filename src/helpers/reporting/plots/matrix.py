"""Charts of the potential matrix: funnel maturity, the coverage heat map, the weights and the matrix itself
(one picture for notebook 04 and the report).

They draw what :mod:`helpers.potential` prepared (the funnel tables, :class:`~helpers.potential.matrix_view.MatrixView`,
also for the report: helpers.reporting.report_matrix); titles come from the caller.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from helpers.potential import funnel
from helpers.potential.matrix_view import MatrixView
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


def matrix_chart(view: MatrixView, ax=None) -> Figure:
    """Every customer of the view as a point: upsell score (x) against growth score (y), coloured by
    quadrant, sized by revenue of the last 12 months; likely lost customers as grey crosses, those who
    changed quadrant ringed. Lines at the thresholds, the quadrant names in the corners, the largest
    customers named where their names fit without overlapping."""
    figure, axis = new_figure(10, 7.8) if ax is None else (ax.figure, ax)
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
    ringed = drawn[drawn["moved"].astype(bool)] if "moved" in drawn else drawn.iloc[:0]
    if len(ringed) > MAX_RINGS:  # hundreds of rings hide the picture; the moves are counted in "what changed"
        ringed = ringed.iloc[:0]
    if not ringed.empty:
        axis.scatter(ringed["upsell_score"], ringed["growth_score"], s=sizes[ringed.index] + 60, facecolors="none",
                     edgecolors="#222222", linewidths=1.0)
    axis.axvline(view.thresholds["upsell"], color="#444444", linewidth=1, linestyle="--")
    axis.axhline(view.thresholds["growth"], color="#444444", linewidth=1, linestyle="--")
    corners = [
        axis.text(x, y, view.corners[key], transform=axis.transAxes, ha=ha, va=va, fontsize=11, fontweight="bold",
                  color=view.colours[key], bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
        for key, (x, y, ha, va) in _CORNERS.items()
    ]
    axis.set_xlim(-3, 103)
    axis.set_ylim(-3, 103)
    axis.set_xlabel(view.xlabel)
    axis.set_ylabel(view.ylabel)
    handles = [Line2D([], [], marker="o", linestyle="", color=view.colours[k], label=view.quadrant_names.get(k, k),
                      alpha=0.7) for k in _CORNERS]
    if view.lost_label:
        handles.append(Line2D([], [], marker="x", linestyle="", color="#b0b0b0", label=view.lost_label))
    if view.moved_label and not ringed.empty:
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="#222222",
                              label=view.moved_label))
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, frameon=False)
    axis.set_title(view.title, loc="left", fontsize=11)
    figure.tight_layout()
    place_labels(axis, view.named, obstacles=corners)
    return figure


# where a name may go relative to its point (points): right, left, above, below, then further out
_OFFSETS = [(6, 3, "left", "bottom"), (6, -3, "left", "top"), (-6, 3, "right", "bottom"), (-6, -3, "right", "top"),
            (0, 8, "center", "bottom"), (0, -8, "center", "top"), (14, 14, "left", "bottom"),
            (-14, 14, "right", "bottom"), (14, -14, "left", "top"), (-14, -14, "right", "top"),
            (0, 22, "center", "bottom"), (0, -22, "center", "top")]
MAX_LABEL = 40
MAX_RINGS = 100


def place_labels(axis, named: pd.DataFrame, obstacles=()) -> list:
    """Write each row's ``label`` next to its point where it stays inside the axes and overlaps no name
    written before nor any of ``obstacles`` (the corner names); a name that fits nowhere is left out rather
    than drawn over another. Names longer than :data:`MAX_LABEL` characters end in an ellipsis."""
    canvas = axis.figure.canvas
    # a figure closed in pyplot (plots.common.new_figure) has a bare canvas: measure the texts on an Agg one
    renderer = (canvas if hasattr(canvas, "get_renderer") else FigureCanvasAgg(axis.figure)).get_renderer()
    frame = axis.get_window_extent(renderer)
    taken = [item.get_window_extent(renderer) for item in obstacles]
    written = []
    for _, row in named.iterrows():
        label = str(row["label"])
        label = label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1].rstrip() + "…"
        for dx, dy, ha, va in _OFFSETS:
            # a name is data: drawn as written ("$...$" in it is no formula, parse_math off)
            text = axis.annotate(label, (row["upsell_score"], row["growth_score"]), xytext=(dx, dy),
                                 textcoords="offset points", ha=ha, va=va, fontsize=8, color="#222222",
                                 parse_math=False, bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none",
                                                         "pad": 0.6},
                                 arrowprops=None if abs(dx) < 10 else
                                 {"arrowstyle": "-", "color": "#888888", "linewidth": 0.5})
            box = text.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in taken):
                taken.append(box)
                written.append(text)
                break
            text.remove()
    return written


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
