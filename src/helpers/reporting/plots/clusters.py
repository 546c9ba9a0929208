"""The clustering in the report: the choice of k, a 2-D picture of the clusters, readable tables and text.

The clustering itself lives in :mod:`helpers.segmentation.clustering`; this module only shows it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from helpers.reporting.plots.common import money, new_figure
from helpers.segmentation.clustering import PLOT_SAMPLE, ClusterResult, KChoice, sample_rows

FEATURE_LABELS = {
    "recency_days": "days since last purchase",
    "frequency": "purchase days",
    "monetary": "revenue",
    "cltv": "CLTV",
    "p_alive": "P(alive)",
    "employees": "employees",
    "marketing_budget": "marketing budget",
    "yoy_growth": "growth y/y",
    "industry": "industry",
    "funnel_type": "funnel type",
}


def feature_label(name: str) -> str:
    """Plain words for a pipeline output column ('industry_Retail' -> 'industry Retail')."""
    if name in FEATURE_LABELS:
        return FEATURE_LABELS[name]
    for prefix in ("industry", "funnel_type"):
        if name.startswith(prefix + "_"):
            return f"{FEATURE_LABELS[prefix]}: {name[len(prefix) + 1:].replace('_', ' ')}"
    return name


def k_choice_chart(choice: KChoice) -> Figure:
    """Silhouette per k (left axis) and Calinski-Harabasz (right axis), the chosen k marked."""
    figure, axis = new_figure(10, 3.4)
    table = choice.table
    axis.plot(table["k"], table["silhouette"], marker="o", color="#3b6ea5", label="silhouette (left)")
    axis.set_xlabel("number of clusters k")
    axis.set_ylabel("silhouette (higher = clearer groups)")
    axis.set_xticks(table["k"])
    axis.axvline(choice.k, color="#c44e52", linestyle="--", linewidth=1)
    second = axis.twinx()
    second.plot(table["k"], table["calinski_harabasz"], marker="s", color="#8c8c8c", alpha=0.7,
                label="Calinski-Harabasz (right)")
    second.set_ylabel("Calinski-Harabasz")
    second.grid(False)
    lines = axis.get_lines()[:1] + second.get_lines()
    axis.legend(lines, [line.get_label() for line in lines], loc="upper right", frameon=True)
    how = "chosen" if choice.automatic else "set"
    axis.set_title(f"Number of clusters - k={choice.k} {how}: {_short_reason(choice)}", loc="left")
    figure.tight_layout()
    return figure


def _short_reason(choice: KChoice) -> str:
    row = choice.table.set_index("k").loc[choice.k]
    if choice.automatic:
        return f"the clearest separation (silhouette {row['silhouette']:.2f})"
    return f"fixed by the user (silhouette {row['silhouette']:.2f})"


def pca_picture(result: ClusterResult, max_points: int = PLOT_SAMPLE) -> dict[str, Any]:
    """The numbers behind :func:`pca_chart`: 2-D coordinates of a seeded sample of at most ``max_points``
    customers, their cluster names, the explained share per axis and the features that drive each axis."""
    seed = int(result.settings.get("random_state", 42))
    pca = PCA(n_components=2, random_state=seed).fit(result.matrix)
    rows = sample_rows(len(result.matrix), max_points, seed)
    coordinates = pca.transform(result.matrix[rows])
    names = result.assignments["cluster_name"].to_numpy()[rows]
    drivers = []
    for component in pca.components_:
        top = np.argsort(-np.abs(component))[:2]
        drivers.append([feature_label(result.feature_names[i]) for i in top])
    return {
        "x": coordinates[:, 0],
        "y": coordinates[:, 1] if coordinates.shape[1] > 1 else np.zeros(len(rows)),
        "names": names,
        "clusters": result.labels[rows],
        "explained": [float(v) for v in pca.explained_variance_ratio_],
        "drivers": drivers,
        "rows": len(rows),
    }


def pca_chart(result: ClusterResult, max_points: int = PLOT_SAMPLE) -> Figure:
    """Scatter of the customers on the first two principal components, coloured by cluster name."""
    picture = pca_picture(result, max_points)
    figure, axis = new_figure(10, 6.4 + 0.2 * len(result.profiles))
    palette = ["#3b6ea5", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
               "#ccb974", "#64b5cd"]
    order = result.profiles[["cluster", "cluster_name"]].to_numpy()
    for i, (cluster, name) in enumerate(order):
        mask = picture["clusters"] == cluster
        axis.scatter(picture["x"][mask], picture["y"][mask], s=12, alpha=0.55, color=palette[i % len(palette)],
                     label=f"{cluster}: {name}", edgecolors="none")
    explained = picture["explained"] + [0.0]
    axis.set_xlabel(f"axis 1 ({explained[0]:.0%} of the differences): mainly {', '.join(picture['drivers'][0])}")
    if len(picture["drivers"]) > 1:
        axis.set_ylabel(f"axis 2 ({explained[1]:.0%}): mainly {', '.join(picture['drivers'][1])}")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, fontsize=10,
                ncol=1 if len(order) <= 4 else 2, markerscale=2.5)
    shown = f"{picture['rows']:,} of {len(result.matrix):,} customers" if picture["rows"] < len(result.matrix) else (
        f"all {picture['rows']:,} customers")
    axis.set_title(
        f"The {result.k} clusters seen from above - this flat picture keeps "
        f"{sum(explained[:2]):.0%} of the differences ({shown})",
        loc="left",
    )
    figure.tight_layout()
    return figure


def profile_table(profiles: pd.DataFrame, currency: str, transpose: bool = True) -> pd.DataFrame:
    """A readable copy of :func:`helpers.segmentation.clustering.profile_clusters` (medians, shares in %): one column
    per cluster and one row per measure (``transpose=False``: one row per cluster)."""
    out = pd.DataFrame({
        "cluster": profiles["cluster"],
        "name": profiles["cluster_name"],
        "customers": [f"{v:,}" for v in profiles["customers"]],
        "share of customers": [f"{v:.0%}" for v in profiles["share"]],
        "share of revenue": ["-" if pd.isna(v) else f"{v:.0%}" for v in profiles["revenue_share"]],
    })
    formats = {
        "recency_days": lambda v: f"{v:,.0f}",
        "frequency": lambda v: f"{v:,.0f}",
        "monetary": lambda v: money(v, currency),
        "cltv": lambda v: money(v, currency),
        "p_alive": lambda v: f"{v:.0%}",
        "employees": lambda v: f"{v:,.0f}",
        "marketing_budget": lambda v: money(v, currency),
        "yoy_growth": lambda v: f"{v:+.0%}",
    }
    for column, show in formats.items():
        if column in profiles:
            out[f"median {FEATURE_LABELS[column]}"] = ["-" if pd.isna(v) else show(v) for v in profiles[column]]
    if "p_alive" in profiles and "frequency" in profiles:
        # the purchase model sets P(alive) to 100% for customers without a repeat purchase: no information
        once = (profiles["frequency"] <= 1).to_numpy()
        out.loc[once, "median P(alive)"] = "n/a (bought once)"
    for column in ("industry", "funnel_type"):
        if f"top_{column}" in profiles:
            out[f"most frequent {FEATURE_LABELS[column]}"] = profiles[f"top_{column}"].str.replace("_", " ")
    out = out.set_index("cluster")
    if not transpose:
        return out
    wide = out.drop(columns="name").T
    wide.columns = [f"{cluster}: {name}" for cluster, name in zip(out.index, out["name"], strict=True)]
    wide.index.name = "median customer of the cluster"
    return wide


def criteria_table(choice: KChoice) -> pd.DataFrame:
    """The k table, rounded, the chosen k marked."""
    table = choice.table.copy()
    return pd.DataFrame({
        "k": table["k"],
        "silhouette": table["silhouette"].round(3),
        "Calinski-Harabasz": table["calinski_harabasz"].round(0).astype("int64"),
        "within-cluster spread": table["inertia"].round(0).astype("int64"),
        "smallest cluster": [f"{v:.0%}" for v in table["smallest_share"]],
        "chosen": ["<- chosen" if k == choice.k else "" for k in table["k"]],
    }).set_index("k")


def action_list(profiles: pd.DataFrame, currency: str = "") -> str:
    """Markdown: one bullet per cluster with its size, revenue share and the suggested action."""
    lines = []
    for row in profiles.itertuples(index=False):
        revenue = "" if pd.isna(row.revenue_share) else f", {row.revenue_share:.0%} of revenue"
        lines.append(
            f"- **{row.cluster}: {row.cluster_name}** ({row.customers:,} customers, {row.share:.0%}{revenue}). "
            f"{row.action}"
        )
    return "\n".join(lines)


def features_used(result: ClusterResult) -> str:
    """One sentence naming the features the clustering used."""
    raw = [c for c in result.features.columns if c != "customer_id"]
    words = ", ".join(FEATURE_LABELS.get(c, c) for c in raw)
    accounts = (
        "Account signals were included."
        if result.uses_accounts
        else "No account data for this data set: the clusters rest on buying behaviour alone."
    )
    return f"Features: {words}. {accounts}"


def summary_text(result: ClusterResult) -> str:
    """Markdown for stakeholders: how many groups, why this number, how stable, where the revenue is."""
    choice = result.choice
    row = choice.table.set_index("k").loc[choice.k]
    silhouette = float(row["silhouette"])
    if silhouette >= 0.5:
        clarity = "the groups are clearly separated"
    elif silhouette >= 0.25:
        clarity = "the groups are real but overlap at their borders"
    else:
        clarity = "the groups overlap a lot: read them as useful summaries, not as sharply distinct types"
    if choice.automatic:
        why = (
            f"**Why {choice.k} groups:** of {choice.table['k'].min()} to {choice.table['k'].max()} groups, "
            f"{choice.k} separate the customers most clearly (silhouette {silhouette:.2f}; {clarity})."
        )
    else:
        why = (
            f"**Why {choice.k} groups:** the number was set by the user (silhouette {silhouette:.2f}; {clarity})."
        )
    best_ch = int(choice.table.loc[choice.table["calinski_harabasz"].idxmax(), "k"])
    second = (
        "A second measure (Calinski-Harabasz) agrees."
        if best_ch == choice.k
        else f"A second measure (Calinski-Harabasz) would prefer {best_ch} groups: the choice is not clear-cut."
    )
    steady = result.stability
    if not steady.scores:
        stable = "**How stable:** not measured."
    else:
        word = ("very stable" if steady.median >= 0.9 else "stable" if steady.median >= 0.75
                else "moderately stable" if steady.median >= 0.5 else "unstable")
        stable = (
            f"**How stable:** {word}. Clustering {len(steady.scores)} random samples of "
            f"{steady.fraction:.0%} of the customers again gives an agreement of {steady.median:.2f} "
            f"(1 = the same groups; lowest {steady.low:.2f})."
        )
    top = result.profiles.iloc[0]
    revenue = "" if pd.isna(top["revenue_share"]) else (
        f"**Where the revenue is:** cluster 1, *{top['cluster_name']}*, has {top['share']:.0%} of the customers "
        f"and brings {top['revenue_share']:.0%} of the revenue."
    )
    return "\n\n".join(part for part in (why + " " + second, stable, revenue) if part)
