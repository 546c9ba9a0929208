"""The backtest of the potential scores (helpers.potential.backtest) as one chart: how each group's revenue
developed in the months after the earlier cut-off."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.core.config import default_settings
from helpers.reporting.plots.common import new_figure

FALLBACK_COLOR = "#9a9a9a"


def backtest_chart(outcomes: pd.DataFrame, names: Mapping[str, str], title: str, ylabel: str,
                   percent: str = "{:+.0f}%", colours: Mapping[str, str] | None = None,
                   ax: plt.Axes | None = None) -> Figure:
    """Bars of ``revenue_growth`` per group of :func:`helpers.potential.backtest.quadrant_outcomes`, each in
    its group's colour (``colours``: key -> colour, potential.colours), named by ``names`` (key -> name in the report's
    language); ``percent`` formats the bar labels and the axis (e.g. "{:+.0f} %" in German)."""
    figure, axis = (ax.figure, ax) if ax is not None else new_figure(9, 3.6)
    frame = outcomes[np.isfinite(outcomes["revenue_growth"].astype("float64"))]
    keys = list(frame["quadrant_key"])
    values = 100.0 * frame["revenue_growth"].astype("float64").to_numpy()
    colours = colours or default_settings().potential.colours
    colors = [colours.get(key, FALLBACK_COLOR) for key in keys]
    bars = axis.bar([names.get(key, key) for key in keys], values, color=colors)
    for bar, value in zip(bars, values, strict=True):
        axis.annotate(percent.format(value), (bar.get_x() + bar.get_width() / 2, value),
                      xytext=(0, 3 if value >= 0 else -12), textcoords="offset points", ha="center")
    axis.axhline(0, color="#444444", linewidth=0.8)
    axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: percent.format(v)))
    axis.set_ylabel(ylabel)
    axis.set_title(title, loc="left")
    axis.margins(y=0.15)
    figure.tight_layout()
    return figure
