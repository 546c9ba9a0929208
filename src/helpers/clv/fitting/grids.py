"""Building blocks of the fitters' exact data reductions: distinct values on small grids, sums over them."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from helpers.clv.inputs import as_array, check_purchase_history, check_weights


def index_small_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grid, index) for non-negative integer-valued floats: a dense 0..max grid when small, else unique."""
    vmax = float(values.max()) if len(values) else 0.0
    if vmax < 1_000_000 and vmax < 4 * len(values) + 1000:
        index = values.astype(np.int64)
        return np.arange(index.max() + 1 if len(index) else 1, dtype="float64"), index
    grid, index = np.unique(values, return_inverse=True)
    return grid, index.reshape(-1)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Pairwise-summed dot product for the small per-x / per-time grids (no BLAS call)."""
    return float(np.multiply(a, b).sum())


_PRIMES = (1_000_003, 2_000_003, 4_000_037, 8_000_009, 16_000_057, 32_000_011)


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value in them), like ``np.unique(return_inverse=True)``.

    When there are few distinct values (times on a day grid: about a thousand), the index comes from a
    small hash table on the float's bit pattern (a prime modulus under which the distinct values do not
    collide), which avoids the argsort of millions of values; checked exactly, else np.unique."""
    values = values + 0.0  # -0.0 -> +0.0 (np.unique treats them as equal, their bits differ)
    grid = np.unique(values)
    if len(values) > 100_000 and len(grid) <= 20_000:
        gbits = grid.view(np.uint64)
        for prime in _PRIMES:
            slots = gbits % np.uint64(prime)
            if len(np.unique(slots)) < len(grid):
                continue
            table = np.zeros(prime, dtype=np.intp)
            table[slots.astype(np.intp)] = np.arange(len(grid), dtype=np.intp)
            index = np.take(table, (values.view(np.uint64) % np.uint64(prime)).astype(np.intp))
            if np.array_equal(np.take(grid, index), values):
                return grid, index
            break
    grid, index = np.unique(values, return_inverse=True)
    return grid, index.reshape(-1)


class HistoryGrids(NamedTuple):
    """A purchase history on its grids: frequency ``x`` (whole purchases), age ``T`` and weights ``w`` per
    row; ``grid`` the distinct times (recencies and ages together) with each row's index ``it`` (recency) and
    ``iT`` (age); ``xgrid`` the distinct frequencies with ``ix``; ``wx`` the weight per distinct frequency."""

    x: np.ndarray
    T: np.ndarray
    w: np.ndarray
    grid: np.ndarray
    it: np.ndarray
    iT: np.ndarray
    xgrid: np.ndarray
    ix: np.ndarray
    wx: np.ndarray


def history_grids(frequency: Any, recency: Any, T: Any, weights: Any | None = None) -> HistoryGrids:
    """The reduction every purchase-model fitter starts from (the one input check first). Frequencies are
    truncated to whole purchases, as lifetimes does (``frequency.astype(int)``)."""
    x, t_x, T_ = check_purchase_history(np.trunc(as_array(frequency)), recency, T)
    w = np.ones(len(x)) if weights is None else check_weights(weights, len(x))
    grid, tindex = factorize(np.concatenate([t_x, T_]))
    xgrid, ix = index_small_ints(x)
    wx = np.bincount(ix, weights=w, minlength=len(xgrid))
    return HistoryGrids(x, T_, w, grid, tindex[: len(x)], tindex[len(x) :], xgrid, ix, wx)
