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
- Rows nearly all distinct (day-level data) are kept one per customer rather than merged (merging costs an
  argsort and saves little per evaluation); times are indexed through a small hash table on the grid of
  distinct times instead of an argsort of all of them.
- Analytic gradients (digamma terms; for Gamma-Gamma also the analytic Hessian, trigamma terms) with
  L-BFGS-B from lifetimes' own start (log-parameters 0.1) and tight tolerances. With more than
  ``2 * PILOT_CUSTOMERS`` customers L-BFGS-B runs on a systematic weighted subsample (every k-th customer,
  weight k) and only supplies the starting point: Newton steps on all rows follow (BG family: the pilot's
  Hessian from differences of the analytic gradient, updated by BFGS; Gamma-Gamma: the exact Hessian),
  down to a largest gradient component of 1e-12, so the result is the optimum of the full objective to
  near machine precision (lifetimes stops its BFGS at gradient norm 1e-7, which leaves its parameters up
  to a few 1e-6 relative from that optimum). The start only decides the path, not the optimum.
- One BLAS thread while fitting (threadpoolctl): OpenBLAS threads spinning on tiny calls cost more than
  the work on a busy machine.

Failures (non-finite objective, optimiser not reaching a stationary point, invalid parameters) raise
:class:`FastFitError`; :mod:`helpers.clv.purchase_models` turns it into lifetimes' ``ConvergenceError``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, polygamma

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
#: accept the optimum when the largest gradient component of the (mean) objective is below this (lifetimes
#: stops its BFGS at a gradient norm of 1e-7)
_GRAD_ACCEPT = 1e-7
#: Newton polishing stops below this (near the rounding floor of a mean over a million rows)
_GRAD_DONE = 1e-12
#: bounds on the log-parameters for L-BFGS-B (parameters between 1e-13 and 7e12; at a bound there is no
#: stationary point and the fit fails, as it should)
_THETA_BOUND = 30.0
#: with more customers than twice this, fit a pilot subsample of about this many customers first (BG/NBD,
#: MBG/NBD; Gamma-Gamma, whose exact Newton steps need a less precise start, a quarter of it)
PILOT_CUSTOMERS = 20_000


def _pilot_sample(n: int, weights: np.ndarray | None, size: int) -> tuple[slice, np.ndarray] | None:
    """Every k-th customer with k times its weight: a consistent weighted subsample (its objective is the
    exact objective of that subsample), used only to find a starting point for the full fit."""
    if n <= 2 * size:
        return None
    k = int(np.ceil(n / size))
    sel = slice(k // 2, None, k)
    w = np.ones(n) if weights is None else _arr(weights)
    return sel, w[sel] * k


_CONTROLLER: list[Any] = []


def _single_blas_thread() -> Any:
    """One BLAS thread while fitting: L-BFGS-B and the dot products make many small BLAS calls, and
    OpenBLAS waking (and spinning) its threads for each costs far more than the work on a busy machine.
    The controller (a scan of the loaded libraries) is built once."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


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
    """Pairwise-summed dot product for the small per-x / per-time grids (no BLAS call)."""
    return float(np.multiply(a, b).sum())


_PRIMES = (1_000_003, 2_000_003, 4_000_037, 8_000_009, 16_000_057, 32_000_011)


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value in them), like ``np.unique(return_inverse=True)``.

    When there are few distinct values (times on a day grid: about a thousand), the index comes from a
    small hash table on the float's bit pattern (a prime modulus under which the distinct values do not
    collide), which avoids the argsort of millions of values; checked exactly, else np.unique."""
    values = values + 0.0  # -0.0 -> +0.0 (np.unique treats them as equal, their bits differ)
    grid = np.unique(values)
    if len(values) > 100_000 and len(grid) <= 20_000:
        gbits = grid.view(np.uint64)
        for prime in _PRIMES:
            slots = gbits % np.uint64(prime)
            if len(np.unique(slots)) < len(grid):
                continue
            table = np.zeros(prime, dtype=np.intp)
            table[slots.astype(np.intp)] = np.arange(len(grid), dtype=np.intp)
            index = np.take(table, (values.view(np.uint64) % np.uint64(prime)).astype(np.intp))
            if np.array_equal(np.take(grid, index), values):
                return grid, index
            break
    grid, index = np.unique(values, return_inverse=True)
    return grid, index.reshape(-1)


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


def _fd_hessian(fun: Any, theta: np.ndarray, grad: np.ndarray | None = None, h: float = 1e-6) -> np.ndarray:
    """Hessian of ``fun(theta, need_value) -> (value, gradient)`` by differences of the analytic gradient,
    symmetrised: forward differences when ``grad`` (the gradient at theta) is given, else central ones."""
    n = len(theta)
    hess = np.empty((n, n))
    for k in range(n):
        step = np.zeros(n)
        step[k] = h
        if grad is None:
            hess[:, k] = (fun(theta + step, False)[1] - fun(theta - step, False)[1]) / (2 * h)
        else:
            hess[:, k] = (fun(theta + step, False)[1] - grad) / h
    return 0.5 * (hess + hess.T)


def _lbfgsb(fun: Any, theta0: np.ndarray, gtol: float = 1e-11) -> Any:
    """L-BFGS-B with tight tolerances; log-parameters kept within +-_THETA_BOUND (a first step can otherwise
    shoot to exp(88)), a non-finite objective reported as +inf so that the line search backs off."""

    def safe(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = fun(theta, True)
        if not (np.isfinite(value) and np.isfinite(grad).all()):
            return np.inf, np.zeros_like(theta)
        return value, grad

    return minimize(
        safe,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_THETA_BOUND, _THETA_BOUND)] * len(theta0),
        options={"maxiter": 5000, "maxfun": 10000, "ftol": 1e-15, "gtol": gtol, "maxcor": 20},
    )


def _gnorm(grad: np.ndarray) -> float:
    return float(np.max(np.abs(grad))) if np.isfinite(grad).all() else np.inf


def _newton_polish(
    fun: Any, theta: np.ndarray, hess: np.ndarray | None, max_steps: int = 30, hess_fun: Any | None = None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Newton steps on the full objective, with the analytic Hessian ``hess_fun`` when given, else with the
    given Hessian (the pilot's) updated by BFGS from the full-data steps, refreshed by forward differences
    of the analytic gradient when the gradient does not fall fast enough or a step fails. A step is
    accepted when it lowers the largest gradient component (gradient-only evaluations: near the optimum
    that is the sharper test, and it saves the logarithms of the objective). Returns theta, gradient, accepted steps, Hessian refreshes."""
    grad = fun(theta, False)[1]
    steps = refreshes = 0
    refresh = hess is None
    for _ in range(max_steps):
        gnorm = _gnorm(grad)
        if not gnorm > _GRAD_DONE:  # done (or not finite: the caller decides)
            break
        fresh = refresh or hess_fun is not None
        if hess_fun is not None:
            hess = hess_fun(theta, grad)
        elif refresh:
            hess = _fd_hessian(fun, theta, grad)
            refreshes += 1
            refresh = False
        try:
            delta = np.linalg.solve(hess, -grad)
        except np.linalg.LinAlgError:
            delta = np.full_like(theta, np.nan)
        new_gnorm = np.inf
        if np.isfinite(delta).all() and np.max(np.abs(delta)) <= 2.0:
            new_grad = fun(theta + delta, False)[1]
            new_gnorm = _gnorm(new_grad)
        if not new_gnorm < gnorm:
            if fresh:
                break  # even a fresh Hessian gives no progress: at the rounding floor, or the caller falls back
            refresh = True
            continue
        if hess_fun is None:  # BFGS update of the Hessian with the full-data step: superlinear convergence
            y = new_grad - grad
            sy = float(delta @ y)
            hs = hess @ delta
            shs = float(delta @ hs)
            if sy > 1e-300 and shs > 1e-300:
                hess = hess + np.outer(y, y) / sy - np.outer(hs, hs) / shs
        theta, grad = theta + delta, new_grad
        steps += 1
        refresh = new_gnorm > 0.5 * gnorm and new_gnorm > 1e3 * _GRAD_DONE
    return theta, grad, steps, refreshes


def _optimise(
    fun: Any, n_params: int, what: str, pilot: Any | None = None, hess_fun: Any | None = None
) -> tuple[np.ndarray, float, np.ndarray, int, str]:
    """Minimise ``fun(theta, need_value) -> (value, gradient)`` over the log-parameters.

    From lifetimes' start (log-parameters 0.1), L-BFGS-B on ``pilot`` (the same objective on a systematic
    subsample of the customers, weights scaled up) when given, else L-BFGS-B with tight tolerances on ``fun``;
    then Newton steps on the full objective with the analytic Hessian (``hess_fun``) or one from
    differences of the analytic gradient (the pilot's at its optimum first), down to a gradient of 1e-12.
    If that fails, L-BFGS-B on the full objective from where it stands. The start only decides the path:
    the optimum is the full objective's. Returns theta, value, gradient, iterations, a note.
    """
    x0 = np.full(n_params, _START)
    notes = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        first = _lbfgsb(pilot, x0, gtol=1e-8) if pilot is not None else _lbfgsb(fun, x0)
        theta = np.asarray(first.x, dtype="float64")
        if pilot is not None and not (np.isfinite(first.fun) and np.max(np.abs(theta)) < _THETA_BOUND - 1):
            notes.append(f"pilot failed ({first.message}); L-BFGS-B on all rows")
            pilot = None
            first = _lbfgsb(fun, x0)
            theta = np.asarray(first.x, dtype="float64")
        notes.append(
            f"L-BFGS-B{' on a pilot subsample' if pilot is not None else ''}: {first.nit} iterations, "
            f"{first.nfev} evaluations"
        )
        hess = None
        if hess_fun is None and pilot is not None and np.isfinite(theta).all():
            jac = np.asarray(getattr(first, "jac", np.full_like(theta, np.nan)), dtype="float64")
            hess = _fd_hessian(pilot, theta, jac if np.isfinite(jac).all() else None)
            if not np.isfinite(hess).all():
                hess = None
        theta, grad, steps, refreshes = _newton_polish(fun, theta, hess, hess_fun=hess_fun)
        kind = "exact Hessian" if hess_fun is not None else f"{refreshes} Hessian refreshes"
        notes.append(f"{steps} Newton steps ({kind})")
        if not _gnorm(grad) <= _GRAD_ACCEPT:
            res = _lbfgsb(fun, theta if np.isfinite(theta).all() else x0)
            theta = np.asarray(res.x, dtype="float64")
            theta, grad, more, _ = _newton_polish(fun, theta, None, max_steps=5, hess_fun=hess_fun)
            notes.append(f"fallback L-BFGS-B on all rows: {res.nit} iterations, {more} Newton steps")
            steps += res.nit + more
        value, grad = fun(theta, True)
    gnorm = _gnorm(grad)
    if not (np.isfinite(value) and gnorm <= _GRAD_ACCEPT):
        raise FastFitError(f"{what} did not converge (largest gradient component {gnorm:.2e})")
    params = np.exp(theta)
    if not (np.isfinite(params).all() and (params > 0).all()):
        raise FastFitError(f"{what} returned invalid parameters {params}")
    notes.append(f"gradient {gnorm:.1e}")
    return theta, float(value), grad, int(first.nit) + steps, "; ".join(notes)


# --------------------------------------------------------------------------------------------------
# BG/NBD and MBG/NBD
# --------------------------------------------------------------------------------------------------
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
    x = np.trunc(_arr(frequency))  # lifetimes: frequency.astype(int)
    t_x, T_ = _arr(recency), _arr(T)
    _check_frt(x, t_x, T_)
    w = _weights(weights, len(x))
    grid, tindex = _factorize(np.concatenate([t_x, T_]))
    it_all, iT_all = tindex[: len(x)], tindex[len(x) :]
    xgrid, ix_all = _index_small_ints(x)
    ng, nx = len(grid), len(xgrid)
    wx = np.bincount(ix_all, weights=w, minlength=nx)
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
        sum_wx=_dot(w, x),
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
    ll = _dot(wx, head)
    # A3 = -(r + x) log(alpha + T), summed per distinct T
    coefT = r * data.wT + data.wxT
    ll -= _dot(coefT, LTg)
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
    g_r = _dot(wx, digamma(r + xg) - digamma(r) + np.log(alpha)) - _dot(data.wT, LTg)
    g_r += float(np.dot(ws, D))
    rx *= ws
    g_alpha = data.sum_w * r / alpha - _dot(coefT, ITg) + float(np.dot(rx, dI))
    dab = digamma(a + b) - digamma(a + b + xg + shift)
    g_a = _dot(wx, dab) + sum_ws / a
    g_b = _dot(wx, dab + digamma(b + xg + shift) - digamma(b))
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
    sample = _pilot_sample(len(data_x := _arr(frequency)), weights, PILOT_CUSTOMERS)
    if sample is not None:
        sel, w_sub = sample
        sub = prepare_bg(data_x[sel], _arr(recency)[sel], _arr(T)[sel], w_sub, modified=modified, scale=data.scale)

        def pilot(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
            return bg_objective(theta, sub, pen, need_value)

    theta, value, grad, iterations, info = _optimise(fun, 4, what, pilot)
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
    with _single_blas_thread():
        return _fit_bg_family(frequency, recency, T, weights, penalizer, modified=False)


def fit_mbgnbd(frequency: Any, recency: Any, T: Any, weights: Any | None = None, penalizer: float = 0.0) -> FastFit:
    """MBG/NBD fit, the same optimum as ``lifetimes.ModifiedBetaGeoFitter(penalizer).fit``."""
    with _single_blas_thread():
        return _fit_bg_family(frequency, recency, T, weights, penalizer, modified=True)


# --------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------
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
        c_xlogxm=_dot(w * x, logm + np.log(x)),
        c_logm=_dot(w, logm),
        sum_w=float(w.sum()),
        n_customers_rows=len(x),
        n_distinct=distinct,
    )


def _gg_loglik(data: GGData, p: float, q: float, v: float, gradient: bool = True):
    """Total Gamma-Gamma log-likelihood (lifetimes' / Hardie's form) and its gradient in (p, q, v)."""
    xg, wx = data.xgrid, data.wx
    px = p * xg
    ll = _dot(wx, gammaln(px + q) - gammaln(px) - gammaln(q))
    L = np.log(data.xm + v)
    sum_wL = float(np.dot(data.w, L))
    sum_wxL = float(np.dot(data.wxx, L))
    ll += data.sum_w * q * np.log(v) + p * data.c_xlogxm - data.c_logm - p * sum_wxL - q * sum_wL
    if not gradient:
        return ll, None
    R = 1.0 / (data.xm + v)
    dpq = digamma(px + q)
    g_p = _dot(wx * xg, dpq - digamma(px)) + data.c_xlogxm - sum_wxL
    g_q = _dot(wx, dpq) - data.sum_w * digamma(q) + data.sum_w * np.log(v) - sum_wL
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
    H[0, 0] = _dot(wx * xg * xg, t_pq - polygamma(1, p * xg))
    H[0, 1] = H[1, 0] = _dot(wx * xg, t_pq)
    H[1, 1] = _dot(wx, t_pq) - W * float(polygamma(1, q))
    H[0, 2] = H[2, 0] = -sum_wxR
    H[1, 2] = H[2, 1] = W / v - sum_wR
    H[2, 2] = -W * q / v**2 + p * float(np.dot(data.wxx, R)) + q * float(np.dot(data.w, R))
    return -(H * np.outer(P, P) + np.diag(g * P)) / W + np.diag(4.0 * penalizer * P**2)


def fit_gamma_gamma(
    frequency: Any, monetary_value: Any, weights: Any | None = None, penalizer: float = 0.0
) -> FastFit:
    """Gamma-Gamma fit on repeat buyers (frequency > 0, spend > 0), the same optimum as
    ``lifetimes.GammaGammaFitter(penalizer).fit``. The log-likelihood omits the parameter-free constant,
    as lifetimes and :func:`helpers.clv.purchase_models.gamma_gamma_log_likelihood` do."""
    with _single_blas_thread():
        return _fit_gamma_gamma(frequency, monetary_value, weights, penalizer)


def _fit_gamma_gamma(frequency: Any, monetary_value: Any, weights: Any | None, penalizer: float) -> FastFit:
    data = prepare_gamma_gamma(frequency, monetary_value, weights)
    pen = float(penalizer)

    def fun(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
        return gg_objective(theta, data, pen)

    pilot = None
    sample = _pilot_sample(data.n_customers_rows, weights, max(PILOT_CUSTOMERS // 4, 100))
    if sample is not None:
        sel, w_sub = sample
        sub = prepare_gamma_gamma(_arr(frequency)[sel], _arr(monetary_value)[sel], w_sub)

        def pilot(theta: np.ndarray, need_value: bool = True) -> tuple[float, np.ndarray]:
            return gg_objective(theta, sub, pen)

    def hess_fun(theta: np.ndarray, gradient: np.ndarray | None = None) -> np.ndarray:
        return gg_hessian(theta, data, pen, gradient)

    theta, value, grad, iterations, info = _optimise(fun, 3, "Gamma-Gamma", pilot, hess_fun)
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
