"""Fast exact fit of Gamma-Gamma (numpy/scipy only, no lifetimes).

The objective is lifetimes' own: no rescaling, ``f = -sum w ll / sum w + penalizer * (p**2 + q**2 + v**2)``
over ``log(p, q, v)``, so the optimum is the same. A row enters the likelihood only through x (gamma
functions, per distinct x), constants computed once (``sum w x log(x m)``, ``sum w log m``) and
``log(x*m + v)``: rows are grouped by the exact value of the product ``x*m`` (the total repeat spend, with
many ties when amounts are in cents). Analytic gradient and Hessian (digamma and trigamma terms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from helpers.clv.fitting import optimiser
from helpers.clv.fitting.grids import dot, index_small_ints
from helpers.clv.fitting.optimiser import FastFit, FastFitError
from helpers.clv.inputs import as_array, check_spend_history, check_weights


@dataclass
class GGData:
    """Exact reduction for Gamma-Gamma: distinct x with total weight (``xgrid``, ``wx``); distinct values of
    the product x*m (``xm``) with total weight ``w`` and total w*x ``wxx`` (one entry per customer when
    nearly all values are distinct); constants ``c_xlogxm`` = sum w x log(x m) and ``c_logm`` =
    sum w log m; ``sum_w``; ``n_distinct``: distinct values of x*m."""

    xgrid: np.ndarray
    wx: np.ndarray
    xm: np.ndarray
    w: np.ndarray
    wxx: np.ndarray
    c_xlogxm: float
    c_logm: float
    sum_w: float
    n_customers_rows: int
    n_distinct: int


def prepare_gamma_gamma(frequency: Any, monetary_value: Any, weights: Any | None = None) -> GGData:
    x, m = check_spend_history(frequency, monetary_value)
    w = np.ones(len(x)) if weights is None else check_weights(weights, len(x))
    xgrid, ix = index_small_ints(x)
    wx = np.bincount(ix, weights=w, minlength=len(xgrid))
    present = wx > 0  # a dense grid may hold frequencies nobody has (x = 0: gammaln(0) is inf)
    xgrid, wx = xgrid[present], wx[present]
    prod = x * m + 0.0  # exactly the product lifetimes evaluates inside log(x * m + v) (-0.0 cannot occur)
    sorted_prod = np.sort(prod)  # a plain sort counts the distinct values cheaply
    distinct = int(np.count_nonzero(sorted_prod[1:] != sorted_prod[:-1])) + 1
    del sorted_prod
    if distinct > 0.8 * len(prod):  # nearly all distinct: merging would cost more than it saves
        xm, wu, wxu = prod, w, w * x
    else:
        xm, inv = np.unique(prod, return_inverse=True)
        inv = inv.reshape(-1)
        wu = np.bincount(inv, weights=w, minlength=len(xm))
        wxu = np.bincount(inv, weights=w * x, minlength=len(xm))
    logm = np.log(m)
    return GGData(
        xgrid=xgrid,
        wx=wx,
        xm=xm,
        w=wu,
        wxx=wxu,
        c_xlogxm=dot(w * x, logm + np.log(x)),
        c_logm=dot(w, logm),
        sum_w=float(w.sum()),
        n_customers_rows=len(x),
        n_distinct=distinct,
    )


def _gg_loglik(data: GGData, p: float, q: float, v: float, gradient: bool = True):
    """Total Gamma-Gamma log-likelihood (lifetimes' / Hardie's form) and its gradient in (p, q, v)."""
    xg, wx = data.xgrid, data.wx
    px = p * xg
    ll = dot(wx, gammaln(px + q) - gammaln(px) - gammaln(q))
    L = np.log(data.xm + v)
    sum_wL = float(np.dot(data.w, L))
    sum_wxL = float(np.dot(data.wxx, L))
    ll += data.sum_w * q * np.log(v) + p * data.c_xlogxm - data.c_logm - p * sum_wxL - q * sum_wL
    if not gradient:
        return ll, None
    R = 1.0 / (data.xm + v)
    dpq = digamma(px + q)
    g_p = dot(wx * xg, dpq - digamma(px)) + data.c_xlogxm - sum_wxL
    g_q = dot(wx, dpq) - data.sum_w * digamma(q) + data.sum_w * np.log(v) - sum_wL
    g_v = data.sum_w * q / v - p * float(np.dot(data.wxx, R)) - q * float(np.dot(data.w, R))
    return ll, np.array([g_p, g_q, g_v])


def gg_objective(
    theta: np.ndarray, data: GGData, penalizer: float = 0.0, need_value: bool = True
) -> tuple[float, np.ndarray]:
    """lifetimes' Gamma-Gamma objective (mean negative log-likelihood + penalty) and its analytic gradient
    at ``theta = log(p, q, v)`` (the value comes free with the gradient; ``need_value`` is ignored)."""
    params = np.exp(np.asarray(theta, dtype="float64"))
    p, q, v = params
    ll, grad = _gg_loglik(data, p, q, v)
    value = -ll / data.sum_w + penalizer * float(np.sum(params**2))
    g = -grad * params / data.sum_w + 2.0 * penalizer * params**2
    return value, g


def gg_hessian(
    theta: np.ndarray, data: GGData, penalizer: float = 0.0, gradient: np.ndarray | None = None
) -> np.ndarray:
    """Analytic Hessian of :func:`gg_objective` in the log-parameters (``gradient``: the objective's
    gradient at theta when already known)."""
    P = np.exp(np.asarray(theta, dtype="float64"))
    p, q, v = P
    if gradient is None:
        _, g = _gg_loglik(data, p, q, v)
    else:  # log-likelihood gradient in (p, q, v) back from the objective's: g_theta = -g P / W + 2 pen P^2
        g = (2.0 * penalizer * P**2 - np.asarray(gradient)) * data.sum_w / P
    xg, wx, W = data.xgrid, data.wx, data.sum_w
    t_pq = polygamma(1, p * xg + q)
    R = 1.0 / (data.xm + v)
    sum_wxR, sum_wR = float(np.dot(data.wxx, R)), float(np.dot(data.w, R))
    R *= R
    H = np.empty((3, 3))
    H[0, 0] = dot(wx * xg * xg, t_pq - polygamma(1, p * xg))
    H[0, 1] = H[1, 0] = dot(wx * xg, t_pq)
    H[1, 1] = dot(wx, t_pq) - W * float(polygamma(1, q))
    H[0, 2] = H[2, 0] = -sum_wxR
    H[1, 2] = H[2, 1] = W / v - sum_wR
    H[2, 2] = -W * q / v**2 + p * float(np.dot(data.wxx, R)) + q * float(np.dot(data.w, R))
    return -(H * np.outer(P, P) + np.diag(g * P)) / W + np.diag(4.0 * penalizer * P**2)


def fit_gamma_gamma(
    frequency: Any, monetary_value: Any, weights: Any | None = None, penalizer: float = 0.0
) -> FastFit:
    """Gamma-Gamma fit on repeat buyers (frequency > 0, spend > 0), the same optimum as
    ``lifetimes.GammaGammaFitter(penalizer).fit``. The log-likelihood omits the parameter-free constant,
    as lifetimes and :meth:`helpers.clv.models.gamma_gamma.GammaGamma.log_likelihood` do."""
    with optimiser.single_blas_thread():
        return _fit_gamma_gamma(frequency, monetary_value, weights, penalizer)


def _fit_gamma_gamma(frequency: Any, monetary_value: Any, weights: Any | None, penalizer: float) -> FastFit:
    data = prepare_gamma_gamma(frequency, monetary_value, weights)
    pen = float(penalizer)

    def fun(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
        return gg_objective(theta, data, pen)

    pilot = None
    sample = optimiser.pilot_sample(data.n_customers_rows, weights, max(optimiser.PILOT_CUSTOMERS // 4, 100))
    if sample is not None:
        sel, w_sub = sample
        sub = prepare_gamma_gamma(as_array(frequency)[sel], as_array(monetary_value)[sel], w_sub)

        def pilot(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
            return gg_objective(theta, sub, pen)

    def hess_fun(theta: np.ndarray, gradient: np.ndarray | None = None) -> np.ndarray:
        return gg_hessian(theta, data, pen, gradient)

    theta, value, grad, iterations, info = optimiser.optimise(fun, 3, "Gamma-Gamma", pilot, hess_fun)
    p, q, v = np.exp(theta)
    with np.errstate(all="ignore"):
        ll, _ = _gg_loglik(data, p, q, v, gradient=False)
    if not np.isfinite(ll):
        raise FastFitError("Gamma-Gamma gives a non-finite log-likelihood")
    return FastFit(
        params={"p": float(p), "q": float(q), "v": float(v)},
        log_likelihood=float(ll),
        objective=value,
        n_rows=data.n_distinct,
        n_iterations=iterations,
        gradient_norm=float(np.max(np.abs(grad))),
        notes=[info],
    )
