"""Fast maximum-likelihood fits of BG/NBD, MBG/NBD and Gamma-Gamma (numpy/scipy only, no lifetimes).

The fitted objective is *exactly* the one lifetimes 0.11.3 minimises, so the optimum is the same:

- BG/NBD and MBG/NBD: lifetimes rescales time by ``s = 1 / max(T)`` (recency and T multiplied by ``s``) and
  minimises, over the log of the scaled parameters ``(r, alpha * s, a, b)``,

      f = -sum_i w_i * ll_i / sum_i w_i + penalizer * (r**2 + (alpha*s)**2 + a**2 + b**2)

  with ``ll_i`` the published per-customer log-likelihood on the scaled data. Rescaling time shifts the
  log-likelihood by the constant ``-log(s) * sum_i w_i x_i`` only, so without penalizer the optimum in the
  unscaled parameters is the published maximum-likelihood estimate; with a penalizer it is lifetimes'
  penalised estimate (the penalty acts on the *scaled* alpha, as in lifetimes). Frequencies are truncated
  to integers, as lifetimes does.
- Gamma-Gamma: no rescaling; ``f = -sum w ll / sum w + penalizer * (p**2 + q**2 + v**2)`` over
  ``log(p, q, v)``.

What makes it fast (all exact rewrites of the same sums, no approximation):

- The likelihood depends on a customer only through (x, t_x, T). Terms that depend on x only (the gamma
  functions) are evaluated once per distinct x with the summed weights; terms ``(r + x) * log(alpha + T)``
  are evaluated once per distinct time value with the summed weights (and summed ``w * x``); customers
  for whom the second branch of the likelihood is absent (BG/NBD: x = 0) contribute only through those
  sums. Only the ``log(1 + exp(d))`` term needs one entry per distinct (x, t_x, T) row, and there
  ``log(alpha + t)`` and ``1 / (alpha + t)`` are gathered from the (small) grid of distinct times.
- Gamma-Gamma depends on a row only through x (gamma functions, per distinct x), constants computed once
  (``sum w x log(x m)``, ``sum w log m``) and ``log(x*m + v)``: rows are grouped by the exact value of the
  product ``x*m`` (the total repeat spend, with many ties when amounts are in cents).
- Analytic gradients (digamma terms) with L-BFGS-B from lifetimes' own start (log-parameters 0.1), tight
  tolerances, then a few Newton steps with a Hessian from central differences of the analytic gradient,
  so the result is the optimum to near machine precision (lifetimes stops its BFGS at gradient norm 1e-7).

Failures (non-finite objective, optimiser not reaching a stationary point, invalid parameters) raise
:class:`FastFitError`; :mod:`helpers.btyd` turns it into lifetimes' ``ConvergenceError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

__all__ = [
    "FastFitError",
    "FastFit",
    "BGData",
    "GGData",
    "prepare_bg",
    "prepare_gamma_gamma",
    "bg_objective",
    "gg_objective",
    "fit_bgnbd",
    "fit_mbgnbd",
    "fit_gamma_gamma",
]

#: lifetimes' starting point: log-parameters all 0.1
_START = 0.1
#: accept the optimum when the largest gradient component of the (mean) objective is below this
_GRAD_ACCEPT = 1e-6


class FastFitError(RuntimeError):
    """The optimiser did not reach a valid optimum (btyd turns it into lifetimes' ConvergenceError)."""


@dataclass
class FastFit:
    """Parameters by their published names (unscaled), total published log-likelihood (unscaled data),
    the penalised mean objective at the optimum (lifetimes' ``_negative_log_likelihood_``), the number of
    distinct rows the optimiser evaluated, and diagnostics."""

    params: dict[str, float]
    log_likelihood: float
    objective: float
    n_rows: int
    n_iterations: int
    gradient_norm: float
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _arr(values: Any) -> np.ndarray:
    return np.asarray(values, dtype="float64").reshape(-1)


def _weights(weights: Any | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = _arr(weights)
    if len(w) != n:
        raise ValueError("weights must have one entry per row")
    if not (np.isfinite(w).all() and (w >= 0).all()) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    return w


def _index_small_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grid, index) for non-negative integer-valued floats: a dense 0..max grid when small, else unique."""
    vmax = float(values.max()) if len(values) else 0.0
    if vmax < 1_000_000 and vmax < 4 * len(values) + 1000:
        index = values.astype(np.int64)
        return np.arange(index.max() + 1 if len(index) else 1, dtype="float64"), index
    grid, index = np.unique(values, return_inverse=True)
    return grid, index.reshape(-1)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Pairwise-summed dot product without BLAS (OpenBLAS threads its ddot, which crawls on busy machines)."""
    return float(np.multiply(a, b).sum())


def _softplus_and_sigmoid(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(1 + exp(d)) and 1 / (1 + exp(-d)), stable for any d, few temporaries.

    |d| is capped at 700 inside exp (exp(-700) ~ 1e-304 is still a normal number; subnormals make exp and
    log1p crawl); what the cap changes is below 1e-300 per row, nothing in double precision."""
    e = np.abs(d)
    np.minimum(e, 700.0, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)  # e = exp(-min(|d|, 700)) in (0, 1]
    sp = np.log1p(e)
    sp += np.maximum(d, 0.0)
    sig = e + 1.0
    np.reciprocal(sig, out=sig)  # 1 / (1 + e)
    neg = d < 0
    sig[neg] *= e[neg]  # d < 0: e / (1 + e)
    return sp, sig


def _optimise(
    fun: Any, n_params: int, what: str, max_newton: int = 8
) -> tuple[np.ndarray, float, np.ndarray, int, str]:
    """L-BFGS-B on log-parameters from lifetimes' start, then Newton polishing with an FD Hessian."""
    x0 = np.full(n_params, _START)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 5000, "maxfun": 10000, "ftol": 1e-15, "gtol": 1e-11, "maxcor": 20},
        )
        theta = np.asarray(res.x, dtype="float64")
        value, grad = fun(theta)
        iterations = int(res.nit)
        lbfgs_gnorm = float(np.max(np.abs(grad)))
        newton_steps = 0
        if not (np.isfinite(value) and np.isfinite(grad).all() and np.isfinite(theta).all()):
            raise FastFitError(f"{what}: non-finite objective or gradient ({res.message})")
        # Newton polishing: Hessian by central differences of the analytic gradient, step accepted only if
        # it lowers the gradient norm without raising the objective (beyond rounding).
        for _ in range(max_newton):
            gnorm = float(np.max(np.abs(grad)))
            if gnorm < 1e-13:
                break
            h = 1e-5
            hess = np.empty((n_params, n_params))
            for k in range(n_params):
                step = np.zeros(n_params)
                step[k] = h
                hess[:, k] = (fun(theta + step)[1] - fun(theta - step)[1]) / (2 * h)
            hess = 0.5 * (hess + hess.T)
            try:
                delta = np.linalg.solve(hess, -grad)
            except np.linalg.LinAlgError:
                break
            if not np.isfinite(delta).all() or np.max(np.abs(delta)) > 1.0:
                break
            new_value, new_grad = fun(theta + delta)
            if not (
                np.isfinite(new_value)
                and np.isfinite(new_grad).all()
                and new_value <= value + 1e-12 * max(1.0, abs(value))
                and np.max(np.abs(new_grad)) < gnorm
            ):
                break
            theta, value, grad = theta + delta, new_value, new_grad
            newton_steps += 1
    gnorm = float(np.max(np.abs(grad)))
    if not (np.isfinite(gnorm) and gnorm <= _GRAD_ACCEPT):
        raise FastFitError(f"{what} did not converge (gradient {gnorm:.2e}; {res.message})")
    params = np.exp(theta)
    if not (np.isfinite(params).all() and (params > 0).all()):
        raise FastFitError(f"{what} returned invalid parameters {params}")
    info = (
        f"L-BFGS-B: {res.nit} iterations, {res.nfev} evaluations, gradient {lbfgs_gnorm:.1e}; "
        f"{newton_steps} Newton steps, gradient {gnorm:.1e}"
    )
    return theta, float(value), grad, iterations + newton_steps, info


# --------------------------------------------------------------------------------------------------
# BG/NBD and MBG/NBD
# --------------------------------------------------------------------------------------------------
@dataclass
class BGData:
    """Exact reduction of (x, t_x, T, w) for the BG/NBD family.

    ``grid``: distinct times (unscaled); ``scale``: lifetimes' 1 / max(T); ``xgrid``/``wx``: distinct
    frequencies with their total weight; ``wT``/``wxT``: per grid time, total weight and total w*x of the
    customers with that T; rows with the log(1 + exp(d)) term: ``x`` (float), ``ix``, ``it``, ``iT`` and
    ``w`` (one entry per distinct (x, t_x, T)); ``sum_w``, ``sum_wx``: totals.
    """

    modified: bool
    grid: np.ndarray
    scale: float
    xgrid: np.ndarray
    wx: np.ndarray
    wT: np.ndarray
    wxT: np.ndarray
    x: np.ndarray
    ix: np.ndarray
    it: np.ndarray
    iT: np.ndarray
    w: np.ndarray
    sum_w: float
    sum_wx: float

    @property
    def n_rows(self) -> int:
        return len(self.w)


def _check_frt(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    # lifetimes' _check_inputs, same messages
    if not (len(x) == len(t_x) == len(T)):
        raise ValueError("frequency, recency and T must have the same length")
    if len(x) == 0:
        raise ValueError("There exists a zero length vector in one of frequency, recency or T.")
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise ValueError("frequency, recency and T must be finite (no NaN)")
    if np.any(t_x > T):
        raise ValueError("Some values in recency vector are larger than T vector.")
    if np.any(t_x[x == 0] != 0):
        raise ValueError("There exist non-zero recency values when frequency is zero.")
    if np.any(t_x < 0):
        raise ValueError("There exist negative recency (ex: last order set before first order)")
    if np.any(x < 0):
        raise ValueError("frequency must be non-negative")
    if not np.all(T > 0):
        raise ValueError("T must be positive")


def prepare_bg(frequency: Any, recency: Any, T: Any, weights: Any | None = None, modified: bool = False) -> BGData:
    """Reduce the data once (outside the optimiser loop); ``modified`` selects MBG/NBD."""
    x = np.trunc(_arr(frequency))  # lifetimes: frequency.astype(int)
    t_x, T_ = _arr(recency), _arr(T)
    _check_frt(x, t_x, T_)
    w = _weights(weights, len(x))
    grid, tindex = np.unique(np.concatenate([t_x, T_]), return_inverse=True)
    tindex = tindex.reshape(-1)
    it_all, iT_all = tindex[: len(x)], tindex[len(x) :]
    xgrid, ix_all = _index_small_ints(x)
    ng, nx = len(grid), len(xgrid)
    wx = np.bincount(ix_all, weights=w, minlength=nx)
    wT = np.bincount(iT_all, weights=w, minlength=ng)
    wxT = np.bincount(iT_all, weights=w * x, minlength=ng)
    sel = slice(None) if modified else (x > 0)
    ix_s, it_s, iT_s, w_s = ix_all[sel], it_all[sel], iT_all[sel], w[sel]
    if len(w_s):
        if float(nx) * ng * ng < 2.0**62:
            key = (ix_s.astype(np.int64) * ng + it_s) * ng + iT_s
            ukey, inv = np.unique(key, return_inverse=True)
            inv = inv.reshape(-1)
            w_u = np.bincount(inv, weights=w_s, minlength=len(ukey))
            iT_u = ukey % ng
            it_u = (ukey // ng) % ng
            ix_u = ukey // (ng * ng)
        else:  # astronomically many distinct values: unique rows of the index triple
            stacked = np.column_stack([ix_s, it_s, iT_s])
            uniq, inv = np.unique(stacked, axis=0, return_inverse=True)
            inv = inv.reshape(-1)
            w_u = np.bincount(inv, weights=w_s, minlength=len(uniq))
            ix_u, it_u, iT_u = uniq[:, 0], uniq[:, 1], uniq[:, 2]
        keep = w_u > 0
        ix_u, it_u, iT_u, w_u = ix_u[keep], it_u[keep], iT_u[keep], w_u[keep]
    else:
        ix_u = it_u = iT_u = np.zeros(0, dtype=np.int64)
        w_u = np.zeros(0)
    return BGData(
        modified=modified,
        grid=grid,
        scale=1.0 / float(T_.max()),
        xgrid=xgrid,
        wx=wx,
        wT=wT,
        wxT=wxT,
        x=xgrid[ix_u],
        ix=ix_u.astype(np.intp),
        it=it_u.astype(np.intp),
        iT=iT_u.astype(np.intp),
        w=w_u,
        sum_w=float(w.sum()),
        sum_wx=_dot(w, x),
    )


def _bg_loglik(data: BGData, r: float, alpha: float, a: float, b: float, grid: np.ndarray, gradient: bool = True):
    """Total log-likelihood sum_i w_i ll_i on the given time grid and its gradient in (r, alpha, a, b)."""
    xg, wx = data.xgrid, data.wx
    shift = 1.0 if data.modified else 0.0  # MBG/NBD: b + x + 1, a + b + x + 1; log(b + x) in the branch
    ag = alpha + grid
    LTg = np.log(ag)
    # per distinct x: A1 + A2
    head = (
        gammaln(r + xg)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + xg + shift)
        - gammaln(b)
        - gammaln(a + b + xg + shift)
    )
    ll = _dot(wx, head)
    # A3 = -(r + x) log(alpha + T), summed per distinct T
    coefT = r * data.wT + data.wxT
    ll -= _dot(coefT, LTg)
    # branch: log(1 + exp(d)), d = log a - log(b + x - 1 + shift) + (r + x) (log(alpha+T) - log(alpha+t_x))
    cx = np.log(a) - np.log(b + xg - 1.0 + shift)
    D = LTg[data.iT] - LTg[data.it]
    rx = data.x + r
    d = rx * D
    d += cx[data.ix]
    sp, sig = _softplus_and_sigmoid(d)
    ll += _dot(data.w, sp)
    if not gradient:
        return ll, None
    ws = data.w * sig
    ITg = 1.0 / ag
    dI = ITg[data.iT] - ITg[data.it]
    sum_ws = float(ws.sum())
    g_r = _dot(wx, digamma(r + xg) - digamma(r) + np.log(alpha)) - _dot(data.wT, LTg)
    g_r += _dot(ws, D)
    g_alpha = data.sum_w * r / alpha - _dot(coefT, ITg) + _dot(ws * rx, dI)
    dab = digamma(a + b) - digamma(a + b + xg + shift)
    g_a = _dot(wx, dab) + sum_ws / a
    g_b = _dot(wx, dab + digamma(b + xg + shift) - digamma(b))
    g_b -= _dot(ws, (1.0 / (b + xg - 1.0 + shift))[data.ix])
    return ll, np.array([g_r, g_alpha, g_a, g_b])


def bg_objective(theta: np.ndarray, data: BGData, penalizer: float = 0.0) -> tuple[float, np.ndarray]:
    """lifetimes' objective (mean negative log-likelihood on scaled time + penalty on the scaled parameters)
    and its analytic gradient, at log-parameters ``theta = log(r, alpha * scale, a, b)``."""
    params = np.exp(np.asarray(theta, dtype="float64"))
    r, alpha_s, a, b = params
    ll, grad = _bg_loglik(data, r, alpha_s, a, b, data.grid * data.scale)
    value = -ll / data.sum_w + penalizer * float(np.sum(params**2))
    g = -grad * params / data.sum_w + 2.0 * penalizer * params**2
    return value, g


def _fit_bg_family(
    frequency: Any, recency: Any, T: Any, weights: Any | None, penalizer: float, modified: bool
) -> FastFit:
    what = "MBG/NBD" if modified else "BG/NBD"
    data = prepare_bg(frequency, recency, T, weights, modified=modified)
    pen = float(penalizer)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return bg_objective(theta, data, pen)

    theta, value, grad, iterations, info = _optimise(fun, 4, what)
    r, alpha_s, a, b = np.exp(theta)
    alpha = alpha_s / data.scale  # lifetimes: params_["alpha"] /= self._scale
    with np.errstate(all="ignore"):
        ll, _ = _bg_loglik(data, r, alpha, a, b, data.grid, gradient=False)
    if not np.isfinite(ll):
        raise FastFitError(f"{what} gives a non-finite log-likelihood")
    return FastFit(
        params={"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)},
        log_likelihood=float(ll),
        objective=value,
        n_rows=_bg_distinct_rows(data),
        n_iterations=iterations,
        gradient_norm=float(np.max(np.abs(grad))),
        notes=[info],
    )


def _bg_distinct_rows(data: BGData) -> int:
    if data.modified:
        return data.n_rows
    # BG/NBD: rows with x = 0 were folded into per-T sums; they are as many as distinct T among them
    zero_T = data.wT - np.bincount(data.iT, weights=data.w, minlength=len(data.grid))
    return data.n_rows + int(np.sum(zero_T > 1e-9 * max(1.0, data.sum_w)))


def fit_bgnbd(frequency: Any, recency: Any, T: Any, weights: Any | None = None, penalizer: float = 0.0) -> FastFit:
    """BG/NBD maximum-likelihood fit, the same optimum as ``lifetimes.BetaGeoFitter(penalizer).fit``."""
    return _fit_bg_family(frequency, recency, T, weights, penalizer, modified=False)


def fit_mbgnbd(frequency: Any, recency: Any, T: Any, weights: Any | None = None, penalizer: float = 0.0) -> FastFit:
    """MBG/NBD fit, the same optimum as ``lifetimes.ModifiedBetaGeoFitter(penalizer).fit``."""
    return _fit_bg_family(frequency, recency, T, weights, penalizer, modified=True)


# --------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------
@dataclass
class GGData:
    """Exact reduction for Gamma-Gamma: distinct x with total weight (``xgrid``, ``wx``); distinct values of
    the product x*m (``xm``) with total weight ``w`` and total w*x ``wxx``; constants ``c_xlogxm`` =
    sum w x log(x m) and ``c_logm`` = sum w log m; ``sum_w``."""

    xgrid: np.ndarray
    wx: np.ndarray
    xm: np.ndarray
    w: np.ndarray
    wxx: np.ndarray
    c_xlogxm: float
    c_logm: float
    sum_w: float
    n_customers_rows: int


def prepare_gamma_gamma(frequency: Any, monetary_value: Any, weights: Any | None = None) -> GGData:
    x, m = _arr(frequency), _arr(monetary_value)
    if len(x) != len(m):
        raise ValueError("frequency and monetary_value must have the same length")
    if len(x) == 0:
        raise ValueError("There exists a zero length vector in one of frequency, recency or T.")
    if not (np.isfinite(x).all() and np.isfinite(m).all()):
        raise ValueError("frequency and monetary_value must be finite (no NaN)")
    if np.sum((x - x.astype(int)) ** 2) != 0:
        raise ValueError("There exist non-integer values in the frequency vector.")
    if np.any(m <= 0):
        raise ValueError("There exist non-positive (<= 0) values in the monetary_value vector.")
    if np.any(x <= 0):
        raise ValueError("Gamma-Gamma needs frequency > 0 (repeat buyers only)")
    w = _weights(weights, len(x))
    xgrid, ix = _index_small_ints(x)
    wx = np.bincount(ix, weights=w, minlength=len(xgrid))
    present = wx > 0  # a dense grid may hold frequencies nobody has (x = 0: gammaln(0) is inf)
    xgrid, wx = xgrid[present], wx[present]
    prod = x * m  # exactly the product lifetimes evaluates inside log(x * m + v)
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
        c_xlogxm=_dot(w * x, logm + np.log(x)),
        c_logm=_dot(w, logm),
        sum_w=float(w.sum()),
        n_customers_rows=len(x),
    )


def _gg_loglik(data: GGData, p: float, q: float, v: float, gradient: bool = True):
    """Total Gamma-Gamma log-likelihood (lifetimes' / Hardie's form) and its gradient in (p, q, v)."""
    xg, wx = data.xgrid, data.wx
    px = p * xg
    ll = _dot(wx, gammaln(px + q) - gammaln(px) - gammaln(q))
    L = np.log(data.xm + v)
    sum_wL = _dot(data.w, L)
    sum_wxL = _dot(data.wxx, L)
    ll += data.sum_w * q * np.log(v) + p * data.c_xlogxm - data.c_logm - p * sum_wxL - q * sum_wL
    if not gradient:
        return ll, None
    R = 1.0 / (data.xm + v)
    dpq = digamma(px + q)
    g_p = _dot(wx * xg, dpq - digamma(px)) + data.c_xlogxm - sum_wxL
    g_q = _dot(wx, dpq) - data.sum_w * digamma(q) + data.sum_w * np.log(v) - sum_wL
    g_v = data.sum_w * q / v - p * _dot(data.wxx, R) - q * _dot(data.w, R)
    return ll, np.array([g_p, g_q, g_v])


def gg_objective(theta: np.ndarray, data: GGData, penalizer: float = 0.0) -> tuple[float, np.ndarray]:
    """lifetimes' Gamma-Gamma objective (mean negative log-likelihood + penalty) and its analytic gradient
    at ``theta = log(p, q, v)``."""
    params = np.exp(np.asarray(theta, dtype="float64"))
    p, q, v = params
    ll, grad = _gg_loglik(data, p, q, v)
    value = -ll / data.sum_w + penalizer * float(np.sum(params**2))
    g = -grad * params / data.sum_w + 2.0 * penalizer * params**2
    return value, g


def fit_gamma_gamma(
    frequency: Any, monetary_value: Any, weights: Any | None = None, penalizer: float = 0.0
) -> FastFit:
    """Gamma-Gamma fit on repeat buyers (frequency > 0, spend > 0), the same optimum as
    ``lifetimes.GammaGammaFitter(penalizer).fit``. The log-likelihood omits the parameter-free constant,
    as lifetimes and :func:`helpers.btyd.gamma_gamma_log_likelihood` do."""
    data = prepare_gamma_gamma(frequency, monetary_value, weights)
    pen = float(penalizer)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return gg_objective(theta, data, pen)

    theta, value, grad, iterations, info = _optimise(fun, 3, "Gamma-Gamma")
    p, q, v = np.exp(theta)
    with np.errstate(all="ignore"):
        ll, _ = _gg_loglik(data, p, q, v, gradient=False)
    if not np.isfinite(ll):
        raise FastFitError("Gamma-Gamma gives a non-finite log-likelihood")
    return FastFit(
        params={"p": float(p), "q": float(q), "v": float(v)},
        log_likelihood=float(ll),
        objective=value,
        n_rows=len(data.xm),
        n_iterations=iterations,
        gradient_norm=float(np.max(np.abs(grad))),
        notes=[info],
    )
