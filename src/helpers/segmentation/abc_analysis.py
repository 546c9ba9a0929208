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

from typing import Any

import numpy as np
import pandas as pd

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
