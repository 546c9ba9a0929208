"""BTYD models against the published CDNOW results (Fader, Hardie and Lee 2005) and lifetimes itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

from helpers.clv import inputs, lifetimes_bridge, valuation
from helpers.clv.fitting import bg_family
from helpers.clv.fitting import gamma_gamma as gamma_gamma_fitting
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models import robust_fit
from helpers.clv.models.base import Estimate, NotFittedError, PurchaseModel
from helpers.clv.models.beta_geo import BetaGeo, ModifiedBetaGeo
from helpers.clv.models.gamma_gamma import GammaGamma
from helpers.clv.models.pareto import ParetoNBD
from helpers.clv.models.robust_fit import PENALIZERS, PURCHASE_MODELS

PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cal(cdnow_sample_calibration) -> pd.DataFrame:
    return cdnow_sample_calibration


@pytest.fixture(scope="module")
def frt(cal):
    return tuple(cal[c].to_numpy(dtype="float64") for c in ("frequency_cal", "recency_cal", "T_cal"))


@pytest.fixture(scope="module")
def bg(frt) -> BetaGeo:
    return BetaGeo().fit(*frt)


@pytest.fixture(scope="module")
def gg(cal) -> GammaGamma:
    return robust_fit.fit_gamma_gamma(cal["frequency_cal"].to_numpy(), cal["monetary_value_cal"].to_numpy())


def _rounded(params: dict[str, float], published: dict[str, float]) -> dict[str, float]:
    decimals = {k: len(repr(v).split(".")[1]) for k, v in published.items()}
    return {k: round(params[k], decimals[k]) for k in published}


def test_cdnow_sample_shape(cal):
    assert len(cal) == 2357
    assert (cal["frequency_cal"] > 0).sum() == 946
    assert cal["T_cal"].max() == pytest.approx(272 / 7)  # 1997-01-01 .. 1997-09-30 in weeks


def test_bgnbd_matches_published_cdnow(bg):
    assert _rounded(bg.params_, PUBLISHED_BG) == PUBLISHED_BG
    assert round(bg.log_likelihood_, 1) == -9582.4
    assert bg.n_customers_ == 2357 and bg.n_unique_rows_ < bg.n_customers_


def test_log_likelihood_at_published_parameters(frt):
    assert BetaGeo.from_params(PUBLISHED_BG).log_likelihood(*frt) == pytest.approx(-9582.4, abs=0.1)


def test_pareto_matches_published_cdnow(frt):
    fit = ParetoNBD().fit(*frt)
    assert _rounded(fit.params_, PUBLISHED_PARETO) == PUBLISHED_PARETO
    # Fader, Hardie and Lee (2005a), table 1: Pareto/NBD LL -9595.0
    assert round(fit.log_likelihood_, 1) == -9595.0


def test_gamma_gamma_matches_published_cdnow(gg):
    assert _rounded(gg.params_, PUBLISHED_GG) == PUBLISHED_GG
    assert gg.n_customers_ == 946
    assert "946 repeat buyers" in gg.notes_[0]


@pytest.mark.parametrize(
    ("name", "cls", "log_params"),
    [("bgnbd", BetaGeoFitter, True), ("mbgnbd", ModifiedBetaGeoFitter, True), ("pareto", ParetoNBDFitter, False)],
)
def test_log_likelihood_equals_lifetimes_objective_on_unscaled_data(frt, name, cls, log_params):
    params = {"bgnbd": PUBLISHED_BG, "mbgnbd": PUBLISHED_BG, "pareto": PUBLISHED_PARETO}[name]
    values = np.array(list(params.values()))
    x, t_x, T = frt
    ones = np.ones_like(x)
    nll = cls._negative_log_likelihood(np.log(values) if log_params else values, x, t_x, T, ones, 0.0)
    total = float(nll) * (len(x) if log_params else 1.0)  # BG/MBG divide by the weight sum, Pareto by its mean
    assert PURCHASE_MODELS[name].from_params(params).log_likelihood(x, t_x, T) == pytest.approx(-total, rel=1e-10)


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "pareto"])
def test_weighted_fit_equals_plain_fit(frt, name):
    compressed = PURCHASE_MODELS[name](compress=True).fit(*frt)
    plain = PURCHASE_MODELS[name](compress=False).fit(*frt)
    for key, value in plain.params_.items():
        assert compressed.params_[key] == pytest.approx(value, rel=1e-6)
    assert compressed.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-9)
    assert compressed.n_unique_rows_ < plain.n_unique_rows_ == 2357


def test_weighted_gamma_gamma_equals_plain(cal, gg):
    plain = robust_fit.fit_gamma_gamma(cal["frequency_cal"], cal["monetary_value_cal"], compress=False)
    for key, value in plain.params_.items():
        assert gg.params_[key] == pytest.approx(value, rel=1e-6)


def test_compress_rows_round_trip():
    x = np.array([0, 1, 0, 1, 2.0])
    r = np.array([0, 3, 0, 3, 4.0])
    (ux, ur), weights, inverse = inputs.compress_rows(x, r)
    assert len(ux) == 3 and weights.sum() == 5
    np.testing.assert_array_equal(ux[inverse], x)
    np.testing.assert_array_equal(ur[inverse], r)


@pytest.mark.parametrize("levels", [5, 3000], ids=["counted-in-a-table", "sorted-keys"])
def test_compress_rows_equals_numpy_unique_rows(levels):
    """Both ways of finding the distinct rows (a table of the few possible combinations, or sorting the
    keys when there are many) give numpy's unique rows, in the same lexicographic order."""
    rng = np.random.default_rng(3)
    columns = [rng.integers(0, levels, 5000) / 7.0 for _ in range(3)]
    (u0, u1, u2), weights, inverse = inputs.compress_rows(*columns)
    unique, reference_inverse, counts = np.unique(
        np.column_stack(columns), axis=0, return_inverse=True, return_counts=True
    )
    np.testing.assert_array_equal(np.column_stack([u0, u1, u2]), unique)
    np.testing.assert_array_equal(weights, counts)
    np.testing.assert_array_equal(inverse, reference_inverse.reshape(-1))
    columns[1][:10] = np.nan  # missing values form one level of their own and come back as they were
    (u0, u1, u2), _, inverse = inputs.compress_rows(*columns)
    np.testing.assert_array_equal(u1[inverse], columns[1])


# ---------------------------------------------------------------------------------------------- robustness
def _always_fails(self, *args, **kwargs):
    raise ConvergenceError("The model did not converge. Try adding a larger penalizer.")


class _AlwaysFailingBetaGeo(BetaGeo):
    _estimate = _always_fails


class _AlwaysFailingModifiedBetaGeo(ModifiedBetaGeo):
    _estimate = _always_fails


class _BetaGeoFailingWithoutPenalizer(BetaGeo):
    def _estimate(self, *args, **kwargs):
        if self.penalizer == 0:
            raise ConvergenceError("mock: no convergence")
        return super()._estimate(*args, **kwargs)


def test_convergence_error_falls_back_to_next_model_and_says_why(frt, monkeypatch):
    monkeypatch.setitem(PURCHASE_MODELS, "bgnbd", _AlwaysFailingBetaGeo)
    result = robust_fit.fit_purchase_model(*frt, model="bgnbd")
    assert result.name == "pareto"
    assert result.penalizer == 0.0
    failed = [n for n in result.notes_ if n.startswith("BG/NBD with penalizer")]
    assert len(failed) == len(PENALIZERS) == 4
    assert "Fell back from BG/NBD to Pareto/NBD" in result.notes_[-1]
    assert _rounded(result.params_, PUBLISHED_PARETO) == PUBLISHED_PARETO


def test_convergence_error_retries_with_penalizer(frt, monkeypatch):
    monkeypatch.setitem(PURCHASE_MODELS, "bgnbd", _BetaGeoFailingWithoutPenalizer)
    result = robust_fit.fit_purchase_model(*frt, model="bgnbd")
    assert result.name == "bgnbd"
    assert result.penalizer == 0.001
    assert any("penalizer 0 did not converge" in n for n in result.notes_)
    assert any("converged with penalizer 0.001" in n for n in result.notes_)


def test_no_fallback_raises_naming_attempts(frt, monkeypatch):
    monkeypatch.setitem(PURCHASE_MODELS, "mbgnbd", _AlwaysFailingModifiedBetaGeo)
    with pytest.raises(ConvergenceError, match="MBG/NBD with penalizer 0.1 did not converge"):
        robust_fit.fit_purchase_model(*frt, model="mbgnbd", fallback=False)


def test_gamma_gamma_failure_raises(cal, monkeypatch):
    monkeypatch.setattr(GammaGamma, "_estimate", _always_fails)
    with pytest.raises(ConvergenceError, match="Gamma-Gamma did not converge"):
        robust_fit.fit_gamma_gamma(cal["frequency_cal"], cal["monetary_value_cal"])


def test_gamma_gamma_excludes_nonpositive_spend():
    x = np.array([0, 1, 2, 3, 1, 2, 4, 2.0])
    m = np.array([0, 10, 12, -5, 0, 30, 25, 18.0])
    fit = robust_fit.fit_gamma_gamma(x, m)
    assert fit.n_customers_ == 5
    assert "excluded 1 without repeat purchase and 2 with zero/negative spend" in fit.notes_[0]


def test_unknown_model_is_refused(frt):
    with pytest.raises(ValueError, match="unknown purchase model"):
        robust_fit.fit_purchase_model(*frt, model="bgbb")


def test_the_setting_names_each_purchase_model_in_fallback_order():
    assert list(PURCHASE_MODELS) == ["bgnbd", "pareto", "mbgnbd"]
    for name, cls in PURCHASE_MODELS.items():
        assert robust_fit.purchase_model(name) is cls and cls.name == name and issubclass(cls, PurchaseModel)


# ---------------------------------------------------------------------------------------------- estimators
@pytest.mark.parametrize("model", [BetaGeo(), ParetoNBD(), ModifiedBetaGeo(), GammaGamma()], ids=repr)
def test_an_unfitted_model_says_to_call_fit_first(model):
    """Nothing that only a fit gives is there before it: parameters, predictions and fit statistics
    raise NotFittedError (a ValueError and an AttributeError, so hasattr says False) naming fit."""
    assert not hasattr(model, "params_")
    for attribute in ("params_", "log_likelihood_", "n_customers_", "notes_"):
        with pytest.raises(NotFittedError, match=r"not fitted yet: call fit\(frequency, "):
            getattr(model, attribute)
    with pytest.raises(NotFittedError, match="call fit"):
        if isinstance(model, GammaGamma):
            model.expected_average_spend([1.0], [10.0])
        else:
            model.probability_alive([1.0], [2.0], [5.0])
    with pytest.raises(AttributeError, match="no attribute 'spelled_wrong'"):
        model.spelled_wrong  # noqa: B018 - an ordinary missing attribute stays an ordinary AttributeError


def test_fit_returns_the_fitted_model_and_a_failed_check_leaves_it_unfitted(frt, monkeypatch):
    model = BetaGeo()
    assert model.fit(*frt) is model and model.params_ == BetaGeo().fit(*frt).params_
    assert "[fitted]" in repr(model) and "not fitted" in repr(BetaGeo())
    runaway = {"r": 2.275e7, "alpha": 9.671e7, "a": 0.5386, "b": 19.57}  # seen on the agency data
    monkeypatch.setattr(ModifiedBetaGeo, "_estimate", lambda self, x, *_: Estimate(runaway, -1.0, len(x)))
    fresh = ModifiedBetaGeo()
    with pytest.raises(ConvergenceError, match="non-finite predictions"):
        fresh.fit(*frt)
    assert not hasattr(fresh, "params_")


_BAD_HISTORIES = {
    "recency-after-T": (([1, 2], [3.0, 1.0], [2.0, 5.0]), "recency is larger than T for 1 customer:"),
    "recency-without-repeat": (([0, 2], [1.0, 1.0], [2.0, 5.0]), "non-zero recency for 1 customer without"),
    "negative-recency": (([1, 2], [-1.0, 1.0], [2.0, 5.0]), "negative recency for 1 customer"),
    "negative-frequency": (([-1, 2], [0.0, 1.0], [2.0, 5.0]), "negative frequency for 1 customer"),
    "negative-age": (([0, 2], [0.0, 0.0], [-1.0, 5.0]), "negative T for 1 customer"),
    "every-age-zero": (([0, 0], [0.0, 0.0], [0.0, 0.0]), "every customer has T = 0"),
    "missing": (([1, np.nan], [1.0, 1.0], [2.0, 5.0]), "must be finite"),
    "lengths": (([1, 2], [1.0], [2.0, 5.0]), "must have the same length"),
    "empty": (([], [], []), "no customers to fit"),
}


@pytest.mark.parametrize(("history", "message"), _BAD_HISTORIES.values(), ids=_BAD_HISTORIES.keys())
def test_one_input_check_gives_every_model_the_same_message(history, message):
    """frequency/recency/T are checked once (helpers.clv.inputs): every purchase model, plain or
    compressed, and the fast fitter refuse the same history with the same sentence."""
    fits = [cls(compress=compress).fit for cls in PURCHASE_MODELS.values() for compress in (True, False)]
    for fit in [*fits, bg_family.fit_bgnbd, bg_family.fit_mbgnbd]:
        with pytest.raises(ValueError, match=message):
            fit(*history)
    with pytest.raises(ValueError, match=message):
        inputs.check_purchase_history(*history)


@pytest.mark.parametrize("name", list(PURCHASE_MODELS))
def test_a_customer_first_seen_on_the_cut_off_day_is_an_ordinary_customer(frt, name):
    """T = 0 (first purchase on the last day of the window, so frequency = recency = 0): every model's
    likelihood of that history is 1, so adding such customers leaves the fit where it was, and they are
    valued like a new customer, as by lifetimes (the reference) on the same data."""
    x, t_x, T = frt
    newcomers = 25
    x0, t0, T0 = (np.concatenate([column, np.zeros(newcomers)]) for column in (x, t_x, T))
    cls = PURCHASE_MODELS[name]
    plain, with_new = cls().fit(x, t_x, T), cls().fit(x0, t0, T0)
    assert with_new.log_likelihood(x0, t0, T0) == pytest.approx(plain.log_likelihood(x, t_x, T), rel=1e-9)
    for key, value in plain.params_.items():
        assert with_new.params_[key] == pytest.approx(value, rel=1e-3), key
    reference = lifetimes_bridge.with_params(with_new.lifetimes_fitter, with_new.param_names, with_new.params_)
    zero = np.zeros(1)
    np.testing.assert_allclose(
        with_new.probability_alive(zero, zero, zero), reference.conditional_probability_alive(zero, zero, zero)
    )
    np.testing.assert_allclose(
        with_new.expected_purchases(52.0, zero, zero, zero),
        reference.conditional_expected_number_of_purchases_up_to_time(52.0, zero, zero, zero),
        rtol=1e-6,
    )
    assert with_new.expected_purchases(52.0, zero, zero, zero)[0] > 0


def test_a_month_whose_customers_all_start_on_its_last_day_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="no purchase history to learn from yet"):
        BetaGeo().fit([0, 0], [0.0, 0.0], [0.0, 0.0])


_BAD_SPEND = {
    "no-repeat-purchase": (([0, 2], [10.0, 5.0]), "Gamma-Gamma needs frequency > 0"),
    "refund": (([1, 2], [0.0, 5.0]), "non-positive monetary_value for 1 customer"),
    "fraction": (([1.5, 2], [3.0, 5.0]), "frequency is not a whole number for 1 customer"),
    "missing": (([1, 2], [np.nan, 5.0]), "must be finite"),
}


@pytest.mark.parametrize(("history", "message"), _BAD_SPEND.values(), ids=_BAD_SPEND.keys())
def test_one_spend_check_for_gamma_gamma_and_its_fast_fitter(history, message):
    for fit in (GammaGamma().fit, GammaGamma(compress=False).fit, gamma_gamma_fitting.fit_gamma_gamma):
        with pytest.raises(ValueError, match=message):
            fit(*history)


# ---------------------------------------------------------------------------------------------- predictions
def test_predictions_equal_lifetimes(frt, bg):
    x, t_x, T = frt
    ref = BetaGeoFitter().fit(x, t_x, T)
    np.testing.assert_allclose(
        bg.expected_purchases(39.0, x, t_x, T),
        ref.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T),
        rtol=1e-6,
        atol=1e-12,  # customers expected to buy ~1e-10 times differ by float noise only
    )
    p_alive = bg.probability_alive(x, t_x, T)
    np.testing.assert_allclose(p_alive, ref.conditional_probability_alive(x, t_x, T), rtol=1e-6, atol=1e-12)
    assert ((p_alive >= 0) & (p_alive <= 1)).all()
    assert (p_alive[x == 0] == 1.0).all()  # BG/NBD: no repeat purchase -> cannot have died yet


_MODEL_PARAMS = {
    "bgnbd": PUBLISHED_BG,
    "mbgnbd": {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0},
    "pareto": PUBLISHED_PARETO,
}
_LIFETIMES = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter, "pareto": ParetoNBDFitter}


def _lifetimes_model(name: str):
    model = _LIFETIMES[name]()
    model.params_ = pd.Series(_MODEL_PARAMS[name])
    return model


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "pareto"])
def test_factored_expectation_equals_lifetimes_for_every_customer(frt, name):
    """expected_purchases = P(alive) x purchases_if_alive (on distinct (frequency, T)) is lifetimes'
    conditional expectation to float noise, on the CDNOW customers and a synthetic base with long
    histories. Customers whose last purchase is on the observation end are evaluated a hair earlier
    (lifetimes' Pareto/NBD gives NaN there): they agree to that hair."""
    rng = np.random.default_rng(5)
    T = rng.uniform(0.5, 120, 4000).round(1)
    x = rng.poisson(6, 4000).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 0.99, 4000) * T, 0.0).round(1)
    fit = PURCHASE_MODELS[name].from_params(_MODEL_PARAMS[name])
    reference = _lifetimes_model(name)
    for frequency, recency, age in (frt, (x, t_x, T)):
        inside = ~((frequency > 0) & (recency >= age))
        for t in (1.0, 39.0, 260.0):
            ours = fit.expected_purchases(t, frequency, recency, age)
            theirs = reference.conditional_expected_number_of_purchases_up_to_time(
                t, frequency[inside], recency[inside], age[inside]
            )
            np.testing.assert_allclose(ours[inside], theirs, rtol=1e-12, atol=1e-300)
            if name != "pareto":
                np.testing.assert_allclose(
                    ours, reference.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, age),
                    rtol=1e-8,
                )
    # broadcasting over horizons (the months of the CLTV) gives the same numbers as one horizon at a time
    grid = fit.purchases_if_alive(np.array([[4.0], [8.0]]), x[None, :50], T[None, :50])
    np.testing.assert_array_equal(grid[1], fit.purchases_if_alive(8.0, x[:50], T[:50]))


def test_vectorised_cltv_equals_lifetimes_reference_mbgnbd(frt, cal, gg):
    x, t_x, T = frt
    mbg = ModifiedBetaGeo.from_params(_MODEL_PARAMS["mbgnbd"])
    m = cal["monetary_value_cal"].to_numpy()
    spend = gg.expected_average_spend(x, m)
    ours = valuation.discounted_cltv(mbg, x, t_x, T, spend, 12, monthly_discount_rate=0.01, periods_per_month_=4.345)
    reference = lifetimes_bridge.reference_cltv(mbg, gg, x, t_x, T, m, time=12, monthly_discount_rate=0.01)
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------------------------- distribution
_AGES = np.array([0.0, 1.0, 10.0, 39.0, 78.0, 300.0])


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd"])
def test_repeat_purchase_probabilities_equal_lifetimes(name):
    fit = PURCHASE_MODELS[name].from_params(_MODEL_PARAMS[name])
    probabilities = fit.repeat_purchase_probabilities(_AGES, 8)
    reference = _lifetimes_model(name)
    expected = [[reference.probability_of_n_purchases_up_to_time(t, n) for n in range(8)] for t in _AGES]
    np.testing.assert_allclose(probabilities[:, :8], expected, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


PARETO_CASES = {
    "published": PUBLISHED_PARETO,
    "agency": {"r": 294.8, "alpha": 1297.2, "s": 0.84, "beta": 143.2},
    "early-dropouts": {"r": 1.5, "alpha": 2.0, "s": 0.1, "beta": 0.3},
    "long-lived": {"r": 0.3, "alpha": 50.0, "s": 5.0, "beta": 500.0},
}


@pytest.mark.parametrize("params", PARETO_CASES.values(), ids=PARETO_CASES.keys())
def test_pareto_repeat_purchase_probabilities_equal_adaptive_quadrature(params):
    """P(X(t) = n) = P(tau > t) NB(n; t) + integral over the lifetime tau < t of NB(n; tau), with the
    integral done by scipy's adaptive quadrature in the lifetime itself (not the variable we integrate in)."""
    from scipy import integrate
    from scipy.stats import nbinom

    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    fit = ParetoNBD.from_params(params)
    probabilities = fit.repeat_purchase_probabilities(_AGES, 5)

    def reference(t: float, n: int) -> float:
        def negbin(u: float) -> float:
            return nbinom.pmf(n, r, alpha / (alpha + u))

        def density(u: float) -> float:
            return s * beta**s / (beta + u) ** (s + 1)

        inside, _ = integrate.quad(lambda u: density(u) * negbin(u), 0, t, epsabs=1e-14, epsrel=1e-12, limit=500)
        return (beta / (beta + t)) ** s * negbin(t) + inside

    expected = [[reference(t, n) for n in range(5)] for t in _AGES]
    np.testing.assert_allclose(probabilities[:, :5], expected, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "pareto"])
def test_repeat_purchase_distribution_has_the_model_mean(name):
    """E[X(t)] = sum over k >= 1 of P(X(t) >= k): the distribution agrees with lifetimes' expectation."""
    fit = PURCHASE_MODELS[name].from_params(_MODEL_PARAMS[name])
    probabilities = fit.repeat_purchase_probabilities(_AGES, 2000)
    mean = probabilities[:, :-1] @ np.arange(2000) + 2000 * probabilities[:, -1]
    reference = _lifetimes_model(name).expected_number_of_purchases_up_to_time(_AGES)
    np.testing.assert_allclose(mean, reference, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="max_count"):
        fit.repeat_purchase_probabilities(_AGES, 0)


def test_bgnbd_holdout_total_is_close_to_actual(cal, bg):
    x, t_x, T = (cal[c].to_numpy() for c in ("frequency_cal", "recency_cal", "T_cal"))
    predicted = bg.expected_purchases(39.0, x, t_x, T).sum()
    # the well-known underprediction of the CDNOW holdout (about 1,650 predicted vs 1,882 actual)
    assert 1550 < predicted < 1750
    assert cal["frequency_holdout"].sum() == 1882


def test_expected_spend_of_non_repeat_buyer_is_population_mean(gg):
    mean = gg.population_mean()
    assert mean == pytest.approx(gg.params_["p"] * gg.params_["v"] / (gg.params_["q"] - 1))
    spend = gg.expected_average_spend([0, 5, 50], [0.0, 100.0, 100.0])
    assert spend[0] == pytest.approx(mean)
    assert mean < spend[1] < spend[2] < 100.0  # more repeat purchases -> closer to the own mean


def test_vectorised_cltv_equals_lifetimes_reference(cal, bg, gg):
    x, t_x, T, m = (cal[c].to_numpy() for c in ("frequency_cal", "recency_cal", "T_cal", "monetary_value_cal"))
    spend = gg.expected_average_spend(x, m)
    ours = valuation.discounted_cltv(
        bg, x, t_x, T, spend, horizon_months=12, monthly_discount_rate=0.01, periods_per_month_=4.345
    )
    reference = lifetimes_bridge.reference_cltv(bg, gg, x, t_x, T, m, time=12, monthly_discount_rate=0.01)
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)
    assert ours.sum() > 0


def test_vectorised_cltv_equals_lifetimes_reference_pareto(frt, cal, gg):
    x, t_x, T = frt
    pareto = ParetoNBD.from_params(PUBLISHED_PARETO)
    m = cal["monetary_value_cal"].to_numpy()
    spend = gg.expected_average_spend(x, m)
    ours = valuation.discounted_cltv(pareto, x, t_x, T, spend, 6, monthly_discount_rate=0.02, periods_per_month_=4.345)
    reference = lifetimes_bridge.reference_cltv(pareto, gg, x, t_x, T, m, time=6, monthly_discount_rate=0.02)
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)


def test_cltv_scales_with_margin_and_falls_with_discount(frt, bg):
    x, t_x, T = frt
    spend = np.full(len(x), 40.0)
    base = valuation.discounted_cltv(bg, x, t_x, T, spend, discount_rate=0.0)
    np.testing.assert_allclose(valuation.discounted_cltv(bg, x, t_x, T, spend, discount_rate=0.0, margin=0.3), 0.3 * base)
    discounted = valuation.discounted_cltv(bg, x, t_x, T, spend, discount_rate=0.2)
    assert (discounted < base).all()
    # undiscounted CLTV = expected purchases over the whole horizon x spend
    horizon = 12 * inputs.periods_per_month(7)
    np.testing.assert_allclose(base, 40.0 * bg.expected_purchases(horizon, x, t_x, T), rtol=1e-9)
    assert (valuation.discounted_cltv(bg, x, t_x, T, spend, horizon_months=0) == 0).all()


@pytest.mark.parametrize("name", ["bgnbd", "pareto", "mbgnbd"])
def test_predictions_are_finite_when_the_last_purchase_is_on_the_observation_end(name):
    """lifetimes' Pareto/NBD returns NaN for recency == T (log of zero); ours stays finite and continuous."""
    params = {
        "bgnbd": {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4},
        "mbgnbd": {"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6},
        "pareto": {"r": 294.8, "alpha": 1297.2, "s": 0.84, "beta": 143.2},  # fitted on agency data
    }[name]
    fit = PURCHASE_MODELS[name].from_params(params)
    frequency, recency, T = np.array([7.0, 7.0]), np.array([45.0, 45.0 - 1e-6]), np.array([45.0, 45.0])
    expected = fit.expected_purchases(26, frequency, recency, T)
    alive = fit.probability_alive(frequency, recency, T)
    assert np.isfinite(expected).all() and np.isfinite(alive).all()
    np.testing.assert_allclose(expected[0], expected[1], rtol=1e-4)
    np.testing.assert_allclose(alive[0], alive[1], rtol=1e-4)


def test_a_fit_that_runs_off_to_a_limit_is_retried_with_a_penalizer(frt, monkeypatch):
    """On some data MBG/NBD's likelihood keeps rising as r and alpha grow together: the predictions of
    such a fit overflow, so it counts as not converged and the penalizer schedule takes over."""
    real = ModifiedBetaGeo._estimate

    def runaway_without_penalty(self, x, t_x, T, weights):
        if self.penalizer == 0:
            params = {"r": 2.275e7, "alpha": 9.671e7, "a": 0.5386, "b": 19.57}  # seen on the agency data
            return Estimate(params, -1.0, len(x))
        return real(self, x, t_x, T, weights)

    monkeypatch.setattr(ModifiedBetaGeo, "_estimate", runaway_without_penalty)
    x, t_x, T = frt
    result = robust_fit.fit_purchase_model(x, t_x, T, model="mbgnbd")
    assert result.name == "mbgnbd" and result.penalizer == 0.001
    assert "non-finite predictions" in result.notes_[0]
    assert np.isfinite(result.expected_purchases(39.0, x, t_x, T)).all()
