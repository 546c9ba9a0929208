"""Questions about the accepted transactions, answered by DuckDB over their Parquet file (or a DataFrame),
so that ten million rows are read by the engine and only the small answers reach pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.core import duck

Source = str | Path | pd.DataFrame


def query(source: Source, sql: str, parameters: list | None = None) -> pd.DataFrame:
    """Run `sql`, in which the accepted transactions are the table `transactions`."""
    with duck.connect() as con:
        if isinstance(source, pd.DataFrame):
            con.register("transactions", source)
        else:
            path = str(source).replace("'", "''")
            con.execute(f"CREATE VIEW transactions AS SELECT * FROM read_parquet('{path}')")
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
