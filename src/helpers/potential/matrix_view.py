"""What the potential matrix of notebook 04 shows, prepared here so that its chart
(:func:`helpers.reporting.plots.matrix.matrix_chart`) only draws: the customers drawn, the largest of them
named, the counts of live clients in the corners and the reading in the title (English).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from helpers.core.config import default_settings
from helpers.potential.service_levels import QUADRANT_POSITIONS


@dataclass
class MatrixView:
    """The customers to draw and the words around them."""

    points: pd.DataFrame  # the customers drawn: upsell_score, growth_score, revenue_12m, likely_lost, quadrant_key
    named: pd.DataFrame  # the largest customers by revenue, with the text to write next to them (label)
    thresholds: Mapping[str, float]  # where the dashed lines go, per axis
    quadrant_names: Mapping[str, str]  # quadrant key -> name, for the legend
    corners: dict[str, str]  # quadrant key -> its name and number of customers, written in its corner
    lost_label: str | None  # the legend entry of the likely lost, None when there are none
    title: str
    colours: Mapping[str, str]  # group key -> colour (potential.colours)


def matrix_view(
    table: pd.DataFrame,
    thresholds: Mapping[str, float],
    quadrant_names: Mapping[str, str],
    labels: pd.Series | None = None,
    currency: str = "",
    label_top: int = 8,
    max_points: int = 3000,
    seed: int = 0,
    colours: Mapping[str, str] | None = None,
) -> MatrixView:
    """The matrix of the scored ``table`` (:attr:`PotentialResult.table`): above ``max_points`` customers a
    seeded sample is drawn, the ``label_top`` largest by revenue of the last 12 months always, and those
    are named (``labels``: a name per row of ``table``, else the customer id; notebook 04 passes
    :meth:`helpers.reporting.privacy.Pseudonymiser.names`, aliases in a pseudonymised run). The title says how many
    customers the top quadrant holds and their share of the revenue."""
    # only what the chart uses: copying every column of a million customers takes seconds
    frame = table[["customer_id", "revenue_12m", "likely_lost", "quadrant_key", "upsell_score", "growth_score"]].copy()
    frame["label"] = (labels if labels is not None else frame["customer_id"]).astype(str).to_numpy()
    frame["label"] = frame["label"].where(frame["label"].str.strip() != "", frame["customer_id"].astype(str))
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
    note = f"; {max_points:,} of {len(frame):,} customers drawn" if sampled else ""
    title = (
        f"Potential matrix - {quadrant_names.get('develop', 'develop')}: {len(develop):,} of {len(live):,} live "
        f"clients with {share:.0%} of their last 12 months' revenue{note}\n"
        f"point size: revenue of the last 12 months{' (' + currency + ')' if currency else ''}; "
        f"dashed lines: thresholds"
    )
    return MatrixView(
        points=drawn,
        named=top,
        thresholds=thresholds,
        quadrant_names=quadrant_names,
        corners={key: f"{quadrant_names.get(key, key)}\n{int(counts.get(key, 0)):,} customers"
                 for key in QUADRANT_POSITIONS},
        lost_label=f"likely lost, on the win-back list ({lost:,})" if lost else None,
        title=title,
        colours=dict(colours or default_settings().potential.colours),
    )
