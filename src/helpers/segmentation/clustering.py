"""Multi-dimensional segments: k-means clusters of customers, described in plain words.

- :func:`build_features` joins the behaviour (rfm.parquet: ``recency_days``, ``frequency``, ``monetary``;
  cltv.parquet: ``cltv``, ``p_alive``) and, where present, the account signals (accounts.parquet:
  ``industry``, ``funnel_type``, ``employees``, ``marketing_budget``, ``yoy_growth``) into one row per
  customer of the RFM table.
- :func:`feature_pipeline` is the one scikit-learn ColumnTransformer that scales and encodes them:
  skewed non-negative amounts and counts get a (sign-preserving) log1p, every number is standardised, missing
  numbers take the median, categories are one-hot encoded (``handle_unknown="ignore"``), missing categories
  become "unknown".
- :func:`choose_k` tries k = k_min..k_max and keeps the k with the highest silhouette, measured on one seeded
  sample of at most ``sample_size`` customers (the silhouette costs the square of the rows; its distances
  are computed once for all k, :func:`silhouette_scores`); the Calinski-Harabasz index over all customers
  is the second view.
- :func:`stability` refits on seeded 80% subsamples and compares each refit with the clustering of all
  customers on the subsample's rows (adjusted Rand index: 1 = the same grouping, 0 = chance).
- The k-means fits of both are independent and seeded: :func:`fit_kmeans_each` runs them side by side on
  the cores, with the same results as one after the other.
- :func:`profile_clusters` gives size, share, revenue share and the medians of the raw features per
  cluster, and a name derived from the medians (:func:`describe_levels`, :func:`cluster_names`).

How names are derived: for each feature the cluster's median is placed in the distribution of all
customers (its mid-rank percentile: the share of them below it, counting ties half; a cluster holding more
than half of all customers is placed among the customers outside it, else it would be "mid" on everything).
At or above :data:`VERY_HIGH` (0.9) the cluster is "very high" on that feature, at or above :data:`HIGH`
(2/3) "high", at or below :data:`LOW` (1/3) "low", at or below :data:`VERY_LOW` (0.1) "very low", in
between "mid". The name is built from frequency and spend ("frequent high spenders"), recency ("active",
"lapsed"; few days since the last purchase = active) and, with account data, size ("large accounts") and
growth ("growing"). Clusters that would share a name get further words (future value, P(alive), budget, a
dominant industry or funnel type, then a comparison such as "higher spend"), and as a last resort a number.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, pairwise_distances_chunked
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from helpers.core.config import ConfigError
from helpers.core.errors import UsageError

BEHAVIOUR = ("recency_days", "frequency", "monetary")
VALUE = ("cltv", "p_alive")
ACCOUNT_NUMERIC = ("employees", "marketing_budget", "yoy_growth")
ACCOUNT_CATEGORICAL = ("industry", "funnel_type")
# skewed, non-negative (in principle: refunds can make revenue negative, hence the signed log)
LOG_SCALED = ("recency_days", "frequency", "monetary", "cltv", "employees", "marketing_budget")
PLAIN_SCALED = ("p_alive", "yoy_growth")
NUMERIC = BEHAVIOUR + VALUE + ACCOUNT_NUMERIC
CATEGORICAL = ACCOUNT_CATEGORICAL
# What the clustering reads of rfm.parquet and cltv.parquet (both always hold these): reading only them
# takes a tenth of the time on a million customers. accounts.parquet is read whole (its columns vary).
INPUT_COLUMNS: dict[str, list[str]] = {"rfm": ["customer_id", *BEHAVIOUR], "cltv": ["customer_id", *VALUE]}

VERY_HIGH = 0.9
HIGH = 2 / 3
LOW = 1 / 3
VERY_LOW = 0.1
DOMINANT_SHARE = 0.6  # a category names a cluster when it holds at least 60% of it ...
DOMINANT_LIFT = 1.5  # ... and at least 1.5 times its share among all customers
STABILITY_FRACTION = 0.8
PLOT_SAMPLE = 3000
LANGUAGES = ("en", "de")

SETTINGS_DEFAULTS: dict[str, Any] = {
    "k_min": 2,
    "k_max": 8,
    "k": None,
    "sample_size": 5000,
    "fit_sample_size": 50000,
    "resamples": 10,
    "random_state": 42,
}
N_INIT = 10


# --------------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------------
def _whole(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def clustering_settings(settings: dict[str, Any] | None = None, k: int | None = None) -> dict[str, Any]:
    """The ``clustering`` section, checked; ``k`` (when > 0) overrides the configured k."""
    settings = settings or {}
    section = dict(SETTINGS_DEFAULTS)
    section.update(settings.get("clustering", {}) or {})
    where = settings.get("_path", "settings")
    if k:
        section["k"] = k
    for key in ("k_min", "k_max", "sample_size", "fit_sample_size", "resamples", "random_state"):
        if not _whole(section[key]) or section[key] < 0:
            raise ConfigError(f"{where}: clustering.{key} must be a whole number >= 0, got {section[key]!r}")
    if section["k_min"] < 2 or section["k_max"] < section["k_min"]:
        raise ConfigError(
            f"{where}: clustering needs 2 <= k_min <= k_max, got k_min={section['k_min']}, "
            f"k_max={section['k_max']}"
        )
    if section["k"] is not None and (not _whole(section["k"]) or section["k"] < 2):
        raise ConfigError(f"{where}: clustering.k must be null (automatic) or a whole number >= 2, got {section['k']!r}")
    if section["sample_size"] < 10:
        raise ConfigError(f"{where}: clustering.sample_size must be at least 10, got {section['sample_size']}")
    return section


# --------------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------------
def build_features(
    rfm: pd.DataFrame, cltv: pd.DataFrame | None = None, accounts: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per customer of ``rfm`` (same order): customer_id and the clustering features present.

    Customers missing from ``cltv`` or ``accounts`` keep empty values (the pipeline imputes them); columns
    that are empty for every customer are left out."""
    missing = [c for c in ("customer_id", *BEHAVIOUR) if c not in rfm]
    if missing:
        raise KeyError(f"rfm lacks the column(s) {missing}")
    ids = rfm["customer_id"].astype(str).reset_index(drop=True)
    if not ids.is_unique:
        raise ValueError("rfm holds customers more than once: expected one row per customer")
    # the columns gathered first and made into a frame at once; ids stay Arrow strings (no million Python
    # strings made and turned back)
    data: dict[str, Any] = {"customer_id": ids.array}
    for column in BEHAVIOUR:
        data[column] = pd.to_numeric(rfm[column], errors="coerce").astype("float64").to_numpy()
    for extra, columns in ((cltv, VALUE), (accounts, ACCOUNT_NUMERIC + ACCOUNT_CATEGORICAL)):
        if extra is None or "customer_id" not in extra:
            continue
        present = [c for c in columns if c in extra]
        if not present:
            continue
        extra_ids = extra["customer_id"].astype(str).reset_index(drop=True)
        if extra_ids.equals(ids):
            # the same customers in the same order (cltv.parquet follows the summary, as rfm does): take the
            # columns as they are instead of matching a million ids
            lookup = extra.reset_index(drop=True)[present]
        else:
            lookup = extra.assign(customer_id=extra_ids.to_numpy()).drop_duplicates("customer_id")
            lookup = lookup.set_index("customer_id")[present].reindex(ids)
        for column in present:
            values = lookup[column]
            if column in CATEGORICAL:
                data[column] = np.array([v if isinstance(v, str) and v else np.nan for v in values], dtype=object)
            else:
                data[column] = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    out = pd.DataFrame(data)
    empty = [c for c in out.columns if c != "customer_id" and out[c].isna().all()]
    return out.drop(columns=empty)


def signed_log1p(values: Any) -> np.ndarray:
    """log(1 + x) for x >= 0, mirrored for negative x (a refund surplus), so that nothing becomes NaN."""
    array = np.asarray(values, dtype="float64")
    # in place on one new array: fresh memory is the dear part on a million rows
    out = np.abs(array)
    np.log1p(out, out=out)
    return np.copysign(out, array, out=out)


class MedianImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Missing numbers take the column's median: scikit-learn's ``SimpleImputer(strategy="median")`` for
    dense numbers, with the medians from ``np.nanmedian`` (a partial sort) instead of a masked-array sort
    that takes a second on a million customers. The same medians (tests). A column without any value has
    no median: :func:`build_features` leaves such columns out, and here they are refused."""

    def fit(self, X: Any, y: Any = None) -> MedianImputer:
        values = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan", reset=True)
        empty = np.isnan(values).all(axis=0) if len(values) else np.ones(values.shape[1], dtype=bool)
        if empty.any():
            raise ValueError(f"no value to take the median of in feature column(s) {np.flatnonzero(empty).tolist()}")
        self.statistics_ = np.nanmedian(values, axis=0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        values = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan", reset=False, copy=True)
        rows, columns = np.nonzero(np.isnan(values))
        values[rows, columns] = self.statistics_[columns]
        return values


def feature_columns(features: pd.DataFrame) -> dict[str, list[str]]:
    """The feature columns of ``features`` by treatment: log, plain (numbers), categorical."""
    return {
        "log": [c for c in LOG_SCALED if c in features],
        "plain": [c for c in PLAIN_SCALED if c in features],
        "categorical": [c for c in CATEGORICAL if c in features],
    }


def feature_pipeline(features: pd.DataFrame) -> Pipeline:
    """The unfitted scaling and encoding of the columns present in ``features``."""
    columns = feature_columns(features)
    parts = []
    if columns["log"]:
        parts.append((
            "log",
            Pipeline([
                ("impute", MedianImputer()),
                ("log1p", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                ("scale", StandardScaler()),
            ]),
            columns["log"],
        ))
    if columns["plain"]:
        parts.append((
            "plain",
            Pipeline([("impute", MedianImputer()), ("scale", StandardScaler())]),
            columns["plain"],
        ))
    if columns["categorical"]:
        parts.append((
            "categorical",
            Pipeline([
                ("impute", SimpleImputer(strategy="constant", fill_value="unknown")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]),
            columns["categorical"],
        ))
    if not parts:
        raise ValueError("no clustering feature present")
    return Pipeline([("features", ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False))])


def _model_input(features: pd.DataFrame) -> pd.DataFrame:
    columns = feature_columns(features)
    frame = features[columns["log"] + columns["plain"] + columns["categorical"]].copy()
    for column in columns["categorical"]:
        frame[column] = frame[column].astype(object)
    return frame


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


def choose_k(
    matrix: np.ndarray,
    k_min: int = 2,
    k_max: int = 8,
    sample_size: int = 5000,
    random_state: int = 42,
    fixed_k: int | None = None,
) -> KChoice:
    """Fit k-means for every k in k_min..k_max and keep the k with the highest silhouette (ties: the smaller
    k). With ``fixed_k`` the table is still measured (over k_min..k_max and fixed_k) but fixed_k is kept.
    The silhouettes of all k are measured on one seeded sample of at most ``sample_size`` rows, sharing
    its distances (:func:`silhouette_scores`); the fits are kept in ``KChoice.models``."""
    matrix = np.asarray(matrix, dtype="float64")
    distinct = len(np.unique(matrix, axis=0))
    if distinct < 3:
        raise ValueError(f"clustering needs at least 3 distinct customers, got {distinct}")
    upper = min(k_max, distinct - 1)
    ks = sorted(set(range(min(k_min, upper), upper + 1)) | ({min(fixed_k, distinct - 1)} if fixed_k else set()))
    rows = sample_rows(len(matrix), sample_size, random_state)
    models = dict(zip(ks, fit_kmeans_each([(matrix, k, random_state) for k in ks]), strict=True))
    silhouettes = silhouette_scores(matrix[rows], [models[k].labels_[rows] for k in ks])
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
        })
    table = pd.DataFrame(records)
    best_ch = int(table.loc[table["calinski_harabasz"].idxmax(), "k"])
    if fixed_k:
        k = min(fixed_k, distinct - 1)
        row = table.set_index("k").loc[k]
        best_sil = int(table.loc[table["silhouette"].idxmax(), "k"])
        reason = (
            f"k={k} was set by the user (silhouette {row['silhouette']:.2f}; "
            f"the silhouette alone would pick k={best_sil}, Calinski-Harabasz k={best_ch})"
        )
        return KChoice(table, int(k), reason, False, len(rows), models)
    k = int(table.loc[table["silhouette"].fillna(-np.inf).idxmax(), "k"])
    best = table.set_index("k").loc[k, "silhouette"]
    second = "Calinski-Harabasz agrees" if best_ch == k else f"Calinski-Harabasz would prefer k={best_ch}"
    reason = (
        f"k={k}: the highest silhouette ({best:.2f}) of k={table['k'].min()}..{table['k'].max()}, "
        f"measured on {len(rows):,} customers; {second}"
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


# --------------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------------
# Levels of a cluster's median among all customers (mid-rank percentile p):
#   very_high p >= 0.9, high p >= 2/3, mid, low p <= 1/3, very_low p <= 0.1
LEVELS = ("very_low", "low", "mid", "high", "very_high")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "frequency_very_high": "very frequent",
        "frequency_high": "frequent",
        "frequency_low": "occasional",
        "frequency_very_low": "occasional",
        "one-time": "one-time",
        "monetary_very_high": "top spenders",
        "monetary_high": "high spenders",
        "monetary_mid": "mid spenders",
        "monetary_low": "small buyers",
        "monetary_very_low": "very small buyers",
        "recency_days_very_low": "bought recently",
        "recency_days_low": "active",
        "recency_days_mid": "cooling down",
        "recency_days_high": "lapsed",
        "recency_days_very_high": "long lapsed",
        "employees_high": "large accounts",
        "employees_low": "small accounts",
        "yoy_growth_high": "growing",
        "yoy_growth_shrinking": "shrinking",
        "yoy_growth_low": "slow growth",
        "cltv_high": "high future value",
        "cltv_low": "low future value",
        "p_alive_high": "likely to stay",
        "p_alive_low": "likely gone",
        "marketing_budget_high": "big budgets",
        "marketing_budget_low": "small budgets",
        "mostly": "mostly {value}",
        "group": "group {number}",
    },
    "de": {
        "frequency_very_high": "sehr häufige",
        "frequency_high": "häufige",
        "frequency_low": "gelegentliche",
        "frequency_very_low": "gelegentliche",
        "one-time": "einmalige",
        "monetary_very_high": "Top-Käufer",
        "monetary_high": "Großkäufer",
        "monetary_mid": "Käufer mit mittlerem Umsatz",
        "monetary_low": "Kleinkäufer",
        "monetary_very_low": "sehr kleine Käufer",
        "recency_days_very_low": "kürzlich gekauft",
        "recency_days_low": "aktiv",
        "recency_days_mid": "nachlassend",
        "recency_days_high": "inaktiv",
        "recency_days_very_high": "lange inaktiv",
        "employees_high": "große Kunden",
        "employees_low": "kleine Kunden",
        "yoy_growth_high": "wachsend",
        "yoy_growth_shrinking": "schrumpfend",
        "yoy_growth_low": "langsam wachsend",
        "cltv_high": "hoher künftiger Wert",
        "cltv_low": "geringer künftiger Wert",
        "p_alive_high": "bleiben wahrscheinlich",
        "p_alive_low": "wahrscheinlich abgewandert",
        "marketing_budget_high": "große Budgets",
        "marketing_budget_low": "kleine Budgets",
        "mostly": "überwiegend {value}",
        "group": "Gruppe {number}",
    },
}
# words that tell two clusters of the same name apart: (for the higher median, for the lower median)
COMPARE: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "monetary": ("higher spend", "lower spend"),
        "frequency": ("more frequent", "less frequent"),
        "recency_days": ("less recent", "more recent"),
        "cltv": ("higher future value", "lower future value"),
        "p_alive": ("more likely to stay", "less likely to stay"),
        "employees": ("larger", "smaller"),
        "marketing_budget": ("bigger budgets", "smaller budgets"),
        "yoy_growth": ("faster growth", "slower growth"),
    },
    "de": {
        "monetary": ("mehr Umsatz", "weniger Umsatz"),
        "frequency": ("häufiger", "seltener"),
        "recency_days": ("länger her", "kürzer her"),
        "cltv": ("höherer künftiger Wert", "geringerer künftiger Wert"),
        "p_alive": ("bleiben eher", "bleiben weniger"),
        "employees": ("größer", "kleiner"),
        "marketing_budget": ("größere Budgets", "kleinere Budgets"),
        "yoy_growth": ("schnelleres Wachstum", "langsameres Wachstum"),
    },
}

ACTIONS: dict[str, dict[str, str]] = {
    "en": {
        "keep": "Keep close: quarterly business reviews, a yearly strategy meeting, upsell proactively.",
        "win_back": "Win back now: personal contact from the account manager, find out what changed.",
        "develop": "Develop: cross-sell the next service, show what the next step of the funnel brings.",
        "nurture": "Nurture at low cost: automated reminders and offers that invite a second purchase.",
        "reactivate": "Reactivate cheaply or let go: one low-cost campaign, no personal attention.",
        "grow_with": "Grow with them: their business expands, propose services that scale with it.",
        "watch": "Watch and keep in touch: regular but light contact, check again next month.",
    },
    "de": {
        "keep": "Eng betreuen: Quartalsgespräche (QBR), jährliches Strategiegespräch, aktiv Upselling anbieten.",
        "win_back": "Jetzt zurückgewinnen: persönlicher Kontakt durch die Kundenbetreuung, Ursache klären.",
        "develop": "Entwickeln: die nächste Leistung anbieten (Cross-Selling), nächste Funnel-Stufe zeigen.",
        "nurture": "Günstig pflegen: automatische Erinnerungen und Angebote für den zweiten Kauf.",
        "reactivate": "Günstig reaktivieren oder loslassen: eine Kampagne, keine persönliche Betreuung.",
        "grow_with": "Mitwachsen: das Geschäft wächst, Leistungen anbieten, die mitwachsen.",
        "watch": "Beobachten: regelmäßiger, leichter Kontakt, im nächsten Monat erneut prüfen.",
    },
}


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise UsageError(f"language must be one of {LANGUAGES}, got {language!r}")


def midrank_percentile(values: Any, point: float) -> float:
    """Share of ``values`` (missing ones left out) below ``point``, counting values equal to it half."""
    clean = np.asarray(values, dtype="float64")
    clean = clean[~np.isnan(clean)]
    if len(clean) == 0 or not np.isfinite(point):
        return np.nan
    return float(((clean < point).sum() + 0.5 * (clean == point).sum()) / len(clean))


def level(percentile: float) -> str:
    """'very_high', 'high', 'mid', 'low' or 'very_low' for a mid-rank percentile (see :data:`LEVELS`)."""
    if not np.isfinite(percentile):
        return "mid"
    if percentile >= VERY_HIGH:
        return "very_high"
    if percentile >= HIGH:
        return "high"
    if percentile <= VERY_LOW:
        return "very_low"
    return "low" if percentile <= LOW else "mid"


def _broad(value: str) -> str:
    return value.replace("very_", "")


def describe_levels(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per cluster and numeric feature: its level (:func:`level` of the cluster median's mid-rank
    percentile among all customers), plus ``<feature>_percentile`` and ``<feature>_median``. A cluster
    holding more than half of all customers sets the overall medians itself and would be "mid" on everything:
    it is compared with the customers outside it instead."""
    labels = np.asarray(labels)
    records = []
    # plain arrays per feature: selecting rows of the whole frame copied every column per cluster
    columns = {c: features[c].to_numpy(dtype="float64") for c in NUMERIC if c in features}
    for cluster in np.unique(labels):
        inside = labels == cluster
        outside_only = inside.mean() > 0.5 and (~inside).any()
        record: dict[str, Any] = {"cluster": cluster}
        for column, values in columns.items():
            median = _median(values[inside])
            percentile = midrank_percentile(values[~inside] if outside_only else values, median)
            record[column] = level(percentile)
            record[f"{column}_percentile"] = percentile
            record[f"{column}_median"] = median
        records.append(record)
    return pd.DataFrame(records).set_index("cluster")


def _median(values: np.ndarray) -> float:
    """The median of the values present (NaN if none), as pandas' Series.median."""
    present = values[~np.isnan(values)]
    return float(np.median(present)) if len(present) else np.nan


def _dominant(features: pd.DataFrame, labels: np.ndarray, cluster: Any, column: str) -> str | None:
    values = features[column].fillna("unknown").astype(str)
    inside = values[np.asarray(labels) == cluster].value_counts(normalize=True)
    if inside.empty:
        return None
    top, share = inside.index[0], float(inside.iloc[0])
    overall = float((values == top).mean())
    if top != "unknown" and share >= DOMINANT_SHARE and share >= DOMINANT_LIFT * overall:
        return top.replace("_", " ")
    return None


def _parts(levels: pd.Series, language: str) -> tuple[list[str], list[str]]:
    """Core words (always in the name) and extra words (strongest first, used to tell names apart)."""
    words = WORDS[language]
    core: list[str] = []
    if "frequency_median" in levels and levels["frequency_median"] <= 1:
        frequency_word = words["one-time"]
    else:
        frequency_word = words.get(f"frequency_{levels.get('frequency', 'mid')}", "")
    core.append(f"{frequency_word} {words['monetary_' + levels.get('monetary', 'mid')]}".strip())
    recency = levels.get("recency_days", "mid")
    if recency != "mid":
        core.append(words[f"recency_days_{recency}"])
    if _broad(levels.get("employees", "mid")) != "mid":
        core.insert(0, words[f"employees_{_broad(levels['employees'])}"])
    growth = _broad(levels.get("yoy_growth", "mid"))
    if growth == "high":
        core.append(words["yoy_growth_high"])
    elif growth == "low":
        core.append(words["yoy_growth_shrinking" if levels["yoy_growth_median"] < 0 else "yoy_growth_low"])
    extras: list[tuple[float, str]] = []
    one_time = "frequency_median" in levels and levels["frequency_median"] <= 1
    for column in ("cltv", "p_alive", "marketing_budget"):
        # BG/NBD puts P(alive) at 1 for customers without a repeat purchase: no signal for one-time buyers
        if column == "p_alive" and one_time:
            continue
        if column in levels and _broad(levels[column]) != "mid":
            strength = abs(float(levels[f"{column}_percentile"]) - 0.5)
            extras.append((strength, words[f"{column}_{_broad(levels[column])}"]))
    if recency == "mid" and "recency_days" in levels:
        extras.append((0.0, words["recency_days_mid"]))
    return core, [word for _, word in sorted(extras, key=lambda item: -item[0])]


def _compare(levels: pd.DataFrame, group: list, language: str) -> dict[Any, str]:
    """For clusters sharing a name: the feature whose percentiles differ most among them, and a
    comparative word for the cluster with the highest and the one with the lowest median."""
    spreads = {
        column: float(levels.loc[group, f"{column}_percentile"].max() - levels.loc[group, f"{column}_percentile"].min())
        for column in COMPARE[language]
        if f"{column}_percentile" in levels
    }
    if not spreads:
        return {}
    column = max(spreads, key=spreads.get)
    if spreads[column] <= 0:
        return {}
    medians = levels.loc[group, f"{column}_percentile"]
    higher, lower = COMPARE[language][column]
    return {medians.idxmax(): higher, medians.idxmin(): lower}


def cluster_names(
    features: pd.DataFrame, labels: np.ndarray, language: str = "en", levels: pd.DataFrame | None = None
) -> dict[Any, str]:
    """A short, unique plain-words name per cluster (see the module docstring for the thresholds).

    Clusters that would share a name get their next distinguishing word each (a value signal, a dominant
    industry or funnel type); if they still collide, a comparative word on the feature that separates them
    most (e.g. "higher spend" / "lower spend"); as a last resort a group number. ``levels``: the
    :func:`describe_levels` of these features and labels, when already at hand."""
    _check_language(language)
    labels = np.asarray(labels)
    levels = describe_levels(features, labels) if levels is None else levels
    clusters = list(levels.index)
    core, extras = {}, {}
    for cluster in clusters:
        core[cluster], extras[cluster] = _parts(levels.loc[cluster], language)
        for column in CATEGORICAL:
            if column in features:
                top = _dominant(features, labels, cluster, column)
                if top:
                    extras[cluster].append(WORDS[language]["mostly"].format(value=top))
    for cluster in clusters:  # a one-part name says too little: add the strongest extra word
        if len(core[cluster]) < 2 and extras[cluster]:
            core[cluster].append(extras[cluster].pop(0))
    names = {c: ", ".join(core[c]) for c in clusters}

    def clashes() -> dict[str, list]:
        groups: dict[str, list] = {}
        for cluster in clusters:
            groups.setdefault(names[cluster], []).append(cluster)
        return {name: group for name, group in groups.items() if len(group) > 1}

    for _ in range(3):  # extra words
        if not clashes():
            break
        for group in clashes().values():
            for cluster in group:
                if extras[cluster]:
                    names[cluster] = f"{names[cluster]}, {extras[cluster].pop(0)}"
    for _ in range(len(clusters)):  # comparative words
        if not clashes():
            break
        changed = False
        for group in clashes().values():
            for cluster, word in _compare(levels, group, language).items():
                names[cluster] = f"{names[cluster]}, {word}"
                changed = True
        if not changed:
            break
    for group in clashes().values():  # last resort
        for number, cluster in enumerate(group, start=1):
            names[cluster] = f"{names[cluster]} ({WORDS[language]['group'].format(number=number)})"
    return names


def suggested_action(levels: pd.Series, language: str = "en") -> str:
    """What to do with a cluster, from its levels: value and activity first, then growth."""
    _check_language(language)
    spend, recency = _broad(levels.get("monetary", "mid")), _broad(levels.get("recency_days", "mid"))
    frequency, growth = _broad(levels.get("frequency", "mid")), _broad(levels.get("yoy_growth", "mid"))
    one_time = "frequency_median" in levels and levels["frequency_median"] <= 1
    if recency == "mid" and not one_time and _broad(levels.get("p_alive", "mid")) == "low":
        recency = "high"  # likely gone by the purchase model: treat as lapsed
    if spend == "high" and recency != "high":
        key = "keep"
    elif spend == "high":
        key = "win_back"
    elif growth == "high":
        key = "grow_with"
    elif recency == "low" and frequency != "low":
        key = "develop"
    elif recency == "low":
        key = "nurture"
    elif recency == "high":
        key = "win_back" if frequency == "high" else "reactivate"
    else:
        key = "watch"
    return ACTIONS[language][key]


# --------------------------------------------------------------------------------------------------
# profiles and the whole run
# --------------------------------------------------------------------------------------------------
def profile_clusters(features: pd.DataFrame, labels: np.ndarray, language: str = "en") -> pd.DataFrame:
    """Per cluster: name, customers, share, revenue_share, the medians of the numeric raw features, the most
    frequent category per categorical feature, and a suggested action. Ordered as the clusters."""
    labels = np.asarray(labels)
    levels = describe_levels(features, labels)
    names = cluster_names(features, labels, language, levels)
    numeric = [c for c in NUMERIC if c in features]
    revenue = features["monetary"].clip(lower=0) if "monetary" in features else None
    total = float(revenue.sum()) if revenue is not None else 0.0
    records = []
    for cluster in levels.index:
        inside = labels == cluster
        record: dict[str, Any] = {
            "cluster": cluster,
            "cluster_name": names[cluster],
            "customers": int(inside.sum()),
            "share": float(inside.mean()),
            "revenue_share": float(revenue[inside].sum() / total) if total > 0 else np.nan,
        }
        for column in numeric:
            record[column] = float(levels.loc[cluster, f"{column}_median"])
        for column in CATEGORICAL:
            if column in features:
                counts = features.loc[inside, column].fillna("unknown").astype(str).value_counts()
                record[f"top_{column}"] = f"{counts.index[0]} ({counts.iloc[0] / int(inside.sum()):.0%})"
        record["action"] = suggested_action(levels.loc[cluster], language)
        records.append(record)
    return pd.DataFrame(records)


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
    settings: dict[str, Any] = field(default_factory=dict)

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
    settings: dict[str, Any] | None = None,
    k: int | None = None,
    language: str = "en",
) -> ClusterResult:
    """The whole clustering: features, scaling, k, k-means, stability, profiles and names."""
    _check_language(language)
    options = clustering_settings(settings, k)
    features = build_features(rfm, cltv, accounts)
    pipeline = feature_pipeline(features)
    matrix = np.asarray(pipeline.fit_transform(_model_input(features)), dtype="float64")
    feature_names = list(pipeline.get_feature_names_out())
    # On a large base k-means learns its centres from a seeded sample and then places every customer at
    # its nearest centre: the centres of 50,000 customers are as good as those of a million, in seconds.
    fit_rows = sample_rows(len(matrix), max(options["fit_sample_size"], 10), options["random_state"])
    choice = choose_k(
        matrix[fit_rows],
        options["k_min"],
        options["k_max"],
        options["sample_size"],
        options["random_state"],
        fixed_k=options["k"],
    )
    if len(fit_rows) < len(matrix):
        choice.reason += (
            f"; k-means learned its centres from {len(fit_rows):,} of {len(matrix):,} customers and placed "
            f"every customer at the nearest centre"
        )
    # the fit of the chosen k on these rows was made while choosing k (same rows, same seed)
    model = choice.models.get(choice.k)
    if model is None:
        model = fit_kmeans(matrix[fit_rows], choice.k, options["random_state"])
    raw = model.labels_ if len(fit_rows) == len(matrix) else model.predict(matrix)
    labels = _renumber(raw, features)
    steady = stability(matrix[fit_rows], choice.k, labels[fit_rows], options["resamples"], options["random_state"])
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
