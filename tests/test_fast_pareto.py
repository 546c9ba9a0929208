"""helpers.clv.fitting.pareto_nbd against the published CDNOW results (lifetimes' CDNOW summary), lifetimes'
own fits, objective and P(alive), scipy's hyp2f1 and finite differences; and its use by models.pareto."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifetimes import ParetoNBDFitter
from lifetimes.datasets import load_cdnow_summary
from scipy.special import hyp2f1

from helpers.clv.fitting import pareto_nbd
from helpers.clv.fitting.optimiser import FastFitError
from helpers.clv.inputs import compress_rows
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.pareto import ParetoNBD

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
# parameter sets in both regimes of the hypergeometric term: the series (CDNOW: alpha close to beta) and the
# quadrature near z = 1 (alpha and beta far apart, either way round; large r + x)
REGIMES = {
    "published": PUBLISHED,
    "agency": {"r": 294.8, "alpha": 1297.2, "s": 0.84, "beta": 143.2},
    "early-dropouts": {"r": 1.5, "alpha": 2.0, "s": 0.1, "beta": 0.3},
    "long-lived": {"r": 0.3, "alpha": 50.0, "s": 5.0, "beta": 500.0},
    "exponential-lifetimes": {"r": 0.62, "alpha": 4.02, "s": 62.4, "beta": 5818.0},
}
# lifetimes' Nelder-Mead from a fixed start with a tight tolerance (as ParetoNBD(compress=False) runs it)
TIGHT = {"initial_params": np.ones(4), "tol": 1e-10, "maxiter": 10000}


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lifetimes' CDNOW summary: 2,357 customers, 39 calibration weeks (Fader, Hardie and Lee 2005)."""
    data = load_cdnow_summary()
    return tuple(data[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def long_histories() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    T = rng.uniform(0.5, 120, 3000).round(1)
    x = rng.poisson(6, 3000).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 0.99, 3000) * T, 0.0).round(1)
    return x, t_x, T


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow) -> ParetoNBDFitter:
    return ParetoNBDFitter().fit(*cdnow, **TIGHT)


def _rel(ours: dict[str, float], reference: pd.Series) -> float:
    return max(abs(ours[k] / float(reference[k]) - 1.0) for k in ours)


def _scaled(params: dict[str, float], scale: float) -> np.ndarray:
    return np.array([params["r"], params["alpha"] * scale, params["s"], params["beta"] * scale])


def _lifetimes_objective(params: np.ndarray, x, t_x, T, weights, penalizer: float = 0.0) -> float:
    scale = 1.0 / T.max()
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # log(0) where recency == T
        warnings.simplefilter("ignore")
        return float(ParetoNBDFitter._negative_log_likelihood(
            params, x.astype(int), t_x * scale, T * scale, weights, penalizer
        ))


# ------------------------------------------------------------------------------------------ (a) published
def test_published_cdnow_parameters(cdnow, cdnow_sample_calibration):
    """On the calibration summary built from the CDNOW transactions (the conftest fixture) the published
    parameters and log-likelihood (Fader, Hardie and Lee 2005a, table 1: -9595.0); lifetimes' bundled summary
    rounds recency and T to 0.01 weeks, which moves beta to 11.668 (lifetimes' own fit on it too)."""
    exact = tuple(cdnow_sample_calibration[c].to_numpy(dtype="float64") for c in ("frequency_cal", "recency_cal", "T_cal"))
    for data, beta in ((exact, PUBLISHED["beta"]), (cdnow, 11.668)):
        fit = pareto_nbd.fit_pareto(*data)
        assert {k: round(v, 3) for k, v in fit.params.items()} == {**PUBLISHED, "beta": beta}
        assert fit.gradient_norm < 1e-10
        # the published form of the log-likelihood on unscaled time, as the model computes it (hyp2f1)
        assert fit.log_likelihood == pytest.approx(ParetoNBD.from_params(fit.params).log_likelihood(*data), rel=1e-11)
    assert round(pareto_nbd.fit_pareto(*exact).log_likelihood, 1) == -9595.0
    model = ParetoNBD().fit(*exact)
    assert {k: round(v, 3) for k, v in model.params_.items()} == PUBLISHED
    assert model.n_unique_rows_ < model.n_customers_ == 2357


# -------------------------------------------------------------------------------- (b, c) equal to lifetimes
def test_same_optimum_as_lifetimes(cdnow, lifetimes_fit):
    fit = pareto_nbd.fit_pareto(*cdnow)
    assert _rel(fit.params, lifetimes_fit.params_) < 1e-6
    # the objective is lifetimes' own (its _negative_log_likelihood_), ours at least as low
    assert fit.objective <= lifetimes_fit._negative_log_likelihood_ + 1e-9
    assert fit.objective == pytest.approx(lifetimes_fit._negative_log_likelihood_, rel=1e-11)
    reference_ll = ParetoNBD.from_params(dict(lifetimes_fit.params_)).log_likelihood(*cdnow)
    assert fit.log_likelihood == pytest.approx(reference_ll, abs=1e-6)


def test_penalised_fit_equals_lifetimes_penalised_fit(cdnow, lifetimes_fit):
    # lifetimes' Pareto/NBD penalty sits next to the *total* negative log-likelihood (it divides by the mean
    # weight): 20 moves the CDNOW parameters by several per cent
    reference = ParetoNBDFitter(penalizer_coef=20.0).fit(*cdnow, **TIGHT)
    fit = pareto_nbd.fit_pareto(*cdnow, penalizer=20.0)
    assert _rel(fit.params, lifetimes_fit.params_) > 0.02
    assert _rel(fit.params, reference.params_) < 1e-6
    assert fit.objective == pytest.approx(reference._negative_log_likelihood_, rel=1e-11)
    model = ParetoNBD(penalizer=20.0).fit(*cdnow)
    assert _rel(model.params_, reference.params_) < 1e-6


@pytest.mark.parametrize("penalizer", [0.0, 5.0])
@pytest.mark.parametrize("regime", REGIMES)
def test_objective_equals_lifetimes_objective(cdnow, long_histories, regime, penalizer):
    """lifetimes' objective (scaled time, mean-weight divisor, penalty on the scaled parameters) to rounding,
    in both regimes of the hypergeometric term, on customers for whom lifetimes' hyp2f1 is finite."""
    rng = np.random.default_rng(2)
    for x, t_x, T in (cdnow, long_histories):
        scale = 1.0 / T.max()
        params = _scaled(REGIMES[regime], scale)
        with np.errstate(all="ignore"):
            per_row = ParetoNBDFitter._conditional_log_likelihood(params, x, t_x * scale, T * scale)
        keep = np.isfinite(per_row)
        assert keep.mean() > 0.99
        x, t_x, T = x[keep], t_x[keep], T[keep]
        weights = rng.integers(1, 4, size=len(x)).astype("float64")
        data = pareto_nbd.prepare_pareto(x, t_x, T, weights, scale=scale)
        value, _ = pareto_nbd.pareto_objective(np.log(params), data, penalizer)
        expected = _lifetimes_objective(params, x, t_x, T, weights, penalizer)
        assert value * data.lifetimes_rows == pytest.approx(expected, rel=1e-11)


def test_hypergeometric_term_equals_scipy_hyp2f1():
    """G(x, t) = int_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du = (max+t)^-m / m 2F1(m, e'; m+1; z) against
    scipy's hyp2f1 over random parameters, on both sides of the series / quadrature split."""
    rng = np.random.default_rng(7)
    regimes = {"series": 0, "quadrature": 0}
    for _ in range(400):
        r, s = np.exp(rng.uniform(-3, 2, 2))
        alpha, beta = np.exp(rng.uniform(-5, 4, 2))
        x = rng.integers(0, 60, 4).astype(float)
        t = rng.uniform(0, 2 * max(alpha, beta), 4) * rng.choice([0.0, 1.0], 4, p=[0.3, 0.7])
        pair_t = np.argsort(t)  # pairs are sorted by time
        ours, _ = pareto_nbd._log_G(r, alpha, s, beta, x, t, np.arange(4), pair_t, grad=False)
        xs, ts = x, t[pair_t]
        big, small, second = (beta, alpha, r + xs) if alpha < beta else (alpha, beta, np.full(4, s + 1.0))
        m = r + s + xs
        z = (big - small) / (big + ts)
        expected = -m * np.log(big + ts) - np.log(m) + np.log(hyp2f1(m, second, m + 1.0, z))
        finite = np.isfinite(expected)
        np.testing.assert_allclose(ours[finite], expected[finite], rtol=1e-11, atol=1e-11)
        regimes["series"] += int(np.sum(z[finite] <= 0.5))
        regimes["quadrature"] += int(np.sum(z[finite] > 0.5))
    assert min(regimes.values()) > 300


# ------------------------------------------------------------------------------------------ (d) weights
def test_weights_of_compressed_rows_give_the_plain_fit(cdnow):
    plain = pareto_nbd.fit_pareto(*cdnow)
    (ux, ut, uT), counts, _ = compress_rows(*cdnow)
    weighted = pareto_nbd.fit_pareto(ux, ut, uT, weights=counts)
    for key, value in plain.params.items():
        assert weighted.params[key] == pytest.approx(value, rel=1e-9)
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-12)
    model = ParetoNBD().fit(ux, ut, uT, weights=counts)
    assert model.n_customers_ == 2357 and model.log_likelihood_ == pytest.approx(plain.log_likelihood, rel=1e-12)


# ------------------------------------------------------------------------- (e) T = 0 and recency == T
def test_customers_first_seen_on_the_cutoff_day_and_last_purchase_on_it(cdnow):
    x, t_x, T = (c.copy() for c in cdnow)
    buyers = np.flatnonzero(x > 0)[:40]
    t_x[buyers] = T[buyers]  # the last purchase on the observation end
    x = np.concatenate([x, np.zeros(25)])  # first seen on the cut-off day
    t_x, T = np.concatenate([t_x, np.zeros(25)]), np.concatenate([T, np.zeros(25)])
    fit = pareto_nbd.fit_pareto(x, t_x, T)
    reference = ParetoNBDFitter().fit(x, t_x, T, **TIGHT)
    assert _rel(fit.params, reference.params_) < 1e-6
    assert fit.objective == pytest.approx(reference._negative_log_likelihood_, rel=1e-11)
    # a history of no time has likelihood 1: without penalizer those customers do not move the fit
    without = pareto_nbd.fit_pareto(x[:-25], t_x[:-25], T[:-25])
    for key, value in without.params.items():
        assert fit.params[key] == pytest.approx(value, rel=1e-9)
    assert fit.log_likelihood == pytest.approx(without.log_likelihood, rel=1e-12)
    alive = ParetoNBD.from_params(fit.params).probability_alive(x, t_x, T)
    np.testing.assert_allclose(alive[buyers], 1.0, rtol=1e-14)
    np.testing.assert_allclose(alive[-25:], 1.0, rtol=1e-14)


# --------------------------------------------------------------------------------------- (f) gradient
@pytest.mark.parametrize("penalizer", [0.0, 5.0])
@pytest.mark.parametrize("regime", REGIMES)
def test_gradient_equals_finite_differences(cdnow, long_histories, regime, penalizer):
    for x, t_x, T in (cdnow, long_histories):
        data = pareto_nbd.prepare_pareto(x, t_x, T)
        theta = np.log(_scaled(REGIMES[regime], data.scale))
        value, grad = pareto_nbd.pareto_objective(theta, data, penalizer)
        h = 1e-6
        numeric = np.empty(4)
        for k in range(4):
            step = np.zeros(4)
            step[k] = h
            upper = pareto_nbd.pareto_objective(theta + step, data, penalizer)[0]
            lower = pareto_nbd.pareto_objective(theta - step, data, penalizer)[0]
            numeric[k] = (upper - lower) / (2 * h)
        # central differences of a value of order |value| carry ~1e-16 |value| / h of rounding
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9 * max(1.0, abs(value)))


# ------------------------------------------------------------------------------------------- P(alive)
@pytest.mark.parametrize("regime", REGIMES)
def test_probability_alive_equals_lifetimes(cdnow, long_histories, regime):
    reference = ParetoNBDFitter()
    reference.params_ = pd.Series(REGIMES[regime])
    model = ParetoNBD.from_params(REGIMES[regime])
    for x, t_x, T in (cdnow, long_histories):
        ours = model.probability_alive(x, t_x, T)
        with np.errstate(all="ignore"):
            theirs = reference.conditional_probability_alive(x, t_x, T)
        finite = np.isfinite(theirs)
        assert finite.mean() > 0.99 and np.isfinite(ours).all() and ((ours >= 0) & (ours <= 1)).all()
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------- the model
def test_model_uses_the_fast_fit_and_plain_lifetimes_as_reference(cdnow, lifetimes_fit):
    fast = ParetoNBD().fit(*cdnow)
    fit = pareto_nbd.fit_pareto(*cdnow)
    assert fast.params_ == fit.params and fast.n_unique_rows_ == fit.n_rows
    plain = ParetoNBD(compress=False).fit(*cdnow)
    assert _rel(fast.params_, pd.Series(plain.params_)) < 1e-6
    assert plain.n_unique_rows_ == 2357


def test_fast_fit_failure_is_a_convergence_error(cdnow, monkeypatch):
    def fails(*args, **kwargs):
        raise FastFitError("Pareto/NBD did not converge (largest gradient component 1e-3)")

    monkeypatch.setattr(pareto_nbd, "fit_pareto", fails)
    with pytest.raises(ConvergenceError, match="did not converge"):
        ParetoNBD().fit(*cdnow)
