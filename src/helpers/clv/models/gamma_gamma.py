"""Gamma-Gamma (Fader, Hardie and Lee 2005b; Hardie's note 025): the spend per purchase.

A customer's purchases vary around their own mean spend, which varies across customers: p, q, v.
Fitted on the repeat buyers with positive spend (:func:`repeat_buyers` selects them) by
:mod:`helpers.clv.fitting.gamma_gamma` (lifetimes' exact objective, faster) or, with ``compress=False``,
by lifetimes itself.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy.special import gammaln

from helpers.clv import lifetimes_bridge
from helpers.clv.fitting import gamma_gamma as gamma_gamma_fitting
from helpers.clv.fitting.optimiser import FastFitError
from helpers.clv.inputs import as_array, check_spend_history, check_weights
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.base import Estimate, Model


def repeat_buyers(frequency: Any, monetary_value: Any) -> tuple[np.ndarray, str]:
    """Which customers Gamma-Gamma learns from (at least one repeat purchase, a positive mean spend), and a
    sentence counting those left out."""
    x, m = as_array(frequency), as_array(monetary_value)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    dropped_zero = int(np.sum(x <= 0))
    dropped_nonpositive = int(np.sum((x > 0) & ~((m > 0) & np.isfinite(m))))
    note = (
        f"Gamma-Gamma fitted on {int(keep.sum())} repeat buyers; excluded {dropped_zero} without repeat "
        f"purchase and {dropped_nonpositive} with zero/negative spend."
    )
    return keep, note


class GammaGamma(Model):
    """Gamma-Gamma: ``GammaGamma().fit(frequency, monetary_value)`` on repeat buyers with positive spend.

    A fit whose q <= 1 has no finite population mean and counts as not converged (``ConvergenceError``).
    """

    name = "gamma_gamma"
    label = "Gamma-Gamma"
    param_names = ("p", "q", "v")
    lifetimes_fitter = lifetimes_bridge.GammaGammaFitter
    fit_arguments = "frequency, monetary_value"

    def fit(self, frequency: Any, monetary_value: Any, weights: Any | None = None) -> Self:
        """Fit on repeat buyers' frequency and mean spend per repeat purchase (``weights``: customers per
        row). ``compress=True`` groups rows by the exact value of x*m, all the likelihood needs of a row;
        ``n_unique_rows_`` then counts those values."""
        x, m = check_spend_history(frequency, monetary_value)
        w = None if weights is None else check_weights(weights, len(x))
        estimate = self._estimate(x, m, w)
        if estimate.params["q"] <= 1:
            raise ConvergenceError(f"q={estimate.params['q']:.3g} <= 1 gives no finite mean spend")
        self._learned(estimate, len(x) if w is None else float(w.sum()))
        return self

    def _estimate(self, x: np.ndarray, m: np.ndarray, weights: np.ndarray | None) -> Estimate:
        if not self.compress:
            return self._estimate_with_lifetimes((x, m), weights)
        try:
            fast = gamma_gamma_fitting.fit_gamma_gamma(x, m, weights=weights, penalizer=self.penalizer)
        except FastFitError as exc:
            raise ConvergenceError(str(exc)) from exc
        return Estimate(fast.params, fast.log_likelihood, fast.n_rows)

    def _log_likelihood_per_row(self, params: dict[str, float], *columns: np.ndarray) -> np.ndarray:
        # Hardie's note 025, eq. 1a, without the per-customer constant (as lifetimes and the spreadsheet)
        x, m = columns
        p, q, v = (params[k] for k in self.param_names)
        return (
            gammaln(p * x + q)
            - gammaln(p * x)
            - gammaln(q)
            + q * np.log(v)
            + (p * x - 1) * np.log(m)
            + (p * x) * np.log(x)
            - (p * x + q) * np.log(x * m + v)
        )

    def log_likelihood(self, frequency: Any, monetary_value: Any, weights: Any | None = None) -> float:
        """Total log-likelihood at ``params_``. Like lifetimes (and the published spreadsheet) it omits the
        per-customer constant that does not depend on the parameters, so values are comparable between
        fits on the same data only."""
        return self._total_log_likelihood(self.params_, (as_array(frequency), as_array(monetary_value)), weights)

    def population_mean(self) -> float:
        """Mean spend per purchase of the population: p*v/(q-1) (finite only for q > 1)."""
        p, q, v = (self.params_[k] for k in self.param_names)
        return float(p * v / (q - 1.0)) if q > 1 else float("nan")

    def expected_average_spend(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """Conditional expected spend per purchase (Hardie's note 025, eq. 5).

        A weighted average of the customer's own mean spend and the population mean, the weight
        p*x/(p*x+q-1) growing with the number of repeat purchases x; x = 0 gives the population mean.
        """
        p, q, _ = (self.params_[k] for k in self.param_names)
        x, m = as_array(frequency), as_array(monetary_value)
        m = np.where(np.isfinite(m), m, 0.0)
        weight = p * x / (p * x + q - 1.0)
        return (1.0 - weight) * self.population_mean() + weight * m
