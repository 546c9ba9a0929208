"""CLTV for the report: the quick formula in words and numbers, the model checks and the charts.

The models live in :mod:`helpers.clv.valuation` and :mod:`helpers.clv.purchase_models` (the only module that imports lifetimes);
this module computes what the report shows about them, vectorised:

- :func:`calibration_vs_holdout`: mean actual vs predicted holdout purchases by the number of repeat
  purchases in the calibration window (Fader, Hardie and Lee 2005, figure 3);
- :func:`cumulative_tracking`: actual vs expected cumulative repeat purchases per period over calibration
  and holdout (their figure 2), from the transactions (counted in DuckDB) and the model's unconditional
  expectation;
- :func:`period_transactions`: customers by number of repeat purchases, actual vs expected by the
  fitted model (their figure 1; lifetimes' ``plot_period_transactions`` simulates the same expectation).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.clv import purchase_models as btyd
from helpers.clv import valuation as cltv
from helpers.core import duck
from helpers.core.config import ConfigError
from helpers.reporting.plots.common import money, new_figure

MODEL_CHOICES = ("auto", *btyd.MODELS)
COUNT_LABELS = {
    "customers": "customers valued",
    "no_repeat_purchase": "bought only once so far: spend per purchase is the average of all customers",
    "nonpositive_monetary": "repeat buyers whose refunds cancel their spend: kept out of the spend model",
    "gamma_gamma_failed": "spend model failed: value from the quick formula",
    "nonfinite_replaced": "model value not computable: value from the quick formula",
    "negative_clipped": "negative value (loss-making margin) set to 0",
}


# --------------------------------------------------------------------------------------------------
# settings and model run
# --------------------------------------------------------------------------------------------------
def cltv_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``cltv`` section, checked: horizon_months (int > 0), discount_rate (yearly, >= 0), margin
    (fraction used where the cost is unknown, 0..1] and model ('auto', 'bgnbd', 'pareto', 'mbgnbd')."""
    section = {"horizon_months": 12, "discount_rate": 0.10, "margin": 0.4, "model": "auto",
               "pareto_max_customers": 200_000}
    section.update(settings.get("cltv", {}) or {})
    where = settings.get("_path", "settings")
    horizon, rate, margin, model = (section[k] for k in ("horizon_months", "discount_rate", "margin", "model"))
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon <= 0:
        raise ConfigError(f"{where}: cltv.horizon_months must be a whole number of months > 0, got {horizon!r}")
    if not isinstance(rate, int | float) or rate < 0:
        raise ConfigError(f"{where}: cltv.discount_rate must be a yearly rate >= 0 (0.10 = 10%), got {rate!r}")
    if not isinstance(margin, int | float) or not 0 < margin <= 1:
        raise ConfigError(f"{where}: cltv.margin must be a fraction in (0, 1] (0.4 = 40%), got {margin!r}")
    if model not in MODEL_CHOICES:
        raise ConfigError(f"{where}: cltv.model is {model!r}; use one of {list(MODEL_CHOICES)}")
    pareto_limit = section["pareto_max_customers"]
    if pareto_limit is not None and (not isinstance(pareto_limit, int) or isinstance(pareto_limit, bool)
                                     or pareto_limit < 0):
        raise ConfigError(
            f"{where}: cltv.pareto_max_customers must be a whole number >= 0 or null, got {pareto_limit!r}"
        )
    return {"horizon_months": horizon, "discount_rate": float(rate), "margin": float(margin), "model": model,
            "pareto_max_customers": pareto_limit}


@contextlib.contextmanager
def quiet():
    """Silence what lifetimes and scipy print or warn while fitting (the report says what happened)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def run_probabilistic(
    summary: pd.DataFrame, holdout: pd.DataFrame | None, settings: dict[str, Any]
) -> tuple[pd.DataFrame, cltv.CLTVResult]:
    """:func:`helpers.clv.valuation.probabilistic_cltv` with the ``cltv`` settings, without console noise."""
    options = cltv_settings(settings)
    with quiet():
        return cltv.probabilistic_cltv(
            summary,
            holdout,
            model=options["model"],
            horizon_months=options["horizon_months"],
            discount_rate=options["discount_rate"],
            margin=options["margin"],
            unit_days=float(settings.get("summary", {}).get("unit_days", 7)),
            pareto_max_customers=options["pareto_max_customers"],
        )


def calibration_fit(holdout: pd.DataFrame, model: str | cltv.CLTVResult) -> btyd.FitResult | None:
    """The purchase model fitted on the calibration window only (None if it fails).

    ``model`` is a model name, or the :class:`helpers.clv.valuation.CLTVResult` of :func:`run_probabilistic` on the
    same ``holdout``: its model is taken, and the fit its holdout check already made is reused (the same
    fit as here: same data, penalizers and no fallback), rather than fitted again.
    """
    if isinstance(model, cltv.CLTVResult):
        fitted = model.calibration_fits.get(model.model_name)
        if fitted is not None:
            return fitted
        model = model.model_name
    x, t_x, T = (holdout[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    try:
        with quiet():
            return btyd.fit_purchase_model(x, t_x, T, model=model, fallback=False)
    except (btyd.ConvergenceError, ValueError):
        return None


# --------------------------------------------------------------------------------------------------
# quick formula
# --------------------------------------------------------------------------------------------------
def quick_formula(summary: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, float]]:
    """The agency formula for the average customer: inputs and result in words and numbers.

    Average revenue per year (total revenue / years as a customer, at least one), margin (revenue-weighted,
    from the cost where known, else ``cltv.margin``), churn per year estimated from the data, yearly
    discount rate. Returns a display table (what, value, how) and the numbers:
    ``revenue``, ``margin``, ``churn``, ``discount_rate``, ``lifetime_years``, ``cltv_lifetime`` (the
    whole expected lifetime) and ``cltv_horizon`` (limited to ``cltv.horizon_months``).
    """
    options = cltv_settings(settings)
    unit_days = float(settings.get("summary", {}).get("unit_days", 7))
    per_customer = cltv.quick_cltv_from_summary(
        summary, margin=options["margin"], period_months=12.0, discount_rate=options["discount_rate"],
        horizon_periods=options["horizon_months"] / 12.0, unit_days=unit_days,
    )
    revenue = float(per_customer["avg_revenue_per_period"].mean())
    weights = per_customer["avg_revenue_per_period"].clip(lower=0)
    margin = (
        float(np.average(per_customer["margin_rate"], weights=weights)) if weights.sum() > 0 else options["margin"]
    )
    churn = float(per_customer["churn_rate"].iloc[0])
    d = options["discount_rate"]
    numbers = {
        "revenue": revenue,
        "margin": margin,
        "churn": churn,
        "discount_rate": d,
        "lifetime_years": 1.0 / churn,
        "cltv_lifetime": cltv.quick_cltv(revenue, margin, churn, d),
        "cltv_horizon": cltv.quick_cltv(revenue, margin, churn, d, horizon_periods=options["horizon_months"] / 12.0),
        "horizon_months": options["horizon_months"],
    }
    cost_known = "total_margin" in summary and summary["total_margin"].notna().any()
    currency = settings.get("currency", "")
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
        (f"CLTV over the next {options['horizon_months']} months", money(numbers["cltv_horizon"], currency),
         "the same, limited to the horizon of the model below (column cltv_quick)"),
    ]
    table = pd.DataFrame(rows, columns=["input", "value", "how"]).set_index("input")
    return table, numbers


# --------------------------------------------------------------------------------------------------
# holdout check
# --------------------------------------------------------------------------------------------------
def holdout_table(result: cltv.CLTVResult) -> pd.DataFrame:
    """Per candidate model: status, MAE, RMSE, predicted vs actual holdout purchases, and which was used."""
    metrics = result.holdout_metrics
    rows = []
    for name, row in metrics.iterrows():
        converged = bool(row.get("converged", False))
        usable = converged and np.isfinite(row.get("rmse", np.nan))
        status = "used" if name == result.model_name and usable else (
            "fitted" if usable else ("fitted, predictions not computable" if converged else "did not converge")
        )
        rows.append(
            {
                "model": btyd.MODEL_LABELS.get(name, name),
                "status": status,
                "mean absolute error": row.get("mae", np.nan),
                "root mean squared error": row.get("rmse", np.nan),
                "predicted purchases": row.get("predicted_total", np.nan),
                "actual purchases": row.get("actual_total", np.nan),
                "error of the total": row.get("total_error_pct", np.nan) / 100.0,
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


def calibration_vs_holdout(holdout: pd.DataFrame, fit: btyd.FitResult, max_frequency: int = 7) -> pd.DataFrame:
    """Per number of repeat purchases in the calibration window (0, 1, ..., ``max_frequency``+): customers,
    mean actual and mean predicted purchases in the holdout window (conditional expectation of ``fit``)."""
    x, t_x, T = (holdout[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    duration = holdout["duration_holdout"].to_numpy(dtype="float64")
    predicted = np.empty_like(x)
    with quiet():
        for d in np.unique(duration):
            sel = duration == d
            predicted[sel] = btyd.expected_purchases(fit, float(d), x[sel], t_x[sel], T[sel])
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


def calibration_vs_holdout_chart(table: pd.DataFrame, model_label: str) -> Figure:
    figure, axis = new_figure(9, 4.2)
    labels = list(table.index.astype(str))
    axis.plot(labels, table["actual"], marker="o", color="#333333", label="actual")
    axis.plot(labels, table["predicted"], marker="s", ls="--", color="#3b6ea5", label=f"{model_label} prediction")
    axis.set_xlabel("repeat purchases in the calibration window")
    axis.set_ylabel("mean purchases in the holdout window")
    axis.legend()
    used = table[table["customers"] > 0]
    total_actual = float((used["actual"] * used["customers"]).sum())
    total_pred = float((used["predicted"] * used["customers"]).sum())
    gap = (total_pred - total_actual) / total_actual if total_actual else 0.0
    axis.set_title(
        "Holdout check: predicted vs actual purchases per customer\n"
        f"the model predicted {total_pred:,.0f} holdout purchases, {total_actual:,.0f} happened ({gap:+.0%})",
        loc="left",
    )
    figure.tight_layout()
    return figure


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
    return "read_parquet('{}')".format(path.as_posix().replace("'", "''"))


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
    fit: btyd.FitResult,
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
        expected_matrix = btyd.unconditional_expected_purchases(fit, ages.ravel()).reshape(ages.shape)
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


def tracking_chart(tracking: pd.DataFrame, model_label: str, unit_name: str = "week") -> Figure:
    figure, axis = new_figure(10, 4.2)
    axis.plot(tracking["period_end"], tracking["actual"], color="#333333", lw=2, label="actual")
    axis.plot(tracking["period_end"], tracking["expected"], color="#3b6ea5", lw=2, ls="--",
              label=f"{model_label} (fitted on the calibration window)")
    if tracking["in_holdout"].any() and (~tracking["in_holdout"]).any():
        boundary = tracking.loc[~tracking["in_holdout"], "period_end"].iloc[-1]
        axis.axvline(boundary, color="#c0504d", ls=":", lw=1.5, label="end of calibration")
    axis.set_ylabel("cumulative repeat purchases")
    axis.set_xlabel(f"end of {unit_name}")
    axis.legend(loc="upper left")
    axis.set_title(f"Repeat purchases over time, actual vs model\n{tracking_reading(tracking)}", loc="left")
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------------------------------
# period transactions
# --------------------------------------------------------------------------------------------------
def simulate_repeat_purchases(fit: btyd.FitResult, T: Any, draws: int = 20, seed: int = 0) -> np.ndarray:
    """Repeat purchases in (0, T] drawn from the fitted model for customers observed ``T`` units each: the
    model's story told forward, and the independent check of :func:`helpers.clv.purchase_models.repeat_purchase_probabilities`
    (which :func:`period_transactions` uses: the exact expectation, without simulation noise).

    Returns a (draws, customers) array. BG/NBD: purchases ~ Poisson(lambda T), the customer drops out after
    each repeat purchase with probability p: X = min(N, G), G ~ Geometric(p) >= 1; MBG/NBD also at the
    first purchase: X = min(N, G - 1); Pareto/NBD: lifetime ~ Exp(mu), X ~ Poisson(lambda min(lifetime, T)).
    lambda ~ Gamma(r, rate alpha); p ~ Beta(a, b); mu ~ Gamma(s, rate beta).
    """
    T_ = np.asarray(T, dtype="float64").reshape(-1)
    rng = np.random.default_rng(seed)
    shape = (int(draws), len(T_))
    par = fit.params
    lam = rng.gamma(par["r"], 1.0 / par["alpha"], size=shape)
    if fit.model_name == "pareto":
        mu = rng.gamma(par["s"], 1.0 / par["beta"], size=shape)
        lifetime = rng.exponential(1.0 / mu)
        return rng.poisson(lam * np.minimum(lifetime, T_)).astype("float64")
    p = np.clip(rng.beta(par["a"], par["b"], size=shape), 1e-12, 1.0)
    n = rng.poisson(lam * T_)
    g = rng.geometric(p)
    if fit.model_name == "mbgnbd":
        g = g - 1
    elif fit.model_name != "bgnbd":
        raise ValueError(f"cannot simulate model {fit.model_name!r}")
    return np.minimum(n, g).astype("float64")


def period_transactions(summary: pd.DataFrame, fit: btyd.FitResult, max_frequency: int = 7) -> pd.DataFrame:
    """Customers by number of repeat purchases (0 .. ``max_frequency``+): actual, and as the model expects
    them: each customer's probabilities of 0, 1, ... repeat purchases over their own T, summed over the
    customers (:func:`helpers.clv.purchase_models.repeat_purchase_probabilities`, once per distinct T). This is the
    number lifetimes' ``plot_period_transactions`` estimates by simulating the base once."""
    actual = _bucket(summary["frequency"].to_numpy(), max_frequency)
    ages, customers = np.unique(summary["T"].to_numpy(dtype="float64"), return_counts=True)
    with quiet():
        probabilities = btyd.repeat_purchase_probabilities(fit, ages, max_frequency)
    labels = _frequency_labels(max_frequency)
    return pd.DataFrame(
        {
            "actual": pd.Series(actual).value_counts().reindex(labels, fill_value=0).to_numpy(),
            "model": customers.astype("float64") @ probabilities,
        },
        index=pd.Index(labels, name="repeat purchases"),
    )


def period_transactions_chart(table: pd.DataFrame, model_label: str) -> Figure:
    figure, axis = new_figure(9, 4.2)
    x = np.arange(len(table))
    axis.bar(x - 0.2, table["actual"], width=0.4, color="#333333", label="actual")
    axis.bar(x + 0.2, table["model"], width=0.4, color="#3b6ea5", label=f"{model_label} (expected)")
    axis.set_xticks(x, list(table.index))
    axis.set_xlabel("repeat purchases so far")
    axis.set_ylabel("customers")
    axis.legend()
    first, top = table.iloc[0], table.iloc[-1]
    axis.set_title(
        "Customers by number of repeat purchases, actual vs model\n"
        f"never came back: {first['actual']:,.0f} actual vs {first['model']:,.0f} by the model; "
        f"{table.index[-1]} repeat purchases: {top['actual']:,.0f} vs {top['model']:,.0f}",
        loc="left",
    )
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
def special_cases(result: cltv.CLTVResult) -> pd.DataFrame:
    """The counts of CLTVResult in plain words (every rule listed, also when it hit nobody)."""
    rows = [(COUNT_LABELS.get(k, k), int(v)) for k, v in result.counts.items()]
    return pd.DataFrame(rows, columns=["case", "customers"]).set_index("case")


def value_concentration(values: Any, top_share: float = 0.10) -> float:
    """Share of the total held by the top ``top_share`` of customers (at least one customer)."""
    v = np.sort(np.asarray(values, dtype="float64"))[::-1]
    total = v.sum()
    if len(v) == 0 or total <= 0:
        return 0.0
    k = max(1, int(round(top_share * len(v))))
    return float(v[:k].sum() / total)


def cltv_distribution_chart(table: pd.DataFrame, currency: str, horizon_months: int) -> Figure:
    """Histogram of CLTV (the top 1% beyond the 99th percentile gathered in the last bar)."""
    values = table["cltv"].to_numpy(dtype="float64")
    figure, axis = new_figure(10, 4)
    upper = float(np.quantile(values, 0.99)) if len(values) else 1.0
    upper = upper if upper > 0 else max(float(values.max()) if len(values) else 1.0, 1.0)
    axis.hist(np.clip(values, 0, upper), bins=40, color="#3b6ea5")
    median = float(np.median(values)) if len(values) else 0.0
    axis.axvline(median, color="#c0504d", ls="--", label=f"median {money(median, currency)}")
    axis.set_xlabel(f"CLTV over {horizon_months} months ({currency}); the last bar gathers the top 1%")
    axis.set_ylabel("customers")
    axis.legend()
    axis.set_title(
        f"Expected value per customer over the next {horizon_months} months\n"
        f"the top 10% of customers hold {value_concentration(values):.0%} of the expected value "
        f"({money(float(values.sum()), currency)} in total)",
        loc="left",
    )
    figure.tight_layout()
    return figure


def top_customers(
    table: pd.DataFrame, summary: pd.DataFrame, accounts: pd.DataFrame | None = None, top: int = 15
) -> pd.DataFrame:
    """The ``top`` customers by CLTV with name (if known), revenue so far, P(alive), expected purchases,
    expected spend per purchase, CLTV and quick CLTV."""
    revenue = summary.set_index(summary["customer_id"].astype(str))["total_revenue"]
    out = table.sort_values("cltv", ascending=False, kind="stable").head(top).copy()
    out["revenue_so_far"] = out["customer_id"].map(revenue)
    columns = ["customer_id", "revenue_so_far", "p_alive", "expected_purchases", "expected_avg_spend", "cltv",
               "cltv_quick"]
    out = out[columns]
    if accounts is not None and "name" in accounts:
        names = accounts.assign(customer_id=accounts["customer_id"].astype(str)).set_index("customer_id")["name"]
        out.insert(1, "name", out["customer_id"].map(names))
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def check_output(table: pd.DataFrame) -> pd.DataFrame:
    """The cltv artifact as written: exactly :data:`helpers.clv.valuation.OUTPUT_COLUMNS`; refuses NaN, infinite or
    negative CLTV (they would mislead every later step)."""
    out = table[cltv.OUTPUT_COLUMNS].copy()
    for column in ("cltv", "cltv_quick"):
        values = out[column].to_numpy(dtype="float64")
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"{column} holds NaN, infinite or negative values")
    return out
