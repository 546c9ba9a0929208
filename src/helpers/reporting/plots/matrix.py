"""Charts of the potential matrix notebook: funnel maturity, the coverage heat map and the matrix itself.

Each returns a Figure from :func:`helpers.reporting.plots.common.new_figure` with a title that carries a one-line reading.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from helpers.potential import funnel
from helpers.reporting.plots.common import new_figure

QUADRANT_COLORS: dict[str, str] = {
    "develop": "#2e7d32",
    "expand": "#3b6ea5",
    "grow_with": "#f9a825",
    "maintain": "#9e9e9e",
}
# where each quadrant's name is written: (x, y) in axes fractions, alignment
_CORNERS: dict[str, tuple[float, float, str, str]] = {
    "develop": (0.99, 0.99, "right", "top"),
    "expand": (0.99, 0.01, "right", "bottom"),
    "grow_with": (0.01, 0.99, "left", "top"),
    "maintain": (0.01, 0.01, "left", "bottom"),
}


def maturity_chart(maturity: pd.DataFrame) -> Figure:
    """Bars: how many clients have which funnel maturity score (0-100)."""
    figure, axis = new_figure(10, 3.4)
    scores = maturity["funnel_maturity"].round(0)
    counts = scores.value_counts().sort_index()
    axis.bar(counts.index, counts.to_numpy(), width=3.5, color="#3b6ea5")
    axis.set_xlim(-4, 104)
    axis.set_xlabel("funnel maturity (0 = no active service, 100 = every stage with operations and consulting)")
    axis.set_ylabel("clients")
    none = int((maturity["funnel_maturity"] <= 0).sum())
    full = int((maturity.get("stages_covered", pd.Series(dtype=int)) == len(funnel.STAGES)).sum())
    axis.set_title(
        f"Funnel maturity - median {scores.median():.0f} of 100; {none:,} clients without an active service, "
        f"{full:,} with every stage covered",
        loc="left",
    )
    figure.tight_layout()
    return figure


def heat_chart(heat: pd.DataFrame) -> Figure:
    """Heat map: share of the clients of each funnel type that buy something in each stage x kind cell."""
    cells = list(funnel.CELL_COLUMNS)
    data = heat[cells].astype(float)
    figure, axis = new_figure(11, 1.3 + 0.55 * len(data))
    labels = [f"{s.capitalize()}\n{k}" for s, k in funnel.CELLS]
    rows = [f"{t.replace('_', ' ')} ({int(n)})" for t, n in zip(data.index, heat["clients"], strict=True)]
    sns.heatmap(
        data.to_numpy() * 100.0, ax=axis, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100,
        xticklabels=labels, yticklabels=rows, cbar_kws={"label": "% of clients"}, linewidths=0.5,
    )
    axis.set_xticklabels(axis.get_xticklabels(), rotation=0, fontsize=9)
    axis.set_yticklabels(axis.get_yticklabels(), rotation=0)
    axis.set_ylabel("funnel type (clients)")
    overall = (data.mul(heat["clients"], axis=0).sum() / max(heat["clients"].sum(), 1)).sort_values()
    axis.set_title(
        f"Where clients buy (% with an active service) - most bought: {funnel.cell_label(overall.index[-1])}, "
        f"least: {funnel.cell_label(overall.index[0])}",
        loc="left",
    )
    figure.tight_layout()
    return figure


def matrix_chart(
    table: pd.DataFrame,
    thresholds: Mapping[str, float],
    quadrant_names: Mapping[str, str],
    labels: pd.Series | None = None,
    currency: str = "",
    label_top: int = 8,
    max_points: int = 3000,
    seed: int = 0,
) -> Figure:
    """Every customer as a point: upsell score (x) against growth score (y), coloured by quadrant, sized
    by revenue of the last 12 months; likely lost customers as grey crosses. Lines at the thresholds,
    the quadrant names in the corners, the ``label_top`` largest customers by revenue named (``labels``:
    name per row of ``table``, else the customer id). Above ``max_points`` customers a random sample is
    drawn (the largest customers always)."""
    # only what the chart uses: copying every column of a million customers takes seconds
    frame = table[["customer_id", "revenue_12m", "likely_lost", "quadrant_key", "upsell_score", "growth_score"]].copy()
    frame["_label"] = (labels if labels is not None else frame["customer_id"]).astype(str).to_numpy()
    frame["_label"] = frame["_label"].where(frame["_label"].str.strip() != "", frame["customer_id"].astype(str))
    top = frame.nlargest(label_top, "revenue_12m") if label_top else frame.iloc[:0]
    sampled = len(frame) > max_points
    drawn = frame
    if sampled:
        rest = frame.drop(index=top.index).sample(max_points - len(top), random_state=seed)
        drawn = pd.concat([top, rest])
    figure, axis = new_figure(10, 7.5)
    revenue = drawn["revenue_12m"].clip(lower=0.0)
    scale = float(revenue.quantile(0.95)) or 1.0
    sizes = 12 + 150 * np.sqrt(np.clip(revenue / scale, 0, 1.5))
    live = ~drawn["likely_lost"].astype(bool)
    for key, color in QUADRANT_COLORS.items():
        part = live & (drawn["quadrant_key"] == key)
        axis.scatter(drawn.loc[part, "upsell_score"], drawn.loc[part, "growth_score"], s=sizes[part], c=color,
                     alpha=0.55, edgecolors="white", linewidths=0.4)
    axis.scatter(drawn.loc[~live, "upsell_score"], drawn.loc[~live, "growth_score"], s=18, c="#b0b0b0",
                 marker="x", linewidths=0.8, alpha=0.8)
    axis.axvline(thresholds["upsell"], color="#444444", linewidth=1, linestyle="--")
    axis.axhline(thresholds["growth"], color="#444444", linewidth=1, linestyle="--")
    counts = frame["quadrant_key"].value_counts()
    for key, (x, y, ha, va) in _CORNERS.items():
        axis.text(x, y, f"{quadrant_names.get(key, key)}\n{int(counts.get(key, 0)):,} customers",
                  transform=axis.transAxes, ha=ha, va=va, fontsize=11, fontweight="bold",
                  color=QUADRANT_COLORS[key], bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none"})
    for _, row in top.iterrows():
        axis.annotate(row["_label"][:28], (row["upsell_score"], row["growth_score"]), fontsize=8,
                      xytext=(4, 3), textcoords="offset points", color="#222222")
    axis.set_xlim(-3, 103)
    axis.set_ylim(-3, 103)
    axis.set_xlabel("cross- and upsell potential (0-100) - more to sell to the right")
    axis.set_ylabel("growth potential (0-100) - growing faster upwards")
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=quadrant_names.get(k, k), alpha=0.7)
               for k, c in QUADRANT_COLORS.items()]
    lost = int(frame["likely_lost"].sum())
    if lost:
        handles.append(Line2D([], [], marker="x", linestyle="", color="#b0b0b0", label=f"likely lost ({lost:,})"))
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=len(handles), frameon=False)
    develop = frame[frame["quadrant_key"] == "develop"]
    share = develop["revenue_12m"].sum() / max(frame["revenue_12m"].clip(lower=0).sum(), 1e-9)
    note = f"; {max_points:,} of {len(frame):,} customers drawn" if sampled else ""
    axis.set_title(
        f"Potential matrix - {quadrant_names.get('develop', 'develop')}: {len(develop):,} customers with "
        f"{share:.0%} of the last 12 months' revenue{note}\n"
        f"point size: revenue of the last 12 months{' (' + currency + ')' if currency else ''}; "
        f"dashed lines: thresholds",
        loc="left",
        fontsize=11,
    )
    figure.tight_layout()
    return figure


def component_chart(weights: pd.DataFrame) -> Figure:
    """Horizontal bars: the effective weight of each component used, per axis."""
    figure, axis = new_figure(10, 0.6 + 0.38 * max(len(weights), 1))
    frame = weights.iloc[::-1]
    colors = ["#3b6ea5" if a == "upsell" else "#f9a825" for a in frame["axis"]]
    axis.barh([f"{a}: {c}" for a, c in zip(frame["axis"], frame["component"], strict=True)],
              frame["weight"] * 100.0, color=colors)
    axis.set_xlabel("weight in the score (%)")
    axis.set_xlim(0, 100)
    top = weights.sort_values("weight").groupby("axis").tail(1).set_index("axis")["component"]
    axis.set_title(
        "What the scores are made of - strongest: "
        + ", ".join(f"{c} for {a}" for a, c in top.items()),
        loc="left",
    )
    figure.tight_layout()
    return figure


def styled(table: pd.DataFrame):
    """The table for the HTML report: no row numbers, text columns left-aligned (sentences read better),
    numbers right-aligned."""
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    style = table.style.hide(axis="index")
    if text:
        style = style.set_properties(subset=text, **{"text-align": "left"})
        style = style.set_table_styles([{"selector": "th", "props": "text-align: left"}])
    return style
