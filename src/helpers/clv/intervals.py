"""How sure the values are: per-customer intervals of purchases and value, the total's interval, and the
check of both on the holdout window.

Two sources of uncertainty, both in every interval:

- **the customer's own randomness**: given the parameters, the number of purchases in the horizon has an
  exact distribution (:meth:`PurchaseModel.future_purchases_survival` times P(alive)); the interval is its
  central ``level`` range (quantiles (1 - level) / 2 and (1 + level) / 2). Purchases are whole numbers, so
  the interval usually holds a little more than ``level`` of the probability: its own probability is
  reported as the *expected coverage*, and that is what the holdout check compares with.
- **the parameters'**: the likelihood's curvature at the optimum (observed information on the log
  parameters, :func:`log_parameter_covariance`) gives a normal approximation of the parameters'
  uncertainty. For the per-customer intervals the distribution is mixed over ``PARAMETER_DRAWS`` draws from
  it (exact mixture, no simulation of purchases); on bases with more than ``DRAW_ROWS`` distinct histories
  the parameters are known so precisely that the mixture changes nothing measurable, and the fitted
  parameters alone are used (``notes`` says so). For the total the parameters' part enters by the delta
  method (the gradient of the total by central differences), for the purchase and the spend model.

A value interval is the purchase interval times the customer's discounted value per expected purchase; the
spend per purchase is taken at its expectation there. The total's interval adds, per customer, the spread
of the spend per purchase under Gamma-Gamma (the posterior of the customer's mean spend and the spread of
single purchases around it) and is a normal interval around the total: a sum over many independent
customers. The costs are a few array operations per distinct history (measured in ``workbook bench``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from helpers.clv.discounting import discounted_cltv
from helpers.clv.inputs import as_array, compress_rows, periods_per_month
from helpers.clv.models.base import PurchaseModel
from helpers.clv.models.gamma_gamma import GammaGamma

#: draws from the parameters' normal approximation mixed into the per-customer distributions
PARAMETER_DRAWS = 20
#: above this many distinct (frequency, recency, T) histories the per-customer intervals use the fitted
#: parameters alone (the parameters' share of the spread is then negligible; the total keeps it)
DRAW_ROWS = 50_000
#: the holdout check of the intervals looks at every k-th customer beyond this many (the covariance is still
#: that of the fit on all of them)
COVERAGE_SAMPLE = 100_000
#: the distributions are computed up to a count whose survival is below this for every customer
_TAIL = 1e-7
#: rows per block when the distributions are laid out per customer (bounds the memory: block x counts)
_BLOCK = 50_000


@dataclass
class PurchaseIntervals:
    """Per customer: the central ``level`` interval of the purchases in the horizon (``low``, ``high``,
    whole numbers), its own probability (``coverage``), and the distribution's mean and variance."""

    level: float
    low: np.ndarray
    high: np.ndarray
    coverage: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    parameter_draws: int
    notes: list[str] = field(default_factory=list)


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"the interval level must lie between 0 and 1 (0.9 = 90%), got {level}")
    return level


def log_params(model: Any) -> np.ndarray:
    return np.log(np.array([model.params_[k] for k in model.param_names], dtype="float64"))


def with_log_params(model: Any, theta: np.ndarray) -> Any:
    return type(model).from_params(dict(zip(model.param_names, np.exp(theta), strict=True)), penalizer=model.penalizer)


def log_parameter_covariance(model: Any, *columns: Any, weights: Any | None = None, step: float = 1e-4) -> np.ndarray | None:
    """Covariance of the log-parameters (in ``model.param_names`` order) from the observed information at
    the fitted optimum: the inverse of minus the Hessian of the total log-likelihood of ``columns`` (the
    model's fitting data), by central differences on the distinct rows. None when the Hessian is not
    negative definite (the optimum is flat in some direction: no normal approximation)."""
    theta0 = log_params(model)
    n = len(theta0)
    if weights is None and hasattr(model, "log_likelihood_gradient"):
        # an analytic gradient: central differences of it, 2n evaluations on the fitter's reduced data
        gradient = model.log_likelihood_gradient(*columns)
        with np.errstate(all="ignore"):
            hessian = np.column_stack([
                (gradient(theta0 + step * e) - gradient(theta0 - step * e)) / (2 * step) for e in np.eye(n)
            ])
        return _inverse_information(-0.5 * (hessian + hessian.T))
    arrays = [as_array(c) for c in columns]
    unique, counts, inverse = compress_rows(*arrays)
    w = counts if weights is None else np.bincount(inverse, weights=as_array(weights), minlength=len(counts))
    names = model.param_names

    def loglik(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return model._total_log_likelihood(dict(zip(names, np.exp(theta), strict=True)), tuple(unique), w)

    hessian = np.empty((n, n))
    f0 = loglik(theta0)
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * step, np.eye(n)[j] * step
            if i == j:
                value = (loglik(theta0 + ei) - 2 * f0 + loglik(theta0 - ei)) / step**2
            else:
                value = (
                    loglik(theta0 + ei + ej) - loglik(theta0 + ei - ej) - loglik(theta0 - ei + ej) + loglik(theta0 - ei - ej)
                ) / (4 * step**2)
            hessian[i, j] = hessian[j, i] = value
    return _inverse_information(-hessian)


def _inverse_information(information: np.ndarray) -> np.ndarray | None:
    if not np.isfinite(information).all():
        return None
    try:
        np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(information)


def parameter_draws(model: Any, covariance: np.ndarray | None, draws: int = PARAMETER_DRAWS, seed: int = 0) -> list[Any]:
    """``draws`` models with parameters drawn from the normal approximation on the log scale (antithetic
    pairs around the optimum, so that the mixture is centred on it); the fitted model alone without a
    covariance."""
    if covariance is None or draws < 2:
        return [model]
    rng = np.random.default_rng(seed)
    half = rng.standard_normal((draws // 2, len(model.param_names)))
    steps = np.vstack([half, -half]) @ np.linalg.cholesky(covariance).T
    theta0 = log_params(model)
    return [with_log_params(model, theta0 + s) for s in steps]


def _usable_draws(
    models: list[PurchaseModel], t: float, rows: tuple[np.ndarray, ...], groups: tuple[np.ndarray, ...], notes: list[str]
) -> tuple[list[PurchaseModel], np.ndarray]:
    """The parameter draws whose predictions are finite for every history, with their P(alive) per row. A
    draw far out in a flat direction of the likelihood can send the formulas off to infinity (a fit that
    needed a penalizer): such draws are left out (``notes`` counts them); the fitted model always stays."""
    kept, alive = [], []
    for index, candidate in enumerate(models):
        with np.errstate(all="ignore"):
            p_alive = candidate.probability_alive(*rows)
            finite = np.isfinite(p_alive).all() and np.isfinite(candidate.purchases_if_alive(t, *groups)).all()
        if finite or index == 0:
            kept.append(candidate)
            alive.append(np.nan_to_num(p_alive, nan=0.0))
    if len(models) > 1 and len(kept) < len(models):
        notes.append(
            f"{len(models) - len(kept)} of {len(models)} parameter draws gave no finite predictions and were left out "
            "of the intervals (the likelihood is flat in some direction)."
        )
    return kept, np.column_stack(alive)


def _counts_needed(models: list[PurchaseModel], t: float, ux: np.ndarray, uT: np.ndarray) -> np.ndarray:
    """Per distinct (frequency, T): a first guess of the largest count the distribution needs (the mean
    plus eight of its Poisson spreads), rounded up to a power of two so that histories fall into a few
    sizes; :func:`_survival_grids` doubles it where the tail is not yet below _TAIL."""
    with np.errstate(all="ignore"):
        means = np.max([np.nan_to_num(m.purchases_if_alive(t, ux, uT), nan=0.0, posinf=0.0) for m in models], axis=0)
    guess = 2.0 * means + 8.0 * np.sqrt(means + 1.0) + 10.0
    return (2 ** np.ceil(np.log2(guess))).astype("int64")


def _survival_grids(
    models: list[PurchaseModel], t: float, ux: np.ndarray, uT: np.ndarray, count: int
) -> list[np.ndarray]:
    """Each model's P(X(t) >= n | alive) for these distinct (frequency, T), n = 0 .. a count at which every
    survival is below _TAIL (``count`` doubled until then)."""
    while True:
        with np.errstate(all="ignore"):
            grids = [m.future_purchases_survival(t, ux, uT, count) for m in models]
        tails = [np.nan_to_num(g[:, -1], nan=0.0) for g in grids]  # a non-finite row is no reason to grow
        if max(float(np.max(tail)) for tail in tails) <= _TAIL or count >= 1 << 16:
            return [np.nan_to_num(g, nan=0.0) for g in grids]
        count *= 2


def _shortest_interval(survival: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of P(X >= n) (n = 0 .. N + 1, the last column 0): the shortest interval [low, high] of whole
    numbers that holds at least ``level`` of the probability (of several equally short, the lowest). Its
    lower tail holds at most 1 - level, so ``low`` is at most the (1 - level) quantile: only those starts
    are tried, and most customers (likely to buy nothing) have just one."""
    cdf = 1.0 - survival[:, 1:]  # P(X <= n), n = 0 .. N
    tolerance = 1e-12
    last_start = np.sum(cdf < 1.0 - level - tolerance, axis=1)
    low = np.zeros(len(cdf), dtype="int64")
    high = np.sum(cdf < level - tolerance, axis=1)
    for start in range(1, int(last_start.max(initial=0)) + 1):
        rows = np.flatnonzero(last_start >= start)
        target = cdf[rows, start - 1] + level - tolerance
        end = np.sum(cdf[rows] < target[:, None], axis=1)
        shorter = end - start < high[rows] - low[rows]
        low[rows[shorter]], high[rows[shorter]] = start, end[shorter]
    return low, high


def purchase_intervals(
    model: PurchaseModel,
    t: float,
    frequency: Any,
    recency: Any,
    T: Any,
    level: float = 0.9,
    covariance: np.ndarray | None = None,
    draws: int = PARAMETER_DRAWS,
    seed: int = 0,
) -> PurchaseIntervals:
    """The purchases in the next ``t`` time units, per customer: the central ``level`` interval of the
    distribution mixed over parameter draws (``covariance``: of the log-parameters, from
    :func:`log_parameter_covariance`; None: the fitted parameters alone).

    Computed once per distinct history (frequency, recency, T), the distributions per distinct
    (frequency, T)."""
    level = _check_level(level)
    x, t_x, T_ = as_array(frequency), as_array(recency), as_array(T)
    notes: list[str] = []
    (rx, rt, rT), _, row_of = compress_rows(x, t_x, T_)
    if covariance is not None and len(rx) > DRAW_ROWS:
        notes.append(
            f"{len(rx):,} distinct purchase histories: the per-customer intervals use the fitted parameters "
            "(their uncertainty is negligible at this size); the total's interval includes it."
        )
        covariance = None
    (gx, gT), _, group_of = compress_rows(rx, rT)
    models, alive = _usable_draws(parameter_draws(model, covariance, draws, seed), float(t), (rx, rt, rT), (gx, gT), notes)
    n_rows = len(rx)
    low, high = np.zeros(n_rows), np.zeros(n_rows)
    coverage, mean, second = np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows)
    # histories by the size of distribution they need: a few heavy buyers do not widen everyone's table
    needed = _counts_needed(models, float(t), gx, gT)
    rows_needing = needed[group_of]
    for size in np.unique(needed):
        groups = np.flatnonzero(needed == size)
        grids = _survival_grids(models, float(t), gx[groups], gT[groups], int(size))
        count = grids[0].shape[1] - 1
        position = np.full(len(gx), -1, dtype="int64")
        position[groups] = np.arange(len(groups))
        weights = 2.0 * np.arange(1, count + 1) - 1.0  # E[X^2] = sum_n (2n - 1) P(X >= n)
        members = np.flatnonzero(rows_needing == size)
        for start in range(0, len(members), _BLOCK):
            rows = members[start : start + _BLOCK]
            local = position[group_of[rows]]
            survival = np.zeros((len(rows), count))
            for k, grid in enumerate(grids):
                survival += alive[rows, k : k + 1] * grid[local, 1:]
            survival /= len(grids)
            padded = np.concatenate([np.ones((len(rows), 1)), survival, np.zeros((len(rows), 1))], axis=1)
            lo, hi = _shortest_interval(padded, level)
            index = np.arange(len(rows))
            coverage[rows] = padded[index, lo] - padded[index, hi + 1]
            low[rows], high[rows] = lo, hi
            mean[rows] = survival.sum(axis=1)
            second[rows] = survival @ weights
    return PurchaseIntervals(
        level=level,
        low=low[row_of],
        high=high[row_of],
        coverage=coverage[row_of],
        mean=mean[row_of],
        variance=np.clip(second - mean**2, 0.0, None)[row_of],
        parameter_draws=len(models) if len(models) > 1 else 0,
        notes=notes,
    )


def value_per_purchase(cltv: Any, expected_purchases: Any) -> np.ndarray:
    """Discounted value per expected purchase (CLTV / expected purchases; 0 where nothing is expected):
    what turns a purchase interval into a value interval."""
    value, purchases = as_array(cltv), as_array(expected_purchases)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(purchases > 0, value / np.where(purchases > 0, purchases, 1.0), 0.0)


def spend_variance_factor(spend_model: Any, frequency: Any, monetary_value: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per customer, under Gamma-Gamma: (variance of one purchase's spend, variance of the customer's mean
    spend), relative to the squared expected spend. The customer's rate nu is Gamma(p x + q, v + x m)
    afterwards and a purchase's spend Gamma(p, nu): E[z | nu] = p / nu, Var(z | nu) = p / nu^2. NaN where
    p x + q <= 2 (no finite variance)."""
    p, q, v = (spend_model.params_[k] for k in ("p", "q", "v"))
    x = as_array(frequency)
    m = np.clip(np.nan_to_num(as_array(monetary_value), nan=0.0), 0.0, None)
    shape, rate = p * x + q, v + x * m
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_square = rate**2 / ((shape - 1.0) * (shape - 2.0))  # E[1 / nu^2]
        mean = p * rate / (shape - 1.0)
        single = np.where(shape > 2, p * inverse_square / mean**2, np.nan)
        mean_spread = np.where(shape > 2, (p**2 * inverse_square - mean**2) / mean**2, np.nan)
    return single, mean_spread


def total_variance_own(
    value_per_purchase_: Any, intervals: PurchaseIntervals, single: Any | None = None, mean_spread: Any | None = None
) -> float:
    """Variance of the total value from the customers' own randomness: the purchases' spread (exact, from
    the distributions) and, where given, the spend per purchase's (relative factors of
    :func:`spend_variance_factor`): Var(sum of X spends) = E[X] Var(z) + E[X^2] Var(mean) + Var(X) mean^2."""
    c = as_array(value_per_purchase_)
    ex, vx = intervals.mean, intervals.variance
    total = vx
    if single is not None and mean_spread is not None:
        s, spread = np.nan_to_num(as_array(single)), np.nan_to_num(as_array(mean_spread))
        total = vx + ex * s + (vx + ex**2) * spread
    return float(np.sum(c**2 * total))


def delta_variance(total_at: Any, theta: np.ndarray, covariance: np.ndarray | None, step: float = 1e-4) -> float:
    """Variance of ``total_at(theta)`` from the parameters' covariance by the delta method (central
    differences of the total in each log-parameter); 0 without a covariance."""
    if covariance is None:
        return 0.0
    gradient = np.array([
        (total_at(theta + step * e) - total_at(theta - step * e)) / (2 * step) for e in np.eye(len(theta))
    ])
    return float(max(gradient @ covariance @ gradient, 0.0))


def total_interval(total: float, variance: float, level: float = 0.9) -> tuple[float, float]:
    """A normal interval around the total (a sum over many independent customers), not below 0."""
    half = float(norm.ppf(0.5 + _check_level(level) / 2.0)) * float(np.sqrt(max(variance, 0.0)))
    return max(total - half, 0.0), total + half


def holdout_coverage(
    holdout: pd.DataFrame, fit: PurchaseModel, level: float = 0.9, parameter_uncertainty: bool = True
) -> pd.DataFrame:
    """The intervals checked on the holdout window: ``fit`` (fitted on the calibration window; with
    ``parameter_uncertainty`` its parameters' covariance on those data is mixed in, as for the values)
    gives each customer an interval of the holdout purchases, and the table counts how
    many of the actual holdout purchases fell inside, below and above, next to the nominal level and the
    intervals' own probability (their expected coverage). Rows: all customers, those who bought only once
    in the calibration window, and the repeat buyers. Beyond :data:`COVERAGE_SAMPLE` customers every k-th is
    checked (about that many; ``customers`` says how many)."""
    x, t_x, T = (holdout[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    covariance = log_parameter_covariance(fit, x, t_x, T) if parameter_uncertainty else None
    if len(holdout) > COVERAGE_SAMPLE:
        # a share is known to +-0.3 points from 100,000 customers: check every k-th customer, not all of them
        holdout = holdout.iloc[:: int(np.ceil(len(holdout) / COVERAGE_SAMPLE))]
        x, t_x, T = (holdout[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    duration = holdout["duration_holdout"].to_numpy(dtype="float64")
    actual = holdout["frequency_holdout"].to_numpy(dtype="float64")
    low, high, coverage = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    for d in np.unique(duration):
        sel = duration == d
        found = purchase_intervals(fit, float(d), x[sel], t_x[sel], T[sel], level, covariance)
        low[sel], high[sel], coverage[sel] = found.low, found.high, found.coverage
    rows = []
    for label, sel in (
        ("all customers", np.ones(len(x), dtype=bool)),
        ("bought only once before", x == 0),
        ("repeat buyers", x > 0),
    ):
        if not sel.any():
            continue
        rows.append({
            "customers": int(sel.sum()),
            "nominal level": level,
            "expected coverage": float(coverage[sel].mean()),
            "actual coverage": float(np.mean((actual[sel] >= low[sel]) & (actual[sel] <= high[sel]))),
            "below the interval": float(np.mean(actual[sel] < low[sel])),
            "above the interval": float(np.mean(actual[sel] > high[sel])),
            "group": label,
        })
    return pd.DataFrame(rows).set_index("group")


def coverage_reading(table: pd.DataFrame) -> str:
    """What :func:`holdout_coverage` says, in words."""
    row = table.loc["all customers"]
    return (
        f"{row['actual coverage']:.0%} of the customers' actual holdout purchases fell inside their "
        f"{row['nominal level']:.0%} interval (the intervals themselves expected {row['expected coverage']:.0%}: "
        "purchases are whole numbers, so an interval holds a little more than its nominal level)"
    )


@dataclass
class Uncertainty:
    purchases_low: np.ndarray
    purchases_high: np.ndarray
    cltv_low: np.ndarray
    cltv_high: np.ndarray
    total: tuple[float, float]
    covariance: np.ndarray | None
    notes: list[str]
    variance: float = float("nan")


def cltv_uncertainty(
    purchase_model: PurchaseModel,
    spend_model: GammaGamma | None,
    history: tuple[np.ndarray, ...],
    cltv: np.ndarray,
    quick_rows: np.ndarray,
    rates: np.ndarray,
    level: float,
    timing: dict[str, float],
    other_rows: np.ndarray | None = None,
) -> Uncertainty:
    """Per-customer intervals of purchases and value and the total's interval (:mod:`helpers.clv.intervals`):
    the purchases' own randomness mixed over the parameters' uncertainty, the value per expected purchase,
    and for the total also the spread of the spend and both models' parameter uncertainty (delta method).
    Customers valued by the quick formula get no interval (NaN): it has no distribution. ``other_rows``
    (contract clients, valued elsewhere) are left out of the total's variance; ``variance`` is that of the
    rest, and ``total`` its interval around the sum of ``cltv``."""
    x, t_x, T, monetary = history
    step = periods_per_month(timing["unit_days"])
    horizon = timing["horizon_months"] * step
    notes: list[str] = []
    covariance = log_parameter_covariance(purchase_model, x, t_x, T)
    if covariance is None:
        notes.append(f"{purchase_model.label}: the likelihood is flat at the optimum; intervals without parameter uncertainty.")
    found = purchase_intervals(purchase_model, horizon, x, t_x, T, level, covariance)
    notes.extend(found.notes)
    per_purchase = value_per_purchase(cltv, found.mean)
    low = np.where(quick_rows, np.nan, per_purchase * found.low)
    high = np.where(quick_rows, np.nan, per_purchase * found.high)
    model_rows = ~quick_rows if other_rows is None else ~quick_rows & ~other_rows
    if spend_model is None or not model_rows.any():
        variance = 0.0 if not model_rows.any() else float("nan")
        total = total_interval(float(cltv.sum()), variance, level) if np.isfinite(variance) else (np.nan, np.nan)
        return Uncertainty(found.low, found.high, low, high, total, covariance, notes, variance)
    spend_data = np.clip(np.nan_to_num(monetary, nan=0.0), 0.0, None)
    single, spread = spend_variance_factor(spend_model, x, spend_data)
    variance = total_variance_own(per_purchase[model_rows], _rows(found, model_rows), single[model_rows], spread[model_rows])
    fixed = float(cltv[~model_rows].sum())

    grouping = compress_rows(x, T)
    spend = spend_model.expected_average_spend(x, spend_data)

    def discounted(model: PurchaseModel, spend_per_purchase: np.ndarray) -> np.ndarray:
        return discounted_cltv(model, x, t_x, T, spend_per_purchase, timing["horizon_months"], timing["discount_rate"],
                               rates, timing["unit_days"], grouping=grouping)

    def with_purchases(theta: np.ndarray) -> float:
        value = discounted(with_log_params(purchase_model, theta), spend)
        return float(np.clip(value[model_rows], 0.0, None).sum()) + fixed

    per_spend = discounted(purchase_model, np.ones(len(x)))

    def with_spend(theta: np.ndarray) -> float:
        spend = with_log_params(spend_model, theta).expected_average_spend(x, spend_data)
        return float(np.clip(per_spend * spend, 0.0, None)[model_rows].sum()) + fixed

    repeat = (x > 0) & np.isfinite(monetary) & (monetary > 0)
    spend_covariance = log_parameter_covariance(spend_model, x[repeat], monetary[repeat])
    with np.errstate(all="ignore"):
        variance += delta_variance(with_purchases, log_params(purchase_model), covariance)
        variance += delta_variance(with_spend, log_params(spend_model), spend_covariance)
    total = total_interval(float(cltv.sum()), variance, level) if np.isfinite(variance) else (np.nan, np.nan)
    return Uncertainty(found.low, found.high, low, high, total, covariance, notes, variance)


def _rows(found: PurchaseIntervals, rows: np.ndarray) -> PurchaseIntervals:
    return PurchaseIntervals(
        found.level, found.low[rows], found.high[rows], found.coverage[rows], found.mean[rows],
        found.variance[rows], found.parameter_draws,
    )
