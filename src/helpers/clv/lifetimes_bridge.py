"""Every call into ``lifetimes`` (0.11.3, unmaintained): the one module of the workbook that imports it.

What the workbook takes from it: the Pareto/NBD fit (and the plain fits of the other models, kept as the
reference), the formulas of P(alive) and of a new customer's expected purchases, and lifetimes' own
customer summary and CLTV as references for tests and the benchmark. Always with plain numpy arrays
(its fitters work on numpy 2 / pandas 3 that way).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import ConvergenceError, summary_data_from_transaction_data

from helpers.clv.inputs import as_array

__all__ = [
    "BetaGeoFitter",
    "ConvergenceError",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "fit",
    "quiet",
    "reference_cltv",
    "reference_summary",
    "with_params",
]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what lifetimes and scipy print or warn while fitting (the report says what happened)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def fit(
    fitter_class: type,
    param_names: Sequence[str],
    penalizer: float,
    columns: Sequence[np.ndarray],
    weights: np.ndarray | None = None,
    **options: Any,
) -> dict[str, float]:
    """lifetimes' fit of ``fitter_class`` on the columns (raises its ``ConvergenceError``); the parameters by
    their published names."""
    fitter = fitter_class(penalizer_coef=penalizer)
    fitter.fit(*columns, weights=weights, **options)
    return {name: float(fitter.params_[name]) for name in param_names}


def with_params(fitter_class: type, param_names: Sequence[str], params: dict[str, float]) -> Any:
    """A lifetimes fitter carrying the given parameters (for its prediction formulas)."""
    fitter = fitter_class(penalizer_coef=0.0)
    fitter.params_ = pd.Series([float(params[name]) for name in param_names], index=list(param_names))
    return fitter


def reference_cltv(
    purchase_model: Any,
    spend_model: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any,
    time: int = 12,
    monthly_discount_rate: float = 0.01,
    freq: str = "W",
) -> np.ndarray:
    """lifetimes' own ``GammaGammaFitter.customer_lifetime_value`` (a Python loop over months) for a fitted
    purchase model and Gamma-Gamma model of :mod:`helpers.clv.models`.

    Kept as the reference for tests and benchmarks; production uses
    :func:`helpers.clv.valuation.discounted_cltv`.
    """
    model = purchase_model.to_lifetimes()
    model.predict = model.conditional_expected_number_of_purchases_up_to_time
    spend = spend_model.to_lifetimes()
    with np.errstate(divide="ignore", invalid="ignore"):  # lifetimes evaluates log(0) at t = 0
        out = spend.customer_lifetime_value(
            model,
            pd.Series(as_array(frequency)),
            pd.Series(as_array(recency)),
            pd.Series(as_array(T)),
            pd.Series(as_array(monetary_value)),
            time=time,
            discount_rate=monthly_discount_rate,
            freq=freq,
        )
    return np.asarray(out, dtype="float64")


def reference_summary(transactions: Any, observation_end: Any, unit_days: float = 7.0) -> Any:
    """lifetimes' own customer summary (the reference our DuckDB summary is checked and timed against)."""
    return summary_data_from_transaction_data(
        transactions, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=observation_end, freq="D", freq_multiplier=unit_days,
    )
