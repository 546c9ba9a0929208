"""The BG/NBD family: BG/NBD (Fader, Hardie and Lee 2005a) and MBG/NBD (Batislam, Denizel and
Filiztekin 2007).

Customers buy at a Poisson rate lambda ~ Gamma(r, alpha) while active and drop out with probability
p ~ Beta(a, b): BG/NBD after each repeat purchase, MBG/NBD also at the first purchase (so that a customer
without repeat purchase can be gone as well). Fitted by :mod:`helpers.clv.fitting.bg_family` (lifetimes'
exact objective, faster) or, with ``compress=False``, by lifetimes itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from helpers.clv import lifetimes_bridge
from helpers.clv.fitting import bg_family
from helpers.clv.fitting.optimiser import FastFitError
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.base import Estimate, PurchaseModel


class _BetaGeoFamily(PurchaseModel):
    param_names = ("r", "alpha", "a", "b")
    # MBG/NBD: the dropout can also come at the first purchase (b + x + 1 where BG/NBD has b + x)
    modified: ClassVar[bool]

    def _estimate(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None) -> Estimate:
        if not self.compress:
            return self._estimate_with_lifetimes((x, t_x, T), weights)
        fast_fit = bg_family.fit_mbgnbd if self.modified else bg_family.fit_bgnbd
        try:
            fast = fast_fit(x, t_x, T, weights=weights, penalizer=self.penalizer)
        except FastFitError as exc:
            raise ConvergenceError(str(exc)) from exc
        return Estimate(fast.params, fast.log_likelihood, fast.n_rows)

    def _repeat_purchase_distribution(self, ages: np.ndarray, max_count: int) -> tuple[np.ndarray, np.ndarray]:
        # BG/NBD: the customer drops out after the G-th repeat purchase, G ~ Geometric(p) >= 1, X = min(N, G)
        # (Fader, Hardie and Lee 2005a, eq. 8; lifetimes' probability_of_n_purchases_up_to_time). MBG/NBD:
        # the dropout can also come at the first purchase, X = min(N, G - 1).
        a, b = self.params_["a"], self.params_["b"]
        n = np.arange(max_count, dtype="float64")
        pmf, at_least, tail_n = self._negbin(ages, max_count)
        shift = 1.0 if self.modified else 0.0
        # X = n: N = n and the customer is still there after n repeat purchases, or drops out at the n-th
        # (n >= 1 for BG/NBD) with N >= n. Beta mixtures: E[(1-p)^k] = B(a, b + k) / B(a, b).
        survive = np.exp(betaln(a, b + n + shift) - betaln(a, b))
        drop = np.exp(betaln(a + 1, b + n - 1 + shift) - betaln(a, b))
        if not self.modified:
            drop[0] = 0.0  # BG/NBD: no dropout before the first repeat purchase
        probabilities = survive * pmf + drop * at_least
        tail = np.exp(betaln(a, b + max_count - 1 + shift) - betaln(a, b)) * tail_n
        return probabilities, tail

    def log_likelihood_gradient(self, frequency: Any, recency: Any, T: Any) -> Any:
        """The gradient of the total log-likelihood of these data in the log-parameters (penalty included),
        as a function of them: the fast fitter's analytic gradient (lifetimes' objective on scaled time,
        where log alpha is shifted by a constant), for the parameters' covariance."""
        data = bg_family.prepare_bg(frequency, recency, T, modified=self.modified)
        shift = np.array([0.0, np.log(data.scale), 0.0, 0.0])

        def gradient(theta: np.ndarray) -> np.ndarray:
            return -bg_family.bg_objective(theta + shift, data, self.penalizer, need_value=False)[1] * data.sum_w

        return gradient

    def future_purchases_survival(self, t: float, frequency: Any, T: Any, max_count: int) -> np.ndarray:
        # Given that the customer is still active after x repeat purchases, the rate is Gamma(r + x, alpha + T)
        # and the dropout probability Beta(a, b + x) (MBG/NBD: b + x + 1, it survived the first purchase too),
        # independently. Ahead, the customer drops out after each purchase with probability p, so
        # X(t) = min(N(t), G) with G ~ Geometric(p) >= 1: P(X >= n) = P(N >= n) E[(1 - p)^(n - 1)], n >= 1.
        a, b = self.params_["a"], self.params_["b"]
        x, T_ = np.asarray(frequency, dtype="float64"), np.asarray(T, dtype="float64")
        survival = self._posterior_negbin_survival(t, x, T_, max_count)
        b_alive = (b + x + (1.0 if self.modified else 0.0))[:, None]
        k = np.arange(max_count - 1, dtype="float64")[None, :]
        # E[(1 - p)^(n - 1)] for p ~ Beta(a, b'), n = 1 .. max_count: the product of (b' + k) / (a + b' + k)
        staying = np.ones((len(x), max_count))
        staying[:, 1:] = np.exp(np.cumsum(np.log(b_alive + k) - np.log(a + b_alive + k), axis=1))
        survival[:, 1:] *= staying
        return survival

    def _simulate(self, rng: np.random.Generator, rate: np.ndarray, T: np.ndarray, shape: tuple) -> np.ndarray:
        # purchases ~ Poisson(lambda T); X = min(N, G), G ~ Geometric(p) >= 1 (MBG/NBD: G - 1), p ~ Beta(a, b)
        p = np.clip(rng.beta(self.params_["a"], self.params_["b"], size=shape), 1e-12, 1.0)
        n = rng.poisson(rate * T)
        g = rng.geometric(p)
        if self.modified:
            g = g - 1
        return np.minimum(n, g).astype("float64")


class BetaGeo(_BetaGeoFamily):
    """BG/NBD: ``BetaGeo().fit(frequency, recency, T)``; parameters r, alpha, a, b."""

    name = "bgnbd"
    label = "BG/NBD"
    modified = False
    lifetimes_fitter = lifetimes_bridge.BetaGeoFitter

    def _log_likelihood_per_row(self, params: dict[str, float], *columns: np.ndarray) -> np.ndarray:
        # Fader, Hardie and Lee (2005a), eq. (6)
        x, t_x, T = columns
        r, alpha, a, b = (params[k] for k in self.param_names)
        ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        ln_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        ln_a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            ln_a4 = np.where(
                x > 0,
                np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)

    def purchases_if_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        r, alpha, a, b = (self.params_[k] for k in self.param_names)
        x, T_, t_ = (np.asarray(v, dtype="float64") for v in (frequency, T, t))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            _a, _b, _c = r + x, b + x, a + b + x - 1
            z = t_ / (alpha + T_ + t_)
            _a, _b, _c, z = np.broadcast_arrays(_a, _b, _c, z)
            ln_hyp = np.log(np.asarray(hyp2f1(_a, _b, _c, z), dtype="float64"))
            overflow = np.isinf(ln_hyp)
            if overflow.any():  # lifetimes' equivalent form, only where it is needed
                a_, b_, c_, z_ = _a[overflow], _b[overflow], _c[overflow], z[overflow]
                ln_hyp[overflow] = np.log(hyp2f1(c_ - a_, c_ - b_, c_, z_)) + (c_ - a_ - b_) * np.log(1 - z_)
            second = 1 - np.exp(ln_hyp + (r + x) * np.log((alpha + T_) / (alpha + t_ + T_)))
            return (a + b + x - 1) / (a - 1) * second


class ModifiedBetaGeo(_BetaGeoFamily):
    """MBG/NBD: ``ModifiedBetaGeo().fit(frequency, recency, T)``; parameters r, alpha, a, b."""

    name = "mbgnbd"
    label = "MBG/NBD"
    modified = True
    lifetimes_fitter = lifetimes_bridge.ModifiedBetaGeoFitter

    def _log_likelihood_per_row(self, params: dict[str, float], *columns: np.ndarray) -> np.ndarray:
        # Batislam, Denizel and Filiztekin (2007); the same form lifetimes minimises, on unscaled time
        x, t_x, T = columns
        r, alpha, a, b = (params[k] for k in self.param_names)
        ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        ln_a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
        ln_a3 = -(r + x) * np.log(alpha + T)
        ln_a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return ln_a1 + ln_a2 + ln_a3 + np.logaddexp(ln_a4, 0.0)

    def purchases_if_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        r, alpha, a, b = (self.params_[k] for k in self.param_names)
        x, T_, t_ = (np.asarray(v, dtype="float64") for v in (frequency, T, t))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            hyp = hyp2f1(r + x, b + x + 1, a + b + x, t_ / (alpha + T_ + t_))
            return (a + b + x) / (a - 1) * (1 - hyp * ((alpha + T_) / (alpha + t_ + T_)) ** (r + x))
