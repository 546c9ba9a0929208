"""The customer summary: one row per customer from the transaction log, computed in DuckDB.

This is the hot path of the workbook (tens of millions of rows for B2C users), so it is a single
aggregation in SQL rather than pandas group-bys. Its BG/NBD inputs equal
`lifetimes.utils.summary_data_from_transaction_data(..., freq="D", freq_multiplier=unit_days)`.

Rules, the same as lifetimes where lifetimes has one:
- Same-day rows of a customer merge into one purchase day (their amounts add up).
- Refund policy "net": a row with a negative amount is a refund. It reduces revenue on its day; a day
  with only refunds is not a purchase day. Customers whose rows in the window are refunds only have no
  purchase day and so no summary row (they are counted in `refund_only_customers`).
- frequency = purchase days - 1 (repeat purchase days); recency = last - first purchase day;
  T = observation end - first purchase day; both divided by `unit_days` (7 = weeks).
- monetary_value = mean net amount of the repeat purchase days (the first day excluded), 0 without repeats.

The SQL is written once, in DuckDB's dialect: `summary_sql` and `holdout_sql` return it for DuckDB (the
embedded default) or transpiled by sqlglot for another engine (`dialect="spark"`, see `helpers.features.engines`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from helpers.core import duck

SUMMARY_COLUMNS = [
    "customer_id",
    "first_purchase",
    "last_purchase",
    "purchase_days",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_revenue",
    "total_cost",
    "total_margin",
]
HOLDOUT_COLUMNS = ["frequency_holdout", "monetary_value_holdout", "duration_holdout"]


def _source_sql(con: duckdb.DuckDBPyConnection, transactions) -> tuple[str, bool]:
    """Make the transactions readable as a SQL relation: a DataFrame, or a Parquet/CSV path read by
    DuckDB directly (large logs are never loaded whole into pandas). Also says whether cost is known."""
    if isinstance(transactions, pd.DataFrame):
        has_cost = "cost" in transactions.columns and bool(transactions["cost"].notna().any())
        columns = ["customer_id", "date", "amount"] + (["cost"] if has_cost else [])
        con.register("transactions_input", transactions[columns])
        return "transactions_input", has_cost
    path = Path(transactions)
    if path.suffix == ".parquet":
        relation = duck.parquet(path)
    elif path.suffix in (".csv", ".txt"):
        relation = f"read_csv_auto('{path.as_posix()}')"
    else:
        raise ValueError(f"{path}: the summary reads .parquet or .csv; convert other files first")
    has_cost = "cost" in con.sql(f"SELECT * FROM {relation} LIMIT 0").columns
    cost = ", cost" if has_cost else ""
    con.sql(f"CREATE OR REPLACE TEMP VIEW transactions_input AS SELECT customer_id, date, amount{cost} FROM {relation}")
    return "transactions_input", has_cost


def _day_table_sql(source: str, has_cost: bool, start_exclusive: str | None, end_inclusive: str) -> str:
    lower = f"AND CAST(date AS DATE) > DATE '{start_exclusive}'" if start_exclusive else ""
    # cost aggregates only when cost is known: they are a good part of the work on large logs
    cost = "SUM(cost) AS day_cost, COUNT(cost) AS cost_rows" if has_cost else (
        "CAST(NULL AS DOUBLE) AS day_cost, 0 AS cost_rows"
    )
    return f"""
        SELECT CAST(customer_id AS VARCHAR) AS customer_id,
               CAST(date AS DATE) AS day,
               SUM(amount) AS day_amount,
               {cost},
               MAX(amount) >= 0 AS is_purchase
        FROM {source}
        WHERE CAST(date AS DATE) <= DATE '{end_inclusive}' {lower}
        GROUP BY ALL
    """


def _summary_sql(days: str, observation_end: str, unit_days: float) -> str:
    # One pass over the purchase days (the repeat-day mean is (sum - first day) / repeats, no window
    # function); refund-only days are few, so their revenue and cost are added by a small left join.
    return f"""
        WITH days AS ({days}),
        purchases AS (
            SELECT customer_id,
                   MIN(day) AS first_purchase,
                   MAX(day) AS last_purchase,
                   COUNT(*) AS purchase_days,
                   SUM(day_amount) AS purchase_amount,
                   ARG_MIN(day_amount, day) AS first_day_amount,
                   SUM(day_cost) AS purchase_cost,
                   SUM(cost_rows) AS purchase_cost_rows
            FROM days WHERE is_purchase GROUP BY customer_id
        ),
        refunds AS (
            SELECT customer_id, SUM(day_amount) AS refund_amount, SUM(day_cost) AS refund_cost,
                   SUM(cost_rows) AS refund_cost_rows
            FROM days WHERE NOT is_purchase GROUP BY customer_id
        ),
        combined AS (
            SELECT p.*, p.purchase_amount + COALESCE(r.refund_amount, 0) AS total_revenue,
                   CASE WHEN p.purchase_cost_rows + COALESCE(r.refund_cost_rows, 0) > 0
                        THEN COALESCE(p.purchase_cost, 0) + COALESCE(r.refund_cost, 0) END AS total_cost
            FROM purchases p LEFT JOIN refunds r USING (customer_id)
        )
        SELECT customer_id, first_purchase, last_purchase, purchase_days,
               CAST(purchase_days - 1 AS DOUBLE) AS frequency,
               DATE_DIFF('day', first_purchase, last_purchase) / CAST({unit_days} AS DOUBLE) AS recency,
               DATE_DIFF('day', first_purchase, DATE '{observation_end}') / CAST({unit_days} AS DOUBLE) AS T,
               CASE WHEN purchase_days > 1
                    THEN (purchase_amount - first_day_amount) / (purchase_days - 1)
                    ELSE 0 END AS monetary_value,
               total_revenue, total_cost, total_revenue - total_cost AS total_margin
        FROM combined
        ORDER BY customer_id
    """


def _holdout_sql(days: str) -> str:
    return f"""
        WITH days AS ({days})
        SELECT customer_id, CAST(COUNT(*) AS DOUBLE) AS frequency_holdout,
               AVG(day_amount) AS monetary_value_holdout
        FROM days WHERE is_purchase GROUP BY customer_id
    """


def _as_date(value) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _in_dialect(sql: str, dialect: str) -> str:
    if dialect == "duckdb":
        return sql
    import sqlglot
    from sqlglot.errors import ErrorLevel

    # RAISE: a construct the target engine lacks fails here, not as a silently different result
    return sqlglot.transpile(sql, read="duckdb", write=dialect, unsupported_level=ErrorLevel.RAISE)[0]


def summary_sql(
    source: str, has_cost: bool, observation_end, unit_days: float = 7.0, dialect: str = "duckdb"
) -> str:
    """The summary query (SUMMARY_COLUMNS) over the relation `source` (columns customer_id, date, amount
    [, cost] when `has_cost`), in DuckDB's dialect or transpiled to `dialect` (a sqlglot dialect name)."""
    if unit_days <= 0:
        raise ValueError(f"unit_days must be positive, got {unit_days}")
    end = _as_date(observation_end)
    return _in_dialect(_summary_sql(_day_table_sql(source, has_cost, None, end), end, float(unit_days)), dialect)


def _check_windows(calibration_end, observation_end) -> tuple[str, str]:
    cal_end, obs_end = _as_date(calibration_end), _as_date(observation_end)
    if pd.Timestamp(cal_end) >= pd.Timestamp(obs_end):
        raise ValueError(f"calibration end {cal_end} must be before observation end {obs_end}")
    return cal_end, obs_end


def holdout_sql(
    source: str, has_cost: bool, calibration_end, observation_end, dialect: str = "duckdb"
) -> str:
    """The holdout query (customer_id, frequency_holdout, monetary_value_holdout) of the window
    (calibration_end, observation_end], in DuckDB's dialect or transpiled to `dialect`."""
    cal_end, obs_end = _check_windows(calibration_end, observation_end)
    return _in_dialect(_holdout_sql(_day_table_sql(source, has_cost, cal_end, obs_end)), dialect)


def summary_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The summary query's result as the pandas frame the workbook uses (dates as datetimes, ids as str)."""
    for column in ("first_purchase", "last_purchase"):
        frame[column] = pd.to_datetime(frame[column])
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame


def _to_frame(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    return summary_frame(relation.df())


def join_holdout(
    calibration: pd.DataFrame, holdout: pd.DataFrame, calibration_end, observation_end, unit_days: float
) -> pd.DataFrame:
    """The calibration summary with the holdout query's columns (0 for customers without holdout
    purchases) and `duration_holdout` (HOLDOUT_COLUMNS)."""
    holdout["customer_id"] = holdout["customer_id"].astype(str)
    merged = calibration.merge(holdout, on="customer_id", how="left")
    merged[["frequency_holdout", "monetary_value_holdout"]] = merged[
        ["frequency_holdout", "monetary_value_holdout"]
    ].fillna(0.0)
    merged["duration_holdout"] = (pd.Timestamp(observation_end) - pd.Timestamp(calibration_end)).days / float(
        unit_days
    )
    return merged


def customer_summary(transactions, observation_end, unit_days: float = 7.0) -> pd.DataFrame:
    """Per-customer summary of all transactions up to and including `observation_end`.

    `transactions`: a DataFrame with customer_id, date, amount [, cost], or a Parquet/CSV path.
    Returns SUMMARY_COLUMNS, one row per customer with at least one purchase day, sorted by customer_id.
    """
    if unit_days <= 0:
        raise ValueError(f"unit_days must be positive, got {unit_days}")
    end = _as_date(observation_end)
    con = duck.connect()
    try:
        source, has_cost = _source_sql(con, transactions)
        return _to_frame(con.sql(_summary_sql(_day_table_sql(source, has_cost, None, end), end, float(unit_days))))
    finally:
        con.close()


def calibration_holdout_summary(
    transactions, calibration_end, observation_end, unit_days: float = 7.0
) -> pd.DataFrame:
    """The summary of the calibration window (up to `calibration_end`) for customers seen in it, plus
    what they did in the holdout window (calibration_end, observation_end]: `frequency_holdout`
    (purchase days), `monetary_value_holdout` (mean net amount per holdout purchase day, 0 if none)
    and `duration_holdout` (window length in units). Matches lifetimes' calibration_and_holdout_data."""
    cal_end, obs_end = _check_windows(calibration_end, observation_end)
    unit = float(unit_days)
    con = duck.connect()
    try:
        source, has_cost = _source_sql(con, transactions)
        calibration = _to_frame(
            con.sql(_summary_sql(_day_table_sql(source, has_cost, None, cal_end), cal_end, unit))
        )
        holdout = con.sql(_holdout_sql(_day_table_sql(source, has_cost, cal_end, obs_end))).df()
    finally:
        con.close()
    return join_holdout(calibration, holdout, cal_end, obs_end, unit)
