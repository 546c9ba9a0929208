"""The report's potential matrix: notebook 04's picture (dashed thresholds, the groups' names with their
counts in the corners, point size by revenue, the likely lost marked, the largest clients named), drawn from
the month's customer_segments in the report's language, with the clients who changed quadrant since last
month ringed (:func:`helpers.reporting.plots.matrix.matrix_chart` draws it).
"""

from __future__ import annotations

import pandas as pd

from helpers.core.config import Settings
from helpers.core.language import CURRENCY_SYMBOLS
from helpers.potential import service_levels
from helpers.potential.matrix_view import MatrixView, matrix_view
from helpers.potential.points import threshold_value
from helpers.reporting import i18n


def thresholds_of(segments: pd.DataFrame, settings: Settings) -> dict[str, float]:
    """Where notebook 04 drew its lines: each axis' threshold over the live clients' scores."""
    live = ~segments["likely_lost"].astype(bool)
    return {axis: threshold_value(segments[f"{axis}_score"], settings.potential.thresholds[axis], among=live)
            for axis in ("upsell", "growth")}


def report_matrix_view(
    segments: pd.DataFrame,
    settings: Settings,
    language: str = "en",
    profile: str = "agency",
    moved: set[str] | None = None,
    labels: pd.Series | None = None,
    currency: str = "",
) -> MatrixView:
    """The matrix of ``segments`` (customer_segments) with the words in ``language``; ``labels``: the name
    shown for each row (aliases in a pseudonymised report)."""
    names = service_levels.group_names(settings, language, profile)
    return matrix_view(
        segments, thresholds_of(segments, settings), names, i18n.matrix_words(language), labels=labels,
        currency=CURRENCY_SYMBOLS.get(currency, currency), colours=settings.potential.colours, moved=moved,
        language=language,
    )
