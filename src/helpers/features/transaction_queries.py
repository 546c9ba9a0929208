"""Questions about the accepted transactions, answered by DuckDB over their Parquet file (or a DataFrame),
so that ten million rows are read by the engine and only the small answers reach pandas."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.core import duck

Source = str | Path | pd.DataFrame


def query(source: Source, sql: str, parameters: list | None = None) -> pd.DataFrame:
    """Run `sql`, in which the accepted transactions are the table `transactions`."""
    with duck.connect() as con:
        if isinstance(source, pd.DataFrame):
            con.register("transactions", source)
        else:
            con.execute(f"CREATE VIEW transactions AS SELECT * FROM {duck.parquet(source)}")
        return con.execute(sql, parameters or []).df()


def columns(source: Source) -> list[str]:
    return list(query(source, "SELECT * FROM transactions LIMIT 0").columns)


def currencies(source: Source) -> list[str]:
    """The currency codes named in the data (none when the data have no currency column)."""
    if "currency" not in columns(source):
        return []
    named = query(source, "SELECT DISTINCT currency FROM transactions WHERE currency IS NOT NULL")["currency"]
    return sorted({str(v).strip().upper() for v in named} - {""})


def overview(source: Source) -> dict:
    """Rows, customers, first and last day, revenue and refund rows of the transactions."""
    row = query(
        source,
        "SELECT count(*) AS rows, count(DISTINCT customer_id) AS customers, min(date) AS first_date, "
        "max(date) AS last_date, coalesce(sum(amount), 0) AS revenue, count(*) FILTER (WHERE amount < 0) AS refund_rows "
        "FROM transactions",
    ).iloc[0]
    return {
        "rows": int(row["rows"]),
        "customers": int(row["customers"]),
        "first_date": pd.Timestamp(row["first_date"]) if pd.notna(row["first_date"]) else None,
        "last_date": pd.Timestamp(row["last_date"]) if pd.notna(row["last_date"]) else None,
        "revenue": float(row["revenue"]),
        "refund_rows": int(row["refund_rows"]),
    }


def revenue_by_month(source: Source) -> pd.DataFrame:
    """Revenue, rows and active customers per calendar month (months without rows show as zero)."""
    table = query(
        source,
        "SELECT date_trunc('month', date) AS month, sum(amount) AS revenue, count(*) AS rows, "
        "count(DISTINCT customer_id) AS customers FROM transactions GROUP BY 1 ORDER BY 1",
    )
    index = pd.PeriodIndex(pd.to_datetime(table["month"]), freq="M")
    table = table.drop(columns="month").set_axis(index)
    if table.empty:
        table.index.name = "month"
        return table
    full = pd.period_range(table.index.min(), table.index.max(), freq="M")
    table = table.reindex(full, fill_value=0)
    table.index.name = "month"
    return table.astype({"revenue": "float64", "rows": "int64", "customers": "int64"})


def recent_months(source: Source, month: str, months: int = 24) -> pd.DataFrame:
    """:func:`revenue_by_month` for the ``months`` calendar months up to and including ``month`` (fewer
    when the data start later; months without rows show as zero)."""
    table = revenue_by_month(source)
    end = pd.Period(month, freq="M")
    return table[(table.index <= end) & (table.index > end - months)]


def month_activity(source: Source, month: str) -> dict:
    """Revenue and active customers within one calendar month (YYYY-MM)."""
    start = pd.Period(month, freq="M").start_time
    end = (pd.Period(month, freq="M") + 1).start_time
    row = query(
        source,
        "SELECT coalesce(sum(amount), 0) AS revenue, count(DISTINCT customer_id) AS customers FROM transactions "
        "WHERE date >= ? AND date < ?",
        [start.to_pydatetime(), end.to_pydatetime()],
    ).iloc[0]
    return {"revenue": float(row["revenue"]), "customers": int(row["customers"])}


def revenue_12m_by_customer(
    transactions: pd.DataFrame | str | os.PathLike | None, ids: pd.Index, as_of: Any
) -> pd.Series:
    """Net revenue per customer in the 12 months up to and including ``as_of`` (default: the day of the
    last transaction). ``transactions`` is a DataFrame or the path of a Parquet file with customer_id,
    date and amount; of a file DuckDB reads only the window's customer_id and amount, so that ten million
    transactions are never loaded whole into pandas."""
    if transactions is None or (isinstance(transactions, pd.DataFrame) and transactions.empty):
        return pd.Series(0.0, index=ids)
    if isinstance(transactions, pd.DataFrame):
        dates = pd.to_datetime(transactions["date"])
        start, end = _twelve_months(as_of if as_of is not None else dates.max())
        in_window = ((dates > start) & (dates <= end)).to_numpy()
        customers = pa.array(transactions["customer_id"][in_window].astype(str), type=pa.large_string())
        return _revenue_by_customer(customers, transactions["amount"][in_window].to_numpy(), ids)
    if not duck.parquet_exists(transactions):
        raise FileNotFoundError(f"{transactions}: no such transactions file (Parquet: customer_id, date, amount)")
    source = duck.parquet(transactions)
    with duck.connect() as con:
        if as_of is None:
            as_of = con.sql(f"SELECT max(date) FROM {source}").fetchall()[0][0]
            if as_of is None:
                return pd.Series(0.0, index=ids)
        start, end = _twelve_months(as_of)
        # no ORDER BY needed: DuckDB keeps the file's row order (preserve_insertion_order), which the
        # sums below rely on to equal those of the DataFrame path
        window = con.sql(
            f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, amount FROM {source} "
            "WHERE date > $start AND date <= $end",
            params={"start": start.to_pydatetime(), "end": end.to_pydatetime()},
        ).to_arrow_table()
    return _revenue_by_customer(window["customer_id"].cast(pa.large_string()), window["amount"].to_numpy(), ids)


def _twelve_months(as_of: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window of :func:`revenue_12m_by_customer`: after ``start``, up to and including ``end``."""
    last_day = pd.Timestamp(as_of).normalize()
    return last_day - pd.DateOffset(months=12), last_day + pd.Timedelta(hours=23, minutes=59)


def _revenue_by_customer(customer_ids: pa.Array | pa.ChunkedArray, amounts: np.ndarray, ids: pd.Index) -> pd.Series:
    """Sum of ``amounts`` per customer of ``ids`` (0 for customers without any), in the order of ``ids``;
    rows of other customers are left out.

    The sums are pandas' groupby sums (compensated, in row order), so that they equal to the last bit
    those of grouping by the customer id text; grouping by the customer's position in ``ids`` instead
    of by text and writing the sums in place saves seconds at a million customers."""
    known_ids = pa.array(ids.astype(str), type=pa.large_string())
    position = pc.index_in(customer_ids, value_set=known_ids)
    position = pc.fill_null(position, -1).to_numpy(zero_copy_only=False)
    known = position >= 0
    sums = pd.Series(amounts[known]).groupby(position[known]).sum()
    revenue = np.zeros(len(ids))
    revenue[sums.index.to_numpy()] = sums.to_numpy()
    if not ids.is_unique:  # a customer listed twice: index_in found the first place, every place takes from it
        revenue = revenue[pc.index_in(known_ids, value_set=known_ids).to_numpy(zero_copy_only=False)]
    return pd.Series(revenue, index=ids)
