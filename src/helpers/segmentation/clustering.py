"""Multi-dimensional segments: k-means clusters of customers.

What the clusters are made of is :mod:`~helpers.segmentation.cluster_features`' (the features, scaled and
encoded); how they are named, described and profiled is :mod:`~helpers.segmentation.cluster_naming`'.

- :func:`choose_k` tries k = k_min..k_max and chooses by use (no cluster under ``min_cluster_share``),
  stability (median adjusted Rand index of refits) and fit (the silhouette, measured on one seeded sample of
  at most ``sample_size`` customers: it costs the square of the rows; its distances are computed once for
  all k, :func:`silhouette_scores`), preferring k >= 3; the Calinski-Harabasz index is the second view.
- :func:`stability` refits on seeded 80% subsamples and compares each refit with the clustering of all
  customers on the subsample's rows (adjusted Rand index: 1 = the same grouping, 0 = chance).
- The k-means fits of both are independent and seeded: :func:`fit_kmeans_each` runs them side by side on
  the cores, with the same results as one after the other.
- :func:`cluster_customers` runs it all: features, scaling, k, k-means, stability, profiles and names.
- :func:`pca_picture` places the customers on the first two principal components, for the picture of the
  clusters.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, pairwise_distances_chunked
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from helpers.core.config import ClusteringSettings, Settings, default_settings
from helpers.core.errors import UsageError
from helpers.core.language import check_language
from helpers.segmentation.cluster_features import (
    ACCOUNT_CATEGORICAL,
    ACCOUNT_NUMERIC,
    build_features,
    feature_pipeline,
    model_input,
)
from helpers.segmentation.cluster_naming import feature_label, profile_clusters

STABILITY_FRACTION = 0.8
PLOT_SAMPLE = 3000

N_INIT = 10
#: A cluster is described by its profile (means, shares, a name and an action): fewer customers than this
#: per cluster on average describe single customers, not a group, so a larger k is refused.
MIN_CUSTOMERS_PER_CLUSTER = 5


# --------------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------------
def clustering_settings(settings: Settings | None = None, k: int | None = None) -> ClusteringSettings:
    """The ``clustering`` section; ``k`` (when > 0, e.g. notebook 03's parameter) overrides the configured k."""
    section = (settings or default_settings()).clustering
    if not k:
        return section
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise UsageError(f"k must be 0 (automatic) or a whole number >= 2, got {k!r}")
    return dataclasses.replace(section, k=int(k))


# --------------------------------------------------------------------------------------------------
# choosing k
# --------------------------------------------------------------------------------------------------
def sample_rows(n: int, cap: int, random_state: int) -> np.ndarray:
    """Sorted positions of at most ``cap`` of ``n`` rows, the same for the same seed."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size=cap, replace=False))


def fit_kmeans(matrix: np.ndarray, k: int, random_state: int) -> KMeans:
    """k-means with a fixed seed and N_INIT starts. One thread: on the small matrices here, thread start-up
    costs more than it saves (and a shared machine is not oversubscribed)."""
    with threadpool_limits(limits=1):
        return _kmeans(matrix, k, random_state)


def _kmeans(matrix: np.ndarray, k: int, random_state: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=N_INIT, random_state=random_state).fit(matrix)


def fit_kmeans_each(tasks: list[tuple[np.ndarray, int, int]]) -> list[KMeans]:
    """:func:`fit_kmeans` for each (matrix, k, random_state), the same fits as one after the other, but as
    many at a time as there are cores. Each fit stays single-threaded inside (OpenMP threads that share one
    fit's small loops wait on each other more than they work); whole independent fits side by side keep
    every core busy, since scikit-learn's k-means loops run without the Python lock."""
    workers = min(len(tasks), os.cpu_count() or 1)
    if workers <= 1:
        return [fit_kmeans(*task) for task in tasks]

    def fit_one(task: tuple[np.ndarray, int, int]) -> KMeans:
        # OpenMP's thread count is a per-thread setting: each worker limits its own
        with threadpool_limits(limits=1, user_api="openmp"):
            return _kmeans(*task)

    # BLAS's thread count is process-wide: limited once, around all workers
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fit_one, tasks))


def silhouette_scores(matrix: np.ndarray, labelings: list[np.ndarray]) -> list[float]:
    """The mean silhouette of each labeling of the same rows: scikit-learn's ``silhouette_score`` for each,
    with the pairwise distances computed once for all of them (they do not depend on the labels).

    Per row: a = mean distance to the other rows of its cluster, b = the smallest mean distance to another
    cluster, silhouette (b - a) / max(a, b), 0 in a cluster of one. The distances come in chunks from
    ``pairwise_distances_chunked`` as in scikit-learn; per chunk one matrix product with the cluster
    indicators of every labeling gives the distance sums per cluster. A labeling with fewer than 2 or as
    many clusters as rows has no silhouette (NaN)."""
    matrix = np.asarray(matrix, dtype="float64")
    n = len(matrix)
    encoded, frequencies, offsets = [], [], [0]
    for labels in labelings:
        _, codes = np.unique(np.asarray(labels), return_inverse=True)
        codes = codes.reshape(-1)
        encoded.append(codes)
        frequencies.append(np.bincount(codes).astype("float64"))
        offsets.append(offsets[-1] + len(frequencies[-1]))
    indicators = np.zeros((n, offsets[-1]))
    for codes, offset in zip(encoded, offsets, strict=False):
        indicators[np.arange(n), offset + codes] = 1.0
    sums = np.empty((n, offsets[-1]))

    def reduce(chunk: np.ndarray, start: int) -> np.ndarray:
        sums[start:start + len(chunk)] = chunk @ indicators
        return np.empty((len(chunk), 0))

    # One thread, as for k-means: on a shared machine two BLAS threads made these products 3-4 times slower.
    # Chunks of 64 MB instead of scikit-learn's default 1 GB: 5,000 rows would be one 200 MB block, whose
    # fresh memory costs more to fault in than the distances cost to compute.
    with threadpool_limits(limits=1):
        for _ in pairwise_distances_chunked(matrix, reduce_func=reduce, working_memory=64):
            pass
    scores = []
    for codes, counts, offset in zip(encoded, frequencies, offsets, strict=False):
        if not 1 < len(counts) < n:
            scores.append(np.nan)
            continue
        per_cluster = sums[:, offset:offset + len(counts)].copy()
        own = per_cluster[np.arange(n), codes]
        with np.errstate(divide="ignore", invalid="ignore"):
            within = own / (counts - 1)[codes]
            per_cluster[np.arange(n), codes] = np.inf
            between = (per_cluster / counts).min(axis=1)
            silhouette = (between - within) / np.maximum(within, between)
        scores.append(float(np.mean(np.nan_to_num(silhouette))))
    return scores


@dataclass
class KChoice:
    table: pd.DataFrame  # k, silhouette, calinski_harabasz, inertia, smallest_share
    k: int
    reason: str
    automatic: bool
    silhouette_rows: int
    models: dict[int, KMeans] = field(default_factory=dict, repr=False)  # the k-means fit for each k tried


def _stability_by_k(matrix: np.ndarray, models: dict[int, KMeans], rows: np.ndarray, resamples: int,
                    random_state: int) -> dict[int, float]:
    """Median adjusted Rand index per k, each k refitted on ``resamples`` subsamples of the sample ``rows``
    (a few thousand customers: the cost stays the same at any size); all refits run side by side."""
    if resamples <= 0:
        return {k: np.nan for k in models}
    rng = np.random.default_rng(random_state)
    size = max(2, int(round(STABILITY_FRACTION * len(rows))))
    samples = [np.sort(rng.choice(rows, size=min(size, len(rows)), replace=False)) for _ in range(resamples)]
    tasks = [(matrix[sample], k, random_state + 1 + i) for k in models for i, sample in enumerate(samples)]
    refits = iter(fit_kmeans_each(tasks))
    out = {}
    for k, model in models.items():
        scores = [adjusted_rand_score(model.labels_[sample], next(refits).labels_) for sample in samples]
        out[k] = float(np.median(scores))
    return out


def choose_k(
    matrix: np.ndarray,
    k_min: int = 2,
    k_max: int = 8,
    sample_size: int = 5000,
    random_state: int = 42,
    fixed_k: int | None = None,
    min_cluster_share: float = 0.05,
    min_stability: float = 0.75,
    resamples: int = 5,
) -> KChoice:
    """Fit k-means for every k in k_min..k_max and choose k by fit, stability and use.

    - **use**: every cluster holds at least ``min_cluster_share`` of the customers (a smaller one describes a
      handful of customers, not a segment to act on);
    - **stability**: the median adjusted Rand index of refits on 80% subsamples is at least ``min_stability``
      (the groups are a property of the data, not of the random start);
    - **fit**: among the k >= 3 that pass both, the highest silhouette (ties: the smaller k). The silhouette
      alone favours k = 2; k = 2 is taken only when no k >= 3 is usable and stable (the data have no more
      structure, which the reason says), and when no k passes at all, the highest silhouette, said too.

    With ``fixed_k`` the table is still measured but fixed_k is kept. The silhouettes of all k are measured on
    one seeded sample of at most ``sample_size`` rows (:func:`silhouette_scores`), the stability per k on the
    same sample; the fits are kept in ``KChoice.models``."""
    matrix = np.asarray(matrix, dtype="float64")
    distinct = len(np.unique(matrix, axis=0))
    if distinct < 3:
        raise ValueError(f"clustering needs at least 3 distinct customers, got {distinct}")
    largest = max(2, min(distinct - 1, len(matrix) // MIN_CUSTOMERS_PER_CLUSTER))
    if fixed_k and fixed_k > largest:
        raise UsageError(
            f"clustering.k = {fixed_k} (or notebook 03's k) is too large for {len(matrix):,} customers "
            f"({distinct:,} distinct): clusters of fewer than {MIN_CUSTOMERS_PER_CLUSTER} customers describe "
            f"single customers, not groups. Choose k between 2 and {largest}, or 0 / null to choose it automatically"
        )
    upper = min(k_max, largest)
    ks = sorted(set(range(min(k_min, upper), upper + 1)) | ({fixed_k} if fixed_k else set()))
    rows = sample_rows(len(matrix), sample_size, random_state)
    models = dict(zip(ks, fit_kmeans_each([(matrix, k, random_state) for k in ks]), strict=True))
    silhouettes = silhouette_scores(matrix[rows], [models[k].labels_[rows] for k in ks])
    steady = _stability_by_k(matrix, models, rows, 0 if fixed_k else resamples, random_state)
    records = []
    for k, silhouette in zip(ks, silhouettes, strict=True):
        labels = models[k].labels_
        model_inertia = float(((matrix - _centres(matrix, labels)[labels]) ** 2).sum())
        records.append({
            "k": k,
            "silhouette": silhouette,
            "calinski_harabasz": float(calinski_harabasz_score(matrix, labels)),
            "inertia": model_inertia,
            "smallest_share": float(np.bincount(labels).min() / len(labels)),
            "stability": steady[k],
        })
    table = pd.DataFrame(records)
    table["usable"] = table["smallest_share"] >= min_cluster_share - 1e-12
    table["stable"] = table["stability"] >= min_stability
    best_ch = int(table.loc[table["calinski_harabasz"].idxmax(), "k"])
    if fixed_k:
        k = fixed_k
        row = table.set_index("k").loc[k]
        best_sil = int(table.loc[table["silhouette"].idxmax(), "k"])
        reason = (
            f"k={k} was set by the user (silhouette {row['silhouette']:.2f}; "
            f"the silhouette alone would pick k={best_sil}, Calinski-Harabasz k={best_ch})"
        )
        return KChoice(table, int(k), reason, False, len(rows), models)
    passing = table[table["usable"] & table["stable"]]
    rule = (f"every cluster at least {min_cluster_share:.0%} of the customers and a median stability (adjusted "
            f"Rand index) of at least {min_stability:.2f}")
    if (passing["k"] >= 3).any():
        pick = passing[passing["k"] >= 3]
        k = int(pick.loc[pick["silhouette"].fillna(-np.inf).idxmax(), "k"])
        why = f"of the k >= 3 with {rule}, the best fit"
    elif len(passing):
        k = int(passing.loc[passing["silhouette"].fillna(-np.inf).idxmax(), "k"])
        why = f"the data have no more structure: no k >= 3 has {rule}"
    else:
        k = int(table.loc[table["silhouette"].fillna(-np.inf).idxmax(), "k"])
        why = f"no k has {rule}: the highest silhouette, read the clusters as rough"
    row = table.set_index("k").loc[k]
    second = "Calinski-Harabasz agrees" if best_ch == k else f"Calinski-Harabasz would prefer k={best_ch}"
    reason = (
        f"k={k}: {why} (silhouette {row['silhouette']:.2f}, stability {row['stability']:.2f}, smallest cluster "
        f"{row['smallest_share']:.0%}) of k={table['k'].min()}..{table['k'].max()}, measured on {len(rows):,} "
        f"customers; {second}"
    )
    return KChoice(table, k, reason, True, len(rows), models)


def _centres(matrix: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = labels.max() + 1
    sums = np.zeros((k, matrix.shape[1]))
    np.add.at(sums, labels, matrix)
    return sums / np.bincount(labels, minlength=k)[:, None]


# --------------------------------------------------------------------------------------------------
# stability
# --------------------------------------------------------------------------------------------------
@dataclass
class Stability:
    scores: list[float]
    median: float
    low: float
    high: float
    fraction: float = STABILITY_FRACTION

    def reading(self) -> str:
        if not self.scores:
            return "Stability was not measured (no resamples)."
        if self.median >= 0.9:
            verdict = "very stable: refits on other samples give practically the same groups"
        elif self.median >= 0.75:
            verdict = "stable: refits on other samples give largely the same groups"
        elif self.median >= 0.5:
            verdict = "moderately stable: the core of each group holds, its borders shift"
        else:
            verdict = "unstable: other samples give noticeably different groups; read the clusters as rough"
        if self.low < self.median - 0.2:
            verdict += f"; but some refits differ clearly (lowest {self.low:.2f})"
        return (
            f"Adjusted Rand index over {len(self.scores)} refits on {self.fraction:.0%} samples: median "
            f"{self.median:.2f} (range {self.low:.2f} to {self.high:.2f}), {verdict}."
        )


def stability(
    matrix: np.ndarray,
    k: int,
    labels: np.ndarray,
    resamples: int = 10,
    random_state: int = 42,
    fraction: float = STABILITY_FRACTION,
) -> Stability:
    """Adjusted Rand index between ``labels`` (all customers) and k-means refitted with another seed on
    each of ``resamples`` seeded subsamples of ``fraction`` of the rows, compared on the subsample's rows."""
    matrix = np.asarray(matrix, dtype="float64")
    rng = np.random.default_rng(random_state)
    size = max(k + 1, int(round(fraction * len(matrix))))
    samples = [np.sort(rng.choice(len(matrix), size=min(size, len(matrix)), replace=False)) for _ in range(resamples)]
    refits = fit_kmeans_each([(matrix[rows], k, random_state + 1 + i) for i, rows in enumerate(samples)])
    scores = [float(adjusted_rand_score(labels[rows], refit.labels_)) for rows, refit in zip(samples, refits, strict=True)]
    if not scores:
        return Stability([], np.nan, np.nan, np.nan, fraction)
    return Stability(scores, float(np.median(scores)), float(min(scores)), float(max(scores)), fraction)




@dataclass
class ClusterResult:
    features: pd.DataFrame  # customer_id and raw features, one row per rfm customer
    matrix: np.ndarray  # scaled and encoded
    feature_names: list[str]
    pipeline: Pipeline
    labels: np.ndarray  # cluster 1..k, 1 = the largest revenue share
    choice: KChoice
    stability: Stability
    profiles: pd.DataFrame
    assignments: pd.DataFrame  # customer_id, cluster, cluster_name
    settings: ClusteringSettings = field(default_factory=lambda: default_settings().clustering)

    @property
    def k(self) -> int:
        return self.choice.k

    @property
    def uses_accounts(self) -> bool:
        return any(c in self.features for c in ACCOUNT_NUMERIC + ACCOUNT_CATEGORICAL)


def _renumber(labels: np.ndarray, features: pd.DataFrame) -> np.ndarray:
    """Clusters numbered 1..k by falling revenue (ties: more customers first), so that 1 is the most valuable."""
    frame = pd.DataFrame({"label": labels, "revenue": features["monetary"].clip(lower=0).to_numpy()})
    order = frame.groupby("label").agg(revenue=("revenue", "sum"), size=("revenue", "size"))
    order = order.sort_values(["revenue", "size"], ascending=False)
    # the new number is the label's place in that order
    return (pd.Index(order.index).get_indexer(labels) + 1).astype("int64")


def cluster_customers(
    rfm: pd.DataFrame,
    cltv: pd.DataFrame | None = None,
    accounts: pd.DataFrame | None = None,
    settings: Settings | None = None,
    k: int | None = None,
    language: str = "en",
    maturity: pd.DataFrame | None = None,
) -> ClusterResult:
    """The whole clustering: features (behaviour, value, account signals and, when given, the funnel
    maturity), scaling, k, k-means, stability, profiles and names."""
    check_language(language)
    options = clustering_settings(settings, k)
    features = build_features(rfm, cltv, accounts, maturity)
    pipeline = feature_pipeline(features)
    matrix = np.asarray(pipeline.fit_transform(model_input(features)), dtype="float64")
    feature_names = list(pipeline.get_feature_names_out())
    # On a large base k-means learns its centres from a seeded sample and then places every customer at
    # its nearest centre: the centres of 50,000 customers are as good as those of a million, in seconds.
    fit_rows = sample_rows(len(matrix), max(options.fit_sample_size, 10), options.random_state)
    choice = choose_k(
        matrix[fit_rows],
        options.k_min,
        options.k_max,
        options.sample_size,
        options.random_state,
        fixed_k=options.k,
        min_cluster_share=options.min_cluster_share,
        min_stability=options.min_stability,
    )
    if len(fit_rows) < len(matrix):
        choice.reason += (
            f"; k-means learned its centres from {len(fit_rows):,} of {len(matrix):,} customers and placed "
            f"every customer at the nearest centre"
        )
    # the fit of the chosen k on these rows was made while choosing k (same rows, same seed)
    model = choice.models.get(choice.k)
    if model is None:
        model = fit_kmeans(matrix[fit_rows], choice.k, options.random_state)
    raw = model.labels_ if len(fit_rows) == len(matrix) else model.predict(matrix)
    labels = _renumber(raw, features)
    steady = stability(matrix[fit_rows], choice.k, labels[fit_rows], options.resamples, options.random_state)
    profiles = profile_clusters(features, labels, language)
    # each customer's name taken from the few cluster names as Arrow strings (no million Python strings)
    names = profiles["cluster_name"].astype(str).array
    assignments = pd.DataFrame({
        "customer_id": features["customer_id"].array,
        "cluster": labels,
        "cluster_name": names.take(pd.Index(profiles["cluster"]).get_indexer(labels)),
    })
    return ClusterResult(
        features, matrix, feature_names, pipeline, labels, choice, steady, profiles, assignments, options
    )


# --------------------------------------------------------------------------------------------------
# the picture
# --------------------------------------------------------------------------------------------------
def pca_picture(result: ClusterResult, max_points: int = PLOT_SAMPLE) -> dict[str, Any]:
    """The numbers behind the picture of the clusters: 2-D coordinates of a seeded sample of at most
    ``max_points`` customers, their clusters and cluster names, the explained share per axis and the
    features that drive each axis."""
    seed = result.settings.random_state
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
