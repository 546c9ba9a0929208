"""The report's potential matrix, prepared for :func:`helpers.reporting.plots.matrix.matrix_moves_chart`:
the customers drawn (a seeded sample above ``max_points``), which of them changed quadrant since last
month, one legend entry per quadrant with its customers, and the title and labels in the report's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from helpers.reporting import i18n


@dataclass
class MatrixMovesView:
    """The customers to draw and the words around them, in the report's language."""

    points: pd.DataFrame  # the customers drawn: upsell_score, growth_score, quadrant, moved (changed quadrant)
    quadrants: list[tuple[object, str]]  # each quadrant and its legend entry, in the order of the groups
    moved_label: str
    title: str
    xlabel: str
    ylabel: str
    colours: Mapping[str, str] = field(default_factory=dict)  # group name -> colour (potential.colours)


def matrix_moves_view(
    segments: pd.DataFrame,
    moved: set[str] | None = None,
    labels: Mapping[str, str] | None = None,
    language: str = "en",
    max_points: int = 2000,
    seed: int = 0,
    order: list[str] | None = None,
    colours: Mapping[str, str] | None = None,
) -> MatrixMovesView:
    """The matrix of ``segments`` (customer_segments: customer_id, quadrant, upsell and growth score) with
    the customers of ``moved`` ringed; at most ``max_points`` customers are drawn (a random sample, said
    in the title), so the picture stays small for any number of customers. ``labels`` translate the
    quadrant names (:func:`helpers.reporting.i18n.config_labels`); ``order``: the group names in the order the
    legend lists them (:func:`helpers.reporting.i18n.group_order`)."""
    labels = labels or {}
    moved = moved or set()
    total = len(segments)
    drawn = segments.sample(max_points, random_state=seed) if total > max_points else segments
    counts = segments["quadrant"].astype("object").value_counts()
    # the reading is of the live clients: the likely lost are on the win-back list, not in a quadrant
    lost = segments["likely_lost"].astype(bool) if "likely_lost" in segments else pd.Series(False, segments.index)
    live_counts = segments.loc[~lost, "quadrant"].astype("object").value_counts()
    points = pd.DataFrame({
        "upsell_score": drawn["upsell_score"],
        "growth_score": drawn["growth_score"],
        "quadrant": drawn["quadrant"].astype("object"),
        "moved": drawn["customer_id"].astype(str).isin(moved) if moved else False,
    })
    # legend in the order of the groups (Develop, Expand, Grow with, Maintain, Win back), unknown names after
    rank = {name: i for i, name in enumerate(order or [])}
    quadrants = [(quadrant, f"{i18n.label(str(quadrant), labels)} ({i18n.number(counts[quadrant], language)})")
                 for quadrant in sorted(counts.index, key=lambda q: (rank.get(str(q), len(rank)), str(q)))]
    title = i18n.t("matrix_chart_title", language, customers=i18n.number(total, language))
    if live_counts.empty:
        reading = ""
    else:
        largest = live_counts.idxmax()
        reading = i18n.t("matrix_chart_reading", language, quadrant=i18n.label(str(largest), labels),
                         share=i18n.percent(live_counts.max() / live_counts.sum(), language))
    if total > len(drawn):
        reading += " · " + i18n.t("matrix_chart_sampled", language, shown=i18n.number(len(drawn), language),
                                  total=i18n.number(total, language))
    return MatrixMovesView(
        points=points,
        quadrants=quadrants,
        moved_label=i18n.t("matrix_moved", language),
        colours=dict(colours or {}),
        title=f"{title}\n{reading}",
        xlabel=i18n.t("matrix_x", language),
        ylabel=i18n.t("matrix_y", language),
    )
