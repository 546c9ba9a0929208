"""Pareto/NBD (Schmittlein, Morrison and Colombo 1987): customers buy at a Poisson rate
lambda ~ Gamma(r, alpha) for an exponential lifetime of rate mu ~ Gamma(s, beta).

Fitted by :mod:`helpers.clv.fitting.pareto_nbd` (lifetimes' exact objective, faster; its own vectorised
P(alive)) or, with ``compress=False``, by lifetimes itself (Nelder-Mead on every row, the reference).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln, hyp2f1, logsumexp

from helpers.clv import lifetimes_bridge
from helpers.clv.fitting import pareto_nbd
from helpers.clv.fitting.optimiser import FastFitError
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.base import Estimate, PurchaseModel

# Gauss-Legendre nodes for the mixture over the lifetime: the integrand is smooth, so this many nodes give
# the probabilities to about 1e-12 (tests compare with adaptive quadrature)
_QUADRATURE_NODES = 64
# the future purchases of a customer still active mix over the remaining lifetime only: 32 nodes give them to
# about 1e-13 even for a customer with 200 repeat purchases, 16 nodes to 1e-11 up to a dozen and 1e-4 at
# 200 (tests compare with 128). The whole distribution (for intervals of whole purchases, where 1e-4 moves
# no quantile that matters) takes 16, at half the cost; the first few counts (the chance of buying again) 32.
_SURVIVAL_NODES = 32
_DISTRIBUTION_NODES = 16


class ParetoNBD(PurchaseModel):
    """Pareto/NBD: ``ParetoNBD().fit(frequency, recency, T)``; parameters r, alpha, s, beta."""

    name = "pareto"
    label = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    lifetimes_fitter = lifetimes_bridge.ParetoNBDFitter
    # lifetimes uses Nelder-Mead from a random start with tol=1e-4; a fixed start and a tight tolerance make
    # it deterministic and make the weighted fit agree with the plain one
    lifetimes_options = {"initial_params": np.ones(4), "tol": 1e-10, "maxiter": 10000}

    def _estimate(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None) -> Estimate:
        if not self.compress:
            return self._estimate_with_lifetimes((x, t_x, T), weights)
        try:
            fast = pareto_nbd.fit_pareto(x, t_x, T, weights=weights, penalizer=self.penalizer)
        except FastFitError as exc:
            raise ConvergenceError(str(exc)) from exc
        return Estimate(fast.params, fast.log_likelihood, fast.n_rows)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(customer still active) given the history, for each customer: lifetimes' formula (Fader and Hardie
        2005, eq. 36-37), vectorised with the hypergeometric term once per distinct (frequency, time) pair
        (:func:`helpers.clv.fitting.pareto_nbd.probability_alive`); 1 when the last purchase is on the
        observation end, where lifetimes' formula may give NaN."""
        return pareto_nbd.probability_alive(self.params_, frequency, recency, T)

    def _log_likelihood_per_row(self, params: dict[str, float], *columns: np.ndarray) -> np.ndarray:
        # Fader and Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions", eq. 18-20
        x, t_x, T = columns
        r, alpha, s, beta = (params[k] for k in self.param_names)
        if alpha >= beta:
            big, small, second = alpha, beta, s + 1.0
        else:
            big, small, second = beta, alpha, r + x
        rsx = r + s + x
        diff = big - small
        ln_p1 = np.log(hyp2f1(rsx, second, rsx + 1.0, diff / (big + t_x))) - rsx * np.log(big + t_x)
        ln_p2 = np.log(hyp2f1(rsx, second, rsx + 1.0, diff / (big + T))) - rsx * np.log(big + T)
        # A0 = p1 - p2 >= 0 (t_x <= T); equal when t_x == T
        ln_a0 = logsumexp(np.vstack([ln_p1, ln_p2]), axis=0, b=np.vstack([np.ones_like(x), -np.ones_like(x)]))
        ln_first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        ln_second = np.log(s) - np.log(rsx) + ln_a0
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        return head + np.logaddexp(ln_first, ln_second)

    def purchases_if_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        r, alpha, s, beta = (self.params_[k] for k in self.param_names)
        x, T_, t_ = (np.asarray(v, dtype="float64") for v in (frequency, T, t))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            second = np.log(r + x) + np.log(beta + T_) - np.log(alpha + T_)
            third = np.log((1 - ((beta + T_) / (beta + T_ + t_)) ** (s - 1)) / (s - 1))
            return np.exp(second + third)

    def _repeat_purchase_distribution(self, ages: np.ndarray, max_count: int) -> tuple[np.ndarray, np.ndarray]:
        # The lifetime tau is Pareto II (Lomax), P(tau > u) = (beta / (beta + u))^s, and X(t) ~ NegBin at
        # min(tau, t); the mixture over tau < t is integrated numerically (Gauss-Legendre in the dropout
        # probability w = P(tau <= u), where the integrand is smooth).
        s, beta = self.params_["s"], self.params_["beta"]
        alive_at_t = (beta / (beta + ages)) ** s
        dropped_by_t = 1.0 - alive_at_t
        nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
        w = dropped_by_t[:, None] * (nodes[None, :] + 1.0) / 2.0  # (ages, nodes) in (0, P(tau <= t))
        lifetime = beta * ((1.0 - w) ** (-1.0 / s) - 1.0)
        pmf_t, _, tail_t = self._negbin(ages, max_count)
        pmf_w, _, tail_w = self._negbin(lifetime, max_count)
        half = (dropped_by_t / 2.0)[:, None]
        probabilities = alive_at_t[:, None] * pmf_t + half * np.einsum("k,akn->an", weights, pmf_w)
        tail = alive_at_t * tail_t + half[:, 0] * (tail_w @ weights)
        return probabilities, tail

    def log_likelihood_gradient(self, frequency: Any, recency: Any, T: Any) -> Any:
        """The gradient of the total log-likelihood of these data in the log-parameters (penalty included), as
        a function of them: the fast fitter's analytic gradient (lifetimes' objective on scaled time, where log
        alpha and log beta are shifted by a constant), for the parameters' covariance."""
        data = pareto_nbd.prepare_pareto(frequency, recency, T)
        shift = np.array([0.0, np.log(data.scale), 0.0, np.log(data.scale)])

        def gradient(theta: np.ndarray) -> np.ndarray:
            return -pareto_nbd.pareto_objective(theta + shift, data, self.penalizer)[1] * data.sum_w

        return gradient

    def future_purchases_survival(self, t: float, frequency: Any, T: Any, max_count: int) -> np.ndarray:
        # Given that the customer is still active at T after x repeat purchases: the rate is
        # Gamma(r + x, alpha + T), the dropout rate Gamma(s, beta + T), so the remaining lifetime tau is Pareto
        # II, P(tau > u) = ((beta + T) / (beta + T + u))^s, and X(t) ~ NegBin at min(tau, t). The mixture over
        # tau < t by Gauss-Legendre in w = P(tau <= u), as in _repeat_purchase_distribution; in blocks of
        # histories so that histories x nodes x counts stays small.
        s, beta = self.params_["s"], self.params_["beta"]
        x, T_ = np.asarray(frequency, dtype="float64"), np.asarray(T, dtype="float64")
        nodes, weights = np.polynomial.legendre.leggauss(_SURVIVAL_NODES if max_count <= 4 else _DISTRIBUTION_NODES)
        survival = np.empty((len(x), max_count + 1))
        block = max(1, 4_000_000 // (len(nodes) * (max_count + 1)))
        for start in range(0, len(x), block):
            rows = slice(start, start + block)
            xb, Tb = x[rows], T_[rows]
            alive_at_t = ((beta + Tb) / (beta + Tb + t)) ** s
            dropped = 1.0 - alive_at_t
            w = dropped[:, None] * (nodes[None, :] + 1.0) / 2.0
            lifetime = (beta + Tb)[:, None] * ((1.0 - w) ** (-1.0 / s) - 1.0)
            at_end = self._posterior_negbin_survival(float(t), xb, Tb, max_count)
            inside = self._posterior_negbin_survival(
                lifetime.reshape(-1), np.repeat(xb, len(nodes)), np.repeat(Tb, len(nodes)), max_count
            ).reshape(len(xb), len(nodes), max_count + 1)
            survival[rows] = alive_at_t[:, None] * at_end + (dropped / 2.0)[:, None] * np.einsum("k,akn->an", weights, inside)
        return survival

    def _simulate(self, rng: np.random.Generator, rate: np.ndarray, T: np.ndarray, shape: tuple) -> np.ndarray:
        # lifetime ~ Exp(mu), mu ~ Gamma(s, rate beta); X ~ Poisson(lambda min(lifetime, T))
        mu = rng.gamma(self.params_["s"], 1.0 / self.params_["beta"], size=shape)
        lifetime = rng.exponential(1.0 / mu)
        return rng.poisson(rate * np.minimum(lifetime, T)).astype("float64")
