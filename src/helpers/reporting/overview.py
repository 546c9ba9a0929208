"""Plain figures about the prepared data: what was read, what was rejected and why, what is in it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.features import transaction_queries
from helpers.reporting.privacy import safe_text

PROFILE_ROWS = {
    "purchase_days": "Purchase days per customer",
    "frequency": "Repeat purchases",
    "recency": "Weeks between first and last purchase",
    "T": "Weeks since first purchase",
    "monetary_value": "Mean spend per repeat purchase",
    "total_revenue": "Revenue per customer",
    "total_margin": "Contribution margin per customer",
}


def intake_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Per input file: read, accepted, rejected, and whether they add up (they always must)."""
    table = counts.copy()
    table["source_file"] = table["source_file"].map(lambda path: Path(str(path)).name)
    table["adds_up"] = (table["read"] == table["accepted"] + table["rejected"]).map({True: "yes", False: "NO"})
    return table.set_index("table")


def rejection_reasons(rejected: pd.DataFrame, unlisted: dict[tuple[str, str], int] | None = None) -> pd.DataFrame:
    """Rejected rows counted by table and reason, largest first, with one example line each. `unlisted`:
    (table, reason) -> rows counted but not listed (a warehouse table's rows after the month, and a
    reason's rows beyond those listed); they are added to the reason's listed rows."""
    columns = ["table", "reason", "rows", "example_row"]
    parts = []
    if not rejected.empty:
        grouped = rejected.groupby(["table", "reason"], sort=False)
        table = grouped.size().rename("rows").to_frame()
        table["example_row"] = grouped["source_row"].first()
        parts.append(table.reset_index())
    if unlisted:
        parts.append(pd.DataFrame(
            [{"table": t, "reason": r, "rows": n, "example_row": pd.NA} for (t, r), n in unlisted.items()]
        ))
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)[columns]
    table = table.groupby(["table", "reason"], sort=False, as_index=False).agg(
        rows=("rows", "sum"), example_row=("example_row", "first")
    )
    return table.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)[columns]


def ignored_columns_text(ignored: dict[str, list[str]]) -> str:
    """Markdown naming the columns outside the data contract per table, or "" when there are none. The
    names are the input files' headers, data: escaped (:func:`helpers.reporting.privacy.safe_text`)."""
    parts = [f"{safe_text(table)}: {', '.join(safe_text(c) for c in columns)}"
             for table, columns in ignored.items() if columns]
    return "Columns outside the data contract were ignored: " + "; ".join(parts) if parts else ""


def data_figures(transactions: transaction_queries.Source, summary: pd.DataFrame) -> dict:
    """The headline figures of the prepared data; `transactions`: the accepted transactions' Parquet file
    (or a DataFrame), read by DuckDB."""
    seen = transaction_queries.overview(transactions)
    return {
        "transactions": seen["rows"],
        "customers": int(summary["customer_id"].nunique()),
        "first_date": seen["first_date"].date() if seen["first_date"] is not None else None,
        "last_date": seen["last_date"].date() if seen["last_date"] is not None else None,
        "revenue": seen["revenue"],
        "refund_rows": seen["refund_rows"],
        "repeat_customers": int((summary["frequency"] > 0).sum()),
    }


def customer_profile(summary: pd.DataFrame, unit_days: float = 7) -> pd.DataFrame:
    """The typical customer in plain words: median, middle half and mean of the summary's measures."""
    labels = dict(PROFILE_ROWS)
    if unit_days != 7:
        unit = "days" if unit_days == 1 else f"periods of {unit_days:g} days"
        labels["recency"] = f"{unit.capitalize()} between first and last purchase"
        labels["T"] = f"{unit.capitalize()} since first purchase"
    columns = [c for c in labels if c in summary.columns and summary[c].notna().any()]
    numbers = summary[columns].astype(float)
    table = pd.DataFrame(
        {
            "median": numbers.median(),
            "lower quartile": numbers.quantile(0.25),
            "upper quartile": numbers.quantile(0.75),
            "mean": numbers.mean(),
        }
    )
    table.index = [labels[c] for c in columns]
    return table.round(1)
