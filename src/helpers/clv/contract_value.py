"""What a contract client is worth: the sBG retention model's months still paid, discounted, times the
contract's margin per month, with the same kind of interval as the buyers'.

A client whose contract runs after n renewals (:mod:`helpers.clv.contracts`) pays the month k of the
horizon if it renews k more times: P = :meth:`ShiftedBetaGeometric.conditional_survival` (k, n). Its
value over the horizon is

    CLTV = margin per month x sum_{k=1..H} P(K >= k) / (1 + monthly rate)^k,

the discounted expected residual lifetime truncated at the horizon (Fader and Hardie 2010) with month 1
discounted once, as :func:`helpers.clv.discounting.discounted_cltv` discounts the buyers' months. A client
whose contract has ended is worth nothing more as a contract client and counts as gone (P(alive) 0): its
leaving was seen. The months paid K have an exact distribution; its interval and the parameters'
uncertainty (the sBG's observed information) enter as for the buyers (:mod:`helpers.clv.intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.clv import intervals
from helpers.clv.discounting import monthly_rate
from helpers.clv.models.sbg import ShiftedBetaGeometric

#: the value model a contract client's row names (``cltv_model``)
CONTRACT_MODEL = "sbg"


@dataclass
class ContractValues:
    """Per contract client (in the order of ``customer_id``): expected months paid in the horizon, P(alive)
    (1 while the contract runs, 0 after it ended), the value and its interval, with the variance of the
    total (the months' own randomness and the parameters')."""

    customer_id: np.ndarray
    expected_months: np.ndarray
    p_alive: np.ndarray
    margin_per_month: np.ndarray
    cltv: np.ndarray
    months_low: np.ndarray
    months_high: np.ndarray
    cltv_low: np.ndarray
    cltv_high: np.ndarray
    total_variance: float
    notes: list[str] = field(default_factory=list)


def _months_survival(model: ShiftedBetaGeometric, periods: np.ndarray, horizon: int) -> np.ndarray:
    """P(K >= k) for k = 0 .. horizon + 1 (the last 0): K, the months a running client still pays."""
    at_least = model.conditional_survival(np.arange(horizon + 1, dtype="float64")[None, :], periods[:, None])
    return np.concatenate([at_least, np.zeros((len(periods), 1))], axis=1)


def _discounted_months(model: ShiftedBetaGeometric, periods: np.ndarray, horizon: int, rate: float) -> np.ndarray:
    k = np.arange(1, horizon + 1, dtype="float64")
    return model.conditional_survival(k[None, :], periods[:, None]) @ (1.0 + rate) ** -k


#: the concentration gamma + delta counts as identified when its standard error on the log scale is below this
#: (a factor of about e): a nearly homogeneous fit has an immense one along gamma and delta growing together
_IDENTIFIED_LOG_SE = 1.0


def _mean_and_concentration(model: ShiftedBetaGeometric) -> tuple[np.ndarray, np.ndarray | None]:
    """The sBG in (logit of the mean churn probability gamma / (gamma + delta), log of gamma + delta) with
    the covariance of those from ``covariance_`` (a linear map of log gamma, log delta). The mean churn is
    what the data pin down best; where the concentration is not identified, only the mean is uncertain (a
    1 x 1 covariance) and the concentration stays at its fit. None without a finite covariance."""
    gamma, delta = model.params_["gamma"], model.params_["delta"]
    theta = np.array([np.log(gamma) - np.log(delta), np.log(gamma + delta)])
    covariance = getattr(model, "covariance_", None)
    if covariance is None or not np.isfinite(covariance).all():
        return theta, None
    share = np.array([gamma, delta]) / (gamma + delta)
    jacobian = np.array([[1.0, -1.0], share])  # d(logit m, log kappa) / d(log gamma, log delta)
    mapped = jacobian @ covariance @ jacobian.T
    if np.sqrt(mapped[1, 1]) > _IDENTIFIED_LOG_SE:
        return theta, mapped[:1, :1]
    return theta, mapped


def _from_mean_and_concentration(model: ShiftedBetaGeometric, point: np.ndarray) -> ShiftedBetaGeometric:
    mean = 1.0 / (1.0 + np.exp(-point[0]))
    concentration = np.exp(point[1]) if len(point) > 1 else model.params_["gamma"] + model.params_["delta"]
    return ShiftedBetaGeometric.from_params({"gamma": mean * concentration, "delta": (1.0 - mean) * concentration})


def _draws(theta: np.ndarray, covariance: np.ndarray | None, draws: int, seed: int = 0) -> list[np.ndarray]:
    """Antithetic normal draws around ``theta`` (only its first len(covariance) entries move)."""
    if covariance is None or draws < 2:
        return [theta]
    rng = np.random.default_rng(seed)
    half = rng.standard_normal((draws // 2, len(covariance))) @ np.linalg.cholesky(covariance).T
    steps = np.zeros((2 * len(half), len(theta)))
    steps[:, : len(covariance)] = np.vstack([half, -half])
    return list(theta + steps)


def contract_values(
    contracts: pd.DataFrame,
    model: ShiftedBetaGeometric,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    level: float = 0.9,
    draws: int = intervals.PARAMETER_DRAWS,
) -> ContractValues:
    """The contract clients of ``contracts`` (:func:`helpers.clv.contracts.contract_clients`, rows with
    ``contractual``) valued by the fitted sBG ``model`` over ``horizon_months`` at the yearly
    ``discount_rate``, with intervals at ``level``."""
    rows = contracts[contracts["contractual"].astype(bool)]
    periods = rows["periods_completed"].astype("float64").to_numpy()
    running = rows["active"].astype(bool).to_numpy()
    margin = np.clip(np.nan_to_num(rows["margin_per_period"].astype("float64").to_numpy(), nan=0.0), 0.0, None)
    horizon, rate = int(horizon_months), monthly_rate(discount_rate)
    notes: list[str] = []
    theta, covariance = _mean_and_concentration(model)
    if covariance is None:
        notes.append("sBG: its parameters' uncertainty is not computable; contract intervals without it.")
    elif covariance.shape == (1, 1):
        notes.append(
            "sBG: the spread of the churn probabilities is not identified (nearly one for every client); the "
            "intervals allow for the uncertainty of the mean churn probability only."
        )
    draws_ = [_from_mean_and_concentration(model, t) for t in _draws(theta, covariance, draws)]
    survival = np.mean([_months_survival(m, periods, horizon) for m in draws_], axis=0)
    low, high = intervals._shortest_interval(survival, level)
    expected = survival[:, 1:].sum(axis=1)
    second = survival[:, 1:-1] @ (2.0 * np.arange(1, horizon + 1) - 1.0)
    per_month_value = np.where(running, margin * _discounted_months(model, periods, horizon, rate), 0.0)
    expected = np.where(running, expected, 0.0)
    per_expected_month = intervals.value_per_purchase(per_month_value, expected)
    low, high = np.where(running, low, 0), np.where(running, high, 0)
    own = float(np.sum(per_expected_month**2 * np.where(running, np.clip(second - expected**2, 0.0, None), 0.0)))

    def total(point: np.ndarray) -> float:
        moved = _from_mean_and_concentration(model, point)
        return float(np.sum(np.where(running, margin * _discounted_months(moved, periods, horizon, rate), 0.0)))

    moving = 0 if covariance is None else len(covariance)
    parameters = intervals.delta_variance(
        lambda point: total(np.concatenate([point, theta[moving:]])), theta[:moving], covariance
    )
    return ContractValues(
        customer_id=rows["customer_id"].astype(str).to_numpy(),
        expected_months=expected,
        p_alive=running.astype("float64"),
        margin_per_month=margin,
        cltv=per_month_value,
        months_low=low.astype("float64"),
        months_high=high.astype("float64"),
        cltv_low=per_expected_month * low,
        cltv_high=per_expected_month * high,
        total_variance=own + parameters,
        notes=notes,
    )
