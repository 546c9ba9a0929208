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
from matplotlib.ticker import PercentFormatter

from helpers.reporting.plots.common import money_axis, new_figure


def _canvas(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    return new_figure(width, height) if ax is None else (ax.figure, ax)


def _finished(
    figure: Figure, axis: Axes, ax: Axes | None, title: str, xlabel: str, ylabel: str, legend_loc: str | None = None
) -> Figure:
    """The caller's texts on the chart; a figure of the chart's own laid out (the caller's is the caller's).
    ``legend_loc`` "below" puts the legend under the axes (for charts whose points may lie anywhere)."""
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if legend_loc is None:
        axis.legend()
    elif legend_loc == "below":
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
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
    table: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, legend: Sequence[str], ax: Axes | None = None,
    currency: str = "", language: str = "en",
) -> Figure:
    """Histogram of the ``cltv`` column, the top 1% beyond the 99th percentile gathered in the last bar,
    with the median marked; ``legend``: the median line; with ``currency`` the axis shows amounts in it,
    written in ``language``."""
    values = table["cltv"].to_numpy(dtype="float64")
    figure, axis = _canvas(ax, 10, 4)
    (median_label,) = legend
    upper = float(np.quantile(values, 0.99)) if len(values) else 1.0
    upper = upper if upper > 0 else max(float(values.max()) if len(values) else 1.0, 1.0)
    axis.hist(np.clip(values, 0, upper), bins=40, color="#3b6ea5")
    median = float(np.median(values)) if len(values) else 0.0
    axis.axvline(median, color="#c0504d", ls="--", label=median_label)
    if currency:
        money_axis(axis, currency, language, which="x")
    return _finished(figure, axis, ax, title, xlabel, ylabel)


def alive_calibration_chart(
    table: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, legend: Sequence[str], ax: Axes | None = None
) -> Figure:
    """Customers binned by predicted P(alive) (``helpers.clv.alive_check.alive_calibration``): at each
    bin's mean P(alive), the share who bought again in the holdout window (markers sized by the customers
    in the bin, their number written beside, so that a near-empty bin does not pass for evidence) and the
    share the model expected; the diagonal is P(alive) itself, the share if every customer still active
    bought. Percent axes. ``legend``: bought again, the model's expectation, the diagonal."""
    figure, axis = _canvas(ax, 10, 6.5)
    actual, expected, diagonal = legend
    x = table["p_alive"].to_numpy(dtype="float64")
    customers = table["customers"].to_numpy(dtype="float64")
    # drawn in the legend's order; a proxy keeps the legend's marker of the sized points one size
    axis.plot([], [], marker="o", ls="", color="#333333", label=actual)
    axis.plot(x, table["expected_share"], marker="s", ms=5, ls="--", color="#3b6ea5", label=expected)
    axis.plot([0, 1], [0, 1], color="#999999", ls=":", lw=1.5, label=diagonal)
    # marker area in proportion to the customers of the bin
    area = 30 + 570 * customers / max(float(customers.max()), 1.0) if len(customers) else customers
    axis.scatter(x, table["actual_share"], s=area, color="#333333", alpha=0.75, zorder=3)
    for xi, yi, n, size in zip(x, table["actual_share"], customers, area, strict=True):
        # beside the marker: its diameter is sqrt(area) points
        axis.annotate(f"{n:.0f}", (xi, yi), xytext=(np.sqrt(size) / 2 + 3, 3), textcoords="offset points",
                      fontsize=8, color="#333333")
    # a little room beyond 0% and 100%, where bins often sit, so that no marker is cut in half
    axis.set_xlim(-0.03, 1.05)
    axis.set_ylim(-0.03, 1.05)
    axis.xaxis.set_major_formatter(PercentFormatter(1.0))
    axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    return _finished(figure, axis, ax, title, xlabel, ylabel, legend_loc="below")


def retention_chart(
    actual: pd.DataFrame,
    projected: pd.DataFrame,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    legend: Sequence[str],
    ax: Axes | None = None,
) -> Figure:
    """Share of each start cohort still a client, k periods after the start: actual (solid, one colour per
    cohort, the cohort's name at its last point) and the retention model's projection (dashed, same colour,
    every period). ``actual`` / ``projected``: cohorts x periods of shares (:func:`helpers.clv.retention.
    cohort_retention` divided by its column 0); ``legend``: actual, projected."""
    figure, axis = _canvas(ax, 10, 4.2)
    palette = ["#3b6ea5", "#c0504d", "#4f9a5b", "#8064a2", "#d08a2c", "#4bacc6", "#7f7f7f", "#9c6b4e"]
    periods = np.asarray(actual.columns, dtype="float64")
    for index, cohort in enumerate(actual.index):
        colour = palette[index % len(palette)]
        seen = actual.loc[cohort].to_numpy(dtype="float64")
        axis.plot(periods, projected.loc[cohort].to_numpy(dtype="float64"), color=colour, lw=1.2, ls="--")
        axis.plot(periods, seen, color=colour, lw=2)
        last = np.flatnonzero(np.isfinite(seen))
        if len(last):
            axis.annotate(str(cohort), (periods[last[-1]], seen[last[-1]]), xytext=(4, 0),
                          textcoords="offset points", va="center", fontsize=8, color=colour)
    axis.plot([], [], color="#333333", lw=2, label=legend[0])
    axis.plot([], [], color="#333333", lw=1.2, ls="--", label=legend[1])
    axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axis.set_ylim(0, 1.02)
    return _finished(figure, axis, ax, title, xlabel, ylabel, legend_loc="lower left")
