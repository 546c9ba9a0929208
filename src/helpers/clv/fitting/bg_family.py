"""Fast exact fits of BG/NBD and MBG/NBD (numpy/scipy only, no lifetimes).

The fitted objective is *exactly* the one lifetimes 0.11.3 minimises, so the optimum is the same:
lifetimes rescales time by ``s = 1 / max(T)`` (recency and T multiplied by ``s``) and minimises, over the
log of the scaled parameters ``(r, alpha * s, a, b)``,

    f = -sum_i w_i * ll_i / sum_i w_i + penalizer * (r**2 + (alpha*s)**2 + a**2 + b**2)

with ``ll_i`` the published per-customer log-likelihood on the scaled data. Rescaling time shifts the
log-likelihood by the constant ``-log(s) * sum_i w_i x_i`` only, so without penalizer the optimum in the
unscaled parameters is the published maximum-likelihood estimate; with a penalizer it is lifetimes'
penalised estimate (the penalty acts on the *scaled* alpha, as in lifetimes). Frequencies are truncated to
integers, as lifetimes does.

What makes it fast (all exact rewrites of the same sums, no approximation): the likelihood depends on a
customer only through (x, t_x, T). Terms that depend on x only (the gamma functions) are evaluated once
per distinct x with the summed weights; terms ``(r + x) * log(alpha + T)`` once per distinct time value
with the summed weights (and summed ``w * x``); customers for whom the second branch of the likelihood is
absent (BG/NBD: x = 0) contribute only through those sums. Only the ``log(1 + exp(d))`` term needs one
entry per distinct (x, t_x, T) row, and there ``log(alpha + t)`` and ``1 / (alpha + t)`` are gathered
from the (small) grid of distinct times. Rows nearly all distinct (day-level data) are kept one per
customer rather than merged (merging costs an argsort and saves little per evaluation); times are indexed
through a small hash table on the grid of distinct times instead of an argsort of all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from helpers.clv.fitting import optimiser
from helpers.clv.fitting.grids import dot, history_grids
from helpers.clv.fitting.optimiser import FastFit, FastFitError
from helpers.clv.inputs import as_array


def _softplus_and_sigmoid(d: np.ndarray, need_value: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """log(1 + exp(d)) and sigmoid(d) = 1 / (1 + exp(-d)), stable for any d, one exp and one log per row.

    softplus(d) = d - log(sigmoid(d)). d is floored at -700 (exp(700) is finite): below that both are under
    1e-304, nothing in double precision next to the other terms."""
    dc = np.maximum(d, -700.0)
    sig = np.negative(dc)
    np.exp(sig, out=sig)
    sig += 1.0
    np.reciprocal(sig, out=sig)
    sp = None
    if need_value:
        sp = np.log(sig)
        np.subtract(dc, sp, out=sp)
    return sp, sig


@dataclass
class BGData:
    """Exact reduction of (x, t_x, T, w) for the BG/NBD family.

    ``grid``: distinct times (unscaled); ``scale``: lifetimes' 1 / max(T); ``xgrid``/``wx``: distinct
    frequencies with their total weight; ``wT``/``wxT``: per grid time, total weight and total w*x of the
    customers with that T; rows with the log(1 + exp(d)) term: ``x`` (float), ``ix``, ``it``, ``iT`` and
    ``w`` (one entry per distinct (x, t_x, T) row, unless nearly all rows are distinct: then one per
    row); ``sum_w``, ``sum_wx``: totals; ``n_distinct``: distinct (x, t_x, T) among those rows.
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
    n_distinct: int

    @property
    def n_rows(self) -> int:
        return len(self.w)



def prepare_bg(
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any | None = None,
    modified: bool = False,
    scale: float | None = None,
) -> BGData:
    """Reduce the data once (outside the optimiser loop); ``modified`` selects MBG/NBD; ``scale`` defaults to
    lifetimes' 1 / max(T) (a pilot subsample takes the full data's, so that its parameters mean the same)."""
    x, T_, w, grid, it_all, iT_all, xgrid, ix_all, wx = history_grids(frequency, recency, T, weights)
    ng, nx = len(grid), len(xgrid)
    wT = np.bincount(iT_all, weights=w, minlength=ng)
    wxT = np.bincount(iT_all, weights=w * x, minlength=ng)
    sel = slice(None) if modified else (x > 0)
    ix_s, it_s, iT_s, w_s = ix_all[sel], it_all[sel], iT_all[sel], w[sel]
    distinct = len(w_s)  # without a key (astronomically many distinct values): taken as all distinct
    if len(w_s) and float(nx) * ng * ng < 2.0**62:
        key = (ix_s.astype(np.int64) * ng + it_s) * ng + iT_s
        skey = np.sort(key)  # a plain sort is cheap; the argsort behind return_inverse is not
        distinct = int(np.count_nonzero(skey[1:] != skey[:-1])) + 1
        del skey
    if len(w_s) and distinct > 0.8 * len(w_s):
        # nearly all distinct (day-level data): merging would cost more than it saves per evaluation
        ix_u, it_u, iT_u, w_u = ix_s, it_s, iT_s, w_s
    elif len(w_s):  # merge identical (x, t_x, T) rows, summing their weights
        ukey, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        w_u = np.bincount(inv, weights=w_s, minlength=len(ukey))
        iT_u = ukey % ng
        it_u = (ukey // ng) % ng
        ix_u = ukey // (ng * ng)
        keep = w_u > 0
        ix_u, it_u, iT_u, w_u = ix_u[keep], it_u[keep], iT_u[keep], w_u[keep]
    else:
        ix_u = it_u = iT_u = np.zeros(0, dtype=np.int64)
        w_u = np.zeros(0)
    return BGData(
        modified=modified,
        grid=grid,
        scale=1.0 / float(T_.max()) if scale is None else float(scale),
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
        sum_wx=dot(w, x),
        n_distinct=distinct,
    )


def _bg_loglik(
    data: BGData,
    r: float,
    alpha: float,
    a: float,
    b: float,
    grid: np.ndarray,
    gradient: bool = True,
    need_value: bool = True,
) -> tuple[float, np.ndarray | None]:
    """Total log-likelihood sum_i w_i ll_i on the given time grid and its gradient in (r, alpha, a, b)
    (``need_value=False``: gradient only, the value is NaN)."""
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
    ll = dot(wx, head)
    # A3 = -(r + x) log(alpha + T), summed per distinct T
    coefT = r * data.wT + data.wxT
    ll -= dot(coefT, LTg)
    # branch: log(1 + exp(d)), d = log a - log(b + x - 1 + shift) + (r + x) (log(alpha+T) - log(alpha+t_x))
    cx = np.log(a) - np.log(b + xg - 1.0 + shift)
    D = np.take(LTg, data.iT)
    D -= np.take(LTg, data.it)
    rx = data.x + r
    d = rx * D
    d += np.take(cx, data.ix)
    sp, sig = _softplus_and_sigmoid(d, need_value or not gradient)
    ll = ll + float(np.dot(data.w, sp)) if sp is not None else np.nan
    if not gradient:
        return ll, None
    ws = np.multiply(data.w, sig, out=sig)
    ITg = 1.0 / ag
    dI = np.take(ITg, data.iT)
    dI -= np.take(ITg, data.it)
    sum_ws = float(ws.sum())
    g_r = dot(wx, digamma(r + xg) - digamma(r) + np.log(alpha)) - dot(data.wT, LTg)
    g_r += float(np.dot(ws, D))
    rx *= ws
    g_alpha = data.sum_w * r / alpha - dot(coefT, ITg) + float(np.dot(rx, dI))
    dab = digamma(a + b) - digamma(a + b + xg + shift)
    g_a = dot(wx, dab) + sum_ws / a
    g_b = dot(wx, dab + digamma(b + xg + shift) - digamma(b))
    g_b -= float(np.dot(ws, np.take(1.0 / (b + xg - 1.0 + shift), data.ix)))
    return ll, np.array([g_r, g_alpha, g_a, g_b])


def bg_objective(
    theta: np.ndarray, data: BGData, penalizer: float = 0.0, need_value: bool = True
) -> tuple[float, np.ndarray]:
    """lifetimes' objective (mean negative log-likelihood on scaled time + penalty on the scaled parameters)
    and its analytic gradient, at log-parameters ``theta = log(r, alpha * scale, a, b)``. With
    ``need_value=False`` only the gradient is computed (value NaN)."""
    params = np.exp(np.asarray(theta, dtype="float64"))
    r, alpha_s, a, b = params
    ll, grad = _bg_loglik(data, r, alpha_s, a, b, data.grid * data.scale, need_value=need_value)
    value = -ll / data.sum_w + penalizer * float(np.sum(params**2))
    g = -grad * params / data.sum_w + 2.0 * penalizer * params**2
    return value, g


def _fit_bg_family(
    frequency: Any, recency: Any, T: Any, weights: Any | None, penalizer: float, modified: bool
) -> FastFit:
    what = "MBG/NBD" if modified else "BG/NBD"
    data = prepare_bg(frequency, recency, T, weights, modified=modified)
    pen = float(penalizer)

    def fun(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
        return bg_objective(theta, data, pen, need_value)

    pilot = None
    sample = optimiser.pilot_sample(len(data_x := as_array(frequency)), weights, optimiser.PILOT_CUSTOMERS)
    if sample is not None:
        sel, w_sub = sample
        sub = prepare_bg(data_x[sel], as_array(recency)[sel], as_array(T)[sel], w_sub, modified=modified, scale=data.scale)

        def pilot(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
            return bg_objective(theta, sub, pen, need_value)

    theta, value, grad, iterations, info = optimiser.optimise(fun, 4, what, pilot)
    params = np.exp(theta)
    r, alpha_s, a, b = params
    alpha = alpha_s / data.scale  # lifetimes: params_["alpha"] /= self._scale
    # published log-likelihood on unscaled time: rescaling time by s shifts it by -log(s) * sum(w * x)
    ll_scaled = -(value - pen * float(np.sum(params**2))) * data.sum_w
    ll = ll_scaled + np.log(data.scale) * data.sum_wx
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
        return data.n_distinct
    # BG/NBD: rows with x = 0 were folded into per-T sums; they are as many as distinct T among them
    zero_T = data.wT - np.bincount(data.iT, weights=data.w, minlength=len(data.grid))
    return data.n_distinct + int(np.sum(zero_T > 1e-9 * max(1.0, data.sum_w)))


def fit_bgnbd(frequency: Any, recency: Any, T: Any, weights: Any | None = None, penalizer: float = 0.0) -> FastFit:
    """BG/NBD maximum-likelihood fit, the same optimum as ``lifetimes.BetaGeoFitter(penalizer).fit``."""
    with optimiser.single_blas_thread():
        return _fit_bg_family(frequency, recency, T, weights, penalizer, modified=False)


def fit_mbgnbd(frequency: Any, recency: Any, T: Any, weights: Any | None = None, penalizer: float = 0.0) -> FastFit:
    """MBG/NBD fit, the same optimum as ``lifetimes.ModifiedBetaGeoFitter(penalizer).fit``."""
    with optimiser.single_blas_thread():
        return _fit_bg_family(frequency, recency, T, weights, penalizer, modified=True)
