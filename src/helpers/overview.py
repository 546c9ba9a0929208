"""Plain figures about the prepared data: what was read, what was rejected and why, what is in it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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


def rejection_reasons(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows counted by table and reason, largest first, with one example line each."""
    if rejected.empty:
        return pd.DataFrame(columns=["table", "reason", "rows", "example_row"])
    grouped = rejected.groupby(["table", "reason"], sort=False)
    table = grouped.size().rename("rows").to_frame()
    table["example_row"] = grouped["source_row"].first()
    return table.reset_index().sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def key_figures(transactions: pd.DataFrame, summary: pd.DataFrame) -> dict:
    return {
        "transactions": len(transactions),
        "customers": int(summary["customer_id"].nunique()),
        "first_date": transactions["date"].min().date(),
        "last_date": transactions["date"].max().date(),
        "revenue": float(transactions["amount"].sum()),
        "refund_rows": int((transactions["amount"] < 0).sum()),
        "repeat_customers": int((summary["frequency"] > 0).sum()),
    }


def revenue_by_month(transactions: pd.DataFrame) -> pd.DataFrame:
    """Revenue, rows and active customers per calendar month (months without rows show as zero)."""
    month = transactions["date"].dt.to_period("M")
    table = transactions.groupby(month).agg(
        revenue=("amount", "sum"), rows=("amount", "size"), customers=("customer_id", "nunique")
    )
    full = pd.period_range(table.index.min(), table.index.max(), freq="M")
    table = table.reindex(full, fill_value=0)
    table.index.name = "month"
    return table


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
