"""What the potential matrix shows, prepared here so that its chart
(:func:`helpers.reporting.plots.matrix.matrix_chart`) only draws: the customers drawn, the largest of them
named, the counts of live clients in the corners, who changed quadrant since last month, and the words
around it, in the language of the words given (helpers.reporting.i18n.matrix_words): notebook 04 and the
report show the same picture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from helpers.core.config import default_settings
from helpers.core.language import number, percent
from helpers.potential.service_levels import QUADRANT_POSITIONS


@dataclass
class MatrixView:
    """The customers to draw and the words around them."""

    points: pd.DataFrame  # the customers drawn: upsell_score, growth_score, revenue_12m, likely_lost, quadrant_key, moved
    named: pd.DataFrame  # the largest customers by revenue, with the text to write next to them (label)
    thresholds: Mapping[str, float]  # where the dashed lines go, per axis
    quadrant_names: Mapping[str, str]  # quadrant key -> name, for the legend
    corners: dict[str, str]  # quadrant key -> its name and number of customers, written in its corner
    lost_label: str | None  # the legend entry of the likely lost, None when there are none
    title: str
    colours: Mapping[str, str]  # group key -> colour (potential.colours)
    moved_label: str | None  # the legend entry of the ringed customers, None when nobody moved
    xlabel: str
    ylabel: str


def matrix_view(
    table: pd.DataFrame,
    thresholds: Mapping[str, float],
    quadrant_names: Mapping[str, str],
    words: Mapping[str, str],
    labels: pd.Series | None = None,
    currency: str = "",
    label_top: int = 8,
    max_points: int = 3000,
    seed: int = 0,
    colours: Mapping[str, str] | None = None,
    moved: set[str] | None = None,
    language: str = "en",
) -> MatrixView:
    """The matrix of the scored ``table`` (:attr:`PotentialResult.table`, or the month's customer_segments):
    above ``max_points`` customers a seeded sample is drawn, the ``label_top`` largest by revenue of the last
    12 months always, and those are named (``labels``: a name per row of ``table``, else the customer id;
    pass :meth:`helpers.reporting.privacy.Pseudonymiser.names` for aliases in a pseudonymised run). The
    customers of ``moved`` (ids) are ringed. The title says how many live clients the top quadrant holds and
    their share of the revenue; ``words`` (title, subtitle, sampled, corner, lost, moved, x, y with their
    {placeholders}) say it, with numbers written in ``language``."""
    # only what the chart uses: copying every column of a million customers takes seconds
    frame = table[["customer_id", "revenue_12m", "likely_lost", "quadrant_key", "upsell_score", "growth_score"]].copy()
    frame["label"] = (labels if labels is not None else frame["customer_id"]).astype(str).to_numpy()
    frame["label"] = frame["label"].where(frame["label"].str.strip() != "", frame["customer_id"].astype(str))
    frame["moved"] = frame["customer_id"].astype(str).isin(moved) if moved else False
    top = frame.nlargest(label_top, "revenue_12m") if label_top else frame.iloc[:0]
    sampled = len(frame) > max_points
    drawn = frame
    if sampled:
        rest = frame.drop(index=top.index).sample(max_points - len(top), random_state=seed)
        drawn = pd.concat([top, rest])
    # counts and shares of the live clients: the likely lost are on the win-back list, not in a quadrant
    live = frame[~frame["likely_lost"].astype(bool)]
    counts = live["quadrant_key"].value_counts()
    lost = len(frame) - len(live)
    develop = live[live["quadrant_key"] == "develop"]
    share = develop["revenue_12m"].sum() / max(live["revenue_12m"].clip(lower=0).sum(), 1e-9)
    note = words["sampled"].format(shown=number(max_points, language), total=number(len(frame), language)) \
        if sampled else ""
    title = words["title"].format(develop=quadrant_names.get("develop", "develop"), count=number(len(develop), language),
                                  live=number(len(live), language), share=percent(share, language), note=note)
    if currency:
        title += "\n" + words["subtitle"].format(currency=currency)
    ringed = int(frame["moved"].sum())
    return MatrixView(
        points=drawn,
        named=top,
        thresholds=thresholds,
        quadrant_names=quadrant_names,
        corners={key: words["corner"].format(name=quadrant_names.get(key, key),
                                             count=number(int(counts.get(key, 0)), language))
                 for key in QUADRANT_POSITIONS},
        lost_label=words["lost"].format(count=number(lost, language)) if lost else None,
        title=title,
        colours=dict(colours or default_settings().potential.colours),
        moved_label=words["moved"].format(count=number(ringed, language)) if ringed else None,
        xlabel=words["x"],
        ylabel=words["y"],
    )
