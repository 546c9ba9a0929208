"""What every model shares: fitting into ``params_``, the guard before that, and the purchase models'
predictions built on two model-specific formulas.

A model is an estimator in the manner of lifetimes' ``fitters/`` and scikit-learn: hyperparameters in the
constructor (``penalizer``, ``compress``), ``fit(...)`` returns the model itself with the learned
attributes ending in ``_`` (``params_``, ``log_likelihood_``, ``n_customers_``, ``n_unique_rows_``,
``notes_``). Before ``fit`` (or :meth:`Model.from_params`) any of them raises :class:`NotFittedError`.

The purchase models' conditional expectation factors as P(alive | x, t_x, T) times the purchases of a
customer still active (:meth:`PurchaseModel.purchases_if_alive`), which depends on frequency and T only
(Fader, Hardie and Lee 2005a, eq. 10; Batislam et al. 2007; Fader and Hardie 2005 for Pareto/NBD): that
costly part is computed once per distinct (frequency, T) pair. Equal to lifetimes' own formulas.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, Self

import numpy as np

from helpers.clv import lifetimes_bridge
from helpers.clv.inputs import as_array, check_purchase_history, check_weights, compress_rows
from helpers.clv.lifetimes_bridge import ConvergenceError


class NotFittedError(ValueError, AttributeError):
    """A model asked for what only a fit gives (parameters, predictions) before it was fitted."""


class Estimate(NamedTuple):
    """One estimation: parameters by their published names, total log-likelihood of the published form,
    and the number of distinct rows the optimiser evaluated."""

    params: dict[str, float]
    log_likelihood: float
    n_unique_rows: int


class Model:
    """Hyperparameters, fitted attributes and their guard, shared by the purchase and spend models.

    ``penalizer`` is lifetimes' ``penalizer_coef`` (an L2 penalty on the parameters, same meaning);
    ``compress=True`` fits on an exact reduction of the data (distinct rows with weights, or the fast
    fitters of :mod:`helpers.clv.fitting`): the same optimum, faster. ``compress=False`` is lifetimes' plain
    fit on every row, the reference.
    """

    name: ClassVar[str]  # the value of the setting cltv.model
    label: ClassVar[str]  # the name a report shows
    param_names: ClassVar[tuple[str, ...]]
    lifetimes_fitter: ClassVar[type]
    fit_arguments: ClassVar[str]  # for the message before a fit
    lifetimes_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, penalizer: float = 0.0, compress: bool = True):
        self.penalizer = float(penalizer)
        self.compress = compress

    def __getattr__(self, attribute: str) -> Any:
        # only reached for attributes not set: the learned ones (ending in "_") say what is missing
        if attribute.endswith("_") and not attribute.startswith("__"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit({self.fit_arguments}) first")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")

    def __repr__(self) -> str:
        state = "fitted" if "params_" in vars(self) else "not fitted"
        return f"{type(self).__name__}(penalizer={self.penalizer:g}, compress={self.compress}) [{state}]"

    @classmethod
    def from_params(cls, params: dict[str, float], penalizer: float = 0.0) -> Self:
        """A model with known parameters (published, or fitted elsewhere), ready to predict."""
        model = cls(penalizer=penalizer)
        model._learned(Estimate({name: float(params[name]) for name in cls.param_names}, float("nan"), 0), 0)
        return model

    def _learned(self, estimate: Estimate, n_customers: float) -> None:
        self.params_ = dict(estimate.params)
        self.log_likelihood_ = float(estimate.log_likelihood)
        self.n_customers_ = n_customers
        self.n_unique_rows_ = int(estimate.n_unique_rows)
        self.notes_: list[str] = []

    def _forget(self) -> None:
        for attribute in ("params_", "log_likelihood_", "n_customers_", "n_unique_rows_", "notes_"):
            vars(self).pop(attribute, None)

    def _estimate_with_lifetimes(self, columns: tuple[np.ndarray, ...], weights: np.ndarray | None) -> Estimate:
        """lifetimes' fit on the given rows; invalid or non-finite results count as not converged."""
        params = lifetimes_bridge.fit(
            self.lifetimes_fitter, self.param_names, self.penalizer, columns, weights, **self.lifetimes_options
        )
        if not all(np.isfinite(v) and v > 0 for v in params.values()):
            raise ConvergenceError(f"{self.label} returned invalid parameters {params}")
        ll = self._total_log_likelihood(params, columns, weights)
        if not np.isfinite(ll):
            raise ConvergenceError(f"{self.label} gives a non-finite log-likelihood")
        return Estimate(params, ll, len(columns[0]))

    def _total_log_likelihood(
        self, params: dict[str, float], columns: tuple[np.ndarray, ...], weights: np.ndarray | None
    ) -> float:
        per_row = self._log_likelihood_per_row(params, *columns)
        w = np.ones_like(per_row) if weights is None else as_array(weights)
        return float(np.sum(w * per_row))

    def _log_likelihood_per_row(self, params: dict[str, float], *columns: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_lifetimes(self) -> Any:
        """A lifetimes fitter carrying these parameters (its formulas are the reference)."""
        return lifetimes_bridge.with_params(self.lifetimes_fitter, self.param_names, self.params_)

    def describe(self) -> str:
        """One line for a report: model, parameters, penalizer, log-likelihood."""
        pars = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        pen = f", penalizer={self.penalizer:g}" if self.penalizer else ""
        return f"{self.label}: {pars}{pen}; log-likelihood {self.log_likelihood_:.1f}"


# lifetimes' Pareto/NBD formulas take log(0) when the last purchase falls on the observation end
# (recency == T) and return NaN; the predictions are continuous there, so evaluate a hair before T.
_RECENCY_NUDGE = 1e-9


def _nudged_recency(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    return np.where((x > 0) & (t_x >= T), T - _RECENCY_NUDGE * np.maximum(T, 1.0), t_x)


class PurchaseModel(Model):
    """A buy-till-you-die model of repeat purchases: BG/NBD, Pareto/NBD or MBG/NBD.

    A subclass gives the estimation (:meth:`_estimate`), the published log-likelihood per row, the
    purchases of a customer still active, the distribution of a new customer's repeat purchases and
    the model's simulation; everything else is here.
    """

    fit_arguments = "frequency, recency, T"

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any | None = None) -> Self:
        """Fit on the customers' (frequency, recency, T); ``weights`` counts customers per row (compressed
        input). Raises ``ConvergenceError`` when the optimiser fails or its parameters give non-finite
        predictions, ``ValueError`` when the input is no purchase history."""
        x, t_x, T_ = check_purchase_history(frequency, recency, T)
        w = None if weights is None else check_weights(weights, len(x))
        estimate = self._estimate(x, t_x, T_, w)
        self._learned(estimate, len(x) if w is None else float(w.sum()))
        try:
            self._check_usable(x, t_x, T_)
        except ConvergenceError:
            self._forget()
            raise
        return self

    def _estimate(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None) -> Estimate:
        raise NotImplementedError

    def _check_usable(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
        """On some data the likelihood keeps rising as r and alpha grow together without bound (the Poisson
        limit); the optimum is then "at infinity" and the formulas overflow. That counts as not converged,
        so that the penalizer schedule (which keeps the parameters finite) or the next model takes over."""
        # Runaway parameters break the formulas for (nearly) every customer, so a spread of customers plus
        # the extremes is enough to see it, at a fixed cost whatever the size of the base.
        probe = np.unique(np.concatenate([
            np.linspace(0, len(x) - 1, min(len(x), 5000)).astype("int64"),
            [int(np.argmax(x)), int(np.argmax(T)), int(np.argmin(T)), int(np.argmax(t_x))],
        ]))
        with np.errstate(all="ignore"):
            horizon = float(np.max(T))
            finite = np.isfinite(
                self.expected_purchases(horizon, x[probe], t_x[probe], T[probe])
            ).all() and np.isfinite(self.probability_alive(x[probe], t_x[probe], T[probe])).all()
        if not finite:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            raise ConvergenceError(
                f"{self.label} parameters ({shown}) give non-finite predictions: the fit ran off towards a limit"
            )

    # ---------------------------------------------------------------------------------- predictions
    def log_likelihood(self, frequency: Any, recency: Any, T: Any, weights: Any | None = None) -> float:
        """Total log-likelihood of the published form on the unscaled data at ``params_`` (``weights``:
        customers per row). lifetimes fits on time scaled to max(T) = 1 and reports a mean of that scaled
        problem; this is what papers quote (CDNOW sample, BG/NBD: -9582.4)."""
        columns = (as_array(frequency), as_array(recency), as_array(T))
        return self._total_log_likelihood(self.params_, columns, weights)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(customer still active) given the history, for each customer (lifetimes' formula)."""
        fitter = self.to_lifetimes()

        def alive(x: np.ndarray, t_x: np.ndarray, T_: np.ndarray) -> np.ndarray:
            return np.clip(fitter.conditional_probability_alive(x, t_x, T_), 0.0, 1.0)

        x, t_x, T_ = as_array(frequency), as_array(recency), as_array(T)
        return np.asarray(alive(x, _nudged_recency(x, t_x, T_), T_), dtype="float64").reshape(-1)

    def purchases_if_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """Expected purchases in the next ``t`` time units of a customer who is still active, after
        ``frequency`` repeat purchases over the age ``T`` (numpy broadcasting over t, frequency, T).

        It does not depend on the recency, and it is the costly part of the expectation (a hypergeometric
        function for BG/NBD and MBG/NBD): a million customers have a few ten thousand distinct
        (frequency, T) pairs but hundreds of thousands of distinct (frequency, recency, T) rows. The
        arithmetic is lifetimes' own numerator (``conditional_expected_number_of_purchases_up_to_time``).
        """
        raise NotImplementedError

    def future_purchases_survival(self, t: float, frequency: Any, T: Any, max_count: int) -> np.ndarray:
        """The exact distribution of the purchases in the next ``t`` time units of a customer still active
        after ``frequency`` repeat purchases over the age ``T``: P(X(t) >= n | alive) for n = 0 .. max_count,
        an array (customers, max_count + 1) with 1 in the first column.

        Like :meth:`purchases_if_alive` it does not depend on the recency (given that the customer is still
        active, the history says only how fast they buy and how rarely they leave), so it is computed per
        distinct (frequency, T). Times P(alive) it is the customer's full distribution (n >= 1); its sum over
        n >= 1 is :meth:`purchases_if_alive` (tests). The intervals of :mod:`helpers.clv.intervals` read it.
        """
        raise NotImplementedError

    def _posterior_negbin_survival(self, t: float, frequency: np.ndarray, T: np.ndarray, max_count: int) -> np.ndarray:
        """P(N(u) >= n) for n = 0 .. max_count of the purchases N(u) of an active customer in the next u, given
        the history: the rate is Gamma(r + x, alpha + T) afterwards, so N(u) ~ NegBin(r + x, (alpha + T) /
        (alpha + T + u)). ``t`` broadcasts against frequency (u per row, or one u). By the recursion of the
        negative binomial probabilities in logs (no special function per cell), then 1 - the running sum."""
        r, alpha = self.params_["r"], self.params_["alpha"]
        shape = np.asarray(r + frequency, dtype="float64")[:, None]
        u = np.broadcast_to(np.asarray(t, dtype="float64"), shape[:, 0].shape)[:, None]
        base = np.asarray(alpha + T, dtype="float64")[:, None]
        n = np.arange(1, max_count, dtype="float64")[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_first = shape * (np.log(base) - np.log(base + u))  # log P(N = 0)
            log_step = np.log(shape + n - 1.0) - np.log(n) + (np.log(u) - np.log(base + u))
            log_pmf = np.concatenate([log_first, log_first + np.cumsum(log_step, axis=1)], axis=1)
        pmf = np.exp(log_pmf)
        pmf[~np.isfinite(pmf)] = 0.0
        pmf[(u[:, 0] <= 0), 1:] = 0.0
        pmf[(u[:, 0] <= 0), 0] = 1.0
        cdf = np.cumsum(pmf, axis=1)
        survival = np.empty((len(shape), max_count + 1))
        survival[:, 0] = 1.0
        survival[:, 1:] = np.clip(1.0 - cdf, 0.0, 1.0)
        return survival

    def expected_purchases(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Expected number of purchases in the next ``t`` time units for each customer: P(alive) times
        :meth:`purchases_if_alive`, which is computed once per distinct (frequency, T). Equals lifetimes'
        ``conditional_expected_number_of_purchases_up_to_time`` (tests) at a fraction of its cost."""
        x, t_x, T_ = as_array(frequency), as_array(recency), as_array(T)
        if t <= 0:
            return np.zeros(len(x))
        (ux, uT), _, inverse = compress_rows(x, T_)
        return self.probability_alive(x, t_x, T_) * self.purchases_if_alive(float(t), ux, uT)[inverse]

    def unconditional_expected_purchases(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a *new* customer in the first ``t`` time units after the
        first purchase (no purchase history), for each t given (vectorised; t <= 0 gives 0).

        Summed over customers at their age, it is what the model expects the whole base to buy (the
        cumulative tracking)."""
        t_ = as_array(t)
        out = np.zeros_like(t_)
        positive = t_ > 0
        if positive.any():
            fitter = self.to_lifetimes()
            ages, inverse = np.unique(t_[positive], return_inverse=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.asarray(fitter.expected_number_of_purchases_up_to_time(ages), dtype="float64")
            out[positive] = values.reshape(-1)[inverse.reshape(-1)]
        return out

    def repeat_purchase_probabilities(self, t: Any, max_count: int) -> np.ndarray:
        """The distribution of a *new* customer's repeat purchases in the first ``t`` time units after the
        first purchase: for each t, P(X(t) = n) for n = 0 .. max_count - 1 and, in the last column,
        P(X(t) >= max_count).

        Returns an array (len(t), max_count + 1) whose rows sum to 1. Summed over customers, row by row at
        each customer's own T, it is the expected number of customers with 0, 1, 2, ... repeat purchases,
        which the model's simulations (:meth:`simulate_repeat_purchases`) scatter around. Given the purchase
        rate, purchases N(t) are Poisson, so N(t) ~ NegBin(r, alpha / (alpha + t)); how the dropout cuts
        them short is the model's own (see the subclasses).
        """
        m = int(max_count)
        if m < 1:
            raise ValueError("max_count must be at least 1")
        t_ = as_array(t)
        if (t_ < 0).any() or not np.isfinite(t_).all():
            raise ValueError("t must be finite and >= 0")
        ages, inverse = np.unique(t_, return_inverse=True)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            probabilities, tail = self._repeat_purchase_distribution(ages, m)
        return np.column_stack([probabilities, tail])[inverse]

    def _negbin(self, u: np.ndarray, max_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(N(u) = n), P(N(u) >= n) for n < max_count, and P(N(u) >= max_count), along a new last axis."""
        from scipy.stats import nbinom

        r, alpha = self.params_["r"], self.params_["alpha"]
        n = np.arange(max_count, dtype="float64")
        q = (alpha / (alpha + u))[..., None]
        return nbinom.pmf(n, r, q), nbinom.sf(n - 1, r, q), nbinom.sf(max_count - 1, r, q)[..., 0]

    def _repeat_purchase_distribution(self, ages: np.ndarray, max_count: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def simulate_repeat_purchases(self, T: Any, draws: int = 20, seed: int = 0) -> np.ndarray:
        """Repeat purchases in (0, T] drawn from the model for customers observed ``T`` units each: the
        model's story told forward, and the independent check of :meth:`repeat_purchase_probabilities`
        (the exact expectation, without simulation noise). Returns a (draws, customers) array; the
        purchase rate lambda ~ Gamma(r, rate alpha) of every model, the dropout the subclass's own."""
        T_ = as_array(T)
        rng = np.random.default_rng(seed)
        shape = (int(draws), len(T_))
        rate = rng.gamma(self.params_["r"], 1.0 / self.params_["alpha"], size=shape)
        return self._simulate(rng, rate, T_, shape)

    def _simulate(self, rng: np.random.Generator, rate: np.ndarray, T: np.ndarray, shape: tuple) -> np.ndarray:
        raise NotImplementedError
