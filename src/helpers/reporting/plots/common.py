"""Charts for the reports: each returns a matplotlib Figure with a title and a one-line reading.

A chart is closed in pyplot before it is returned, so that it is drawn once, where the notebook shows it
(as the cell's last expression), and nothing leaks between cells."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.reporting.i18n import money, number, percent

sns.set_theme(style="whitegrid", context="notebook")
# modest resolution keeps the self-contained HTML reports small
plt.rcParams["figure.dpi"] = 90


def new_figure(width: float = 10, height: float = 3.8) -> tuple[Figure, plt.Axes]:
    figure, axis = plt.subplots(figsize=(width, height))
    plt.close(figure)
    return figure, axis


def money_axis(axis, currency: str, language: str = "en", which: str = "y") -> None:
    """Tick labels in the currency and the language's thousands separators (€10,000 / 10.000 €)."""
    formatter = FuncFormatter(lambda value, _: money(value, currency, language))
    (axis.yaxis if which == "y" else axis.xaxis).set_major_formatter(formatter)


def number_axis(axis, language: str = "en", which: str = "y") -> None:
    formatter = FuncFormatter(lambda value, _: number(value, language))
    (axis.yaxis if which == "y" else axis.xaxis).set_major_formatter(formatter)


def percent_axis(axis, language: str = "en", which: str = "x") -> None:
    """Tick labels as shares written in the language (20% / 20 %)."""
    formatter = FuncFormatter(lambda value, _: percent(value, language))
    (axis.yaxis if which == "y" else axis.xaxis).set_major_formatter(formatter)


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


def trend_chart(monthly: pd.DataFrame, *, title: str, revenue_label: str, clients_label: str, currency: str,
                language: str = "en", month_names: list[str] | None = None) -> Figure:
    """Revenue per month as bars (left axis, in the currency) and active clients as a line (right axis), from
    :func:`helpers.features.transaction_queries.recent_months`; ``month_names``: the x labels (default
    YYYY-MM)."""
    figure, axis = new_figure(10, 3.6)
    labels = month_names or [str(p) for p in monthly.index]
    positions = list(range(len(labels)))
    axis.bar(positions, monthly["revenue"], color="#9bb7d4", label=revenue_label)
    money_axis(axis, currency, language)
    axis.set_ylabel(revenue_label)
    clients = axis.twinx()
    clients.plot(positions, monthly["customers"], color="#2e7d32", marker="o", markersize=3, label=clients_label)
    clients.set_ylim(0, max(1, int(monthly["customers"].max() * 1.15)) if len(monthly) else 1)
    clients.grid(False)
    number_axis(clients, language)
    clients.set_ylabel(clients_label)
    step = max(1, len(labels) // 12)
    axis.set_xticks(positions[::step], labels[::step], rotation=45, ha="right")
    handles = axis.get_legend_handles_labels()[0] + clients.get_legend_handles_labels()[0]
    axis.legend(handles=handles, loc="upper left", frameon=False, ncol=2)
    axis.set_ylim(0, float(monthly["revenue"].max()) * 1.25 if len(monthly) and monthly["revenue"].max() > 0 else 1)
    axis.set_title(title, loc="left")
    figure.tight_layout()
    return figure
