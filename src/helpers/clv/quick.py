"""The quick agency formula of customer lifetime value, per customer and for the average customer::

    CLTV = revenue per period x margin x expected lifetime
         = revenue x margin / churn                              (no discounting)
         = revenue x margin x (1 + d) / (1 + d - retention)      (discount rate d per period)

with retention = 1 - churn. This is the sum of revenue x margin x (retention / (1 + d))^k over the
periods k = 0, 1, 2, ... (the current period undiscounted); a finite ``horizon_periods`` stops the sum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from helpers.clv.inputs import margin_rates
from helpers.core.config import Settings

MIN_CHURN = 0.01
DEFAULT_CHURN = 0.5


def quick_cltv(
    avg_revenue_per_period: Any,
    margin: Any,
    churn_rate: Any,
    discount_rate: float = 0.0,
    horizon_periods: float | None = None,
) -> Any:
    """The agency formula: revenue x margin x (1 + d) / (1 + d - retention), retention = 1 - churn.

    With ``discount_rate=0`` this is revenue x margin / churn (expected lifetime 1/churn periods).
    ``horizon_periods`` (optional) limits the sum to that many periods:
    revenue x margin x (1 - q^H) / (1 - q) with q = retention / (1 + d). Works on scalars and arrays
    (numpy broadcasting). ``churn_rate`` must be in (0, 1]; ``discount_rate`` >= 0.
    """
    churn = np.asarray(churn_rate, dtype="float64")
    if np.any(~np.isfinite(churn)) or np.any(churn <= 0) or np.any(churn > 1):
        raise ValueError("churn_rate must be in (0, 1]; a churn of 0 means an infinite lifetime")
    if discount_rate < 0:
        raise ValueError("discount_rate must be >= 0")
    revenue = np.asarray(avg_revenue_per_period, dtype="float64")
    q = (1.0 - churn) / (1.0 + discount_rate)
    factor = 1.0 / (1.0 - q)
    if horizon_periods is not None:
        factor = factor * (1.0 - q ** float(horizon_periods))
    value = revenue * np.asarray(margin, dtype="float64") * factor
    return float(value) if np.ndim(value) == 0 else value


def _analysis_date(summary: pd.DataFrame, unit_days: float) -> pd.Timestamp:
    """The end of the observation: first purchase + T (time units) of the customers, at its latest."""
    first = pd.to_datetime(summary["first_purchase"])
    end = first + pd.to_timedelta(summary["T"].astype("float64") * unit_days, unit="D")
    return end.max().round("D")


def estimate_churn_rate(
    summary: pd.DataFrame, period_months: float = 12.0, analysis_date: Any = None, unit_days: float = 7.0
) -> tuple[float, str]:
    """Churn per period estimated from the data, with a sentence saying how.

    Among the customers who had already bought one full period before the analysis date, the share who
    have not bought in the last period (last purchase earlier than analysis date - period). Clipped to at
    least 1%. Without such customers (data shorter than one period) :data:`DEFAULT_CHURN` is used.
    """
    when = _analysis_date(summary, unit_days) if analysis_date is None else pd.Timestamp(analysis_date)
    cutoff = when - pd.to_timedelta(period_months * 365.25 / 12.0, unit="D")
    first = pd.to_datetime(summary["first_purchase"])
    last = pd.to_datetime(summary["last_purchase"])
    eligible = first <= cutoff
    if not eligible.any():
        return DEFAULT_CHURN, (
            f"No customer bought before {cutoff.date()} (one period before {when.date()}); "
            f"default churn {DEFAULT_CHURN:.0%} used."
        )
    churned = (last[eligible] <= cutoff).mean()
    rate = max(float(churned), MIN_CHURN)
    return rate, (
        f"Churn {rate:.1%} per {period_months:g} months: share of the {int(eligible.sum())} customers who "
        f"bought before {cutoff.date()} without a purchase since."
    )


def quick_cltv_from_summary(
    summary: pd.DataFrame,
    margin: float = 1.0,
    period_months: float = 12.0,
    discount_rate: float = 0.0,
    horizon_periods: float | None = None,
    analysis_date: Any = None,
    unit_days: float = 7.0,
    churn_rate: float | None = None,
) -> pd.DataFrame:
    """Quick CLTV per customer from the summary.

    - revenue per period = total_revenue / tenure in periods, tenure = analysis date - first purchase,
      at least one period (a customer younger than a period is not extrapolated upwards);
    - margin = the customer's total_margin / total_revenue where known, else ``margin``;
    - churn = ``churn_rate`` or :func:`estimate_churn_rate` (one rate for the whole base);
    - ``discount_rate`` is per period (``period_months`` long, a year by default).

    Returns customer_id, avg_revenue_per_period, margin_rate, churn_rate, cltv_quick; the churn
    explanation is in ``.attrs["churn_note"]``.
    """
    when = _analysis_date(summary, unit_days) if analysis_date is None else pd.Timestamp(analysis_date)
    if churn_rate is None:
        churn, note = estimate_churn_rate(summary, period_months, when, unit_days)
    else:
        churn, note = float(churn_rate), f"Churn {float(churn_rate):.1%} per period given by the user."
    period_days = period_months * 365.25 / 12.0
    tenure = (when - pd.to_datetime(summary["first_purchase"])).dt.days.to_numpy() / period_days
    revenue = summary["total_revenue"].astype("float64").to_numpy() / np.maximum(tenure, 1.0)
    rates = margin_rates(summary, margin)
    value = quick_cltv(revenue, rates, churn, discount_rate, horizon_periods)
    out = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].astype(str).array,  # as stored: no million Python strings
            "avg_revenue_per_period": revenue,
            "margin_rate": rates,
            "churn_rate": churn,
            "cltv_quick": np.clip(np.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None),
        }
    )
    out.attrs["churn_note"] = note
    return out


def quick_formula(
    summary: pd.DataFrame, settings: Settings, money: Callable[[float, str], str]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The agency formula for the average customer: inputs and result in words and numbers.

    Average revenue per year (total revenue / years as a customer, at least one), margin (revenue-weighted,
    from the cost where known, else ``cltv.margin``), churn per year estimated from the data, yearly
    discount rate. Returns a display table (what, value, how) and the numbers:
    ``revenue``, ``margin``, ``churn``, ``discount_rate``, ``lifetime_years``, ``cltv_lifetime`` (the
    whole expected lifetime) and ``cltv_horizon`` (limited to ``cltv.horizon_months``). ``money(value,
    currency)`` writes an amount as the report does (``helpers.reporting.formatting.money_text``).
    """
    options = settings.cltv
    per_customer = quick_cltv_from_summary(
        summary, margin=options.margin, period_months=12.0, discount_rate=options.discount_rate,
        horizon_periods=options.horizon_months / 12.0, unit_days=settings.summary.unit_days,
    )
    revenue = float(per_customer["avg_revenue_per_period"].mean())
    weights = per_customer["avg_revenue_per_period"].clip(lower=0)
    margin = (
        float(np.average(per_customer["margin_rate"], weights=weights)) if weights.sum() > 0 else options.margin
    )
    churn = float(per_customer["churn_rate"].iloc[0])
    d = options.discount_rate
    numbers = {
        "revenue": revenue,
        "margin": margin,
        "churn": churn,
        "discount_rate": d,
        "lifetime_years": 1.0 / churn,
        "cltv_lifetime": quick_cltv(revenue, margin, churn, d),
        "cltv_horizon": quick_cltv(revenue, margin, churn, d, horizon_periods=options.horizon_months / 12.0),
        "horizon_months": options.horizon_months,
    }
    cost_known = "total_margin" in summary and summary["total_margin"].notna().any()
    currency = settings.currency
    rows = [
        ("Average revenue per customer and year", money(revenue, currency),
         "each customer's revenue divided by the years since the first purchase (at least one year)"),
        ("Margin", f"{margin:.0%}",
         "contribution margin from the known costs" if cost_known
         else "assumed (cltv.margin in the settings): the data carry no costs"),
        ("Churn rate per year", f"{churn:.0%}", per_customer.attrs.get("churn_note", "")),
        ("Expected lifetime", f"{numbers['lifetime_years']:.1f} years", "1 / churn rate"),
        ("Discount rate per year", f"{d:.0%}", "a euro next year is worth less than today (cltv.discount_rate)"),
        ("CLTV over the whole expected lifetime", money(numbers["cltv_lifetime"], currency),
         "revenue x margin x (1 + discount) / (discount + churn)"),
        (f"CLTV over the next {options.horizon_months} months", money(numbers["cltv_horizon"], currency),
         "the same, limited to the horizon of the model below (column cltv_quick)"),
    ]
    table = pd.DataFrame(rows, columns=["input", "value", "how"]).set_index("input")
    return table, numbers
