"""The optimiser the fast fitters share: lifetimes' start, L-BFGS-B, then Newton steps to the optimum.

- Analytic gradients (and for Gamma-Gamma the analytic Hessian) with L-BFGS-B from lifetimes' own start
  (log-parameters 0.1) and tight tolerances. With more than ``2 * PILOT_CUSTOMERS`` customers L-BFGS-B
  runs on a systematic weighted subsample (every k-th customer, weight k) and only supplies the starting
  point: Newton steps on all rows follow (BG family: the pilot's Hessian from differences of the analytic
  gradient, updated by BFGS; Gamma-Gamma: the exact Hessian), down to a largest gradient component of
  1e-12, so the result is the optimum of the full objective to near machine precision (lifetimes stops
  its BFGS at gradient norm 1e-7, which leaves its parameters up to a few 1e-6 relative from that
  optimum). The start only decides the path, not the optimum.
- One BLAS thread while fitting (threadpoolctl): OpenBLAS threads spinning on tiny calls cost more than
  the work on a busy machine.

Failures (non-finite objective, optimiser not reaching a stationary point, invalid parameters) raise
:class:`FastFitError`; the models of :mod:`helpers.clv.models` turn it into lifetimes' ``ConvergenceError``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from helpers.clv.inputs import as_array

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


def pilot_sample(n: int, weights: np.ndarray | None, size: int) -> tuple[slice, np.ndarray] | None:
    """Every k-th customer with k times its weight: a consistent weighted subsample (its objective is the
    exact objective of that subsample), used only to find a starting point for the full fit."""
    if n <= 2 * size:
        return None
    k = int(np.ceil(n / size))
    sel = slice(k // 2, None, k)
    w = np.ones(n) if weights is None else as_array(weights)
    return sel, w[sel] * k


_CONTROLLER: list[Any] = []


def single_blas_thread() -> Any:
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
    """The optimiser did not reach a valid optimum (the models turn it into lifetimes' ConvergenceError)."""


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


def optimise(
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
