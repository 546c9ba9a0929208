"""Charts of the clustering: the choice of k and a 2-D picture of the clusters.

They draw what :mod:`helpers.segmentation.clustering` computed; titles and axis labels come from the
caller (notebook 03 takes them from :mod:`helpers.segmentation.cluster_views`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from helpers.reporting.plots.common import new_figure

PALETTE = ["#3b6ea5", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
           "#ccb974", "#64b5cd"]


def k_choice_chart(
    table: pd.DataFrame,
    chosen_k: int,
    title: str,
    xlabel: str = "number of clusters k",
    ylabel: str = "silhouette (higher = clearer groups)",
    ax=None,
) -> Figure:
    """Silhouette per k (left axis) and Calinski-Harabasz (right axis) of :attr:`KChoice.table`, the
    chosen k marked."""
    figure, axis = new_figure(10, 3.4) if ax is None else (ax.figure, ax)
    axis.plot(table["k"], table["silhouette"], marker="o", color="#3b6ea5", label="silhouette (left)")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_xticks(table["k"])
    axis.axvline(chosen_k, color="#c44e52", linestyle="--", linewidth=1)
    second = axis.twinx()
    second.plot(table["k"], table["calinski_harabasz"], marker="s", color="#8c8c8c", alpha=0.7,
                label="Calinski-Harabasz (right)")
    second.set_ylabel("Calinski-Harabasz")
    second.grid(False)
    lines = axis.get_lines()[:1] + second.get_lines()
    axis.legend(lines, [line.get_label() for line in lines], loc="upper right", frameon=True)
    axis.set_title(title, loc="left")
    figure.tight_layout()
    return figure


def pca_chart(
    picture: Mapping[str, Any],
    clusters: pd.DataFrame,
    title: str,
    xlabel: str = "",
    ylabel: str | None = None,
    ax=None,
) -> Figure:
    """Scatter of the customers of :func:`helpers.segmentation.clustering.pca_picture`, one colour per
    cluster in the order of ``clusters`` (columns cluster and cluster_name, e.g. the profiles)."""
    figure, axis = new_figure(10, 6.4 + 0.2 * len(clusters)) if ax is None else (ax.figure, ax)
    order = clusters[["cluster", "cluster_name"]].to_numpy()
    for i, (cluster, name) in enumerate(order):
        mask = picture["clusters"] == cluster
        axis.scatter(picture["x"][mask], picture["y"][mask], s=12, alpha=0.55, color=PALETTE[i % len(PALETTE)],
                     label=f"{cluster}: {name}", edgecolors="none")
    axis.set_xlabel(xlabel)
    if ylabel is not None:
        axis.set_ylabel(ylabel)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, fontsize=10,
                ncol=1 if len(order) <= 4 else 2, markerscale=2.5)
    axis.set_title(title, loc="left")
    figure.tight_layout()
    return figure
