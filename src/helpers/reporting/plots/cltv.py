"""CLTV charts: they draw the tables that :mod:`helpers.clv` prepares, with the texts they are given.

Every chart takes its table, the ``title`` (what it shows, and on a second line what it says), the axis
labels and the ``legend`` texts in the order of the chart's entries, all in the report's language, and
``ax``: ``None`` for a figure of its own, or an axis to draw on. It returns the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers.reporting.plots.common import new_figure


def _canvas(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    return new_figure(width, height) if ax is None else (ax.figure, ax)


def _finished(
    figure: Figure, axis: Axes, ax: Axes | None, title: str, xlabel: str, ylabel: str, legend_loc: str | None = None
) -> Figure:
    """The caller's texts on the chart; a figure of the chart's own laid out (the caller's is the caller's)."""
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if legend_loc is None:
        axis.legend()
    else:
        axis.legend(loc=legend_loc)
    axis.set_title(title, loc="left")
    if ax is None:
        figure.tight_layout()
    return figure


def calibration_vs_holdout_chart(
    table: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, legend: Sequence[str], ax: Axes | None = None
) -> Figure:
    """Mean actual and predicted holdout purchases per number of repeat purchases in the calibration
    window (``helpers.clv.diagnostics.calibration_vs_holdout``); ``legend``: actual, predicted."""
    figure, axis = _canvas(ax, 9, 4.2)
    actual, predicted = legend
    labels = list(table.index.astype(str))
    axis.plot(labels, table["actual"], marker="o", color="#333333", label=actual)
    axis.plot(labels, table["predicted"], marker="s", ls="--", color="#3b6ea5", label=predicted)
    return _finished(figure, axis, ax, title, xlabel, ylabel)


def tracking_chart(
    tracking: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, legend: Sequence[str], ax: Axes | None = None
) -> Figure:
    """Actual and expected cumulative repeat purchases per period, the end of the calibration window
    marked (``helpers.clv.diagnostics.cumulative_tracking``); ``legend``: actual, expected, end of
    calibration (drawn when the table has both windows)."""
    figure, axis = _canvas(ax, 10, 4.2)
    actual, expected, boundary_label = legend
    axis.plot(tracking["period_end"], tracking["actual"], color="#333333", lw=2, label=actual)
    axis.plot(tracking["period_end"], tracking["expected"], color="#3b6ea5", lw=2, ls="--", label=expected)
    if tracking["in_holdout"].any() and (~tracking["in_holdout"]).any():
        boundary = tracking.loc[~tracking["in_holdout"], "period_end"].iloc[-1]
        axis.axvline(boundary, color="#c0504d", ls=":", lw=1.5, label=boundary_label)
    return _finished(figure, axis, ax, title, xlabel, ylabel, legend_loc="upper left")


def period_transactions_chart(
    table: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, legend: Sequence[str], ax: Axes | None = None
) -> Figure:
    """Customers by number of repeat purchases, actual and as the model expects them, side by side
    (``helpers.clv.diagnostics.period_transactions``); ``legend``: actual, model."""
    figure, axis = _canvas(ax, 9, 4.2)
    actual, model = legend
    x = np.arange(len(table))
    axis.bar(x - 0.2, table["actual"], width=0.4, color="#333333", label=actual)
    axis.bar(x + 0.2, table["model"], width=0.4, color="#3b6ea5", label=model)
    axis.set_xticks(x, list(table.index))
    return _finished(figure, axis, ax, title, xlabel, ylabel)


def cltv_distribution_chart(
    table: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, legend: Sequence[str], ax: Axes | None = None
) -> Figure:
    """Histogram of the ``cltv`` column, the top 1% beyond the 99th percentile gathered in the last bar,
    with the median marked; ``legend``: the median line."""
    values = table["cltv"].to_numpy(dtype="float64")
    figure, axis = _canvas(ax, 10, 4)
    (median_label,) = legend
    upper = float(np.quantile(values, 0.99)) if len(values) else 1.0
    upper = upper if upper > 0 else max(float(values.max()) if len(values) else 1.0, 1.0)
    axis.hist(np.clip(values, 0, upper), bins=40, color="#3b6ea5")
    median = float(np.median(values)) if len(values) else 0.0
    axis.axvline(median, color="#c0504d", ls="--", label=median_label)
    return _finished(figure, axis, ax, title, xlabel, ylabel)
