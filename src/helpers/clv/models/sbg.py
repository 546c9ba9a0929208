"""The shifted-beta-geometric (sBG) model of contract retention (Fader and Hardie 2007, "How to project
customer retention", J. Interactive Marketing 21(1)), with the discounted expected residual lifetime (DERL) of
Fader and Hardie (2010), "Customer-Base Valuation in a Contractual Setting: The Perils of Ignoring
Heterogeneity", Marketing Science 29(1).

In a contractual setting a client's leaving is seen: the contract ends. At the end of every period the client
renews or leaves; its churn probability theta is its own and constant, theta ~ Beta(gamma, delta) across
clients. The retention rate of a cohort still rises over time, because the clients most likely to leave leave
first.

Time is counted in *renewals*: a client in its first period has made 0, and ``periods`` / ``periods_completed``
always means the renewals made (periods survived). S(t) is the share of a cohort still a client after t
renewals; a client's CLTV is DERL times its margin per period. Fitted by :mod:`helpers.clv.fitting.sbg`
(closed-form likelihood, analytic gradient and Hessian, exact data reduction); lifetimes has no sBG.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy.special import betaln, hyp2f1
from scipy.stats import norm

from helpers.clv.fitting import sbg as sbg_fitting
from helpers.clv.fitting.optimiser import FastFitError
from helpers.clv.inputs import check_weights
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.base import Estimate, Model
from helpers.core.errors import UsageError


def check_survivors(survivors: Any) -> np.ndarray:
    """A cohort's survivors per period, first the cohort size (1000, 631, 468, ...), as floats, refused with
    the reason when they cannot be one (:class:`UsageError`). Counts may be in any unit (thousands: 1, 0.631,
    ...), so they need not be whole numbers; they must not rise, since a cohort only loses clients."""
    try:
        s = np.asarray(survivors, dtype="float64").reshape(-1)
    except (TypeError, ValueError):
        raise UsageError(f"survivors must be numbers (the cohort size first, then the survivors per period), got {survivors!r}") from None
    if len(s) < 3:
        raise UsageError(
            f"survivors needs the cohort size and at least two periods (e.g. 1000, 631, 468), got {len(s)} "
            f"value{'s' if len(s) != 1 else ''}: one period alone cannot tell the spread of churn probabilities"
        )
    if not np.isfinite(s).all():
        raise UsageError("survivors must be finite numbers (no NaN or infinity)")
    if np.any(s < 0):
        first = int(np.flatnonzero(s < 0)[0])
        raise UsageError(f"survivors cannot be negative: period {first} has {s[first]:g}")
    if s[0] <= 0:
        raise UsageError(f"the cohort size (the first value) must be positive, got {s[0]:g}")
    rising = np.flatnonzero(np.diff(s) > 0)
    if len(rising):
        t = int(rising[0]) + 1
        raise UsageError(
            f"survivors cannot rise: period {t} has {s[t]:g}, more than the {s[t - 1]:g} of period {t - 1} (a cohort "
            "only loses clients; new clients belong to a new cohort)"
        )
    if s[-1] == s[0]:
        raise UsageError("no client was lost in any period: the retention cannot be estimated from these survivors")
    return s


#: gamma + delta of the homogeneous limit (:meth:`ShiftedBetaGeometric.fit_homogeneous`): this concentrated, the
#: Beta's spread moves S(t) by about t**2 * theta / 2e8 and the log-Beta differences lose about 1e-8: the
#: geometric survival to 1e-7 over a year of months, to a few 1e-6 over ten years
HOMOGENEOUS_CONCENTRATION = 1e8
#: above this gamma + delta a fit reads as (nearly) one churn probability for everyone (the spread is not identified)
NEARLY_HOMOGENEOUS = 1e4


class ShiftedBetaGeometric(Model):
    """sBG: ``ShiftedBetaGeometric().fit(periods, active)`` on clients, or ``.fit_survivors(survivors)`` on a
    cohort; parameters gamma, delta (theta ~ Beta(gamma, delta)).

    Learned: ``params_``, ``log_likelihood_`` (total, in the weights' unit), ``n_customers_`` (total weight),
    ``n_unique_rows_``, ``covariance_`` (of log gamma, log delta, from the observed information at the
    optimum; the weights are taken as counts of clients), ``notes_``; after :meth:`fit_survivors` also
    ``observed_periods_`` (the periods after the cohort size) and ``cohort_size_``.
    ``compress=False`` evaluates the likelihood client by client instead of on the reduced table (the same
    optimum: the reference for the reduction).
    """

    name = "sbg"
    label = "sBG"
    param_names = ("gamma", "delta")
    fit_arguments = "periods, active"

    def fit(self, periods: Any, active: Any, weights: Any | None = None, entered: Any | None = None) -> Self:
        """Fit on each client's renewals made (``periods``) and whether its contract still runs (``active``:
        censored); ``weights`` counts clients per row; ``entered`` (optional) the renewals a client had
        already made when its observation began (a contract older than the data: left truncation).
        Raises ``ValueError`` when the input is no retention history (e.g. no contract has ended yet),
        ``ConvergenceError`` when there is no finite optimum (e.g. the same churn rate for everyone, which
        sends gamma and delta to infinity: :meth:`fit_homogeneous` is that limit)."""
        self._forget()
        try:
            fast, data = sbg_fitting.fit_sbg(
                periods, active, weights, entered, penalizer=self.penalizer, reduce=self.compress
            )
        except FastFitError as exc:
            raise ConvergenceError(
                f"{exc}: the data do not pin down the spread of churn probabilities (too few periods, or a "
                "retention rate that does not rise over time); fit_homogeneous gives the limit of one churn "
                "probability for every client, a penalizer keeps the parameters finite"
            ) from exc
        self._learned(Estimate(fast.params, fast.log_likelihood, fast.n_rows), data.sum_w)
        self.covariance_ = sbg_fitting.log_parameter_covariance(data, **fast.params)
        self.notes_ = list(fast.notes)
        gamma, delta = fast.params["gamma"], fast.params["delta"]
        if gamma + delta > NEARLY_HOMOGENEOUS:
            self.notes_.append(
                f"gamma + delta = {gamma + delta:.3g}: nearly one churn probability for every client "
                f"({gamma / (gamma + delta):.2%} per period); the spread is not identified, the intervals of gamma "
                "and delta mean little"
            )
        return self

    def fit_homogeneous(
        self, periods: Any, active: Any, weights: Any | None = None, entered: Any | None = None
    ) -> Self:
        """The sBG's limit when every client has the same churn probability theta (gamma and delta grow without
        bound, theta = gamma / (gamma + delta)): the geometric model, with theta = ended contracts / renewal
        decisions seen (the maximum-likelihood estimate). For data on which :meth:`fit` finds no finite
        optimum because the retention rate does not rise; stored as gamma = theta * 1e8, delta = (1 - theta) *
        1e8, which predicts as the geometric model to about 1e-7 (``HOMOGENEOUS_CONCENTRATION``).
        ``covariance_`` is NaN (no spread)."""
        self._forget()
        n, alive, n0 = sbg_fitting.check_retention_history(periods, active, entered)
        w = np.ones(len(n)) if weights is None else check_weights(weights, len(n))
        ended = float(w[~alive].sum())
        decisions = float(np.dot(w, n - n0 + ~alive))
        if ended <= 0:
            raise ValueError("no contract has ended among the clients given: the churn probability cannot be estimated")
        theta = ended / decisions
        if theta >= 1:
            raise ValueError("every contract ended at its first renewal decision: no client ever renewed")
        ll = ended * np.log(theta) + (decisions - ended) * np.log1p(-theta)
        estimate = Estimate({"gamma": theta * HOMOGENEOUS_CONCENTRATION, "delta": (1 - theta) * HOMOGENEOUS_CONCENTRATION},
                            float(ll), sbg_fitting.prepare_sbg(n, alive, w, n0).n_distinct)
        self._learned(estimate, float(w.sum()))
        self.notes_ = [f"one churn probability for every client (the homogeneous limit): {theta:.2%} per period"]
        return self

    def fit_survivors(self, survivors: Any) -> Self:
        """Fit on one cohort's survivors per period, first the cohort size (Fader and Hardie's form: 1000,
        631, 468, ...): the lost of each period ended, the last survivors still run. The same likelihood
        as :meth:`fit` on the clients these numbers describe."""
        s = check_survivors(survivors)
        periods, active, weights = sbg_fitting.survivors_to_clients(s)
        self.fit(periods, active, weights=weights)
        self.observed_periods_ = len(s) - 1
        self.cohort_size_ = float(s[0])
        return self

    def _learned(self, estimate: Estimate, n_customers: float) -> None:
        super()._learned(estimate, n_customers)
        self.covariance_ = np.full((2, 2), np.nan)

    def _forget(self) -> None:
        super()._forget()
        for attribute in ("covariance_", "observed_periods_", "cohort_size_"):
            vars(self).pop(attribute, None)

    def to_lifetimes(self) -> Any:
        raise NotImplementedError("lifetimes has no sBG model; the formulas are in helpers.clv.models.sbg")

    def log_likelihood(self, periods: Any, active: Any, weights: Any | None = None, entered: Any | None = None) -> float:
        """Total log-likelihood of the given clients at ``params_`` (Fader and Hardie's form: regular segment,
        years 0-7, -1680.3 at its optimum)."""
        data = sbg_fitting.prepare_sbg(periods, active, weights, entered)
        return sbg_fitting.sbg_log_likelihood(data, self.params_["gamma"], self.params_["delta"])

    def param_intervals(self, level: float = 0.9) -> dict[str, tuple[float, float]]:
        """Intervals of gamma and delta at ``level`` (normal on the log scale, from ``covariance_``)."""
        if not 0 < level < 1:
            raise ValueError(f"level must lie between 0 and 1, got {level}")
        z = float(norm.ppf(0.5 + level / 2))
        se = np.sqrt(np.diag(self.covariance_))
        return {
            name: (float(self.params_[name] * np.exp(-z * se[k])), float(self.params_[name] * np.exp(z * se[k])))
            for k, name in enumerate(self.param_names)
        }

    # ---------------------------------------------------------------------------------- predictions
    def _gd(self) -> tuple[float, float]:
        return self.params_["gamma"], self.params_["delta"]

    def survival(self, t: Any) -> np.ndarray:
        """S(t) = B(gamma, delta + t) / B(gamma, delta): the share of a new cohort still a client after t
        renewals (S(0) = 1), for each t given."""
        gamma, delta = self._gd()
        t_ = _non_negative(t, "t")
        return np.exp(betaln(gamma, delta + t_) - betaln(gamma, delta))

    def churn_probability(self, t: Any) -> np.ndarray:
        """P(T = t) = B(gamma + 1, delta + t - 1) / B(gamma, delta): the share of a new cohort that leaves in
        period t (t = 1: at the first renewal decision), for each t >= 1 given."""
        gamma, delta = self._gd()
        t_ = _at_least_one(t)
        return np.exp(betaln(gamma + 1.0, delta + t_ - 1.0) - betaln(gamma, delta))

    def retention_rate(self, t: Any) -> np.ndarray:
        """r(t) = S(t) / S(t - 1) = (delta + t - 1) / (gamma + delta + t - 1): the share of the clients of
        period t - 1 who renew into period t (t >= 1); it rises with t."""
        gamma, delta = self._gd()
        t_ = _at_least_one(t)
        return (delta + t_ - 1.0) / (gamma + delta + t_ - 1.0)

    def projected_survivors(self, cohort_size: float, periods: int, after: int = 0) -> np.ndarray:
        """Expected survivors of a cohort of ``cohort_size`` (in its unit) at the end of the ``periods``
        periods that follow period ``after``: cohort_size * S(t) for t = after + 1 .. after + periods. For
        the periods after a fitted cohort's data, pass ``after=observed_periods_`` (the command
        ``workbook retention`` does)."""
        count, start = int(periods), int(after)
        if count < 0 or start < 0:
            raise ValueError("periods and after must be whole numbers >= 0")
        return float(cohort_size) * self.survival(np.arange(start + 1, start + count + 1, dtype="float64"))

    def conditional_survival(self, k: Any, periods_completed: Any) -> np.ndarray:
        """P(still a client k more renewals from now | has made n renewals) = B(gamma, delta + n + k) /
        B(gamma, delta + n), broadcast over k and n (numpy rules). The survivors are the clients with low
        churn probabilities: their posterior is Beta(gamma, delta + n)."""
        gamma, delta = self._gd()
        k_, n_ = np.broadcast_arrays(_non_negative(k, "k"), _non_negative(periods_completed, "periods_completed"))
        return np.exp(betaln(gamma, delta + n_ + k_) - betaln(gamma, delta + n_))

    def residual_periods_pmf(self, periods_completed: Any, horizon: int) -> np.ndarray:
        """The exact distribution of K, the number of further periods a client still running after n renewals
        pays within the next ``horizon`` periods (K = min(further renewals, horizon)), one row per client:
        column k is P(K = k), k = 0 .. horizon; the rows sum to 1. P(K >= k) is
        :meth:`conditional_survival` (k, n). For an interval of a client's value: K = k is worth
        margin * sum_{j < k} (1 + d)^-j (the paper's timing, see :meth:`derl`)."""
        h = _whole(horizon, "horizon")
        n = _non_negative(periods_completed, "periods_completed").reshape(-1)
        unique, inverse = np.unique(n, return_inverse=True)
        at_least = self.conditional_survival(np.arange(h + 1, dtype="float64")[None, :], unique[:, None])
        pmf = np.empty_like(at_least)
        pmf[:, :-1] = at_least[:, :-1] - at_least[:, 1:]
        pmf[:, -1] = at_least[:, -1]
        return pmf[inverse.reshape(-1)]

    def derl(
        self,
        discount_rate: float,
        periods_completed: Any,
        horizon: int | None = None,
        first_payment_discounted: bool = False,
    ) -> np.ndarray:
        """Discounted expected residual lifetime, in periods' payments, of each client still running after n
        renewals (Fader and Hardie 2010, eq. 6 with n renewals):

            DERL(d | gamma, delta, n) = B(gamma, delta + n + 1) / B(gamma, delta + n)
                                        * 2F1(1, delta + n + 1; gamma + delta + n + 1; 1 / (1 + d)),

        the sum over k >= 1 of P(makes k more renewals) / (1 + d)^(k - 1). Timing as in the paper: it is
        evaluated just before the next renewal decision, so the payment at the next renewal (if it comes)
        is *not* discounted. ``first_payment_discounted=True`` discounts it one period (the sum divided by
        1 + d): the convention of :func:`helpers.clv.valuation.discounted_cltv`, whose month 1 is discounted
        once. ``discount_rate`` is per period (for months the monthly rate). ``horizon`` (periods) truncates
        the sum at the next ``horizon`` payments, so that a contract client is valued over the same months as
        the others. CLTV = DERL x margin per period. Vectorised over clients (computed once per distinct n).
        """
        d = float(discount_rate)
        if not np.isfinite(d) or d < 0:
            raise ValueError(f"discount_rate must be a number >= 0 (per period), got {discount_rate!r}")
        gamma, delta = self._gd()
        n = _non_negative(periods_completed, "periods_completed")
        unique, inverse = np.unique(n, return_inverse=True)
        if horizon is not None:
            h = _whole(horizon, "horizon")
            k = np.arange(1, h + 1, dtype="float64")
            alive = self.conditional_survival(k[None, :], unique[:, None])
            values = alive @ (1.0 + d) ** -(k - 1.0)
        elif d == 0:
            # undiscounted: the expected further renewals, (delta + n) / (gamma - 1), finite only for gamma > 1
            values = (delta + unique) / (gamma - 1.0) if gamma > 1 else np.full(len(unique), np.inf)
        else:
            b = delta + unique
            with np.errstate(all="ignore"):
                values = b / (gamma + b) * hyp2f1(1.0, b + 1.0, gamma + b + 1.0, 1.0 / (1.0 + d))
            failed = ~np.isfinite(values)
            if failed.any():  # scipy's 2F1 gives NaN for large parameters (b, c in the hundreds) near z = 1
                values[failed] = _derl_series(gamma, b[failed], d)
        if first_payment_discounted:
            values = values / (1.0 + d)
        return np.asarray(values, dtype="float64")[inverse.reshape(-1)].reshape(n.shape)


def _derl_series(gamma: float, b: np.ndarray, d: float, chunk: int = 4096) -> np.ndarray:
    """The DERL series sum_{k >= 1} prod_{j < k} (b + j) / (gamma + b + j) * (1 + d)^-(k - 1) with
    b = delta + n (the first term b / (gamma + b)), summed in chunks of terms until the rest is below
    1e-15 of the sum: the terms fall by more than 1 / (1 + d) each, so the rest after a term t is under
    t (1 + d) / d."""
    log_v = -np.log1p(d)
    total = np.zeros(len(b))
    log_term = np.log(b) - np.log(gamma + b)  # the k = 1 term
    k0 = 0
    while True:
        j = np.arange(k0, k0 + chunk, dtype="float64")[None, :]
        steps = np.log(b[:, None] + j + 1.0) - np.log(gamma + b[:, None] + j + 1.0) + log_v
        logs = log_term[:, None] + np.concatenate([np.zeros((len(b), 1)), np.cumsum(steps[:, :-1], axis=1)], axis=1)
        total += np.exp(logs).sum(axis=1)
        log_term = logs[:, -1] + steps[:, -1]
        k0 += chunk
        if np.all(np.exp(log_term) * (1.0 + d) / d <= 1e-15 * total):
            return total


def _non_negative(values: Any, name: str) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    if not np.isfinite(v).all() or np.any(v < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return v


def _at_least_one(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    if not np.isfinite(v).all() or np.any(v < 1):
        raise ValueError("t must be finite and >= 1 (period 1 ends at the first renewal decision)")
    return v


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


__all__ = ["ShiftedBetaGeometric", "check_survivors"]
