"""Fast exact fit of Pareto/NBD and its P(alive) (numpy/scipy only, no lifetimes).

The objective is lifetimes 0.11.3's own (``ParetoNBDFitter._negative_log_likelihood``), so the optimum is
the same: time rescaled by ``scale = 1 / max(T)``, the per-customer log-likelihood ``ll_i`` of Fader and
Hardie (2005, eq. 18-20) on the scaled data, and

    lifetimes:  -sum_i w_i ll_i / mean(w) + penalizer * (r**2 + (alpha*scale)**2 + s**2 + (beta*scale)**2)

over the scaled parameters (the penalty acts on all four, alpha and beta scaled). Unlike BG/NBD, lifetimes
divides by the *mean* weight: with one row per customer that is the total negative log-likelihood, so the
penalty weighs n times less than in BG/NBD. :func:`pareto_objective` returns that objective divided by the
number of rows given (``ParetoData.lifetimes_rows``), the same minimiser with values of order one:

    value = -sum_i w_i ll_i / sum_i w_i + (penalizer / lifetimes_rows) * sum(params**2),

at ``theta = log(r, alpha * scale, s, beta * scale)`` (as ``bg_objective``). The published parameters are
``alpha = exp(theta[1]) / scale``, ``beta = exp(theta[3]) / scale``; rescaling time shifts the
log-likelihood by ``-log(scale) * sum w x`` only. For standard errors: without penalizer the Hessian of the
total published log-likelihood in theta is ``-sum_w`` times the Hessian of ``value`` (differences of the
analytic gradient, e.g. ``optimiser._fd_hessian``), the same in the unscaled log-parameters (the scale
shifts log alpha and log beta by a constant).

The hypergeometric function. With ``G(x, t) = int_t^inf (alpha + u)^-(r+x) (beta + u)^-(s+1) du`` (the
dropout falls at u), ``ll = log Gamma(r+x) - log Gamma(r) + r log alpha + s log beta
+ log[(alpha+T)^-(r+x) (beta+T)^-s + s (G(x, t_x) - G(x, T))]``; ``s G(x, T)`` never exceeds the first
term, so the difference loses nothing next to it. G is needed once per distinct (x, t) pair (a few
ten thousand at a million customers), with its derivatives in (r, alpha, s, beta):

- where ``z = |alpha - beta| / (max(alpha, beta) + t) <= 1/2``, by the series
  ``G = (min + t)^(1-e') (max + t)^-e / m * sum_n (e)_n / (m+1)_n z^n`` (e, e': the exponents of the
  larger and smaller of alpha and beta; m = r + s + x), whose terms fall at least as fast as 2^-n, with
  its derivatives term by term (exact to rounding, about 20-55 terms);
- nearer z = 1 (t small against |alpha - beta|), where any series is slow, by the same series at the
  time t* with z = 1/2 plus the integral from t to t* in the variable log(min + u) (there the integrand is
  an exponential times a factor analytic in a strip of half-width pi), by tanh-sinh quadrature (113
  nodes, step 1/16), with the derivatives under the integral. Tests compare it with scipy's hyp2f1 (lifetimes'
  formula) to ~1e-12.

This is exact to ~1e-12 where scipy's hyp2f1 (value only, no parameter derivatives) is, stays finite where
it overflows, and gives the analytic gradient the Newton polish needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from helpers.clv.fitting import optimiser
from helpers.clv.fitting.grids import dot, factorize, history_grids
from helpers.clv.fitting.optimiser import FastFit, FastFitError
from helpers.clv.inputs import as_array

#: up to this z the series (terms at most z^n); beyond, series at z = 1/2 plus quadrature
_SERIES_MAX_Z = 0.5
#: the series stops when the remaining terms are below this, relative to the sum
_SERIES_TOL = 1e-17
#: tanh-sinh nodes on (0, 1): sigmoid(pi sinh(u)), u = -3.5 .. 3.5 in steps of 1/16 (tests: ~1e-12)
_TS_STEP = 1.0 / 16.0
_TS_U = np.arange(-3.5, 3.5 + 1e-12, _TS_STEP)
_TS_NODES = 1.0 / (1.0 + np.exp(-np.pi * np.sinh(_TS_U)))
_TS_WEIGHTS = _TS_STEP * np.pi * np.cosh(_TS_U) * _TS_NODES * (1.0 - _TS_NODES)


def _series_table(e: np.ndarray, m: np.ndarray, z: np.ndarray, terms: int) -> tuple[np.ndarray, ...]:
    """:func:`_series` with all its terms at once (one row per entry): fewer calls for few entries."""
    k = np.arange(1.0, terms)
    steps = z[:, None] * (e[:, None] + k) / (m[:, None] + 1.0 + k)
    q = np.cumprod(np.concatenate([(e / (m + 1.0))[:, None], steps], axis=1), axis=1)  # c_n z^(n-1)
    term = q * z[:, None]
    He = np.cumsum(1.0 / (e[:, None] + np.r_[0.0, k]), axis=1)
    Hm = np.cumsum(1.0 / (m[:, None] + 1.0 + np.r_[0.0, k]), axis=1)
    n = np.arange(1.0, terms + 1.0)
    return 1.0 + term.sum(axis=1), (term * He).sum(axis=1), -(term * Hm).sum(axis=1), q @ n


def _series(e: np.ndarray, m: np.ndarray, z: np.ndarray, grad: bool) -> tuple[np.ndarray, ...]:
    """S = 2F1(e, 1; m + 1; z) = sum_n (e)_n / (m+1)_n z^n for z <= 1/2 (terms fall faster than z^n, since
    e < m + 1) and dS/de, dS/dm, dS/dz, term by term; converged entries leave the loop."""
    n_all = len(z)
    z_max = float(z.max()) if n_all else 0.0
    # enough terms for the largest z: z^n (n + 1) below 1e-18
    terms = int(np.clip(np.ceil(-44.0 / np.log(max(z_max, 1e-300))), 2, 70)) if z_max > 0 else 2
    if n_all * terms <= 100_000:
        return _series_table(e, m, z, terms)
    S, Se, Sm, Sz = np.ones(n_all), np.zeros(n_all), np.zeros(n_all), np.zeros(n_all)
    idx = np.arange(n_all)
    q = e / (m + 1.0)  # c_n z^(n-1), c_n = (e)_n / (m+1)_n
    He, Hm = 1.0 / e, 1.0 / (m + 1.0)  # sum_{k<n} 1/(e+k), sum_{k<n} 1/(m+1+k)
    ee, mm, zz = e, m, z
    n = 1
    while len(idx):
        term = q * zz
        S[idx] += term
        if grad:
            Sz[idx] += n * q
            Se[idx] += term * He
            Sm[idx] -= term * Hm
        q = term * (ee + n) / (mm + 1.0 + n)
        He = He + 1.0 / (ee + n)
        Hm = Hm + 1.0 / (mm + 1.0 + n)
        n += 1
        if n % 4 == 0:
            keep = (n * q) * (1.0 + He) > _SERIES_TOL * S[idx]
            if not keep.all():
                idx, q, He, Hm, ee, mm, zz = (a[keep] for a in (idx, q, He, Hm, ee, mm, zz))
        if n > 400:  # cannot happen for z <= 1/2; guards against NaN input
            break
    return S, Se, Sm, Sz


def _log_series_G(ep, e, A, B, grad):
    """log G and d log G / d(e', e, A, B) by the series, G = A^(1-e') B^-e S / m, z = 1 - A/B."""
    m = ep + e - 1.0
    logA, logB = np.log(A), np.log(B)
    S, Se, Sm, Sz = _series(e, m, 1.0 - A / B, grad)
    log_g = (1.0 - ep) * logA - e * logB - np.log(m) + np.log(S)
    if not grad:
        return log_g, None
    d = np.empty((4, len(A)))
    d[0] = -logA - 1.0 / m + Sm / S
    d[1] = -logB - 1.0 / m + (Se + Sm) / S
    d[2] = (1.0 - ep) / A - Sz / (S * B)
    d[3] = -e / B + Sz * A / (S * B * B)
    return log_g, d


def _quadrature_G(ep, e, A, B, x, pair_t, small, big, alpha_small, grad):
    """log G and its derivatives in (e', e, small, big) where z > 1/2 (pairs sorted by time): the series at
    t* = big - 2 small (z = 1/2) plus the integral from t to t* by tanh-sinh in delta = log((small + u) / A)
    in (0, L), L = log((big - small) / A). In units of N = A^(1-e') B^-e the integrand is
    exp((1-e') delta - e log1p(c expm1(delta))), c = A / B: everything but the frequency's share of the
    exponent is computed once per distinct time, and each time's pairs take one exp and one matrix product."""
    D = big - small
    starts = np.flatnonzero(np.r_[True, pair_t[1:] != pair_t[:-1]])
    At, Bt = A[starts], B[starts]
    L = np.log(D / At)[:, None]
    delta = L * _TS_NODES[None, :]
    em1 = np.expm1(delta)
    inner = np.log1p((At / Bt)[:, None] * em1)
    with np.errstate(divide="ignore"):
        log_lw = np.log(L * _TS_WEIGHTS[None, :])
    if alpha_small:  # e' = r + x, e = s + 1: exponent (1 - r) delta - (s + 1) inner - x delta
        base = (1.0 - (ep[starts] - x[starts]))[:, None] * delta - e[starts][:, None] * inner + log_lw
        slope = delta
    else:  # e' = s + 1, e = r + x: exponent -s delta - r inner - x inner
        base = (1.0 - ep[starts])[:, None] * delta - (e[starts] - x[starts])[:, None] * inner + log_lw
        slope = inner
    if grad:  # the integrals of f times 1, delta, inner, 1 / (1 + expm1(delta)), 1 / (1 + c expm1(delta))
        moments = np.stack([np.ones_like(delta), delta, inner, np.exp(-delta), 1.0 / (1.0 + (At / Bt)[:, None] * em1)], axis=2)
    ends = np.r_[starts[1:], len(A)]
    if len(A) < 16 * len(starts):  # few pairs per time: one gathered matrix (a loop would cost more in calls)
        group = np.repeat(np.arange(len(starts)), ends - starts)
        f = np.exp(base[group] - x[:, None] * slope[group])
        sums = np.einsum("ij,ijk->ik", f, moments[group]) if grad else f.sum(axis=1)[:, None]
    else:
        sums = np.empty((len(A), 5 if grad else 1))
        for g, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
            f = np.multiply.outer(x[lo:hi], -slope[g])
            f += base[g]
            np.exp(f, out=f)
            if grad:
                sums[lo:hi] = f @ moments[g]
            else:
                sums[lo:hi, 0] = f.sum(axis=1)
    Q = sums[:, 0]
    log_n = (1.0 - ep) * np.log(A) - e * np.log(B)
    # G(t*) by the series, once per distinct frequency; derivatives at a fixed t* (its movement cancels
    # between the two parts)
    xs, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    Ds = np.full(len(xs), D)
    log_gt, dt = _log_series_G(ep[first], e[first], Ds, 2.0 * Ds, grad)
    R = np.exp(log_gt[inverse] - log_n)
    total = Q + R
    log_g = log_n + np.log(total)
    if not grad:
        return log_g, None
    d = np.empty((4, len(A)))
    d[0] = -(np.log(A) * Q + sums[:, 1])  # -int log(small + u) f
    d[1] = -(np.log(B) * Q + sums[:, 2])  # -int log(big + u) f
    d[2] = -ep / A * sums[:, 3]  # -e' int f / (small + u)
    d[3] = -e / B * sums[:, 4]  # -e int f / (big + u)
    d = (d + R * dt[:, inverse]) / total
    return log_g, d


def _log_G(r, alpha, s, beta, xgrid, grid, pair_x, pair_t, grad=True):
    """log G(x, t) per (x, t) pair (pairs sorted by time) and its gradient in (r, alpha, s, beta), (4, pairs)."""
    alpha_small = alpha < beta
    small, big = (alpha, beta) if alpha_small else (beta, alpha)
    x, t = xgrid[pair_x], grid[pair_t]
    e_alpha, e_beta = r + x, np.full_like(x, s + 1.0)
    ep, e = (e_alpha, e_beta) if alpha_small else (e_beta, e_alpha)
    A, B = small + t, big + t
    log_g = np.empty(len(t))
    d = np.empty((4, len(t))) if grad else None
    # z = (big - small) / B > 1/2 for the earliest times only (B grows with t): a prefix of the pairs
    near = int(np.count_nonzero((big - small) > _SERIES_MAX_Z * B))
    far = slice(near, None)
    log_g[far], d_far = _log_series_G(ep[far], e[far], A[far], B[far], grad)
    if grad:
        d[:, far] = d_far
    if near:
        q = slice(0, near)
        log_g[q], d_near = _quadrature_G(ep[q], e[q], A[q], B[q], x[q], pair_t[q], small, big, alpha_small, grad)
        if grad:
            d[:, q] = d_near
    if grad:  # (e', e, small, big) -> (r, alpha, s, beta)
        d = d[[0, 2, 1, 3]] if alpha_small else d[[1, 3, 0, 2]]
    return log_g, d


@dataclass
class ParetoData:
    """Exact reduction of (x, t_x, T, w) for Pareto/NBD.

    ``grid``: distinct times (unscaled); ``scale``: lifetimes' 1 / max(T); ``xgrid``/``wx``: distinct
    frequencies with their total weight; pairs (``pair_x``, ``pair_t``: indices into xgrid and grid): the
    distinct (x, t_x) and (x, T), where G is evaluated; rows: ``ia`` (pair of (x, t_x)), ``ib`` (pair of
    (x, T)) and ``w`` (one entry per distinct (x, t_x, T) row, unless
    nearly all rows are distinct: then one per row); ``sum_w``, ``sum_wx``: totals; ``lifetimes_rows``: the
    number of rows lifetimes would be given (it divides by their mean weight); ``n_distinct``: distinct
    (x, t_x, T).
    """

    grid: np.ndarray
    scale: float
    xgrid: np.ndarray
    wx: np.ndarray
    pair_x: np.ndarray
    pair_t: np.ndarray
    ia: np.ndarray
    ib: np.ndarray
    w: np.ndarray
    sum_w: float
    sum_wx: float
    lifetimes_rows: int
    n_distinct: int


def _pairs(ix: np.ndarray, it: np.ndarray, iT: np.ndarray, nx: int) -> tuple[np.ndarray, ...]:
    """Distinct (x, t) pairs among (ix, it) and (ix, iT), sorted by time: pair_x, pair_t, each row's two pairs."""
    key_a, key_b = it.astype(np.int64) * nx + ix, iT.astype(np.int64) * nx + ix
    size = (int(max(it.max(), iT.max())) + 1) * nx if len(ix) else 0
    if size <= max(1 << 22, 4 * len(ix)):  # few possible pairs: a table instead of a sort
        present = np.zeros(size, dtype=bool)
        present[key_a] = True
        present[key_b] = True
        keys = np.flatnonzero(present)
        position = np.zeros(size, dtype=np.intp)
        position[keys] = np.arange(len(keys))
        ia, ib = position[key_a], position[key_b]
    else:
        keys, inverse = np.unique(np.concatenate([key_a, key_b]), return_inverse=True)
        inverse = inverse.reshape(-1)
        ia, ib = inverse[: len(ix)], inverse[len(ix) :]
    return (keys % nx).astype(np.intp), (keys // nx).astype(np.intp), ia.astype(np.intp), ib.astype(np.intp)


def prepare_pareto(
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any | None = None,
    scale: float | None = None,
    lifetimes_rows: int | None = None,
) -> ParetoData:
    """Reduce the data once (outside the optimiser loop). ``scale`` defaults to lifetimes' 1 / max(T) and
    ``lifetimes_rows`` to the number of rows given (a pilot subsample takes the full data's, so that its
    objective means the same)."""
    x, T_, w, grid, it, iT, xgrid, ix, wx = history_grids(frequency, recency, T, weights)
    ng, nx = len(grid), len(xgrid)
    distinct = len(w)  # without a key (astronomically many distinct values): taken as all distinct
    if float(nx) * ng * ng < 2.0**62:
        key = (ix.astype(np.int64) * ng + it) * ng + iT
        skey = np.sort(key)  # a plain sort is cheap; the argsort behind return_inverse is not
        distinct = int(np.count_nonzero(skey[1:] != skey[:-1])) + 1
        del skey
        if distinct <= 0.8 * len(w):  # merge identical (x, t_x, T) rows, summing their weights
            ukey, inv = np.unique(key, return_inverse=True)
            w_u = np.bincount(inv.reshape(-1), weights=w, minlength=len(ukey))
            keep = w_u > 0
            ukey, w_u = ukey[keep], w_u[keep]
            ix, it, iT, w = ukey // (ng * ng), (ukey // ng) % ng, ukey % ng, w_u
    pair_x, pair_t, ia, ib = _pairs(ix, it, iT, nx)
    return ParetoData(
        grid=grid,
        scale=1.0 / float(T_.max()) if scale is None else float(scale),
        xgrid=xgrid,
        wx=wx,
        pair_x=pair_x,
        pair_t=pair_t,
        ia=ia,
        ib=ib,
        w=w,
        sum_w=float(wx.sum()),
        sum_wx=dot(wx, xgrid),
        lifetimes_rows=len(x) if lifetimes_rows is None else int(lifetimes_rows),
        n_distinct=distinct,
    )


def _pair_terms(r, alpha, s, beta, x, t, log_g):
    """Per (x, t) pair: log s G, log first = -(r+x) log(alpha+t) - s log(beta+t), and, used at t = T,
    ratio = s G / first (at most 1: s G(x, T) never exceeds the first term) and log(first - s G)."""
    log_sg = np.log(s) + log_g
    log_first = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
    ratio = np.minimum(np.exp(log_sg - log_first), 1.0)
    with np.errstate(divide="ignore"):
        log_rest = log_first + np.log1p(-ratio)
    return log_sg, log_first, ratio, log_rest


def _row_terms(ia, ib, log_sg, log_first, log_rest):
    """Per row: log[first + s G(x, t_x) - s G(x, T)] (first - s G(x, T) >= 0 formed per pair without loss
    next to s G(x, t_x) >= s G(x, T); when t_x == T the two G cancel to rounding) and first / total, which is
    P(alive)."""
    log_total = np.logaddexp(np.take(log_sg, ia), np.take(log_rest, ib))
    share_first = np.take(log_first, ib) - log_total
    np.exp(share_first, out=share_first)
    return log_total, share_first


def _pareto_loglik(
    data: ParetoData, r: float, alpha: float, s: float, beta: float, grid: np.ndarray, gradient: bool = True
) -> tuple[float, np.ndarray | None]:
    """Total log-likelihood sum_i w_i ll_i on the given time grid and its gradient in (r, alpha, s, beta)."""
    xg, wx = data.xgrid, data.wx
    px, pt = xg[data.pair_x], grid[data.pair_t]
    log_g, dg = _log_G(r, alpha, s, beta, xg, grid, data.pair_x, data.pair_t, grad=gradient)
    log_sg, log_first, ratio, log_rest = _pair_terms(r, alpha, s, beta, px, pt, log_g)
    log_total, share_first = _row_terms(data.ia, data.ib, log_sg, log_first, log_rest)
    present = wx > 0  # a dense grid may hold frequencies nobody has
    xp, wxp = xg[present], wx[present]
    head = gammaln(r + xp) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    ll = dot(wxp, head) + float(np.dot(data.w, log_total))
    if not gradient:
        return ll, None
    # d ll = share_first d log first + share_a d log s G(t_x) - share_b d log s G(T), with
    # share_b = ratio(T) share_first and share_a = 1 - share_first + share_b (the shares of the total)
    n_pairs = len(px)
    w_first = share_first
    w_first *= data.w
    c_first = np.bincount(data.ib, weights=w_first, minlength=n_pairs)
    c_b = c_first * ratio
    w_a = np.take(ratio, data.ib)
    w_a -= 1.0
    w_a *= w_first
    w_a += data.w
    c_g = np.bincount(data.ia, weights=w_a, minlength=n_pairs) - c_b
    d_first = np.array([-np.log(alpha + pt), -(r + px) / (alpha + pt), -np.log(beta + pt), -s / (beta + pt)])
    g = d_first @ c_first + dg @ c_g
    g[2] += float(c_g.sum()) / s
    g[0] += dot(wxp, digamma(r + xp) - digamma(r) + np.log(alpha))
    g[1] += data.sum_w * r / alpha
    g[2] += data.sum_w * np.log(beta)
    g[3] += data.sum_w * s / beta
    return ll, g


def pareto_objective(
    theta: np.ndarray, data: ParetoData, penalizer: float = 0.0, need_value: bool = True
) -> tuple[float, np.ndarray]:
    """lifetimes' objective divided by ``data.lifetimes_rows`` (mean negative log-likelihood on scaled
    time + ``penalizer / lifetimes_rows`` times the squared scaled parameters) and its analytic gradient, at
    ``theta = log(r, alpha * scale, s, beta * scale)``. ``need_value`` is accepted for the optimiser's
    interface: here the value comes with the gradient at no extra cost."""
    params = np.exp(np.asarray(theta, dtype="float64"))
    r, alpha_s, s, beta_s = params
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ll, grad = _pareto_loglik(data, r, alpha_s, s, beta_s, data.grid * data.scale)
    pen = float(penalizer) / data.lifetimes_rows
    value = -ll / data.sum_w + pen * float(np.sum(params**2))
    g = -grad * params / data.sum_w + 2.0 * pen * params**2
    return value, g


def fit_pareto(frequency: Any, recency: Any, T: Any, weights: Any | None = None, penalizer: float = 0.0) -> FastFit:
    """Pareto/NBD maximum-likelihood fit, the same optimum as ``lifetimes.ParetoNBDFitter(penalizer).fit``
    on the same rows and weights. ``objective`` is lifetimes' ``_negative_log_likelihood_`` at the optimum
    (the total form: divided by the mean weight), ``log_likelihood`` the published one on unscaled time."""
    with optimiser.single_blas_thread():
        data = prepare_pareto(frequency, recency, T, weights)
        pen = float(penalizer)

        def fun(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
            return pareto_objective(theta, data, pen, need_value)

        pilot = None
        x_all = as_array(frequency)
        sample = optimiser.pilot_sample(len(x_all), weights, optimiser.PILOT_CUSTOMERS)
        if sample is not None:
            sel, w_sub = sample
            sub = prepare_pareto(
                x_all[sel], as_array(recency)[sel], as_array(T)[sel], w_sub, scale=data.scale,
                lifetimes_rows=data.lifetimes_rows,
            )

            def pilot(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
                return pareto_objective(theta, sub, pen, need_value)

        def hessian(theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
            # a fresh Hessian (differences of the analytic gradient on all rows) at every Newton step: the
            # likelihood often has a nearly flat ridge (s and beta, or r and alpha, large together: the
            # exponential-lifetime and Poisson limits) along which a subsample's optimum lies far off and
            # the pilot's Hessian, updated by BFGS, stalls; 4 gradients a step, about 6 steps
            return optimiser._fd_hessian(fun, theta, grad)

        theta, value, grad, iterations, info = optimiser.optimise(fun, 4, "Pareto/NBD", pilot, hess_fun=hessian)
    params = np.exp(theta)
    r, alpha_s, s, beta_s = params
    pen_mean = pen / data.lifetimes_rows
    ll_scaled = -(value - pen_mean * float(np.sum(params**2))) * data.sum_w
    ll = ll_scaled + np.log(data.scale) * data.sum_wx
    if not np.isfinite(ll):
        raise FastFitError("Pareto/NBD gives a non-finite log-likelihood")
    return FastFit(
        params={"r": float(r), "alpha": float(alpha_s / data.scale), "s": float(s), "beta": float(beta_s / data.scale)},
        log_likelihood=float(ll),
        objective=float(value * data.lifetimes_rows),
        n_rows=data.n_distinct,
        n_iterations=iterations,
        gradient_norm=float(np.max(np.abs(grad))),
        notes=[info.replace("(exact Hessian)", "(a Hessian from gradient differences at each)")],
    )


def probability_alive(params: dict[str, float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(alive | x, t_x, T) = first / (first + s (G(x, t_x) - G(x, T))) (Fader and Hardie 2005, eq. 36-37:
    lifetimes' ``conditional_probability_alive``), for each customer, unscaled; G once per distinct
    (x, t) pair. 1 (to rounding) when t_x == T, where lifetimes' formula may give NaN."""
    r, alpha, s, beta = (float(params[k]) for k in ("r", "alpha", "s", "beta"))
    x, t_x, T_ = as_array(frequency), as_array(recency), as_array(T)
    if len(x) == 0:
        return np.zeros(0)
    grid, tindex = factorize(np.concatenate([t_x, T_]))
    xgrid, ix = factorize(x)
    pair_x, pair_t, ia, ib = _pairs(ix, tindex[: len(x)], tindex[len(x) :], len(xgrid))
    px, pt = xgrid[pair_x], grid[pair_t]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        log_g, _ = _log_G(r, alpha, s, beta, xgrid, grid, pair_x, pair_t, grad=False)
        log_sg, log_first, _, log_rest = _pair_terms(r, alpha, s, beta, px, pt, log_g)
        _, alive = _row_terms(ia, ib, log_sg, log_first, log_rest)
    return np.minimum(alive, 1.0)
