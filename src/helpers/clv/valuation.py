"""Customer lifetime value: the quick agency formula and the probabilistic BTYD estimate.

Quick formula (:func:`quick_cltv`)::

    CLTV = revenue per period x margin x expected lifetime
         = revenue x margin / churn                              (no discounting)
         = revenue x margin x (1 + d) / (1 + d - retention)      (discount rate d per period)

with retention = 1 - churn. This is the sum of revenue x margin x (retention / (1 + d))^k over the
periods k = 0, 1, 2, ... (the current period undiscounted); a finite ``horizon_periods`` stops the sum.

Probabilistic (:func:`probabilistic_cltv`): a purchase model (BG/NBD, Pareto/NBD or MBG/NBD, chosen by
holdout error) for the expected number of purchases and P(alive), Gamma-Gamma for the spend per purchase,
combined month by month with discounting (see :mod:`helpers.clv.purchase_models`, the only module that uses lifetimes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.clv import purchase_models as btyd

OUTPUT_COLUMNS = [
    "customer_id",
    "expected_purchases",
    "p_alive",
    "expected_avg_spend",
    "cltv",
    "cltv_quick",
    "cltv_model",
]
MIN_CHURN = 0.01
DEFAULT_CHURN = 0.5


# --------------------------------------------------------------------------------------------------
# quick formula
# --------------------------------------------------------------------------------------------------
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


def margin_rates(summary: pd.DataFrame, margin: float = 1.0) -> np.ndarray:
    """Per-customer margin as a fraction: total_margin / total_revenue where the cost is known and the
    revenue positive, else the default ``margin``."""
    revenue = summary["total_revenue"].astype("float64").to_numpy()
    if "total_margin" not in summary:
        return np.full(len(summary), float(margin))
    total_margin = summary["total_margin"].astype("float64").to_numpy()
    known = np.isfinite(total_margin) & (revenue > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(known, total_margin / np.where(revenue > 0, revenue, 1.0), float(margin))


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


# --------------------------------------------------------------------------------------------------
# probabilistic CLTV
# --------------------------------------------------------------------------------------------------
@dataclass
class CLTVResult:
    """How the probabilistic CLTV was made.

    ``model_name``: purchase model used for the final fit; ``reason``: why (selection or fallback);
    ``fit`` / ``gamma_gamma``: the :class:`helpers.clv.purchase_models.FitResult` records (``gamma_gamma`` None if it
    failed); ``holdout_metrics``: one row per candidate model (MAE, RMSE, totals); ``counts``: customers
    handled by each special rule; ``notes``: plain sentences for the report; ``calibration_fits``: the
    candidate models fitted on the calibration window for the holdout check, by model name (reused by the
    report's holdout charts instead of fitting again).
    """

    model_name: str
    reason: str
    fit: btyd.FitResult
    gamma_gamma: btyd.FitResult | None
    holdout_metrics: pd.DataFrame
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    calibration_fits: dict[str, btyd.FitResult] = field(default_factory=dict)


_CAL_RENAME = {"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T", "monetary_value_cal": "monetary_value"}


def holdout_metrics(
    holdout_summary: pd.DataFrame,
    models: tuple[str, ...] = btyd.MODELS,
    penalizers: tuple[float, ...] = btyd.PENALIZERS,
) -> tuple[pd.DataFrame, dict[str, btyd.FitResult]]:
    """Fit each model on the calibration part and compare its predicted holdout purchases with the actual.

    ``holdout_summary`` has frequency, recency, T (calibration; lifetimes' ``*_cal`` names are accepted)
    and frequency_holdout, duration_holdout. Per model: ``mae`` and ``rmse`` of the per-customer holdout
    purchases, ``predicted_total`` vs ``actual_total`` and ``total_error_pct``, the calibration
    ``log_likelihood`` and ``penalizer``; a model that does not converge gets ``converged`` False.
    """
    cal = holdout_summary.rename(columns=_CAL_RENAME)
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    actual = cal["frequency_holdout"].to_numpy(dtype="float64")
    duration = cal["duration_holdout"].to_numpy(dtype="float64")
    rows, fits = [], {}
    for name in models:
        try:
            fit = btyd.fit_purchase_model(x, t_x, T, model=name, penalizers=penalizers, fallback=False)
        except btyd.ConvergenceError as exc:
            rows.append({"model": name, "converged": False, "note": " ".join(str(exc).split())})
            continue
        fits[name] = fit
        # durations usually equal; predict per distinct duration, vectorised over customers
        predicted = np.empty_like(actual)
        for d in np.unique(duration):
            sel = duration == d
            predicted[sel] = btyd.expected_purchases(fit, float(d), x[sel], t_x[sel], T[sel])
        err = predicted - actual
        rows.append(
            {
                "model": name,
                "converged": True,
                "mae": float(np.mean(np.abs(err))),
                "rmse": float(np.sqrt(np.mean(err**2))),
                "predicted_total": float(predicted.sum()),
                "actual_total": float(actual.sum()),
                "total_error_pct": float(100.0 * (predicted.sum() - actual.sum()) / max(actual.sum(), 1e-12)),
                "log_likelihood": fit.log_likelihood,
                "penalizer": fit.penalizer,
                "note": " ".join(fit.notes),
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    return table, fits


def probabilistic_cltv(
    summary: pd.DataFrame,
    holdout_summary: pd.DataFrame | None = None,
    model: str = "auto",
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    unit_days: float = 7.0,
    penalizers: tuple[float, ...] = btyd.PENALIZERS,
    quick_period_months: float = 12.0,
    pareto_max_customers: int | None = 200_000,
) -> tuple[pd.DataFrame, CLTVResult]:
    """Probabilistic CLTV per customer over ``horizon_months`` (default 12).

    Model choice: ``model="auto"`` fits BG/NBD, Pareto/NBD and MBG/NBD on the calibration part of
    ``holdout_summary`` and picks the lowest per-customer RMSE of holdout purchases (MAE and totals are
    reported too); without a holdout summary BG/NBD is used. The chosen model is then refitted on all data
    (``summary``) with the penalizer schedule and fallback of :func:`helpers.clv.purchase_models.fit_purchase_model`.

    Handling rules (each counted in ``CLTVResult.counts``):

    - ``no_repeat_purchase``: customers without repeat purchase have no spend history of their own;
      Gamma-Gamma gives them the population mean p*v/(q-1).
    - ``nonpositive_monetary``: repeat buyers with zero/negative mean spend (refunds) are excluded from the
      Gamma-Gamma fit; their expected spend is the Gamma-Gamma estimate with their own spend taken as 0.
    - ``gamma_gamma_failed``: if Gamma-Gamma does not converge (or q <= 1) every customer's ``cltv`` is the
      quick CLTV over the same horizon (``cltv_model`` = "quick").
    - ``nonfinite_replaced``: a NaN/inf model CLTV is replaced by the quick CLTV.
    - ``negative_clipped``: negative CLTV (negative margins) is clipped to 0.

    ``discount_rate`` is yearly; ``margin`` the default margin fraction where the summary has no
    ``total_margin``. ``cltv_quick`` uses :func:`quick_cltv_from_summary` with yearly periods, the churn
    estimated from the data, and the same horizon and yearly discount rate.

    Returns the table (columns :data:`OUTPUT_COLUMNS`) and a :class:`CLTVResult`.
    """
    if model != "auto" and model not in btyd.MODELS:
        raise ValueError(f"model must be 'auto' or one of {list(btyd.MODELS)}, got {model!r}")
    data = summary.rename(columns=_CAL_RENAME)
    x, t_x, T = (data[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    monetary = data["monetary_value"].to_numpy(dtype="float64")
    notes: list[str] = []

    # 1. model choice
    candidates = btyd.MODELS if model == "auto" else (model,)
    if model == "auto" and pareto_max_customers is not None and len(x) > pareto_max_customers:
        # lifetimes fits Pareto/NBD with Nelder-Mead over every unique customer row: minutes on a large
        # base, so "auto" compares the BG/NBD family there (a fixed model = "pareto" is still honoured)
        candidates = tuple(m for m in candidates if m != "pareto")
        notes.append(
            f"Pareto/NBD left out of the comparison: {len(x):,} customers is more than "
            f"cltv.pareto_max_customers ({pareto_max_customers:,}), and its fit is slow at that size."
        )
    calibration_fits: dict[str, btyd.FitResult] = {}
    if holdout_summary is not None:
        metrics, calibration_fits = holdout_metrics(holdout_summary, candidates, penalizers)
    else:
        metrics = pd.DataFrame(columns=["converged", "mae", "rmse"]).rename_axis("model")
    if model != "auto":
        chosen, reason = model, f"{btyd.MODEL_LABELS[model]} requested."
    elif holdout_summary is None:
        chosen, reason = "bgnbd", "No calibration/holdout data given: BG/NBD used as the default."
    else:
        ok = metrics[metrics["converged"].astype(bool)] if len(metrics) else metrics
        if ok.empty:
            chosen, reason = "bgnbd", "No model converged on the calibration data: BG/NBD tried on all data."
        else:
            chosen = str(ok["rmse"].astype(float).idxmin())
            row = ok.loc[chosen]
            reason = (
                f"{btyd.MODEL_LABELS[chosen]} has the lowest holdout RMSE ({row['rmse']:.3f} purchases per "
                f"customer; MAE {row['mae']:.3f}; predicted {row['predicted_total']:.0f} vs actual "
                f"{row['actual_total']:.0f} purchases) among {len(ok)} converged model(s)."
            )

    # 2. final purchase model on all data
    fit = btyd.fit_purchase_model(x, t_x, T, model=chosen, penalizers=penalizers, fallback=True)
    if fit.model_name != chosen:
        reason += f" It did not converge on all data; {fit.label} used instead."
    notes.extend(fit.notes)
    step = btyd.periods_per_month(unit_days)
    expected = btyd.expected_purchases(fit, horizon_months * step, x, t_x, T)
    p_alive = btyd.probability_alive(fit, x, t_x, T)

    # 3. quick CLTV over the same horizon (yearly periods, yearly discount rate)
    period_discount = (1.0 + discount_rate) ** (quick_period_months / 12.0) - 1.0
    quick = quick_cltv_from_summary(
        summary.rename(columns=_CAL_RENAME),
        margin=margin,
        period_months=quick_period_months,
        discount_rate=period_discount,
        horizon_periods=horizon_months / quick_period_months,
        unit_days=unit_days,
    )
    notes.append(quick.attrs["churn_note"])
    cltv_quick = quick["cltv_quick"].to_numpy()
    rates = margin_rates(summary, margin)

    # 4. spend and CLTV
    counts = {
        "customers": len(data),
        "no_repeat_purchase": int(np.sum(x <= 0)),
        "nonpositive_monetary": int(np.sum((x > 0) & ~(np.isfinite(monetary) & (monetary > 0)))),
        "gamma_gamma_failed": 0,
        "nonfinite_replaced": 0,
        "negative_clipped": 0,
    }
    try:
        gg: btyd.FitResult | None = btyd.fit_gamma_gamma(x, monetary, penalizers=penalizers)
    except btyd.ConvergenceError as exc:
        gg = None
        counts["gamma_gamma_failed"] = len(data)
        notes.append("Gamma-Gamma failed; quick CLTV used for every customer. " + " ".join(str(exc).split()))
    if gg is not None:
        notes.extend(gg.notes)
        spend = btyd.expected_average_spend(gg, x, np.clip(np.nan_to_num(monetary, nan=0.0), 0.0, None))
        cltv = btyd.discounted_cltv(
            fit, x, t_x, T, spend, horizon_months=horizon_months, discount_rate=discount_rate, margin=rates,
            unit_days=unit_days,
        )
        source = np.full(len(data), f"{fit.model_name}+gamma_gamma", dtype=object)
        bad = ~np.isfinite(cltv)
        counts["nonfinite_replaced"] = int(bad.sum())
        cltv = np.where(bad, cltv_quick, cltv)
        source[bad] = "quick"
    else:
        spend = np.full(len(data), np.nan)
        cltv = cltv_quick.copy()
        source = np.full(len(data), "quick", dtype=object)
    negative = cltv < 0
    counts["negative_clipped"] = int(negative.sum())
    cltv = np.clip(cltv, 0.0, None)
    for key, text in (
        ("nonfinite_replaced", "non-finite model CLTV replaced by the quick CLTV"),
        ("negative_clipped", "negative CLTV clipped to 0"),
    ):
        if counts[key]:
            notes.append(f"{counts[key]} customer(s): {text}.")

    table = pd.DataFrame(
        {
            "customer_id": data["customer_id"].astype(str).array,
            "expected_purchases": np.nan_to_num(expected, nan=0.0, posinf=0.0, neginf=0.0).clip(0.0, None),
            "p_alive": np.nan_to_num(p_alive, nan=0.0).clip(0.0, 1.0),
            "expected_avg_spend": spend,
            "cltv": cltv,
            "cltv_quick": cltv_quick,
            "cltv_model": source,
        }
    )[OUTPUT_COLUMNS]
    result = CLTVResult(
        model_name=fit.model_name,
        reason=reason,
        fit=fit,
        gamma_gamma=gg,
        holdout_metrics=metrics,
        counts=counts,
        notes=notes,
        settings={
            "horizon_months": horizon_months,
            "discount_rate_yearly": discount_rate,
            "default_margin": margin,
            "unit_days": unit_days,
        },
        calibration_fits=calibration_fits,
    )
    return table, result
