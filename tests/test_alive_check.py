"""P(alive) with evidence: its AUC for buying again in the holdout window, the probability of a purchase
in a window given the history (against lifetimes, quadrature and a simulation of the model's story), the
calibration table and its chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.integrate import quad
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score

from helpers.clv import alive_check, diagnostics
from helpers.clv.models.beta_geo import BetaGeo, ModifiedBetaGeo
from helpers.clv.models.pareto import ParetoNBD
from helpers.reporting.plots import cltv as plots

# the published CDNOW estimates (BG/NBD: Fader, Hardie and Lee 2005; Pareto/NBD: Fader and Hardie 2005);
# MBG/NBD near its fit on the same data (the simulations only need plausible parameters)
BGNBD = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
MBGNBD = ModifiedBetaGeo.from_params({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614})
PARETO = ParetoNBD.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})


@pytest.fixture(scope="module")
def cdnow_check(cdnow_sample_calibration):
    """The holdout check on lifetimes' CDNOW calibration / holdout split (39 + 39 weeks)."""
    holdout = cdnow_sample_calibration
    metrics, fits = diagnostics.holdout_metrics(holdout)
    return holdout, metrics, fits


def _columns(holdout: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(holdout[c].to_numpy(dtype="float64") for c in ("frequency_cal", "recency_cal", "T_cal",
                                                                 "frequency_holdout"))


# ---------------------------------------------------------------------------------------------- AUC
def test_alive_auc_on_cdnow_matches_the_issue_and_a_direct_computation(cdnow_check):
    holdout, metrics, fits = cdnow_check
    x, t_x, T, holdout_purchases = _columns(holdout)
    bought = holdout_purchases > 0
    assert set(fits) == {"bgnbd", "pareto", "mbgnbd"}
    for name, fit in fits.items():
        # the AUC by scikit-learn and by the Mann-Whitney U (ties count half) on the model's P(alive)
        p_alive = fit.probability_alive(x, t_x, T)
        direct = roc_auc_score(bought, p_alive)
        u = mannwhitneyu(p_alive[bought], p_alive[~bought]).statistic
        assert metrics.loc[name, "alive_auc"] == pytest.approx(direct, abs=1e-12)
        assert direct == pytest.approx(u / (bought.sum() * (~bought).sum()), abs=1e-12)
        # ... which is lifetimes' P(alive) except a hair before T for the 13 customers whose last purchase
        # fell on the calibration's last day: that can only reorder a few (nearly) tied pairs
        reference = np.clip(fit.to_lifetimes().conditional_probability_alive(x, t_x, T), 0, 1)
        np.testing.assert_allclose(p_alive, reference, atol=1e-8)
        assert roc_auc_score(bought, reference) == pytest.approx(direct, abs=1e-4)
        repeat = x > 0
        assert metrics.loc[name, "alive_auc_repeat_buyers"] == pytest.approx(
            roc_auc_score(bought[repeat], p_alive[repeat]), abs=1e-9)
        assert metrics.loc[name, "one_time_p_alive"] == pytest.approx(p_alive[~repeat].mean(), abs=1e-9)
    # the issue's figures: BG/NBD worse than a coin toss (about 0.32), MBG/NBD about 0.69
    assert metrics.loc["bgnbd", "alive_auc"] == pytest.approx(0.32, abs=0.01)
    assert metrics.loc["mbgnbd", "alive_auc"] == pytest.approx(0.69, abs=0.01)
    # why BG/NBD is below one half: every one-time buyer at P(alive) = 1; among repeat buyers it ranks well
    assert metrics.loc["bgnbd", "one_time_p_alive"] == 1.0
    assert metrics.loc["bgnbd", "alive_auc_repeat_buyers"] > 0.6
    # the holdout table shows it beside the errors
    table = diagnostics.holdout_table(metrics, "mbgnbd")
    assert table.loc["BG/NBD", "AUC of P(alive)"] == metrics.loc["bgnbd", "alive_auc"]
    # and the expectation it still computes is lifetimes' conditional expectation
    for name, fit in fits.items():
        expected = fit.to_lifetimes().conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T)
        assert metrics.loc[name, "predicted_total"] == pytest.approx(float(np.nansum(expected)), rel=1e-6)


def test_alive_auc_equals_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(100):
        n = int(rng.integers(2, 400))
        scores = np.round(rng.random(n), int(rng.integers(0, 3)))  # 0 to 2 decimals: many ties
        bought = rng.random(n) < rng.random()
        if bought.all() or not bought.any():
            continue
        assert alive_check.alive_auc(scores, bought) == pytest.approx(roc_auc_score(bought, scores), abs=1e-12)


def test_alive_auc_is_nan_without_both_outcomes():
    assert np.isnan(alive_check.alive_auc([0.2, 0.9], [True, True]))
    assert np.isnan(alive_check.alive_auc([0.2, 0.9], [False, False]))
    assert np.isnan(alive_check.alive_auc([], []))
    assert alive_check.alive_auc([0.1, 0.5, 0.5, 0.9], [False, True, False, True]) == pytest.approx(0.875)


def test_alive_auc_reading_says_plainly_what_bgnbd_does(cdnow_check):
    holdout, metrics, _ = cdnow_check
    reading = alive_check.alive_auc_reading(metrics, holdout, "mbgnbd")
    one_time = int((holdout["frequency_cal"] == 0).sum())
    assert f"MBG/NBD (the model used) {metrics.loc['mbgnbd', 'alive_auc']:.2f}" in reading
    assert reading.index("MBG/NBD (the model used)") < reading.index("BG/NBD 0.")  # the model used first
    assert "BG/NBD gives every customer who bought only once P(alive) = 100%" in reading
    assert f"these {one_time:,} customers" in reading and "worse than a coin toss" in reading
    assert "Pareto/NBD gives every" not in reading and "MBG/NBD gives every" not in reading
    empty = alive_check.alive_auc_reading(pd.DataFrame(), holdout, "bgnbd")
    assert "could not be checked" in empty


# ---------------------------------------------------------------------------------------------- P(a purchase in t)
def _simulate_histories(model, T: np.ndarray, t: float, seed: int) -> tuple[np.ndarray, ...]:
    """Customers drawn from the model's story, purchase by purchase, over their age T and a window t after
    it: (frequency, recency, T) at T, and whether they bought in the window. Independent of the formulas."""
    rng = np.random.default_rng(seed)
    n = len(T)
    rate = np.maximum(rng.gamma(model.params_["r"], 1.0 / model.params_["alpha"], n), 1e-300)
    pareto = isinstance(model, ParetoNBD)
    if pareto:  # an exponential lifetime of rate mu ~ Gamma(s, beta)
        death = rng.exponential(1.0 / rng.gamma(model.params_["s"], 1.0 / model.params_["beta"], n))
    else:  # leaves right after a repeat purchase with probability p (MBG/NBD: at the first purchase too)
        p = rng.beta(model.params_["a"], model.params_["b"], n)
        death = np.full(n, np.inf)
        if isinstance(model, ModifiedBetaGeo):
            death[rng.random(n) < p] = 0.0
    x, t_x, clock, bought = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    active = np.flatnonzero(death > 0)
    while active.size:
        clock[active] += rng.exponential(1.0 / rate[active])
        purchase = (clock[active] < death[active]) & (clock[active] <= T[active] + t)
        in_calibration = purchase & (clock[active] <= T[active])
        bought[active[purchase & ~in_calibration]] = True
        repeat = active[in_calibration]
        x[repeat] += 1
        t_x[repeat] = clock[repeat]
        if not pareto:
            leaves = repeat[rng.random(repeat.size) < p[repeat]]
            death[leaves] = clock[leaves]
        active = repeat[death[repeat] > clock[repeat]]
    return x, t_x, T, bought


@pytest.mark.parametrize("model", [BGNBD, MBGNBD, PARETO], ids=lambda m: m.name)
def test_purchase_probability_matches_a_simulation_of_the_model(model):
    """Under the model, the share of customers with a given kind of history who buy in the window is the
    mean of their probability: checked by frequency and by recency, within sampling error."""
    rng = np.random.default_rng(5)
    T = rng.uniform(10.0, 60.0, 200_000)
    x, t_x, T, bought = _simulate_histories(model, T, 39.0, seed=6)
    probability = alive_check.purchase_probability(model, 39.0, x, t_x, T)
    alive = model.probability_alive(x, t_x, T)
    assert (probability <= alive + 1e-12).all() and (probability >= 0).all()
    late = t_x > 0.6 * T
    groups = {"no repeat": x == 0, "one repeat": x == 1, "2-3": (x >= 2) & (x <= 3), "4+": x >= 4,
              "repeat, recent": (x > 0) & late, "repeat, long ago": (x > 0) & ~late}
    for label, group in groups.items():
        assert group.sum() > 2000, label
        mean = probability[group].mean()
        standard_error = np.sqrt(mean * (1 - mean) / group.sum())
        assert abs(bought[group].mean() - mean) < 4 * standard_error, label
    if isinstance(model, ParetoNBD):
        # the test has the power to see the Pareto/NBD dropout before the next purchase: the BG formula
        # (every active customer buys once the rate says so) misses the one-time buyers by far
        naive = alive * -np.expm1(-(model.params_["r"] + x) * np.log1p(39.0 / (model.params_["alpha"] + T)))
        group = x == 0
        standard_error = np.sqrt(bought[group].mean() * (1 - bought[group].mean()) / group.sum())
        assert abs(naive[group].mean() - bought[group].mean()) > 8 * standard_error


def test_pareto_purchase_probability_equals_lifetimes_and_quadrature():
    x = np.array([0.0, 1, 2, 5, 10, 30, 200, 3])
    t_x = np.array([0.0, 5, 30, 20, 35, 38, 38.5, 1])
    T = np.array([39.0, 39, 39, 39, 39, 39, 39, 2])
    lifetimes_fitter = PARETO.to_lifetimes()
    reference = np.array([1 - lifetimes_fitter.conditional_probability_of_n_purchases_up_to_time(0, 39.0, *row)
                          for row in zip(x, t_x, T, strict=True)])
    np.testing.assert_allclose(alive_check.purchase_probability(PARETO, 39.0, x, t_x, T), reference, atol=1e-12)
    r, alpha, s, beta = (PARETO.params_[k] for k in ("r", "alpha", "s", "beta"))
    if_alive = alive_check.purchase_probability_if_alive(PARETO, 39.0, x, T)
    for k in range(len(x)):
        scale, shape, life = alpha + T[k], r + x[k], beta + T[k]
        integral = quad(lambda u: (life / (life + u)) ** s * shape / scale * (1 + u / scale) ** -(shape + 1),  # noqa: B023
                        0, 39.0, epsabs=1e-14, epsrel=1e-13)[0]
        assert if_alive[k] == pytest.approx(integral, abs=1e-12)


def test_purchase_probability_limits():
    x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 20.0]), np.array([39.0, 39.0])
    for model in (BGNBD, MBGNBD, PARETO):
        np.testing.assert_array_equal(alive_check.purchase_probability(model, 0.0, x, t_x, T), [0.0, 0.0])
        short, long = (alive_check.purchase_probability(model, t, x, t_x, T) for t in (1.0, 52.0))
        assert (short < long).all()
    # BG/NBD: an active customer buys for sure some day; Pareto/NBD: only if the lifetime lasts
    assert alive_check.purchase_probability_if_alive(BGNBD, 1e30, 0.0, 39.0) == pytest.approx(1.0)
    assert alive_check.purchase_probability_if_alive(PARETO, 1e30, 0.0, 39.0) < 0.95
    with pytest.raises(TypeError, match="no purchase probability"):
        alive_check.purchase_probability_if_alive(object(), 1.0, 0.0, 1.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- calibration table
def test_alive_calibration_table_adds_up(cdnow_check):
    holdout, _, fits = cdnow_check
    x, t_x, T, holdout_purchases = _columns(holdout)
    for fit in fits.values():
        table = alive_check.alive_calibration(holdout, fit, bins=10)
        assert table["customers"].sum() == len(holdout) == 2357
        assert set(table.index) <= {f"{10 * k}-{10 * (k + 1)}%" for k in range(10)}
        lows = np.array([float(label.split("-")[0]) / 100 for label in table.index])
        assert ((table["p_alive"] >= lows) & (table["p_alive"] <= lows + 0.1)).all()
        buyers = (table["actual_share"] * table["customers"]).sum()
        assert buyers == pytest.approx(int((holdout_purchases > 0).sum()))
        expected = alive_check.purchase_probability(fit, 39.0, x, t_x, T).sum()
        assert (table["expected_share"] * table["customers"]).sum() == pytest.approx(expected, rel=1e-12)
        assert (table["expected_share"] <= table["p_alive"] + 1e-12).all()
    bg = alive_check.alive_calibration(holdout, fits["bgnbd"])
    assert bg.loc["90-100%", "customers"] >= int((holdout["frequency_cal"] == 0).sum())
    reading = alive_check.alive_calibration_reading(bg)
    assert f"{int((holdout_purchases > 0).sum()):,} did" in reading and "2,357 customers" in reading


def test_alive_calibration_departures_ignore_small_bins():
    table = pd.DataFrame(
        {"customers": [3, 2000, 500], "p_alive": [0.05, 0.45, 0.85], "expected_share": [0.05, 0.15, 0.80],
         "actual_share": [1 / 3, 0.25, 0.81]},
        index=pd.Index(["0-10%", "40-50%", "80-90%"], name="P(alive)"),
    )
    words = alive_check.alive_calibration_departures(table)
    assert "2,000 customers with P(alive) 40-50%, 25% bought again" in words and "0-10%" not in words
    assert "80-90%" not in words and "came back" not in words
    assert alive_check.alive_calibration_departures(table.iloc[[0, 2]]) == ""
    table.loc["0-10%", "customers"] = 30  # the same share of ten times the customers is a finding
    assert "of the 30 customers with P(alive) 0-10%, 33% bought again where the model expected 5%, more than " \
           "their P(alive) (5%)" in alive_check.alive_calibration_departures(table)


def test_alive_calibration_chart_draws_the_given_texts(cdnow_check):
    import matplotlib.pyplot as plt

    holdout, _, fits = cdnow_check
    table = alive_check.alive_calibration(holdout, fits["mbgnbd"])
    texts = {"title": "P(alive)\n" + alive_check.alive_calibration_reading(table), "xlabel": "x label",
             "ylabel": "y label", "legend": ["gekauft", "erwartet", "P(alive) selbst"]}
    figure = plots.alive_calibration_chart(table, **texts)
    axis = figure.axes[0]
    assert isinstance(figure, Figure) and axis.get_title(loc="left") == texts["title"]
    assert (axis.get_xlabel(), axis.get_ylabel()) == ("x label", "y label")
    assert [t.get_text() for t in axis.get_legend().get_texts()] == texts["legend"]
    # one sized marker per bin, its customers written beside it; percent axes
    offsets = axis.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 1], table["actual_share"])
    assert [t.get_text() for t in axis.texts] == [f"{n}" for n in table["customers"]]
    assert axis.xaxis.get_major_formatter()(0.5, 0).endswith("%")
    shared, (left, right) = plt.subplots(1, 2)
    plt.close(shared)
    assert plots.alive_calibration_chart(table, ax=right, **texts) is shared
    assert right.get_title(loc="left") == texts["title"] and not left.has_data()
