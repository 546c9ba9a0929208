"""The sBG retention model: the published estimates, exact fitting, the predictions and DERL, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import integrate, stats

from helpers.clv.fitting import sbg as sbg_fitting
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.base import NotFittedError
from helpers.clv.models.sbg import ShiftedBetaGeometric, check_survivors
from helpers.core.errors import UsageError, WorkbookError
from helpers.pipeline import cli

# Fader and Hardie (2007), table 1: survivors of 1,000 customers per year, years 0-12; the model is fitted on
# years 0-7 and published as gamma = 0.704, delta = 1.182 (LL -1680.3) and gamma = 0.668, delta = 3.806 (-1611.2)
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
PUBLISHED = [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)]


@pytest.fixture(scope="module")
def high_end() -> ShiftedBetaGeometric:
    return ShiftedBetaGeometric().fit_survivors(HIGH_END[:8])


@pytest.mark.parametrize(("survivors", "gamma", "delta", "log_likelihood"), PUBLISHED)
def test_the_published_estimates(survivors, gamma, delta, log_likelihood):
    model = ShiftedBetaGeometric().fit_survivors(survivors[:8])
    assert model.params_["gamma"] == pytest.approx(gamma, abs=5e-4)
    assert model.params_["delta"] == pytest.approx(delta, abs=5e-4)
    assert model.log_likelihood_ == pytest.approx(log_likelihood, abs=0.05)
    assert model.n_customers_ == 1000 and model.observed_periods_ == 7 and model.cohort_size_ == 1000


@pytest.mark.parametrize(("survivors", "gamma", "delta", "log_likelihood"), PUBLISHED)
def test_the_projection_tracks_the_years_the_fit_never_saw(survivors, gamma, delta, log_likelihood):
    # the paper's point: fitted on years 0-7, the sBG projects years 8-12 closely (a few percent)
    model = ShiftedBetaGeometric().fit_survivors(survivors[:8])
    projected = model.projected_survivors(1000, 5, after=7)
    actual = np.array(survivors[8:], dtype="float64")
    assert np.all(np.abs(projected - actual) / actual < 0.05), (projected, actual)


def test_the_individual_fit_on_the_clients_equals_the_cohort_fit():
    # 1,000 clients, one row each: the lost of year t ended after t - 1 renewals, the 241 left still run
    survivors = np.array(REGULAR[:8])
    lost = -np.diff(survivors)
    periods = np.concatenate([np.repeat(np.arange(7), lost), np.full(survivors[-1], 7)])
    active = np.concatenate([np.zeros(lost.sum(), dtype=bool), np.ones(survivors[-1], dtype=bool)])
    cohort = ShiftedBetaGeometric().fit_survivors(survivors)
    for compress in (True, False):
        clients = ShiftedBetaGeometric(compress=compress).fit(periods, active)
        assert clients.n_customers_ == 1000
        for name in ("gamma", "delta"):
            assert clients.params_[name] == pytest.approx(cohort.params_[name], rel=1e-9)
        assert clients.log_likelihood_ == pytest.approx(cohort.log_likelihood_, rel=1e-12)
        assert clients.log_likelihood(periods, active) == pytest.approx(cohort.log_likelihood_, rel=1e-12)
    assert ShiftedBetaGeometric().fit(periods, active).n_unique_rows_ == 8  # seven years of losses + the survivors


def test_the_reduction_is_exact():
    rng = np.random.default_rng(3)
    periods = rng.integers(0, 40, size=500)
    entered = np.minimum(rng.integers(0, 10, size=500), periods)
    active = rng.random(500) < 0.4
    weights = rng.uniform(0.5, 3, size=500)
    reduced = sbg_fitting.prepare_sbg(periods, active, weights, entered)
    plain = sbg_fitting.prepare_sbg(periods, active, weights, entered, reduce=False)
    assert reduced.n_terms < 100 < plain.n_terms
    for gamma, delta in ((0.3, 2.0), (1.7, 11.0)):
        assert sbg_fitting.sbg_log_likelihood(reduced, gamma, delta) == pytest.approx(
            sbg_fitting.sbg_log_likelihood(plain, gamma, delta), rel=1e-12)


def _likelihood_by_formula(periods, active, weights, entered, gamma, delta):
    """The log-likelihood written out from the paper's P(T = t) and S(t), client by client."""
    from scipy.special import beta

    total = 0.0
    for n, alive, w, n0 in zip(periods, active, weights, entered, strict=True):
        p = beta(gamma, delta + n) if alive else beta(gamma + 1, delta + n)  # S(n) or P(T = n + 1), times B
        total += w * (np.log(p) - np.log(beta(gamma, delta + n0)))
    return total


def test_gradient_and_hessian_against_finite_differences():
    rng = np.random.default_rng(5)
    periods = rng.integers(0, 30, size=200)
    entered = np.minimum(rng.integers(0, 5, size=200), periods)
    active = rng.random(200) < 0.5
    weights = rng.uniform(0.5, 2, size=200)
    data = sbg_fitting.prepare_sbg(periods, active, weights, entered)
    assert sbg_fitting.sbg_log_likelihood(data, 0.9, 4.0) == pytest.approx(
        _likelihood_by_formula(periods, active, weights, entered, 0.9, 4.0), rel=1e-10)
    for penalizer in (0.0, 0.01):
        theta = np.log([0.9, 4.0])
        value, grad = sbg_fitting.sbg_objective(theta, data, penalizer)
        h = 1e-6
        numeric = np.array([
            (sbg_fitting.sbg_objective(theta + h * e, data, penalizer)[0]
             - sbg_fitting.sbg_objective(theta - h * e, data, penalizer)[0]) / (2 * h) for e in np.eye(2)
        ])
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
        hess = sbg_fitting.sbg_hessian(theta, data, penalizer)
        numeric_h = np.column_stack([
            (sbg_fitting.sbg_objective(theta + h * e, data, penalizer)[1]
             - sbg_fitting.sbg_objective(theta - h * e, data, penalizer)[1]) / (2 * h) for e in np.eye(2)
        ])
        np.testing.assert_allclose(hess, numeric_h, rtol=1e-5, atol=1e-8)


def test_the_covariance_is_the_inverse_observed_information(high_end):
    # independent of the analytic Hessian: second differences of the log-likelihood's value
    periods, active, weights = sbg_fitting.survivors_to_clients(HIGH_END[:8])
    data = sbg_fitting.prepare_sbg(periods, active, weights)
    theta0 = np.log([high_end.params_["gamma"], high_end.params_["delta"]])

    def ll(theta):
        return sbg_fitting.sbg_log_likelihood(data, *np.exp(theta))

    h = 1e-4
    info = np.empty((2, 2))
    for i, ei in enumerate(np.eye(2)):
        for j, ej in enumerate(np.eye(2)):
            info[i, j] = -(ll(theta0 + h * (ei + ej)) - ll(theta0 + h * (ei - ej)) - ll(theta0 - h * (ei - ej))
                           + ll(theta0 - h * (ei + ej))) / (4 * h * h)
    np.testing.assert_allclose(high_end.covariance_, np.linalg.inv(info), rtol=1e-4)
    low, high = high_end.param_intervals(0.9)["gamma"]
    assert low < high_end.params_["gamma"] < high


def test_fitting_recovers_the_truth_with_left_truncation():
    # clients whose contracts began before the data: only those still there when the data begin are seen
    rng = np.random.default_rng(11)
    gamma, delta = 0.8, 6.0
    theta = rng.beta(gamma, delta, size=40_000)
    lifetime = rng.geometric(theta)  # T: the period in which the client leaves (renewals made: T - 1)
    start = rng.integers(-60, 36, size=theta.size)  # the data see months 0..35
    seen_from = np.maximum(0, -start)
    visible = lifetime - 1 >= seen_from  # still a client when the data begin
    observable = 35 - start  # renewal decisions up to the end of the data
    periods = np.minimum(lifetime - 1, observable)[visible]
    active = (lifetime - 1 > observable)[visible]
    entered = seen_from[visible]
    fitted = ShiftedBetaGeometric().fit(periods, active, entered=entered)
    se = np.sqrt(np.diag(fitted.covariance_))
    for k, (name, truth) in enumerate((("gamma", gamma), ("delta", delta))):
        assert abs(np.log(fitted.params_[name]) - np.log(truth)) < 3 * se[k], (fitted.params_, se)
    ignored = ShiftedBetaGeometric().fit(periods, active)  # treating old clients as new biases the churn down
    assert ignored.params_["gamma"] / sum(ignored.params_.values()) < 0.9 * gamma / (gamma + delta)


def test_the_predictions_follow_the_papers_recursions(high_end):
    gamma, delta = high_end.params_["gamma"], high_end.params_["delta"]
    t = np.arange(1, 30, dtype="float64")
    # Fader and Hardie (2007), eq. 5: P(T = 1) = gamma / (gamma + delta), P(T = t) = (delta + t - 2) /
    # (gamma + delta + t - 1) P(T = t - 1); eq. 6: S(t) = 1 - sum of P(T = j), j <= t
    p = [gamma / (gamma + delta)]
    for k in t[1:]:
        p.append(p[-1] * (delta + k - 2) / (gamma + delta + k - 1))
    np.testing.assert_allclose(high_end.churn_probability(t), p, rtol=1e-12)
    np.testing.assert_allclose(high_end.survival(t), 1 - np.cumsum(p), rtol=1e-10)
    np.testing.assert_allclose(high_end.retention_rate(t), high_end.survival(t) / high_end.survival(t - 1), rtol=1e-12)
    assert high_end.survival(0.0) == 1.0 and np.all(np.diff(high_end.retention_rate(t)) > 0)  # retention rises
    # P(k more | n renewals) = S(n + k) / S(n)
    np.testing.assert_allclose(high_end.conditional_survival(3.0, t), high_end.survival(t + 3) / high_end.survival(t),
                               rtol=1e-12)


def test_the_model_story_simulated_matches_the_survival(high_end):
    rng = np.random.default_rng(0)
    theta = rng.beta(high_end.params_["gamma"], high_end.params_["delta"], size=400_000)
    renewals = rng.geometric(theta) - 1
    for t in (1, 4, 12):
        assert np.mean(renewals >= t) == pytest.approx(float(high_end.survival(t)), abs=3e-3)


def test_derl_closed_form_against_the_sum_and_the_integral(high_end):
    gamma, delta = high_end.params_["gamma"], high_end.params_["delta"]
    n = np.array([0, 3, 7, 30])
    closed = high_end.derl(0.10, n)
    long_sum = high_end.derl(0.10, n, horizon=2000)
    np.testing.assert_allclose(closed, long_sum, rtol=1e-12)
    for renewals, value in zip(n, closed, strict=True):
        # E over the survivors' Beta(gamma, delta + n) of sum_k (1 - theta)^k / 1.1^(k - 1) = (1 - th) 1.1 / (0.1 + th)
        integral, _ = integrate.quad(
            lambda th, r=renewals: stats.beta.pdf(th, gamma, delta + r) * (1 - th) * 1.1 / (0.1 + th), 0, 1, limit=200
        )
        assert value == pytest.approx(integral, rel=1e-8)
    # the figure of the Python sBG implementation by JD Maturen (README of shifted_beta_geometric_py): the high-end
    # segment's survivors after year 7, d = 10%: DERL 7.530
    assert high_end.derl(0.10, 7) == pytest.approx(7.530, abs=5e-4)
    np.testing.assert_allclose(high_end.derl(0.10, n, first_payment_discounted=True), closed / 1.1, rtol=1e-14)


def test_derl_with_a_horizon_and_large_parameters():
    model = ShiftedBetaGeometric.from_params({"gamma": 0.8, "delta": 50.0})
    monthly = 1.1 ** (1 / 12) - 1
    n = np.array([0, 11, 120, 600])
    np.testing.assert_allclose(model.derl(monthly, n), model.derl(monthly, n, horizon=20_000), rtol=1e-10)
    twelve = model.derl(monthly, n, horizon=12)
    by_hand = [sum(float(model.conditional_survival(k, r)) / (1 + monthly) ** (k - 1) for k in range(1, 13)) for r in n]
    np.testing.assert_allclose(twelve, by_hand, rtol=1e-12)
    assert np.all(twelve <= 12) and np.all(np.diff(twelve) > 0)  # longer clients are safer
    # nearly one churn probability for everyone: DERL -> (1 - theta)(1 + d)/(d + theta) (scipy's 2F1 fails there)
    theta = 0.018
    narrow = ShiftedBetaGeometric.from_params({"gamma": theta * 1e8, "delta": (1 - theta) * 1e8})
    assert narrow.derl(monthly, 40) == pytest.approx((1 - theta) * (1 + monthly) / (monthly + theta), rel=1e-5)
    # undiscounted: the expected further renewals (delta + n) / (gamma - 1)
    steep = ShiftedBetaGeometric.from_params({"gamma": 3.0, "delta": 4.0})
    assert steep.derl(0.0, 5) == pytest.approx(float(steep.derl(0.0, 5, horizon=200_000)), rel=1e-6)
    assert steep.derl(0.0, 5) == pytest.approx(9 / 2)


def test_the_residual_periods_distribution(high_end):
    pmf = high_end.residual_periods_pmf([0, 7, 7, 25], 12)
    assert pmf.shape == (4, 13) and np.all(pmf >= 0)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, rtol=1e-12)
    # its mean is the undiscounted DERL over the horizon
    np.testing.assert_allclose(pmf @ np.arange(13), high_end.derl(0.0, [0, 7, 7, 25], horizon=12), rtol=1e-12)
    # and it is the distribution of the model's story: theta from the survivors' Beta, renewals geometric
    rng = np.random.default_rng(1)
    theta = rng.beta(high_end.params_["gamma"], high_end.params_["delta"] + 7, size=300_000)
    further = np.minimum(rng.geometric(theta) - 1, 12)
    np.testing.assert_allclose(np.bincount(further, minlength=13) / further.size, pmf[1], atol=3e-3)


def test_the_homogeneous_limit():
    # the same churn probability for everyone: retention does not rise and gamma, delta have no finite optimum
    periods, active, weights = sbg_fitting.survivors_to_clients([1000, 500, 250, 125, 62.5])
    with pytest.raises(ConvergenceError, match="penalizer"):
        ShiftedBetaGeometric().fit(periods, active, weights)
    model = ShiftedBetaGeometric().fit_homogeneous(periods, active, weights)
    theta = 937.5 / (1000 + 500 + 250 + 125)  # ended contracts / renewal decisions seen
    assert model.params_["gamma"] / sum(model.params_.values()) == pytest.approx(theta)
    np.testing.assert_allclose(model.survival(np.arange(13.0)), (1 - theta) ** np.arange(13.0), rtol=1e-6)
    assert model.log_likelihood_ == pytest.approx(937.5 * np.log(theta) + 937.5 * np.log(1 - theta))


def test_an_unfitted_model_says_what_is_missing():
    model = ShiftedBetaGeometric()
    for use in (lambda: model.params_, lambda: model.survival(3), lambda: model.derl(0.1, 2),
                lambda: model.covariance_):
        with pytest.raises(NotFittedError, match=r"call fit\(periods, active\) first"):
            use()
    assert "not fitted" in repr(model)


@pytest.mark.parametrize(("survivors", "message"), [
    ([1000, 631, 700, 500], "cannot rise: period 2 has 700"),
    ([1000, 631, -3], "cannot be negative: period 2"),
    ([1000, 631], "at least two periods"),
    ([0, 0, 0], "cohort size"),
    ([1000, 1000, 1000], "no client was lost"),
    ([1000, float("nan"), 500], "finite"),
    (["1000", "many"], "must be numbers"),
])
def test_survivors_the_model_cannot_use_are_refused(survivors, message):
    with pytest.raises(UsageError, match=message) as raised:
        ShiftedBetaGeometric().fit_survivors(survivors)
    assert isinstance(raised.value, WorkbookError) and isinstance(raised.value, ValueError)


def test_survivors_in_thousands_give_the_same_estimates():
    counts = ShiftedBetaGeometric().fit_survivors(REGULAR[:8])
    thousands = ShiftedBetaGeometric().fit_survivors(check_survivors(np.array(REGULAR[:8]) / 1000))
    for name in ("gamma", "delta"):
        assert thousands.params_[name] == pytest.approx(counts.params_[name], rel=1e-9)
    assert thousands.log_likelihood_ == pytest.approx(counts.log_likelihood_ / 1000, rel=1e-9)
    np.testing.assert_allclose(thousands.projected_survivors(1, 3, after=7),
                               counts.projected_survivors(1000, 3, after=7) / 1000, rtol=1e-9)


@pytest.mark.parametrize(("periods", "active", "entered", "message"), [
    ([1, -1], [True, False], None, "periods is not a whole number >= 0 for 1 client"),
    ([1, 2.5], [True, False], None, "periods is not a whole number"),
    ([1, 2], ["yes", "no"], None, "active must be true/false"),
    ([1, 2], [True, 2], None, "active is neither true nor false"),
    ([1, 2], [True, False], [0, 3], "entered is larger than periods"),
    ([1, 2], [True, True], None, "no contract has ended"),
    ([], [], None, "no clients"),
])
def test_client_histories_the_model_cannot_use_are_refused(periods, active, entered, message):
    with pytest.raises(ValueError, match=message):
        ShiftedBetaGeometric().fit(periods, active, entered=entered)


# ---------------------------------------------------------------------------------------- the command
def test_the_command_prints_the_fit_and_the_projection(capsys):
    assert cli.main(["retention", "--survivors", ",".join(map(str, REGULAR[:8]))]) == 0
    out = capsys.readouterr().out
    assert "gamma          0.7041" in out and "delta          1.1820" in out and "-1680.3" in out
    lines = [line.split() for line in out.splitlines() if line.strip().startswith("period")]
    assert [int(line[1]) for line in lines] == [8, 9, 10, 11, 12]
    projected = [float(line[2].replace(",", "")) for line in lines]
    np.testing.assert_allclose(projected, REGULAR[8:], rtol=0.02)  # the paper's actual years 8-12


def test_the_command_prints_only_json_with_json(capsys):
    assert cli.main(["retention", "--survivors", ",".join(map(str, HIGH_END[:8])), "--periods", "3", "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)
    assert list(result) == ["gamma", "delta", "log_likelihood", "projected_survivors"]
    assert result["gamma"] == pytest.approx(0.668, abs=5e-4) and result["delta"] == pytest.approx(3.806, abs=5e-4)
    assert result["log_likelihood"] == pytest.approx(-1611.2, abs=0.05)
    assert len(result["projected_survivors"]) == 3
    np.testing.assert_allclose(result["projected_survivors"], HIGH_END[8:11], rtol=0.05)  # the actual years 8-10


@pytest.mark.parametrize(("arguments", "message"), [
    (["--survivors", "1000,631,700"], "survivors cannot rise"),
    (["--survivors", "1000,abc,500"], "value 2 is 'abc', not a number"),
    (["--survivors", "1000,,500"], "value 2 is an empty value"),
    (["--survivors", "1000,631"], "at least two periods"),
    (["--survivors", "1000,631,468", "--periods", "0"], "--periods must be a whole number >= 1"),
    (["--survivors", "1000,500,250,125,62.5"], "constant retention rate"),
])
def test_the_command_refuses_bad_input_with_exit_2(arguments, message, capsys):
    assert cli.main(["retention", *arguments]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
