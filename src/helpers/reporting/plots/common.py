"""Charts for the reports: each returns a matplotlib Figure with a title and a one-line reading.

A chart is closed in pyplot before it is returned, so that it is drawn once, where the notebook shows it
(as the cell's last expression), and nothing leaks between cells."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from helpers.reporting.i18n import money

sns.set_theme(style="whitegrid", context="notebook")
# modest resolution keeps the self-contained HTML reports small
plt.rcParams["figure.dpi"] = 90


def new_figure(width: float = 10, height: float = 3.8) -> tuple[Figure, plt.Axes]:
    figure, axis = plt.subplots(figsize=(width, height))
    plt.close(figure)
    return figure, axis


def revenue_by_month_chart(monthly: pd.DataFrame, currency: str) -> Figure:
    """Bars of revenue per month from overview.revenue_by_month, with the best month named."""
    figure, axis = new_figure()
    labels = [str(p) for p in monthly.index]
    axis.bar(labels, monthly["revenue"], color="#3b6ea5")
    step = max(1, len(labels) // 12)
    axis.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
    axis.set_ylabel(f"Revenue ({currency})")
    best = monthly["revenue"].idxmax()
    axis.set_title(
        f"Revenue per month - strongest month {best}: {money(monthly['revenue'].max(), currency)}",
        loc="left",
    )
    figure.tight_layout()
    return figure
