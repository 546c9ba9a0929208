"""What the models and valuations take from the customer summary, checked once.

- :func:`check_purchase_history`: the one check of frequency / recency / T, shared by every purchase model
  and the fast fitters (so a mistake reads the same whichever model meets it);
- :func:`check_spend_history`: the same for Gamma-Gamma's frequency / monetary value;
- :func:`compress_rows`: identical rows found once, with the number of customers behind each;
- :func:`margin_rates`: each customer's margin as a fraction; :func:`periods_per_month`: the time unit.

Time unit: ``recency`` and ``T`` are in the unit of the summary (weeks by default, ``unit_days=7``);
horizons are given in months and converted with ``periods_per_month = (365.25 / 12) / unit_days``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: lifetimes' names of the calibration columns (``calibration_and_holdout_data``), accepted for ours
CALIBRATION_NAMES = {
    "frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T", "monetary_value_cal": "monetary_value",
}

def as_array(values: Any) -> np.ndarray:
    """A flat float64 array (the models work on plain numpy arrays)."""
    return np.asarray(values, dtype="float64").reshape(-1)


def periods_per_month(unit_days: float = 7.0) -> float:
    """Model time units per average month (365.25/12 days): 4.348 for weeks, 30.44 for days."""
    return (365.25 / 12.0) / float(unit_days)


def _customers(mask: np.ndarray) -> str:
    count = int(np.count_nonzero(mask))
    return f"{count:,} customer{'s' if count != 1 else ''}"


def check_purchase_history(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """frequency, recency and T as float arrays, refused with a reason when they cannot be a purchase history.

    Repeat purchases (frequency) are counted, never negative; recency is the age at the last purchase, so
    between 0 and T, and 0 without repeat purchase; T (the age at the end of the observation) is never negative.

    T = 0 is an ordinary customer: first seen on the last day of the window (the cut-off, or the end of the
    calibration window), so frequency and recency are 0 too. Every model's likelihood of such a history is 1
    (nothing can have happened in no time), so these customers do not move the fit, and they are valued like a
    brand-new customer (lifetimes takes them alike). Only when *every* customer has T = 0 is there nothing to
    learn from, and that is refused.
    """
    x, t_x, T_ = as_array(frequency), as_array(recency), as_array(T)
    if not (len(x) == len(t_x) == len(T_)):
        raise ValueError("frequency, recency and T must have the same length")
    if len(x) == 0:
        raise ValueError("no customers to fit: frequency, recency and T are empty")
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T_).all()):
        raise ValueError("frequency, recency and T must be finite (no NaN)")
    if np.any(T_ < 0):
        raise ValueError(f"negative T for {_customers(T_ < 0)}: the first purchase lies after the end of the observation")
    if np.any(t_x > T_):
        raise ValueError(
            f"recency is larger than T for {_customers(t_x > T_)}: the last purchase cannot come after the end "
            "of the observation"
        )
    if np.any(t_x[x == 0] != 0):
        raise ValueError(
            f"non-zero recency for {_customers((x == 0) & (t_x != 0))} without repeat purchase (frequency 0): "
            "their recency must be 0"
        )
    if np.any(t_x < 0):
        raise ValueError(f"negative recency for {_customers(t_x < 0)}: the last purchase lies before the first")
    if np.any(x < 0):
        raise ValueError(f"negative frequency for {_customers(x < 0)}: repeat purchases are counted from 0")
    if not np.any(T_ > 0):
        raise ValueError(
            "every customer has T = 0 (all first seen on the last day of the window): there is no purchase history "
            "to learn from yet; choose a later month"
        )
    return x, t_x, T_


def check_spend_history(frequency: Any, monetary_value: Any) -> tuple[np.ndarray, np.ndarray]:
    """frequency and monetary value (mean spend per repeat purchase) of repeat buyers as float arrays,
    refused with a reason when Gamma-Gamma cannot learn from them."""
    x, m = as_array(frequency), as_array(monetary_value)
    if len(x) != len(m):
        raise ValueError("frequency and monetary_value must have the same length")
    if len(x) == 0:
        raise ValueError("no customers to fit: frequency and monetary_value are empty")
    if not (np.isfinite(x).all() and np.isfinite(m).all()):
        raise ValueError("frequency and monetary_value must be finite (no NaN)")
    if np.any(x != np.trunc(x)):
        raise ValueError(f"frequency is not a whole number for {_customers(x != np.trunc(x))}")
    if np.any(m <= 0):
        raise ValueError(
            f"non-positive monetary_value for {_customers(m <= 0)}: Gamma-Gamma needs a positive spend per purchase"
        )
    if np.any(x <= 0):
        raise ValueError(f"Gamma-Gamma needs frequency > 0 (repeat buyers only): {_customers(x <= 0)} without")
    return x, m


def check_weights(weights: Any, n: int) -> np.ndarray:
    """Customers per row: finite, non-negative, not all zero, one per row."""
    w = as_array(weights)
    if len(w) != n:
        raise ValueError("weights must have one entry per row")
    if not (np.isfinite(w).all() and (w >= 0).all()) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    return w


def compress_rows(*columns: Any) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given equally long columns, in lexicographic order.

    Returns ``(unique_columns, weights, inverse)``: ``unique_columns[k][inverse]`` rebuilds column k,
    ``weights`` counts the customers per unique row. Identical histories are fitted and predicted once,
    as Fader and Hardie do in their spreadsheets: the likelihood is the same.
    """
    arrays = [as_array(c) for c in columns]
    # Each column's distinct values by hashing (pandas), then sorted: a million rows hold few distinct
    # frequencies or ages, and sorting a million floats per column took most of the time.
    codes, levels = [], []
    for values in arrays:
        code, level = pd.factorize(values, sort=True, use_na_sentinel=False)
        codes.append(np.asarray(code, dtype="int64"))
        levels.append(np.asarray(level, dtype="float64"))
    sizes = [len(level) for level in levels]
    combinations = float(np.prod(np.asarray(sizes, dtype="float64")))
    if combinations >= 2.0**62:
        stacked = np.column_stack(arrays)
        unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
        return [unique[:, k] for k in range(unique.shape[1])], counts.astype("float64"), inverse.reshape(-1)
    # One int64 key per row from the codes (the same lexicographic order as the rows)
    key = np.zeros(len(arrays[0]), dtype="int64")
    for code, size in zip(codes, sizes, strict=True):
        key = key * size + code
    if combinations <= max(4 * len(key), 1 << 20):
        # few possible combinations (frequency x age): count them in a table instead of sorting the keys
        table = np.bincount(key, minlength=int(combinations))
        unique_keys = np.flatnonzero(table)
        position = np.zeros(int(combinations), dtype="int64")
        position[unique_keys] = np.arange(len(unique_keys))
        inverse, counts = position[key], table[unique_keys]
    else:
        unique_keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    unique_columns = []
    remainder = unique_keys
    for level, size in zip(reversed(levels), reversed(sizes), strict=True):
        unique_columns.append(level[remainder % size])
        remainder = remainder // size
    return unique_columns[::-1], counts.astype("float64"), inverse.reshape(-1)


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
