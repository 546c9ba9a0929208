"""helpers.clv.fitting against the published CDNOW results, lifetimes' own fits and objectives, and finite
differences; and its use by the models of helpers.clv.models (compress=True)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from autograd import value_and_grad
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter

from helpers.clv.fitting import bg_family, optimiser
from helpers.clv.fitting import gamma_gamma as gamma_gamma_fitting
from helpers.clv.fitting.optimiser import FastFitError
from helpers.clv.inputs import compress_rows
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models import robust_fit
from helpers.clv.models.beta_geo import BetaGeo
from helpers.clv.models.gamma_gamma import GammaGamma
from helpers.features.summary import customer_summary
from helpers.pipeline.bench import synthetic_transactions

PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}
LIFETIMES = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter}
FAST = {"bgnbd": bg_family.fit_bgnbd, "mbgnbd": bg_family.fit_mbgnbd}


@pytest.fixture(scope="module")
def cdnow(cdnow_sample_calibration) -> dict[str, np.ndarray]:
    """CDNOW 1/10 sample, weeks, calibration to 1997-09-30 (the conftest fixture)."""
    cal = cdnow_sample_calibration
    names = {"x": "frequency_cal", "t_x": "recency_cal", "T": "T_cal", "m": "monetary_value_cal"}
    return {k: cal[c].to_numpy(dtype="float64") for k, c in names.items()}


def _summary(customers: int, seed: int) -> dict[str, np.ndarray]:
    log = synthetic_transactions(customers, 10 * customers, seed)
    summary = customer_summary(log, log["date"].max(), unit_days=7)
    names = {"x": "frequency", "t_x": "recency", "T": "T", "m": "monetary_value"}
    return {k: summary[c].to_numpy(dtype="float64") for k, c in names.items()}


@pytest.fixture(scope="module")
def synthetic() -> dict[str, np.ndarray]:
    """A realistic day-level log of 3,000 customers: (x, t_x, T) nearly all distinct."""
    return _summary(3000, seed=3)


def _rel(ours: dict[str, float], reference: pd.Series) -> float:
    return max(abs(ours[k] / float(reference[k]) - 1.0) for k in ours)


def _rounded(params: dict[str, float], published: dict[str, float]) -> dict[str, float]:
    decimals = {k: len(repr(v).split(".")[1]) for k, v in published.items()}
    return {k: round(params[k], decimals[k]) for k in published}


def _repeat_buyers(data):
    keep = (data["x"] > 0) & (data["m"] > 0)
    return data["x"][keep], data["m"][keep]


# ------------------------------------------------------------------------------------------ published values
def test_bgnbd_published_cdnow(cdnow):
    fit = bg_family.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert _rounded(fit.params, PUBLISHED_BG) == PUBLISHED_BG
    assert round(fit.log_likelihood, 1) == -9582.4
    # the log-likelihood of the published form, as the model computes it on the unscaled data
    assert fit.log_likelihood == pytest.approx(
        BetaGeo.from_params(fit.params).log_likelihood(cdnow["x"], cdnow["t_x"], cdnow["T"]), rel=1e-11
    )
    assert fit.gradient_norm < 1e-10


def test_gamma_gamma_published_cdnow(cdnow):
    x, m = _repeat_buyers(cdnow)
    fit = gamma_gamma_fitting.fit_gamma_gamma(x, m)
    assert _rounded(fit.params, PUBLISHED_GG) == PUBLISHED_GG
    assert fit.log_likelihood == pytest.approx(GammaGamma.from_params(fit.params).log_likelihood(x, m), rel=1e-11)


# ------------------------------------------------------------------------------------- equal to lifetimes
@pytest.mark.parametrize("dataset", ["cdnow", "synthetic"])
@pytest.mark.parametrize(("model", "penalizer"), [("bgnbd", 0.0), ("bgnbd", 0.01), ("mbgnbd", 0.0)])
def test_purchase_fit_equals_lifetimes_plain_fit(request, dataset, model, penalizer):
    data = request.getfixturevalue(dataset)
    x, t_x, T = data["x"], data["t_x"], data["T"]
    reference = LIFETIMES[model](penalizer_coef=penalizer).fit(x, t_x, T)
    fit = FAST[model](x, t_x, T, penalizer=penalizer)
    assert _rel(fit.params, reference.params_) < 1e-6
    # the same objective (lifetimes' mean penalised NLL on scaled time), at least as low as lifetimes' optimum
    assert fit.objective <= reference._negative_log_likelihood_ + 1e-12
    assert fit.objective == pytest.approx(reference._negative_log_likelihood_, rel=1e-11)


@pytest.mark.parametrize("dataset", ["cdnow", "synthetic"])
@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_gamma_gamma_equals_lifetimes_plain_fit(request, dataset, penalizer):
    x, m = _repeat_buyers(request.getfixturevalue(dataset))
    reference = GammaGammaFitter(penalizer_coef=penalizer).fit(x, m)
    fit = gamma_gamma_fitting.fit_gamma_gamma(x, m, penalizer=penalizer)
    assert _rel(fit.params, reference.params_) < 1e-6
    assert fit.objective <= reference._negative_log_likelihood_ + 1e-12


@pytest.mark.parametrize(("customers", "seed"), [(3000, 11), (5000, 7)])
def test_optimum_is_stationary_for_lifetimes_own_objective(customers, seed):
    """Where lifetimes stops early (its BFGS stops at gradient norm 1e-7: on 5,000 customers, seed 7, its
    BG/NBD r is 2.7e-6 off), lifetimes' own autograd gradient at our parameters is ~0 and its objective
    no higher: the difference is lifetimes' stopping tolerance, not a different optimum."""
    data = _summary(customers, seed)
    x, t_x, T = data["x"], data["t_x"], data["T"]
    scale = 1.0 / T.max()
    for model, cls in LIFETIMES.items():
        fit = FAST[model](x, t_x, T)
        theta = np.log([fit.params["r"], fit.params["alpha"] * scale, fit.params["a"], fit.params["b"]])
        args = (x.astype(int), t_x * scale, T * scale, np.ones(len(x), dtype=int), 0.0)
        value, grad = value_and_grad(cls._negative_log_likelihood)(theta, *args)
        assert np.max(np.abs(grad)) < 1e-10
        reference = cls().fit(x, t_x, T)
        assert value <= reference._negative_log_likelihood_ + 1e-12
        assert _rel(fit.params, reference.params_) < 1e-5
    xm, m = _repeat_buyers(data)
    fit = gamma_gamma_fitting.fit_gamma_gamma(xm, m)
    value, grad = value_and_grad(GammaGammaFitter._negative_log_likelihood)(
        np.log(list(fit.params.values())), xm, m, np.ones(len(xm), dtype=int), 0.0
    )
    assert np.max(np.abs(grad)) < 1e-10


# ----------------------------------------------------------------------------- objective, exact reductions
@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
@pytest.mark.parametrize("penalizer", [0.0, 0.1])
def test_objective_equals_lifetimes_objective(synthetic, cdnow, model, penalizer):
    rng = np.random.default_rng(1)
    for data in (synthetic, cdnow):
        x, t_x, T = data["x"], data["t_x"], data["T"]
        weights = rng.integers(1, 4, size=len(x)).astype("float64")
        prepared = bg_family.prepare_bg(x, t_x, T, weights, modified=(model == "mbgnbd"))
        scale = 1.0 / T.max()
        for theta in (np.full(4, 0.1), np.log([0.4, 0.3, 0.8, 2.5]), np.array([-1.0, 1.5, 0.5, 2.0])):
            ours, _ = bg_family.bg_objective(theta, prepared, penalizer)
            theirs = LIFETIMES[model]._negative_log_likelihood(
                theta, x.astype(int), t_x * scale, T * scale, weights, penalizer
            )
            assert ours == pytest.approx(float(theirs), rel=1e-12, abs=1e-13)


def test_gamma_gamma_objective_equals_lifetimes_objective(synthetic):
    x, m = _repeat_buyers(synthetic)
    weights = np.random.default_rng(2).integers(1, 4, size=len(x)).astype("float64")
    prepared = gamma_gamma_fitting.prepare_gamma_gamma(x, m, weights)
    for penalizer in (0.0, 0.1):
        for theta in (np.full(3, 0.1), np.log([3.0, 6.0, 80.0])):
            ours, _ = gamma_gamma_fitting.gg_objective(theta, prepared, penalizer)
            theirs = GammaGammaFitter._negative_log_likelihood(theta, x, m, weights, penalizer)
            assert ours == pytest.approx(float(theirs), rel=1e-12)


def test_reduction_merges_rows_exactly(cdnow):
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    prepared = bg_family.prepare_bg(x, t_x, T)
    (ux, ut, uT), weights, _ = compress_rows(x, t_x, T)
    # non-buyers only count through their T; repeat buyers are 932 distinct (x, t_x, T) of 946 rows: too
    # few duplicates to be worth merging, they stay one row each
    assert prepared.n_distinct == int(np.sum(ux > 0)) == 932
    assert prepared.n_rows == int(np.sum(x > 0)) == 946
    assert bg_family._bg_distinct_rows(prepared) == len(ux)
    # every customer twice: the rows are merged (weights summed), the objective is unchanged
    doubled = bg_family.prepare_bg(np.tile(x, 2), np.tile(t_x, 2), np.tile(T, 2))
    assert doubled.n_rows == doubled.n_distinct == 932 and doubled.w.sum() == 2 * 946
    theta = np.log([0.3, 0.1, 0.8, 2.0])
    assert bg_family.bg_objective(theta, doubled)[0] == pytest.approx(bg_family.bg_objective(theta, prepared)[0], rel=1e-13)
    # compressed input with weights gives the same fit
    plain = bg_family.fit_bgnbd(x, t_x, T)
    weighted = bg_family.fit_bgnbd(ux, ut, uT, weights=weights)
    for key, value in plain.params.items():
        assert weighted.params[key] == pytest.approx(value, rel=1e-9)
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-12)


def test_pilot_path_gives_the_same_optimum(synthetic, monkeypatch):
    x, t_x, T = synthetic["x"], synthetic["t_x"], synthetic["T"]
    xm, m = _repeat_buyers(synthetic)
    direct_bg = bg_family.fit_bgnbd(x, t_x, T)
    direct_gg = gamma_gamma_fitting.fit_gamma_gamma(xm, m)
    monkeypatch.setattr(optimiser, "PILOT_CUSTOMERS", 400)
    piloted_bg = bg_family.fit_bgnbd(x, t_x, T)
    piloted_gg = gamma_gamma_fitting.fit_gamma_gamma(xm, m)
    assert "pilot" in piloted_bg.notes[0] and "pilot" in piloted_gg.notes[0]
    for direct, piloted in ((direct_bg, piloted_bg), (direct_gg, piloted_gg)):
        for key, value in direct.params.items():
            assert piloted.params[key] == pytest.approx(value, rel=1e-9)


# ------------------------------------------------------------------------------------- analytic gradients
def _central_difference(fun, theta, h=1e-6):
    grad = np.empty_like(theta)
    for k in range(len(theta)):
        step = np.zeros_like(theta)
        step[k] = h
        grad[k] = (fun(theta + step) - fun(theta - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("penalizer", [0.0, 0.05])
def test_bg_gradient_matches_finite_differences(synthetic, modified, penalizer):
    prepared = bg_family.prepare_bg(synthetic["x"], synthetic["t_x"], synthetic["T"], modified=modified)
    for theta in (np.full(4, 0.1), np.log([0.4, 0.02, 0.8, 11.0]), np.array([-1.2, 0.3, -0.4, 1.1])):
        _, grad = bg_family.bg_objective(theta, prepared, penalizer)
        numeric = _central_difference(lambda th: bg_family.bg_objective(th, prepared, penalizer)[0], theta)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
        # the gradient-only evaluation gives the same gradient
        np.testing.assert_array_equal(bg_family.bg_objective(theta, prepared, penalizer, need_value=False)[1], grad)


@pytest.mark.parametrize("penalizer", [0.0, 0.05])
def test_gamma_gamma_gradient_and_hessian_match_finite_differences(synthetic, penalizer):
    x, m = _repeat_buyers(synthetic)
    prepared = gamma_gamma_fitting.prepare_gamma_gamma(x, m)
    for theta in (np.full(3, 0.1), np.log([3.0, 6.0, 80.0]), np.array([0.5, 2.5, 3.0])):
        _, grad = gamma_gamma_fitting.gg_objective(theta, prepared, penalizer)
        numeric = _central_difference(lambda th: gamma_gamma_fitting.gg_objective(th, prepared, penalizer)[0], theta)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
        hessian = gamma_gamma_fitting.gg_hessian(theta, prepared, penalizer)
        numeric_hessian = np.column_stack(
            [
                _central_difference(lambda th, k=k: gamma_gamma_fitting.gg_objective(th, prepared, penalizer)[1][k], theta)
                for k in range(3)
            ]
        )
        np.testing.assert_allclose(hessian, numeric_hessian, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------ models' production path
def test_models_compressed_path_uses_fast_fit(cdnow):
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    fit = BetaGeo(compress=True).fit(x, t_x, T)
    fast = bg_family.fit_bgnbd(x, t_x, T)
    assert fit.params_ == fast.params and fit.log_likelihood_ == fast.log_likelihood
    assert fit.n_customers_ == len(x) and fit.n_unique_rows_ == len(compress_rows(x, t_x, T)[1])
    xm, m = _repeat_buyers(cdnow)
    gg = robust_fit.fit_gamma_gamma(cdnow["x"], cdnow["m"])
    assert gg.params_ == gamma_gamma_fitting.fit_gamma_gamma(xm, m).params
    assert gg.n_customers_ == 946 and gg.n_unique_rows_ <= 946


def test_models_turn_fast_fit_failure_into_convergence_error(cdnow, monkeypatch):
    real = bg_family.fit_bgnbd

    def failing(*args, penalizer=0.0, **kwargs):
        if penalizer == 0:
            raise FastFitError("mock: no stationary point")
        return real(*args, penalizer=penalizer, **kwargs)

    monkeypatch.setattr(bg_family, "fit_bgnbd", failing)
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    with pytest.raises(ConvergenceError, match="no stationary point"):
        BetaGeo().fit(x, t_x, T)
    result = robust_fit.fit_purchase_model(x, t_x, T, model="bgnbd")
    assert result.name == "bgnbd" and result.penalizer == 0.001
    assert any("penalizer 0 did not converge (mock: no stationary point)" in n for n in result.notes_)


def test_invalid_input_raises_value_error_like_lifetimes():
    with pytest.raises(ValueError, match="larger than T"):
        bg_family.fit_bgnbd([1, 2], [3.0, 1.0], [2.0, 5.0])
    with pytest.raises(ValueError, match="non-zero recency"):
        bg_family.fit_bgnbd([0, 2], [1.0, 1.0], [2.0, 5.0])
    with pytest.raises(ValueError, match="non-positive"):
        gamma_gamma_fitting.fit_gamma_gamma([1, 2], [0.0, 3.0])


def test_models_gamma_gamma_failure_raises_convergence_error(cdnow, monkeypatch):
    def failing(*args, **kwargs):
        raise FastFitError("mock: Gamma-Gamma gradient 1e-3")

    monkeypatch.setattr(gamma_gamma_fitting, "fit_gamma_gamma", failing)
    with pytest.raises(ConvergenceError, match="Gamma-Gamma did not converge.*mock: Gamma-Gamma gradient"):
        robust_fit.fit_gamma_gamma(cdnow["x"], cdnow["m"])
