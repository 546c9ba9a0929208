"""ABC (Pareto) analysis of customers by revenue or contribution margin, with Lorenz curve and Gini.

Classes by cumulative share of the value, customers sorted from the largest value down:

- **A**: the customers making the first ``cutoffs[0]`` (80%) of the total,
- **B**: the customers making the next part up to ``cutoffs[1]`` (95%),
- **C**: the rest, and every customer whose value is zero, negative or missing.

The customer whose value *crosses* a cut-off (the cumulative share before them is below it, after them at
or above it) belongs to the earlier, higher-value class: with values 50, 40, 10 the first customer brings
the share from 0% to 50% and the second from 50% to 90%, so the second crosses 80% and is an **A**
customer; the third starts at 90% < 95% and is **B**. So class A always contains the largest customer and
the A customers together make *at least* 80% of the total. Customers with equal values get the same class
(the class of the first of them in the ranking), so the result does not depend on the order of the rows.

Shares are computed over the sum of the positive values only; with contribution margin (which can be
negative) the loss-making customers are C and do not reduce the A share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.config import AbcSettings

CLASSES: tuple[str, ...] = ("A", "B", "C")


def _values(values: Any) -> pd.Series:
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    return pd.to_numeric(series, errors="coerce").astype("float64")


def abc_classes(values: Any, cutoffs: tuple[float, float] = (0.80, 0.95)) -> pd.Series:
    """A/B/C class per customer (same index as ``values``); see the module text for the exact rule."""
    c1, c2 = (float(c) for c in cutoffs)
    if not 0.0 < c1 <= c2 <= 1.0:
        raise ValueError(f"cutoffs must satisfy 0 < A <= B <= 1, got {cutoffs}")
    series = _values(values)
    out = pd.Series("C", index=series.index, dtype="object", name="abc_class")
    positive = series[series > 0]
    total = positive.sum()
    if positive.empty or total <= 0:
        return out
    ordered = positive.sort_values(ascending=False, kind="mergesort")
    share_before = (ordered.cumsum() - ordered) / total
    # ties: every customer of a group of equal values starts where the first of them starts
    share_before = share_before.groupby(ordered.to_numpy()).transform("min")
    eps = 1e-12
    cls = np.where(share_before < c1 - eps, "A", np.where(share_before < c2 - eps, "B", "C"))
    out.loc[ordered.index] = cls
    return out


def lorenz_curve(values: Any) -> pd.DataFrame:
    """Lorenz curve: ``customer_share`` (customers sorted from smallest to largest value) against
    ``value_share``, starting at (0, 0) and ending at (1, 1). Negative and missing values count as 0."""
    v = np.sort(_values(values).fillna(0.0).clip(lower=0.0).to_numpy())
    n = len(v)
    total = v.sum()
    customer_share = np.arange(n + 1) / n if n else np.array([0.0])
    if total > 0:
        value_share = np.concatenate([[0.0], np.cumsum(v) / total])
    else:  # nobody has any value: treat as perfect equality
        value_share = customer_share.copy()
    return pd.DataFrame({"customer_share": customer_share, "value_share": value_share})


def gini(values: Any) -> float:
    """Gini coefficient of the values (negative and missing count as 0): 0 = all equal,
    (n-1)/n (about 1) = one customer has everything. 1 - 2 x area under the Lorenz curve."""
    curve = lorenz_curve(values)
    if len(curve) < 2:
        return 0.0
    x, y = curve["customer_share"].to_numpy(), curve["value_share"].to_numpy()
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return float(max(0.0, 1.0 - 2.0 * area))


def abc_summary(
    df: pd.DataFrame,
    value_col: str,
    cutoffs: tuple[float, float] = (0.80, 0.95),
    class_col: str | None = None,
) -> pd.DataFrame:
    """Per class A, B, C: ``customers``, ``customer_share``, ``value``, ``value_share``.

    Classes come from ``class_col`` if given, else from :func:`abc_classes` on ``value_col``.
    ``value`` is the sum of the column within the class (missing values skipped; negative margins
    included, so C can be negative); ``value_share`` divides by the total of all classes.
    Works for revenue (``total_revenue``) and contribution margin (``total_margin``) alike.
    """
    values = _values(df[value_col])
    classes = df[class_col] if class_col else abc_classes(values, cutoffs)
    grouped = values.groupby(classes.to_numpy())
    table = pd.DataFrame({"customers": grouped.size(), "value": grouped.sum(min_count=0)}).reindex(list(CLASSES))
    table["customers"] = table["customers"].fillna(0).astype("int64")
    table["value"] = table["value"].fillna(0.0)
    n = int(table["customers"].sum())
    total = float(table["value"].sum())
    table["customer_share"] = table["customers"] / n if n else 0.0
    table["value_share"] = table["value"] / total if total else 0.0
    table.index.name = "abc_class"
    return table[["customers", "customer_share", "value", "value_share"]].reset_index()


# ------------------------------------------------------------------------------- one month's ABC classes
def margin_known(summary: pd.DataFrame) -> bool:
    """True when the summary carries a contribution margin for at least one customer (cost was given)."""
    return "total_margin" in summary and bool(summary["total_margin"].notna().any())


def abc_classes_by_dimension(summary: pd.DataFrame, cutoffs: tuple[float, float]) -> pd.DataFrame:
    """Per customer: ``abc_revenue`` and, when the margin is known, ``abc_margin`` (same row order)."""
    out = pd.DataFrame({"customer_id": summary["customer_id"].astype(str).to_numpy()})
    out["abc_revenue"] = abc_classes(summary["total_revenue"].reset_index(drop=True), cutoffs).to_numpy()
    if margin_known(summary):
        out["abc_margin"] = abc_classes(summary["total_margin"].reset_index(drop=True), cutoffs).to_numpy()
    return out


def abc_overview(summary: pd.DataFrame, classes: pd.DataFrame) -> pd.DataFrame:
    """Per class A, B, C: customers and revenue with shares, and, when known, the same by margin."""
    frame = summary.reset_index(drop=True).assign(
        abc_revenue=classes["abc_revenue"].to_numpy(),
        **({"abc_margin": classes["abc_margin"].to_numpy()} if "abc_margin" in classes else {}),
    )
    table = abc_summary(frame, "total_revenue", class_col="abc_revenue").set_index("abc_class")
    table.columns = ["customers", "customer_share", "revenue", "revenue_share"]
    if "abc_margin" in frame:
        by_margin = abc_summary(frame, "total_margin", class_col="abc_margin").set_index("abc_class")
        by_margin.columns = ["customers_by_margin", "customer_share_by_margin", "margin", "margin_share"]
        table = table.join(by_margin)
    return table


def pareto_curve(values: Any) -> pd.DataFrame:
    """The Pareto form of the Lorenz curve: customers sorted from the largest value down,
    ``customer_share`` (0..1) against the cumulative ``value_share`` (0..1)."""
    lorenz = lorenz_curve(values)
    return pd.DataFrame(
        {
            "customer_share": 1.0 - lorenz["customer_share"].to_numpy()[::-1],
            "value_share": 1.0 - lorenz["value_share"].to_numpy()[::-1],
        }
    )


def abc_reading(overview: pd.DataFrame, value: str = "revenue") -> str:
    """'A customers: 18% of customers, 81% of revenue'."""
    row = overview.loc["A"]
    share = row["revenue_share"] if value == "revenue" else row["margin_share"]
    customers = row["customer_share"] if value == "revenue" else row["customer_share_by_margin"]
    return f"A customers: {customers:.0%} of customers, {share:.0%} of {value}"


def a_customers(
    summary: pd.DataFrame,
    classes: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    scored: pd.DataFrame | None = None,
    top: int = 15,
) -> pd.DataFrame:
    """The ``top`` A customers by revenue: rank, id, name (from accounts, if present), revenue, share and
    cumulative share of revenue, margin (if known) and RFM segment (if ``scored`` is given)."""
    frame = summary.reset_index(drop=True)
    total = float(frame["total_revenue"].clip(lower=0).sum())
    table = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "revenue": frame["total_revenue"].astype("float64"),
            "abc_class": classes["abc_revenue"].to_numpy(),
        }
    )
    if margin_known(frame):
        table["margin"] = frame["total_margin"].astype("float64")
    table = table.sort_values("revenue", ascending=False, kind="stable")
    table["revenue_share"] = table["revenue"] / total if total else 0.0
    table["cumulative_share"] = table["revenue_share"].cumsum()
    table = table[table["abc_class"] == "A"].head(top).drop(columns="abc_class")
    if accounts is not None and "name" in accounts:
        names = accounts.assign(customer_id=accounts["customer_id"].astype(str)).set_index("customer_id")["name"]
        table.insert(1, "name", table["customer_id"].map(names))
    if scored is not None:
        segment = scored.set_index(scored["customer_id"].astype(str))["rfm_segment"].astype(str)
        table["rfm_segment"] = table["customer_id"].map(segment)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def class_shift(classes: pd.DataFrame) -> pd.DataFrame:
    """Customers by class on revenue (rows) and on margin (columns); empty when the margin is unknown."""
    if "abc_margin" not in classes:
        return pd.DataFrame()
    table = pd.crosstab(classes["abc_revenue"], classes["abc_margin"]).reindex(
        index=list(CLASSES), columns=list(CLASSES), fill_value=0
    )
    table.index.name, table.columns.name = "class by revenue", "class by margin"
    return table


def segments_by_class(scored: pd.DataFrame, abc_class: Any) -> pd.DataFrame:
    """Customers per RFM segment (rows, in segment order) and ABC class (columns A, B, C, total):
    shows how one ABC class splits into several RFM segments."""
    classes = pd.Series(np.asarray(abc_class), index=scored.index, name="abc_class")
    table = pd.crosstab(scored["rfm_segment"], classes, dropna=False).reindex(
        columns=list(CLASSES), fill_value=0
    )
    table = table.reindex(scored["rfm_segment"].cat.categories, fill_value=0)
    table["total"] = table.sum(axis=1)
    table.index.name, table.columns.name = "RFM segment", "ABC class"
    return table[table["total"] > 0]


def chosen_abc_class(classes: pd.DataFrame, settings: AbcSettings) -> tuple[np.ndarray, str]:
    """The class written to the rfm artifact: by ``abc.basis`` ('revenue' or 'margin'; margin only when it
    is known, else revenue), with a sentence saying which."""
    basis = settings.basis
    if basis == "margin" and "abc_margin" in classes:
        return classes["abc_margin"].to_numpy(), "The saved ABC class is by contribution margin (abc.basis: margin)."
    note = "The saved ABC class is by revenue"
    if basis == "margin":
        note += " (abc.basis asks for margin, but the cost is unknown)"
    return classes["abc_revenue"].to_numpy(), note + "."


@dataclass(frozen=True)
class ParetoCurves:
    """The Pareto curves of revenue and (when known) margin, with their Gini coefficients."""

    revenue: pd.DataFrame
    revenue_gini: float
    margin: pd.DataFrame | None = None
    margin_gini: float | None = None


def pareto_curves(summary: pd.DataFrame, classes: pd.DataFrame) -> ParetoCurves:
    """What the Pareto chart draws: the curve of revenue and, when classes by margin exist, of margin."""
    revenue = summary["total_revenue"]
    if "abc_margin" not in classes:
        return ParetoCurves(pareto_curve(revenue), gini(revenue))
    margin = summary["total_margin"]
    return ParetoCurves(pareto_curve(revenue), gini(revenue), pareto_curve(margin), gini(margin))
