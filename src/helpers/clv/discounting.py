"""Discounting: what future purchases are worth today, month by month over the horizon."""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.clv.inputs import as_array, compress_rows, periods_per_month
from helpers.clv.models.base import PurchaseModel


# --------------------------------------------------------------------------------------------------
def monthly_rate(yearly_discount_rate: float) -> float:
    """The monthly rate of a yearly discount rate: (1 + d)^(1/12) - 1."""
    return (1.0 + float(yearly_discount_rate)) ** (1.0 / 12.0) - 1.0


def discounted_cltv(
    model: PurchaseModel,
    frequency: Any,
    recency: Any,
    T: Any,
    expected_spend: Any,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    margin: float | Any = 1.0,
    unit_days: float = 7.0,
    monthly_discount_rate: float | None = None,
    periods_per_month_: float | None = None,
    grouping: tuple[Any, ...] | None = None,
) -> np.ndarray:
    """Discounted customer lifetime value over ``horizon_months``, vectorised.

    CLTV = sum over months m = 1..H of (E[purchases up to m] - E[purchases up to m-1]) x expected spend
    x margin / (1 + monthly rate)^m. ``discount_rate`` is yearly; the monthly rate is (1+d)^(1/12) - 1
    unless ``monthly_discount_rate`` is given. A month is ``periods_per_month(unit_days)`` model time units
    unless ``periods_per_month_`` is given (lifetimes uses 4.345 weeks). ``margin`` is a fraction, scalar or
    per customer. The month-by-month expectation is computed on a months x distinct (frequency, T) grid
    (``model.purchases_if_alive``) and multiplied by each customer's P(alive); ``grouping`` is that grid's
    ``compress_rows(frequency, T)`` when the caller has it already (repeated valuations of the same customers).
    """
    horizon = int(horizon_months)
    if horizon < 0:
        raise ValueError("horizon_months must be >= 0")
    n = len(as_array(frequency))
    if horizon == 0:
        return np.zeros(n)
    step = periods_per_month(unit_days) if periods_per_month_ is None else float(periods_per_month_)
    rate = monthly_rate(discount_rate) if monthly_discount_rate is None else float(monthly_discount_rate)
    months = np.arange(1, horizon + 1, dtype="float64")
    x, t_x, T_ = as_array(frequency), as_array(recency), as_array(T)
    # E[purchases up to month m] = P(alive) x purchases_if_alive(m): the month-by-month part is computed on
    # a (months, distinct (frequency, T)) grid and discounted there; P(alive) multiplies the sum
    (ux, uT), _, inverse = compress_rows(x, T_) if grouping is None else grouping
    cumulative = model.purchases_if_alive((months * step)[:, None], ux[None, :], uT[None, :])
    per_month = np.diff(cumulative, axis=0, prepend=0.0)
    discount = (1.0 + rate) ** -months
    discounted_purchases = model.probability_alive(x, t_x, T_) * (discount @ per_month)[inverse]
    return discounted_purchases * as_array(expected_spend) * np.broadcast_to(np.asarray(margin, dtype="float64"), (n,))
