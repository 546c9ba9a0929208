"""How well a purchase model describes the customers: the checks the CLTV notebook and report show.

- :func:`holdout_metrics`: each candidate model fitted on the calibration window, its predicted holdout
  purchases against the actual (the model choice of :func:`helpers.clv.valuation.probabilistic_cltv`) and
  the AUC of its P(alive) for buying again (:mod:`helpers.clv.alive_check`); :func:`holdout_table` the
  same in words;
- :func:`calibration_vs_holdout`: mean actual vs predicted holdout purchases by the number of repeat
  purchases in the calibration window (Fader, Hardie and Lee 2005, figure 3);
- :func:`cumulative_tracking`: actual vs expected cumulative repeat purchases per period over calibration
  and holdout (their figure 2), from the transactions (counted in DuckDB) and the model's unconditional
  expectation;
- :func:`period_transactions`: customers by number of repeat purchases, actual vs expected by the fitted
  model (their figure 1; lifetimes' ``plot_period_transactions`` simulates the same expectation).

The ``*_reading`` functions say in one English sentence what a table shows (the charts' second title line).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from helpers.clv import alive_check
from helpers.clv.inputs import CALIBRATION_NAMES, compress_rows
from helpers.clv.lifetimes_bridge import ConvergenceError, quiet
from helpers.clv.models import robust_fit
from helpers.clv.models.base import PurchaseModel
from helpers.clv.models.robust_fit import PENALIZERS, PURCHASE_MODELS
from helpers.core import duck


# --------------------------------------------------------------------------------------------------
# holdout check
# --------------------------------------------------------------------------------------------------
def holdout_metrics(
    holdout_summary: pd.DataFrame,
    models: Sequence[str] = tuple(PURCHASE_MODELS),
    penalizers: Sequence[float] = PENALIZERS,
) -> tuple[pd.DataFrame, dict[str, PurchaseModel]]:
    """Fit each model on the calibration part and compare its predicted holdout purchases with the actual.

    ``holdout_summary`` has frequency, recency, T (calibration; lifetimes' ``*_cal`` names are accepted)
    and frequency_holdout, duration_holdout. Per model: ``mae`` and ``rmse`` of the per-customer holdout
    purchases, ``predicted_total`` vs ``actual_total`` and ``total_error_pct``, the calibration
    ``log_likelihood`` and ``penalizer``; a model that does not converge gets ``converged`` False.
    Whether P(alive) at the end of the calibration window tells who bought again in the holdout window
    (:mod:`helpers.clv.alive_check`): ``alive_auc`` (its AUC), ``alive_auc_repeat_buyers`` (the same among
    customers with a repeat purchase), ``purchase_auc`` (the AUC of the probability of at least one purchase
    in the holdout window) and ``one_time_p_alive`` (the mean P(alive) of the customers without a repeat
    purchase: 1 when the model gives all of them 100%, as BG/NBD does). Returns the table and the fitted
    models by name.
    """
    cal = holdout_summary.rename(columns=CALIBRATION_NAMES)
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    actual = cal["frequency_holdout"].to_numpy(dtype="float64")
    duration = cal["duration_holdout"].to_numpy(dtype="float64")
    rows, fits = [], {}
    for name in models:
        try:
            fit = robust_fit.fit_purchase_model(x, t_x, T, model=name, penalizers=penalizers, fallback=False)
        except ConvergenceError as exc:
            rows.append({"model": name, "converged": False, "note": " ".join(str(exc).split())})
            continue
        fits[name] = fit
        # P(alive) once per customer; the expectation is P(alive) x purchases if alive (as the model computes
        # it), per distinct duration (usually one), vectorised over customers
        alive, buys = alive_check.holdout_probabilities(cal, fit)
        predicted = np.zeros_like(actual)
        for d in np.unique(duration):
            sel = duration == d
            if d > 0:
                (ux, uT), _, inverse = compress_rows(x[sel], T[sel])
                predicted[sel] = alive[sel] * fit.purchases_if_alive(float(d), ux, uT)[inverse]
        err = predicted - actual
        bought, one_time = actual > 0, x == 0
        rows.append(
            {
                "model": name,
                "converged": True,
                "mae": float(np.mean(np.abs(err))),
                "rmse": float(np.sqrt(np.mean(err**2))),
                "predicted_total": float(predicted.sum()),
                "actual_total": float(actual.sum()),
                "total_error_pct": float(100.0 * (predicted.sum() - actual.sum()) / max(actual.sum(), 1e-12)),
                "log_likelihood": fit.log_likelihood_,
                "penalizer": fit.penalizer,
                "note": " ".join(fit.notes_),
                "alive_auc": alive_check.alive_auc(alive, bought),
                "alive_auc_repeat_buyers": alive_check.alive_auc(alive[~one_time], bought[~one_time]),
                "purchase_auc": alive_check.alive_auc(buys, bought),
                "one_time_p_alive": float(alive[one_time].mean()) if one_time.any() else float("nan"),
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    return table, fits


def calibration_fit(holdout: pd.DataFrame, model: str) -> PurchaseModel | None:
    """The purchase model ``model`` (a setting value) fitted on the calibration window only, with the
    penalizer schedule and no fallback, as the holdout check fits it (None if it fails)."""
    x, t_x, T = (holdout[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    try:
        with quiet():
            return robust_fit.fit_purchase_model(x, t_x, T, model=model, fallback=False)
    except (ConvergenceError, ValueError):
        return None


def holdout_table(metrics: pd.DataFrame, used: str) -> pd.DataFrame:
    """Per candidate model of :func:`holdout_metrics`: status, MAE, RMSE, predicted vs actual holdout
    purchases, the AUC of P(alive) for buying again in the holdout window, and which was ``used`` (a
    setting value)."""
    rows = []
    for name, row in metrics.iterrows():
        converged = bool(row.get("converged", False))
        usable = converged and np.isfinite(row.get("rmse", np.nan))
        status = "used" if name == used and usable else (
            "fitted" if usable else ("fitted, predictions not computable" if converged else "did not converge")
        )
        rows.append(
            {
                "model": PURCHASE_MODELS[name].label if name in PURCHASE_MODELS else name,
                "status": status,
                "mean absolute error": row.get("mae", np.nan),
                "root mean squared error": row.get("rmse", np.nan),
                "predicted purchases": row.get("predicted_total", np.nan),
                "actual purchases": row.get("actual_total", np.nan),
                "error of the total": row.get("total_error_pct", np.nan) / 100.0,
                "AUC of P(alive)": row.get("alive_auc", np.nan),
            }
        )
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


def frequency_cap(frequency: Any, low: int = 7, high: int = 20) -> int:
    """Where the "N+" group of the frequency charts starts: the 80th percentile of the repeat purchases,
    kept within [low, high] (7 for sparse retail data like CDNOW, more for retainer clients)."""
    values = np.asarray(frequency, dtype="float64")
    if len(values) == 0:
        return low
    return int(np.clip(np.ceil(np.quantile(values, 0.8)), low, high))


def _frequency_labels(max_frequency: int) -> list[str]:
    return [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]


def _bucket(frequency: np.ndarray, max_frequency: int) -> pd.Categorical:
    labels = _frequency_labels(max_frequency)
    index = np.minimum(np.asarray(frequency).astype("int64"), max_frequency)
    return pd.Categorical.from_codes(index, categories=labels, ordered=True)


def calibration_vs_holdout(holdout: pd.DataFrame, fit: PurchaseModel, max_frequency: int = 7) -> pd.DataFrame:
    """Per number of repeat purchases in the calibration window (0, 1, ..., ``max_frequency``+): customers,
    mean actual and mean predicted purchases in the holdout window (conditional expectation of ``fit``)."""
    x, t_x, T = (holdout[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    duration = holdout["duration_holdout"].to_numpy(dtype="float64")
    predicted = np.empty_like(x)
    with quiet():
        for d in np.unique(duration):
            sel = duration == d
            predicted[sel] = fit.expected_purchases(float(d), x[sel], t_x[sel], T[sel])
    frame = pd.DataFrame(
        {
            "bucket": _bucket(x, max_frequency),
            "actual": holdout["frequency_holdout"].to_numpy(dtype="float64"),
            "predicted": predicted,
        }
    )
    table = frame.groupby("bucket", observed=False).agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    table.index.name = "repeat purchases in calibration"
    return table


def holdout_reading(table: pd.DataFrame) -> str:
    """What :func:`calibration_vs_holdout` says in total: predicted vs actual holdout purchases."""
    used = table[table["customers"] > 0]
    total_actual = float((used["actual"] * used["customers"]).sum())
    total_pred = float((used["predicted"] * used["customers"]).sum())
    gap = (total_pred - total_actual) / total_actual if total_actual else 0.0
    return f"the model predicted {total_pred:,.0f} holdout purchases, {total_actual:,.0f} happened ({gap:+.0%})"


# --------------------------------------------------------------------------------------------------
# cumulative tracking
# --------------------------------------------------------------------------------------------------
def repeat_purchase_days(transactions: pd.DataFrame, customers: Any = None, end: Any = None) -> pd.DataFrame:
    """customer_id and day of every repeat purchase day (purchase days after each customer's first), in
    pandas: the definition that :func:`repeat_purchases_per_day` computes in DuckDB (tests compare them).

    A day is a purchase day when it has a row with amount >= 0 (as in the customer summary: same-day rows
    merge, refund-only days are no purchase). ``customers`` limits the customers, ``end`` the last day.
    """
    tx = transactions[["customer_id", "date", "amount"]]
    tx = tx.assign(customer_id=tx["customer_id"].astype(str), day=pd.to_datetime(tx["date"]).dt.normalize())
    if customers is not None:
        tx = tx[tx["customer_id"].isin(pd.Index(customers).astype(str))]
    if end is not None:
        tx = tx[tx["day"] <= pd.Timestamp(end)]
    days = tx.loc[tx["amount"] >= 0, ["customer_id", "day"]].drop_duplicates()
    first = days.groupby("customer_id")["day"].transform("min")
    return days[days["day"] > first].sort_values(["day", "customer_id"]).reset_index(drop=True)


def _transactions_relation(con: duckdb.DuckDBPyConnection, transactions: Any) -> str:
    """The transactions as a SQL relation: a registered DataFrame, or a Parquet file read where it lies."""
    if isinstance(transactions, pd.DataFrame):
        con.register("transactions_input", transactions[["customer_id", "date", "amount"]])
        return "transactions_input"
    path = Path(transactions)
    if path.suffix != ".parquet":
        raise ValueError(f"{path}: the tracking reads the transactions as a DataFrame or a .parquet file")
    return duck.parquet(path)


def repeat_purchases_per_day(transactions: Any, customers: Any, end: Any) -> pd.DataFrame:
    """Repeat purchase days of ``customers`` per calendar day up to ``end``: columns day, repeat_purchases
    (days without one are left out). The same definition as :func:`repeat_purchase_days`, counted by day.

    ``transactions`` is a DataFrame (customer_id, date, amount) or the path of a Parquet file: DuckDB
    aggregates the file where it lies, so ten million transactions never become a pandas frame. A day's
    repeat purchases are its purchase days minus the customers whose first purchase day it is.
    """
    con = duck.connect()
    try:
        source = _transactions_relation(con, transactions)
        con.register("cohort_input", pd.DataFrame({"customer_id": pd.Index(customers).astype(str)}))
        counts = con.sql(f"""
            WITH purchase_days AS MATERIALIZED (
                SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(date AS DATE) AS day
                FROM {source}
                WHERE amount >= 0 AND CAST(date AS DATE) <= DATE '{pd.Timestamp(end):%Y-%m-%d}'
                  AND CAST(customer_id AS VARCHAR) IN (SELECT customer_id FROM cohort_input)
                GROUP BY ALL
            ),
            per_day AS (SELECT day, COUNT(*) AS purchase_days FROM purchase_days GROUP BY day),
            first_days AS (
                SELECT first_day AS day, COUNT(*) AS first_purchases
                FROM (SELECT MIN(day) AS first_day FROM purchase_days GROUP BY customer_id)
                GROUP BY first_day
            )
            SELECT day, purchase_days - COALESCE(first_purchases, 0) AS repeat_purchases
            FROM per_day LEFT JOIN first_days USING (day)
            WHERE purchase_days > COALESCE(first_purchases, 0)
            ORDER BY day
        """).df()
    finally:
        con.close()
    return pd.DataFrame({
        "day": pd.to_datetime(counts["day"]),
        "repeat_purchases": counts["repeat_purchases"].astype("int64"),
    })


def cumulative_tracking(
    transactions: Any,
    holdout: pd.DataFrame,
    fit: PurchaseModel,
    calibration_end: Any,
    end: Any,
    unit_days: float = 7.0,
) -> pd.DataFrame:
    """Actual and expected cumulative repeat purchases of the calibration customers, per period.

    ``transactions``: a DataFrame (customer_id, date, amount) or the path of the transactions Parquet file,
    which is then aggregated in DuckDB (:func:`repeat_purchases_per_day`). The customers are those of
    ``holdout`` (first purchase up to ``calibration_end``). Periods of ``unit_days`` run from their
    earliest first purchase to ``end``; ``period_end`` is each period's last day. ``actual`` counts repeat
    purchase days up to that day; ``expected`` sums over the customers the model's unconditional
    expectation E[X(t)] at their age t on that day (``fit`` is the calibration fit), computed once per day
    of first purchase. Periods are aligned so that one ends on ``calibration_end`` (the first and last may
    be shorter). Columns: period, period_end, actual, expected, in_holdout.
    """
    births = pd.to_datetime(holdout["first_purchase"]).dt.normalize()
    start, last = births.min(), pd.Timestamp(end).normalize()
    step = float(unit_days)
    # period ends every `step` days, aligned so that one period ends exactly on the calibration end
    total_days = (last - start).days
    cal_offset = min(max((pd.Timestamp(calibration_end).normalize() - start).days, 0), total_days)
    offsets = cal_offset + step * np.arange(-np.floor(cal_offset / step), np.ceil((total_days - cal_offset) / step) + 1)
    offsets = np.unique(np.clip(np.round(offsets), 0, total_days)).astype("int64")
    n_periods = len(offsets)
    period_end = start + pd.to_timedelta(offsets, unit="D")
    per_day = repeat_purchases_per_day(transactions, holdout["customer_id"], last)
    # repeat purchases up to each period end: the running total of the day counts at that day
    running = np.concatenate([[0], np.cumsum(per_day["repeat_purchases"].to_numpy())])
    days = per_day["day"].to_numpy().astype("datetime64[D]")
    actual = running[np.searchsorted(days, period_end.to_numpy().astype("datetime64[D]"), side="right")]
    # expectation: unique first-purchase days x period ends, computed once per distinct age
    birth_days, counts = np.unique((births - start).dt.days.to_numpy(), return_counts=True)
    ages = (offsets[:, None] - birth_days[None, :]) / step
    with quiet():
        expected_matrix = fit.unconditional_expected_purchases(ages.ravel()).reshape(ages.shape)
    expected = expected_matrix @ counts.astype("float64")
    return pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "period_end": period_end,
            "actual": actual.astype("int64"),
            "expected": expected,
            "in_holdout": period_end > pd.Timestamp(calibration_end),
        }
    )


def tracking_reading(tracking: pd.DataFrame) -> str:
    """What the holdout part of the tracking says: expected vs actual repeat purchases in the holdout."""
    before = tracking[~tracking["in_holdout"]]
    base_actual = float(before["actual"].iloc[-1]) if len(before) else 0.0
    base_expected = float(before["expected"].iloc[-1]) if len(before) else 0.0
    held_actual = float(tracking["actual"].iloc[-1]) - base_actual
    held_expected = float(tracking["expected"].iloc[-1]) - base_expected
    gap = (held_expected - held_actual) / held_actual if held_actual else 0.0
    return (
        f"in the holdout window the model expected {held_expected:,.0f} repeat purchases, "
        f"{held_actual:,.0f} happened ({gap:+.0%})"
    )


# --------------------------------------------------------------------------------------------------
# period transactions
# --------------------------------------------------------------------------------------------------
def period_transactions(summary: pd.DataFrame, fit: PurchaseModel, max_frequency: int = 7) -> pd.DataFrame:
    """Customers by number of repeat purchases (0 .. ``max_frequency``+): actual, and as the model expects
    them: each customer's probabilities of 0, 1, ... repeat purchases over their own T, summed over the
    customers (``repeat_purchase_probabilities`` of the model, once per distinct T). This is the number
    lifetimes' ``plot_period_transactions`` estimates by simulating the base once."""
    actual = _bucket(summary["frequency"].to_numpy(), max_frequency)
    ages, customers = np.unique(summary["T"].to_numpy(dtype="float64"), return_counts=True)
    with quiet():
        probabilities = fit.repeat_purchase_probabilities(ages, max_frequency)
    labels = _frequency_labels(max_frequency)
    return pd.DataFrame(
        {
            "actual": pd.Series(actual).value_counts().reindex(labels, fill_value=0).to_numpy(),
            "model": customers.astype("float64") @ probabilities,
        },
        index=pd.Index(labels, name="repeat purchases"),
    )


def period_transactions_reading(table: pd.DataFrame) -> str:
    """What :func:`period_transactions` says at its ends: customers who never came back, and the top group."""
    first, top = table.iloc[0], table.iloc[-1]
    return (
        f"never came back: {first['actual']:,.0f} actual vs {first['model']:,.0f} by the model; "
        f"{table.index[-1]} repeat purchases: {top['actual']:,.0f} vs {top['model']:,.0f}"
    )
