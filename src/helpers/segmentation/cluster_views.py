"""The clustering in words and tables for notebook 03 (English): why this k, how stable, what each cluster
holds and what to do with it, which features were used, and the titles and axis labels of its charts.
The charts themselves are drawn by :mod:`helpers.reporting.plots.clusters`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from helpers.core.language import money
from helpers.segmentation.cluster_naming import FEATURE_LABELS
from helpers.segmentation.clustering import ClusterResult, KChoice


def k_choice_title(choice: KChoice) -> str:
    """The title of the k chart: the k kept and why."""
    how = "chosen" if choice.automatic else "set"
    return f"Number of clusters - k={choice.k} {how}: {_short_reason(choice)}"


def _short_reason(choice: KChoice) -> str:
    row = choice.table.set_index("k").loc[choice.k]
    if choice.automatic:
        return f"the clearest separation (silhouette {row['silhouette']:.2f})"
    return f"fixed by the user (silhouette {row['silhouette']:.2f})"


def pca_labels(result: ClusterResult, picture: dict[str, Any]) -> dict[str, str]:
    """Title and axis labels of the picture of the clusters (:func:`helpers.segmentation.clustering.pca_picture`):
    how much of the differences each axis keeps and which features drive it."""
    explained = picture["explained"] + [0.0]
    labels = {"xlabel": f"axis 1 ({explained[0]:.0%} of the differences): mainly {', '.join(picture['drivers'][0])}"}
    if len(picture["drivers"]) > 1:
        labels["ylabel"] = f"axis 2 ({explained[1]:.0%}): mainly {', '.join(picture['drivers'][1])}"
    shown = f"{picture['rows']:,} of {len(result.matrix):,} customers" if picture["rows"] < len(result.matrix) else (
        f"all {picture['rows']:,} customers")
    labels["title"] = (
        f"The {result.k} clusters seen from above - this flat picture keeps "
        f"{sum(explained[:2]):.0%} of the differences ({shown})"
    )
    return labels


def profile_table(profiles: pd.DataFrame, currency: str, transpose: bool = True) -> pd.DataFrame:
    """A readable copy of :func:`helpers.segmentation.cluster_naming.profile_clusters` (medians, shares in %): one column
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
        "stability (ARI)": [f"{v:.2f}" if v == v else "-" for v in table.get("stability", pd.Series(np.nan, table.index))],
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


def crosstab(assignments: pd.DataFrame, other: pd.DataFrame, column: str, order: list[str] | None = None) -> pd.DataFrame:
    """Customers per cluster (rows: ``cluster_name`` of :attr:`ClusterResult.assignments` or clusters.parquet)
    and value of ``column`` of ``other`` (e.g. the RFM segments of rfm.parquet, the quadrants of the potential
    matrix), in ``order`` when given: what the clusters add to the other grouping."""
    left = assignments[["customer_id", "cluster_name"]].assign(customer_id=assignments["customer_id"].astype(str))
    right = other[["customer_id", column]].assign(customer_id=other["customer_id"].astype(str))
    frame = left.merge(right, on="customer_id", how="inner")
    table = pd.crosstab(frame["cluster_name"].astype("object"), frame[column].astype("object"))
    if order is not None:
        table = table.reindex(columns=[c for c in order if c in table.columns]
                              + [c for c in table.columns if c not in order])
    table.index.name = "cluster"
    table.columns.name = None
    return table


def crosstab_reading(table: pd.DataFrame, what: str) -> str:
    """'The cluster "..." spreads over 4 RFM segments ...': per cluster, how many of the other groups it
    spans and where most of its customers sit (English)."""
    parts = []
    for cluster, row in table.iterrows():
        spread = int((row > 0).sum())
        top = row.idxmax()
        parts.append(f'"{cluster}": {spread} {what}, most in {top} ({row.max() / max(row.sum(), 1):.0%})')
    return "Per cluster: " + "; ".join(parts) + "."
