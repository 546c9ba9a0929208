"""Fast exact fit of the shifted-beta-geometric (sBG) retention model (numpy/scipy only).

Fader and Hardie (2007), "How to project customer retention", J. Interactive Marketing 21(1): each contract
client has a churn probability theta ~ Beta(gamma, delta) and at every renewal decision leaves with
probability theta. T is the period in which the client leaves (T = 1: no renewal at all), so

    P(T = t) = B(gamma + 1, delta + t - 1) / B(gamma, delta),   S(t) = P(T > t) = B(gamma, delta + t) / B(gamma, delta).

A client is described by ``periods``, the renewals it has made (periods survived: 0 in its first period),
and whether the contract still runs. An ended contract after n renewals contributes log P(T = n + 1), a
running one (censored) log S(n). A client first observed after it had already made n0 renewals (a contract
that began before the data: left truncation) is conditioned on having survived them: minus log S(n0).

What makes it exact and fast: every term is a log-Beta function ``betaln(gamma + s, delta + n)`` with s in
{0, 1} times a weight, so the data reduce to one coefficient per distinct (s, n) (a few hundred at most,
whatever the number of clients): the objective, its analytic gradient (digamma) and Hessian (trigamma) are
sums over that small table. The fit runs :func:`helpers.clv.fitting.optimiser.optimise` (L-BFGS-B, then Newton
steps with the exact Hessian) on lifetimes' form of the objective: the mean negative log-likelihood plus
``penalizer * (gamma**2 + delta**2)``, over the log-parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import betaln, digamma, polygamma

from helpers.clv.fitting import optimiser
from helpers.clv.fitting.optimiser import FastFit, FastFitError
from helpers.clv.inputs import as_array, check_weights


def _clients(mask: np.ndarray) -> str:
    count = int(np.count_nonzero(mask))
    return f"{count:,} client{'s' if count != 1 else ''}"


def check_retention_history(
    periods: Any, active: Any, entered: Any | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """periods (renewals made), active (contract still runs) and entered (renewals already made when the
    observation began) as arrays, refused with a reason when they cannot be a retention history."""
    n = as_array(periods)
    try:
        alive_values = np.asarray(active, dtype="float64").reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("active must be true/false (or 1/0) per client: does the contract still run?") from None
    n0 = np.zeros_like(n) if entered is None else as_array(entered)
    if not (len(n) == len(alive_values) == len(n0)):
        raise ValueError("periods, active and entered must have the same length")
    if len(n) == 0:
        raise ValueError("no clients to fit: periods and active are empty")
    if not (np.isfinite(n).all() and np.isfinite(alive_values).all() and np.isfinite(n0).all()):
        raise ValueError("periods, active and entered must be finite (no NaN)")
    if np.any(~np.isin(alive_values, (0.0, 1.0))):
        raise ValueError(f"active is neither true nor false for {_clients(~np.isin(alive_values, (0.0, 1.0)))}")
    for name, values in (("periods", n), ("entered", n0)):
        bad = (values < 0) | (values != np.trunc(values))
        if bad.any():
            raise ValueError(f"{name} is not a whole number >= 0 for {_clients(bad)}: renewals are counted 0, 1, 2, ...")
    if np.any(n0 > n):
        raise ValueError(
            f"entered is larger than periods for {_clients(n0 > n)}: a client cannot have made more renewals when "
            "it was first observed than it has made in all"
        )
    return n, alive_values.astype(bool), n0


@dataclass
class SBGData:
    """Exact reduction: the log-likelihood is ``sum_j coef[j] * betaln(gamma + shift[j], delta + n[j])``.

    ``shift`` 1 for ended contracts (P(T = n + 1)), 0 for running ones (S(n)) and for the normalisation
    (minus weight at ``betaln(gamma, delta + entered)``); ``sum_w``: clients (total weight); ``n_distinct``:
    distinct (periods, active, entered) rows behind the table."""

    shift: np.ndarray
    n: np.ndarray
    coef: np.ndarray
    sum_w: float
    n_distinct: int

    @property
    def n_terms(self) -> int:
        return len(self.coef)


def prepare_sbg(
    periods: Any, active: Any, weights: Any | None = None, entered: Any | None = None, reduce: bool = True
) -> SBGData:
    """The coefficient table of the log-likelihood; ``reduce=False`` keeps one term per client and part (the
    plain per-row sum, the reference for the reduction)."""
    n, alive, n0 = check_retention_history(periods, active, entered)
    w = np.ones(len(n)) if weights is None else check_weights(weights, len(n))
    ended = ~alive
    if not np.any(w[ended] > 0):
        raise ValueError(
            "no contract has ended among the clients given: the sBG model learns how fast contracts end from "
            "ended ones, so it cannot be fitted yet"
        )
    shift = np.concatenate([ended.astype("float64"), np.zeros(len(n))])
    at = np.concatenate([n, n0])
    coef = np.concatenate([w, -w])
    # distinct (periods, active, entered) rows, counted on one integer key
    n_distinct = len(np.unique((n0.astype(np.int64) * (int(n.max()) + 1) + n.astype(np.int64)) * 2 + alive))
    if reduce:
        # one coefficient per distinct (shift, n): running and normalisation terms at the same n merge
        code = at * 2 + shift
        uniq, inverse = np.unique(code, return_inverse=True)
        coef = np.bincount(inverse.reshape(-1), weights=coef, minlength=len(uniq))
        shift, at = uniq % 2, np.floor_divide(uniq, 2)
        keep = coef != 0
        shift, at, coef = shift[keep], at[keep], coef[keep]
    return SBGData(shift=shift, n=at, coef=coef, sum_w=float(w.sum()), n_distinct=int(n_distinct))


def survivors_to_clients(survivors: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cohort's survivors per period (first the cohort size) as weighted clients: the lost in period t
    (survivors[t - 1] - survivors[t]) ended after t - 1 renewals; the last survivors still run after
    len(survivors) - 1 renewals. Returns (periods, active, weights); weights of zero are dropped."""
    s = as_array(survivors)
    last = len(s) - 1
    lost = s[:-1] - s[1:]
    periods = np.concatenate([np.arange(last, dtype="float64"), [float(last)]])
    active = np.concatenate([np.zeros(last, dtype=bool), [True]])
    weights = np.concatenate([lost, [s[-1]]])
    keep = weights > 0
    return periods[keep], active[keep], weights[keep]


def _log_likelihood_terms(data: SBGData, gamma: float, delta: float, order: int = 1):
    """Total log-likelihood and, up to ``order``, its gradient and Hessian in (gamma, delta)."""
    a = gamma + data.shift
    b = delta + data.n
    ll = float(np.dot(data.coef, betaln(a, b)))
    if order < 1:
        return ll, None, None
    psi_ab = digamma(a + b)
    grad = np.array([np.dot(data.coef, digamma(a) - psi_ab), np.dot(data.coef, digamma(b) - psi_ab)])
    if order < 2:
        return ll, grad, None
    tri_ab = polygamma(1, a + b)
    h_aa = float(np.dot(data.coef, polygamma(1, a) - tri_ab))
    h_ab = -float(np.dot(data.coef, tri_ab))
    h_bb = float(np.dot(data.coef, polygamma(1, b) - tri_ab))
    return ll, grad, np.array([[h_aa, h_ab], [h_ab, h_bb]])


def sbg_log_likelihood(data: SBGData, gamma: float, delta: float) -> float:
    """The total (weighted) log-likelihood at (gamma, delta)."""
    return _log_likelihood_terms(data, gamma, delta, order=0)[0]


def sbg_objective(
    theta: np.ndarray, data: SBGData, penalizer: float = 0.0, need_value: bool = True
) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood plus ``penalizer * (gamma**2 + delta**2)`` and its analytic gradient at
    ``theta = log(gamma, delta)`` (the value comes with the gradient; ``need_value`` is ignored)."""
    params = np.exp(np.asarray(theta, dtype="float64"))
    ll, grad, _ = _log_likelihood_terms(data, *params)
    value = -ll / data.sum_w + penalizer * float(np.sum(params**2))
    return value, -grad * params / data.sum_w + 2.0 * penalizer * params**2


def sbg_hessian(theta: np.ndarray, data: SBGData, penalizer: float = 0.0, gradient: Any = None) -> np.ndarray:
    """Analytic Hessian of :func:`sbg_objective` in the log-parameters: with P = (gamma, delta) and the
    log-likelihood's gradient g and Hessian H in P, d2/dtheta2 = -(H * P P' + diag(g * P)) / W + 4 pen diag(P**2)."""
    params = np.exp(np.asarray(theta, dtype="float64"))
    _, grad, hess = _log_likelihood_terms(data, *params, order=2)
    return -(hess * np.outer(params, params) + np.diag(grad * params)) / data.sum_w + np.diag(
        4.0 * penalizer * params**2
    )


def log_parameter_covariance(data: SBGData, gamma: float, delta: float) -> np.ndarray:
    """Covariance of (log gamma, log delta) from the observed information at (gamma, delta): the inverse of
    minus the log-likelihood's Hessian in the log-parameters (the weights count clients). NaN where the
    information is not positive definite (a flat direction: the data do not pin the parameters down)."""
    params = np.array([gamma, delta])
    _, grad, hess = _log_likelihood_terms(data, gamma, delta, order=2)
    information = -(hess * np.outer(params, params) + np.diag(grad * params))
    try:
        np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        return np.full((2, 2), np.nan)
    return np.linalg.inv(information)


def fit_sbg(
    periods: Any,
    active: Any,
    weights: Any | None = None,
    entered: Any | None = None,
    penalizer: float = 0.0,
    reduce: bool = True,
) -> tuple[FastFit, SBGData]:
    """Maximum-likelihood sBG fit on clients' (periods, active[, entered]); returns the fit (parameters
    gamma, delta; total log-likelihood) and the reduced data (for the covariance). Raises ``ValueError``
    for data that are no retention history, :class:`FastFitError` when the optimiser finds no optimum."""
    data = prepare_sbg(periods, active, weights, entered, reduce=reduce)
    pen = float(penalizer)

    def fun(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
        return sbg_objective(theta, data, pen)

    def hess_fun(theta: np.ndarray, gradient: np.ndarray | None = None) -> np.ndarray:
        return sbg_hessian(theta, data, pen)

    with optimiser.single_blas_thread():
        theta, value, grad, iterations, info = optimiser.optimise(fun, 2, "sBG", None, hess_fun)
    gamma, delta = np.exp(theta)
    with np.errstate(all="ignore"):
        ll = sbg_log_likelihood(data, gamma, delta)
    if not np.isfinite(ll):
        raise FastFitError("sBG gives a non-finite log-likelihood")
    fit = FastFit(
        params={"gamma": float(gamma), "delta": float(delta)},
        log_likelihood=float(ll),
        objective=value,
        n_rows=data.n_distinct,
        n_iterations=iterations,
        gradient_norm=float(np.max(np.abs(grad))),
        notes=[info],
    )
    return fit, data
