"""Clustering customers: features, k by silhouette, stability, names, the chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from helpers.core import config
from helpers.core.errors import UsageError
from helpers.reporting.plots import clusters as cluster_charts
from helpers.segmentation import cluster_features, cluster_naming, cluster_views, clustering

SETTINGS = config.settings_with({"clustering": {"resamples": 4, "k_max": 6}})


def three_groups(n_per_group: int = 80, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """RFM of three well-separated kinds of customer (separated on the log scale), with the true group."""
    rng = np.random.default_rng(seed)
    centres = [  # recency_days, frequency, monetary
        (5, 40, 20_000),  # frequent big spenders, active
        (60, 8, 900),
        (400, 1, 40),  # one-time small buyers, lapsed
    ]
    parts, truth = [], []
    for group, (recency, frequency, monetary) in enumerate(centres):
        noise = rng.normal(0, 0.08, size=(n_per_group, 3))
        parts.append(
            pd.DataFrame({
                "recency_days": np.round(recency * np.exp(noise[:, 0])).astype("int64"),
                "frequency": np.maximum(1, np.round(frequency * np.exp(noise[:, 1]))).astype("int64"),
                "monetary": monetary * np.exp(noise[:, 2]),
            })
        )
        truth += [group] * n_per_group
    rfm = pd.concat(parts, ignore_index=True)
    rfm.insert(0, "customer_id", [f"C{i:04d}" for i in range(len(rfm))])
    order = rng.permutation(len(rfm))
    return rfm.iloc[order].reset_index(drop=True), np.asarray(truth)[order]


def accounts_for(rfm: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(rfm)
    return pd.DataFrame({
        "customer_id": rfm["customer_id"],
        "industry": rng.choice(["Retail", "SaaS", "Tourism"], size=n),
        "funnel_type": rng.choice(["retail", "lead_gen", "business_industry"], size=n),
        "employees": rng.integers(5, 500, size=n),
        "marketing_budget": rng.uniform(1e4, 5e5, size=n),
        "yoy_growth": rng.normal(0.05, 0.1, size=n),
        "region": "Bayern",
    })


@pytest.fixture(scope="module")
def separated():
    rfm, truth = three_groups()
    return rfm, truth, clustering.cluster_customers(rfm, settings=SETTINGS)


# --------------------------------------------------------------------------------------------------
# choosing k and stability
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("true_k", [3, 5])
def test_silhouette_picks_the_true_number_of_blobs(true_k):
    matrix, _ = make_blobs(n_samples=400, centers=true_k, n_features=4, cluster_std=0.5, random_state=3)
    choice = clustering.choose_k(matrix, 2, 8, sample_size=5000, random_state=42)
    assert choice.k == true_k
    assert choice.automatic
    assert list(choice.table["k"]) == list(range(2, 9))
    assert choice.table.set_index("k")["silhouette"].idxmax() == true_k
    assert choice.table.set_index("k")["calinski_harabasz"].idxmax() == true_k
    assert f"k={true_k}" in choice.reason and "Calinski-Harabasz agrees" in choice.reason


def test_separated_customers_are_recovered_and_stable(separated):
    _, truth, result = separated
    assert result.k == 3
    assert adjusted_rand_score(truth, result.labels) == pytest.approx(1.0)
    assert result.stability.median == pytest.approx(1.0, abs=0.01)
    assert len(result.stability.scores) == 4
    assert result.stability.low <= result.stability.median <= result.stability.high
    assert "very stable" in result.stability.reading()


def test_stability_is_low_for_structureless_data():
    matrix = np.random.default_rng(5).uniform(size=(400, 4))
    labels = clustering.fit_kmeans(matrix, 6, 42).labels_
    steady = clustering.stability(matrix, 6, labels, resamples=5, random_state=42)
    assert steady.median < 0.95
    assert len(steady.scores) == 5


def test_user_fixed_k_is_kept_and_the_table_still_measured():
    rfm, _ = three_groups()
    result = clustering.cluster_customers(rfm, settings=SETTINGS, k=4)
    assert result.k == 4 and not result.choice.automatic
    assert result.assignments["cluster"].nunique() == 4
    assert "set by the user" in result.choice.reason and "k=3" in result.choice.reason
    configured = clustering.cluster_customers(rfm, settings=config.settings_with({"clustering": {"k": 2, "resamples": 2}}))
    assert configured.k == 2


def test_a_k_that_leaves_clusters_too_small_to_describe_is_refused():
    """clustering.k: 10000 once became 299 clusters for 300 customers, called "very stable", and was published."""
    rfm, _ = three_groups()
    customers = len(rfm)
    largest = customers // clustering.MIN_CUSTOMERS_PER_CLUSTER
    with pytest.raises(UsageError, match=rf"clustering.k = 10000 .* too large for {customers:,} customers.*"
                                         rf"Choose k between 2 and {largest}, or 0 / null"):
        clustering.cluster_customers(rfm, settings=config.settings_with({"clustering": {"k": 10000}}))
    assert clustering.cluster_customers(rfm, settings=SETTINGS, k=largest).k == largest
    # the automatic range keeps the same floor without a word: k_max is simply not reached
    small = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0], [0.0, 10.0]]), 3, axis=0)
    assert clustering.choose_k(small, 2, 8).table["k"].max() == 12 // clustering.MIN_CUSTOMERS_PER_CLUSTER


def test_k_range_is_capped_by_distinct_customers():
    matrix = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0], [0.0, 10.0]]), 10, axis=0)
    choice = clustering.choose_k(matrix, 2, 8)
    assert choice.table["k"].max() == 3
    with pytest.raises(ValueError, match="3 distinct"):
        clustering.choose_k(np.zeros((10, 2)), 2, 8)


# --------------------------------------------------------------------------------------------------
# output shape, determinism, inputs
# --------------------------------------------------------------------------------------------------
def test_one_row_per_input_customer_in_input_order(separated):
    rfm, _, result = separated
    out = result.assignments
    assert list(out.columns) == ["customer_id", "cluster", "cluster_name"]
    assert list(out["customer_id"]) == list(rfm["customer_id"])
    assert out["cluster"].between(1, result.k).all()
    # cluster 1 carries the largest revenue
    revenue = rfm.groupby(out["cluster"].to_numpy())["monetary"].sum()
    assert revenue.idxmax() == 1
    assert out.groupby("cluster")["cluster_name"].nunique().eq(1).all()


def test_deterministic_for_a_fixed_seed():
    rfm, _ = three_groups(seed=4)
    rfm = pd.concat([rfm, three_groups(seed=9)[0].assign(customer_id=lambda f: "X" + f["customer_id"])])
    first = clustering.cluster_customers(rfm, settings=SETTINGS, k=5)
    second = clustering.cluster_customers(rfm, settings=SETTINGS, k=5)
    pd.testing.assert_frame_equal(first.assignments, second.assignments)
    pd.testing.assert_frame_equal(first.choice.table, second.choice.table)
    assert first.stability.scores == second.stability.scores


def test_behaviour_only_input_works(separated):
    _, _, result = separated
    assert [c for c in result.features.columns if c != "customer_id"] == list(cluster_features.BEHAVIOUR)
    assert not result.uses_accounts
    assert result.matrix.shape == (240, 3)
    assert "buying behaviour alone" in cluster_views.features_used(result)


def test_value_and_account_signals_are_used_and_encoded():
    rfm, _ = three_groups()
    cltv = pd.DataFrame({"customer_id": rfm["customer_id"], "cltv": rfm["monetary"] * 0.3, "p_alive": 0.5})
    result = clustering.cluster_customers(rfm, cltv, accounts_for(rfm), settings=SETTINGS)
    assert result.uses_accounts
    names = result.feature_names
    assert {"recency_days", "cltv", "p_alive", "employees", "marketing_budget", "yoy_growth"} <= set(names)
    assert {"industry_Retail", "funnel_type_lead_gen"} <= set(names)
    assert not any(n.startswith("region") for n in names)
    assert np.isfinite(result.matrix).all()
    # log-scaled, standardised numbers
    position = names.index("monetary")
    assert result.matrix[:, position].mean() == pytest.approx(0, abs=1e-9)
    assert result.matrix[:, position].std() == pytest.approx(1, abs=1e-9)
    assert "top_industry" in result.profiles and "employees" in result.profiles


def test_funnel_maturity_is_a_feature_when_given():
    rfm, _ = three_groups()
    # maturity indexed by customer_id, as helpers.potential.funnel.maturity_table returns it, in another order
    maturity = pd.DataFrame({"funnel_maturity": np.linspace(0, 100, len(rfm))},
                            index=pd.Index(rfm["customer_id"].astype(str)[::-1].to_numpy(), name="customer_id"))
    features = cluster_features.build_features(rfm, None, None, maturity)
    expected = maturity["funnel_maturity"].reindex(rfm["customer_id"].astype(str)).to_numpy()
    np.testing.assert_array_equal(features["funnel_maturity"].to_numpy(), expected)
    result = clustering.cluster_customers(rfm, None, None, settings=SETTINGS, maturity=maturity)
    assert "funnel_maturity" in result.feature_names and "funnel maturity" in cluster_views.features_used(result)


def test_pipeline_handles_missing_account_values_and_unknown_categories():
    rfm, _ = three_groups(n_per_group=20)
    accounts = accounts_for(rfm).iloc[: len(rfm) - 10].copy()  # 10 customers without an account row
    accounts.loc[accounts.index[:5], "employees"] = np.nan
    accounts.loc[accounts.index[5:9], "industry"] = None
    accounts["yoy_growth"] = np.nan  # empty for everyone: left out
    features = cluster_features.build_features(rfm, None, accounts)
    assert len(features) == len(rfm)
    assert "yoy_growth" not in features
    assert features["employees"].isna().sum() == 15
    pipeline = cluster_features.feature_pipeline(features)
    matrix = pipeline.fit_transform(cluster_features.model_input(features))
    assert np.isfinite(matrix).all() and matrix.shape[0] == len(rfm)
    assert "industry_unknown" in list(pipeline.get_feature_names_out())
    later = features.head(3).copy()
    later["industry"] = "Aerospace"  # a category never seen while fitting
    assert np.isfinite(pipeline.transform(cluster_features.model_input(later))).all()
    result = clustering.cluster_customers(rfm, None, accounts, settings=SETTINGS)
    assert len(result.assignments) == len(rfm)


def test_customers_missing_from_cltv_are_imputed():
    rfm, _ = three_groups(n_per_group=20)
    cltv = pd.DataFrame({"customer_id": rfm["customer_id"].iloc[:30], "cltv": 10.0, "p_alive": 0.9})
    features = cluster_features.build_features(rfm, cltv)
    assert features["cltv"].isna().sum() == len(rfm) - 30
    result = clustering.cluster_customers(rfm, cltv, settings=SETTINGS)
    assert np.isfinite(result.matrix).all()


def test_negative_revenue_does_not_break_the_log():
    assert np.isfinite(cluster_features.signed_log1p([-500.0, -1.0, 0.0, 3.0])).all()
    assert cluster_features.signed_log1p([-3.0])[0] == pytest.approx(-np.log(4))


def test_bad_inputs_are_named():
    with pytest.raises(KeyError, match="monetary"):
        cluster_features.build_features(pd.DataFrame({"customer_id": ["a"], "recency_days": [1], "frequency": [1]}))
    rfm, _ = three_groups(n_per_group=5)
    with pytest.raises(ValueError, match="more than once"):
        cluster_features.build_features(pd.concat([rfm, rfm.head(1)]))
    with pytest.raises(ValueError, match="language"):
        clustering.cluster_customers(rfm, language="fr")


# --------------------------------------------------------------------------------------------------
# names and profiles
# --------------------------------------------------------------------------------------------------
def test_names_describe_the_clusters(separated):
    rfm, _, result = separated
    profiles = result.profiles.set_index("cluster")
    names = profiles["cluster_name"]
    assert names.is_unique
    richest = profiles["monetary"].idxmax()
    poorest = profiles["monetary"].idxmin()
    assert "spenders" in names[richest] and ("high" in names[richest] or "top" in names[richest])
    assert "active" in names[richest] or "recently" in names[richest]
    assert "one-time" in names[poorest] and "small buyers" in names[poorest] and "lapsed" in names[poorest]
    assert profiles["customers"].sum() == len(rfm)
    assert profiles["share"].sum() == pytest.approx(1)
    assert profiles["revenue_share"].sum() == pytest.approx(1)
    assert profiles.loc[richest, "revenue_share"] > 0.9
    assert profiles.loc[richest, "action"].startswith("Keep close")


def test_german_names_are_unique_and_german(separated):
    rfm, _, result = separated
    german = cluster_naming.profile_clusters(result.features, result.labels, language="de")
    assert german["cluster_name"].is_unique
    assert any("Großkäufer" in n or "Top-Käufer" in n for n in german["cluster_name"])
    assert any("einmalige" in n for n in german["cluster_name"])
    assert list(german["customers"]) == list(result.profiles["customers"])


def test_colliding_names_get_a_distinguishing_word():
    rng = np.random.default_rng(0)
    n = 60
    recency, frequency, monetary = rng.integers(5, 10, n), rng.integers(20, 30, n), rng.uniform(9e3, 1e4, n)
    # clusters 1 and 2 buy alike; only their future value differs
    features = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(3 * n)],
        "recency_days": np.r_[recency, recency, rng.integers(300, 400, n)],
        "frequency": np.r_[frequency, frequency, np.ones(n)].astype(float),
        "monetary": np.r_[monetary, monetary, rng.uniform(10, 20, n)],
        "cltv": np.r_[rng.uniform(900, 1000, n), rng.uniform(100, 120, n), rng.uniform(0, 1, n)],
    })
    labels = np.repeat([1, 2, 3], n)
    names = cluster_naming.cluster_names(features, labels)
    assert len(set(names.values())) == 3
    assert names[1] != names[2]
    assert names[1].startswith(names[2].split(",")[0])  # same core, told apart by a further word
    assert "higher future value" in names[1] or "high future value" in names[1]


def test_identical_clusters_still_get_unique_names():
    features = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(40)],
        "recency_days": 10.0,
        "frequency": 3.0,
        "monetary": 100.0,
    })
    names = cluster_naming.cluster_names(features, np.repeat([1, 2], 20))
    assert len(set(names.values())) == 2
    assert all("group" in name for name in names.values())


def test_levels_follow_the_documented_thresholds():
    assert cluster_naming.level(0.95) == "very_high"
    assert cluster_naming.level(0.7) == "high"
    assert cluster_naming.level(0.5) == "mid"
    assert cluster_naming.level(0.3) == "low"
    assert cluster_naming.level(0.05) == "very_low"
    values = pd.Series([1, 1, 1, 2, 3])
    assert cluster_naming.midrank_percentile(values, 1) == pytest.approx(0.3)
    assert cluster_naming.midrank_percentile(values, 5) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------------
# sampling caps, chart, settings
# --------------------------------------------------------------------------------------------------
def test_silhouette_sample_cap_is_honoured():
    matrix, _ = make_blobs(n_samples=1200, centers=3, n_features=3, random_state=1)
    choice = clustering.choose_k(matrix, 2, 4, sample_size=300, random_state=7)
    assert choice.silhouette_rows == 300
    assert "300 customers" in choice.reason
    rows = clustering.sample_rows(1200, 300, 7)
    assert len(rows) == 300 and len(np.unique(rows)) == 300
    np.testing.assert_array_equal(rows, clustering.sample_rows(1200, 300, 7))
    assert len(clustering.sample_rows(50, 300, 7)) == 50


def test_pca_chart_samples_and_names_the_clusters(separated):
    _, _, result = separated
    picture = clustering.pca_picture(result, max_points=100)
    assert picture["rows"] == 100 and len(picture["x"]) == 100
    assert sum(picture["explained"]) <= 1 + 1e-9
    figure = cluster_charts.pca_chart(picture, result.profiles, **cluster_views.pca_labels(result, picture))
    axis = figure.axes[0]
    assert sum(len(c.get_offsets()) for c in axis.collections) == 100
    legend = [t.get_text() for t in axis.get_legend().get_texts()]
    pairs = zip(result.profiles["cluster"], result.profiles["cluster_name"], strict=True)
    assert legend == [f"{c}: {n}" for c, n in pairs]
    assert "3 clusters" in axis.get_title(loc="left")


def test_report_helpers(separated):
    _, _, result = separated
    table = cluster_views.profile_table(result.profiles, "EUR", transpose=False)
    assert len(table) == 3 and "median revenue" in table
    assert table["median revenue"].str.startswith("€").all()
    with_value = result.profiles.assign(p_alive=1.0)
    shown = cluster_views.profile_table(with_value, "EUR", transpose=False)["median P(alive)"]
    once = (result.profiles["frequency"] <= 1).to_numpy()
    assert once.any() and (shown[once] == "n/a (bought once)").all() and (shown[~once] == "100%").all()
    wide = cluster_views.profile_table(result.profiles, "EUR")
    assert wide.shape[1] == 3 and wide.columns[0] == f"1: {result.profiles['cluster_name'].iloc[0]}"
    assert wide.loc["median revenue"].str.startswith("€").all()
    criteria = cluster_views.criteria_table(result.choice)
    assert criteria.loc[result.k, "chosen"] == "<- chosen"
    figure = cluster_charts.k_choice_chart(result.choice.table, result.k, cluster_views.k_choice_title(result.choice))
    assert "k=3" in figure.axes[0].get_title(loc="left")
    actions = cluster_views.action_list(result.profiles)
    assert actions.count("\n- ") == 2


def test_settings_come_from_the_settings_file_and_are_checked():
    shipped = config.load_settings()
    assert clustering.clustering_settings(shipped) == shipped.clustering
    assert clustering.clustering_settings(shipped).k is None
    assert clustering.clustering_settings(shipped, k=4).k == 4
    with pytest.raises(ValueError, match="k must be"):
        clustering.clustering_settings(shipped, k=1)
    with pytest.raises(ValueError, match="k_min"):
        config.settings_with({"clustering": {"k_min": 1}})
    with pytest.raises(ValueError, match="clustering.k "):
        config.settings_with({"clustering": {"k": "many"}})
    with pytest.raises(ValueError, match="sample_size"):
        config.settings_with({"clustering": {"sample_size": 5}})


def test_a_large_base_learns_centres_from_a_sample_and_places_everyone():
    rfm, truth = three_groups(n_per_group=400, seed=5)
    settings = config.settings_with({"clustering": {"resamples": 2, "k_max": 5, "fit_sample_size": 150}})
    result = clustering.cluster_customers(rfm, settings=settings)
    assert len(result.assignments) == len(rfm) and result.assignments["cluster"].notna().all()
    assert result.choice.k == 3
    assert adjusted_rand_score(truth, result.labels) > 0.99  # the sample's centres place everyone right
    assert "150 of 1,200 customers" in result.choice.reason


# --------------------------------------------------------------------------------------------------
# the fast paths compute what the plain ones do
# --------------------------------------------------------------------------------------------------
def test_silhouettes_sharing_their_distances_equal_scikit_learn():
    from sklearn.metrics import silhouette_score

    matrix, truth = make_blobs(n_samples=400, centers=4, n_features=3, random_state=2)
    rng = np.random.default_rng(0)
    singleton = truth.copy()
    singleton[0] = 9  # a cluster of one customer: silhouette 0 there, as in scikit-learn
    labelings = [truth, rng.integers(0, 6, 400), 10 * truth + 3, singleton, (truth > 0).astype(int)]
    scores = clustering.silhouette_scores(matrix, labelings)
    np.testing.assert_allclose(scores, [silhouette_score(matrix, labels) for labels in labelings], rtol=1e-12)
    # one cluster, or as many as rows: no silhouette
    assert np.isnan(clustering.silhouette_scores(matrix, [np.zeros(400)])).all()
    assert np.isnan(clustering.silhouette_scores(matrix[:5], [np.arange(5)])).all()


def test_median_imputer_equals_scikit_learns():
    from sklearn.impute import SimpleImputer

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.lognormal(size=(301, 3)), columns=["a", "b", "c"])
    frame.iloc[rng.choice(301, 40, replace=False), 0] = np.nan  # 261 values left: an odd count
    frame.iloc[rng.choice(301, 41, replace=False), 1] = np.nan  # 260: the median averages two values
    ours, reference = cluster_features.MedianImputer().fit(frame), SimpleImputer(strategy="median").fit(frame)
    np.testing.assert_array_equal(ours.statistics_, reference.statistics_)
    fresh = frame.sample(frac=1.0, random_state=1)
    np.testing.assert_array_equal(ours.transform(fresh), reference.transform(fresh))
    assert list(ours.get_feature_names_out()) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="no value"):
        cluster_features.MedianImputer().fit(frame.assign(c=np.nan))


def test_parallel_fits_are_the_sequential_fits():
    matrix, _ = make_blobs(n_samples=600, centers=4, n_features=3, random_state=3)
    tasks = [(matrix, k, 11) for k in (2, 3, 4, 5)] + [(matrix[::2], 4, 12)]
    for parallel, (data, k, seed) in zip(clustering.fit_kmeans_each(tasks), tasks, strict=True):
        sequential = clustering.fit_kmeans(data, k, seed)
        np.testing.assert_array_equal(parallel.labels_, sequential.labels_)
        np.testing.assert_array_equal(parallel.cluster_centers_, sequential.cluster_centers_)
    # choose_k keeps its fits, and the whole run reuses the chosen one
    choice = clustering.choose_k(matrix, 2, 5, random_state=11)
    assert sorted(choice.models) == [2, 3, 4, 5]
    np.testing.assert_array_equal(choice.models[choice.k].labels_, clustering.fit_kmeans(matrix, choice.k, 11).labels_)


def test_features_of_customers_in_the_same_order_equal_those_matched_by_id():
    rfm, _ = three_groups(n_per_group=30)
    rng = np.random.default_rng(8)
    cltv = pd.DataFrame({"customer_id": rfm["customer_id"], "cltv": rng.lognormal(size=len(rfm)),
                         "p_alive": rng.uniform(size=len(rfm))})
    accounts = accounts_for(rfm)
    aligned = cluster_features.build_features(rfm, cltv, accounts)  # same order as rfm: taken as they are
    shuffled = cluster_features.build_features(rfm, cltv.sample(frac=1.0, random_state=2),
                                         accounts.sample(frac=1.0, random_state=3))  # matched by id
    pd.testing.assert_frame_equal(aligned, shuffled)


def test_levels_equal_the_plain_pandas_definition():
    rfm, _ = three_groups(n_per_group=50, seed=3)
    features = cluster_features.build_features(rfm).assign(frequency=lambda f: f["frequency"].where(f.index % 7 > 0))
    labels = np.where(np.arange(len(features)) < 100, 1, np.arange(len(features)) % 2 + 2)  # one cluster > 1/2
    levels = cluster_naming.describe_levels(features, labels)
    for cluster in np.unique(labels):
        inside = labels == cluster
        others = features.loc[~inside] if inside.mean() > 0.5 else features
        for column in ("recency_days", "frequency", "monetary"):
            median = features.loc[inside, column].median()
            clean = others[column].dropna()
            percentile = ((clean < median).sum() + 0.5 * (clean == median).sum()) / len(clean)
            assert levels.loc[cluster, f"{column}_median"] == median
            assert levels.loc[cluster, f"{column}_percentile"] == percentile
            assert levels.loc[cluster, column] == cluster_naming.level(percentile)


def test_the_input_columns_are_all_the_clustering_needs(separated):
    rfm, _, result = separated
    full = rfm.assign(rfm_segment="Champions", abc_class="A")
    cltv = pd.DataFrame({"customer_id": rfm["customer_id"], "cltv": np.arange(len(rfm), dtype=float),
                         "p_alive": 0.5, "cltv_model": "bgnbd+gamma_gamma"})
    whole = clustering.cluster_customers(full, cltv, settings=SETTINGS)
    reduced = clustering.cluster_customers(full[cluster_features.INPUT_COLUMNS["rfm"]],
                                           cltv[cluster_features.INPUT_COLUMNS["cltv"]], settings=SETTINGS)
    pd.testing.assert_frame_equal(whole.assignments, reduced.assignments)
    pd.testing.assert_frame_equal(whole.features, reduced.features)


# ------------------------------------------------------------------ k by fit, stability and use (issue 13)
def _blobs(sizes, centres, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, spread, size=(n, len(c))) for n, c in zip(sizes, centres, strict=True)])


def test_four_blobs_of_unequal_size_give_four_clusters():
    matrix = _blobs([400, 250, 150, 100], [(0, 0), (6, 0), (0, 6), (6, 6)])
    choice = clustering.choose_k(matrix, 2, 8, sample_size=2000)
    assert choice.k == 4 and "the best fit" in choice.reason
    row = choice.table.set_index("k").loc[4]
    assert row["usable"] and row["stable"] and row["stability"] > 0.95


def test_a_tiny_cluster_is_no_segment_to_act_on():
    # three big groups and one far-off group of 2%: four clusters fit best, but the fourth is too small
    matrix = _blobs([400, 300, 280, 20], [(0, 0), (5, 0), (0, 5), (8, 8)])
    choice = clustering.choose_k(matrix, 2, 6, sample_size=2000)
    table = choice.table.set_index("k")
    assert table.loc[4, "silhouette"] > table.loc[3, "silhouette"]  # the silhouette alone would take 4
    assert not table.loc[4, "usable"] and table.loc[4, "smallest_share"] < 0.05
    assert choice.k == 3 and table.loc[3, "usable"]


def test_data_without_more_structure_say_so():
    # two clear groups and nothing else: every split into 3+ cuts a group at random (unstable)
    matrix = _blobs([500, 500], [(0, 0), (8, 0)], spread=1.0)
    choice = clustering.choose_k(matrix, 2, 6, sample_size=2000, min_stability=0.95)
    if choice.k == 2:
        assert "no more structure" in choice.reason
    else:  # a k >= 3 passed: then it is usable and stable by the rule
        row = choice.table.set_index("k").loc[choice.k]
        assert row["usable"] and row["stability"] >= 0.95


def test_a_fixed_k_still_wins_and_the_crosstab_counts_every_customer():
    matrix = _blobs([200, 200], [(0, 0), (6, 0)])
    assert clustering.choose_k(matrix, 2, 5, sample_size=500, fixed_k=5).k == 5
    assignments = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "cluster_name": ["x", "x", "y", "y"]})
    other = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"], "rfm_segment": ["Champions", "Lost", "Lost",
                                                                                  "Lost", "Lost"]})
    table = cluster_views.crosstab(assignments, other, "rfm_segment", order=["Lost", "Champions"])
    assert list(table.columns) == ["Lost", "Champions"] and table.to_numpy().sum() == 4
    assert table.loc["x"].tolist() == [1, 1] and table.loc["y"].tolist() == [2, 0]
    assert cluster_views.crosstab_reading(table, "RFM segments").startswith('Per cluster: "x": 2 RFM segments')
