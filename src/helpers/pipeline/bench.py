"""`workbook bench`: our path against the lifetimes reference, stage by stage, on one seeded transaction log
(customer summary, BG/NBD fit, Gamma-Gamma fit, CLTV prediction).

Timings are medians of repeated runs in one process, ratios come from the same run, and every stage
also reports the largest difference between the two results (a speed-up that changes the numbers is no
speed-up) and the peak memory above the process's baseline while the stage ran.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.clv import intervals, lifetimes_bridge
from helpers.clv.models.beta_geo import BetaGeo
from helpers.clv.models.pareto import ParetoNBD
from helpers.clv.models.robust_fit import fit_gamma_gamma
from helpers.clv.valuation import discounted_cltv
from helpers.features.summary import customer_summary

START = np.datetime64("2022-01-01")
DAYS = 3 * 365


def synthetic_transactions(
    customers: int, transactions: int, seed: int | np.random.SeedSequence = 7, first_id: int = 0
) -> pd.DataFrame:
    """A transaction log with BG/NBD-like behaviour: staggered acquisition, gamma-distributed purchase
    rates, exponential lifetimes (dropout), and gamma spend around a per-customer mean.
    The rates are scaled so that the log has about `transactions` rows (at least one per customer).
    Customer ids run from C{first_id}."""
    rng = np.random.default_rng(seed)
    acquired = rng.integers(0, int(DAYS * 0.8), size=customers)
    lifetime = np.minimum(rng.exponential(DAYS * 0.6, size=customers), DAYS - acquired)
    rate = rng.gamma(shape=0.6, scale=1.0, size=customers)
    exposure = rate * lifetime
    repeats_wanted = max(transactions - customers, 0)
    scale = repeats_wanted / exposure.sum() if exposure.sum() > 0 else 0.0
    repeats = rng.poisson(exposure * scale)
    counts = repeats + 1
    owner = np.repeat(np.arange(first_id, first_id + customers), counts)
    # the first row of each customer is its acquisition day, the rest fall uniformly in its lifetime
    offsets = rng.random(owner.size) * np.repeat(lifetime, counts)
    first_rows = np.concatenate(([0], np.cumsum(counts)[:-1]))
    offsets[first_rows] = 0.0
    days = np.repeat(acquired, counts) + offsets.astype(np.int64)
    mean_spend = rng.gamma(shape=6.0, scale=8.0, size=customers)
    amount = np.round(rng.gamma(shape=4.0, scale=np.repeat(mean_spend, counts) / 4.0), 2)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(np.char.add("C", owner.astype(str)), dtype=str),
            "date": (START + days.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "amount": amount,
        }
    )


def write_synthetic_transactions(
    target, customers: int, transactions: int, seed: int = 7, customers_per_part: int = 1_000_000
) -> int:
    """The same kind of log as `synthetic_transactions`, too large to hold at once, written to one Parquet
    file part by part (each part `customers_per_part` customers with their share of the rows, from its own
    seed of `seed`): 100 million rows take about 2 GB of memory instead of some 15. Returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = max(1, -(-customers // customers_per_part))
    seeds = np.random.SeedSequence(seed).spawn(parts)
    written = 0
    writer = None
    try:
        for part, part_seed in enumerate(seeds):
            first = part * customers_per_part
            size = min(customers_per_part, customers - first)
            rows = synthetic_transactions(size, round(transactions * size / customers), part_seed, first)
            table = pa.Table.from_pandas(rows, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema)
            writer.write_table(table, row_group_size=1_000_000)
            written += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return written


class PeakMemory:
    """Peak resident memory of this process while a block runs, above its level at the start (MiB).
    Sampled from /proc every few milliseconds, so it also sees memory that DuckDB allocates."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak_mib = 0.0

    @staticmethod
    def _rss_mib() -> float:
        try:
            with open("/proc/self/statm") as handle:
                pages = int(handle.read().split()[1])
            import os

            return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            return 0.0

    def __enter__(self):
        self._baseline = self._rss_mib()
        self._peak = self._baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._rss_mib())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._rss_mib())
        self.peak_mib = self._peak - self._baseline


@dataclass
class Measurement:
    seconds: list[float]
    peak_mib: float
    result: object


def measure(function: Callable[[], object], repeats: int) -> Measurement:
    times, peak, result = [], 0.0, None
    for _ in range(repeats):
        with PeakMemory() as memory:
            started = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - started)
        peak = max(peak, memory.peak_mib)
    return Measurement(times, peak, result)


def _largest_difference(ours: pd.DataFrame, reference: pd.DataFrame) -> float:
    reference = reference.copy()
    reference.index = reference.index.astype(str)
    aligned = ours.set_index("customer_id").loc[reference.index]
    columns = ["frequency", "recency", "T", "monetary_value"]
    if len(aligned) != len(ours):
        return float("inf")
    return float(np.abs(aligned[columns].to_numpy() - reference[columns].to_numpy()).max())


def _largest_relative(ours, reference) -> float:
    ours, reference = np.asarray(ours, dtype="float64"), np.asarray(reference, dtype="float64")
    scale = np.maximum(np.abs(reference), 1e-12)
    return float(np.max(np.abs(ours - reference) / scale))


def _params_difference(ours, reference) -> float:
    keys = list(reference.params_)
    return _largest_relative([ours.params_[k] for k in keys], [reference.params_[k] for k in keys])


def _row(stage, reference: Measurement, ours: Measurement, difference: float, difference_kind: str, **extra):
    reference_median = statistics.median(reference.seconds)
    ours_median = statistics.median(ours.seconds)
    return {
        "stage": stage,
        **extra,
        "lifetimes_s": reference_median,
        "ours_s": ours_median,
        "speedup": reference_median / ours_median if ours_median > 0 else float("inf"),
        "max_diff": difference,
        "diff_kind": difference_kind,
        "lifetimes_peak_mib": reference.peak_mib,
        "ours_peak_mib": ours.peak_mib,
    }


def _summary_stage(customers: int, transactions: int, repeats: int, seed: int) -> tuple[dict, pd.DataFrame]:
    # its own function, so that the transaction log is freed before the fitting stages run
    log = synthetic_transactions(customers, transactions, seed)
    end = log["date"].max()
    size = {"customers": log["customer_id"].nunique(), "rows": len(log), "repeats": repeats}
    reference = measure(lambda: lifetimes_bridge.reference_summary(log, end, unit_days=7), repeats)
    ours = measure(lambda: customer_summary(log, end, unit_days=7), repeats)
    row = _row("customer summary", reference, ours, _largest_difference(ours.result, reference.result), "abs",
               **size)
    return row, ours.result


def run_benchmark(customers: int, transactions: int, repeats: int = 3, seed: int = 7) -> pd.DataFrame:
    """Each stage: the lifetimes reference path against ours on the same data, same process."""
    summary_row, summary = _summary_stage(customers, transactions, repeats, seed)
    size = {k: summary_row[k] for k in ("customers", "rows", "repeats")}
    rows = [summary_row]
    f, r, t, m = (summary[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))

    # lifetimes' plain fit on every customer, against the same fitter on unique rows with weights
    reference = measure(lambda: BetaGeo(compress=False).fit(f, r, t), repeats)
    ours = measure(lambda: BetaGeo(compress=True).fit(f, r, t), repeats)
    rows.append(_row("BG/NBD fit", reference, ours, _params_difference(ours.result, reference.result), "rel",
                     **size))
    purchase_fit = ours.result

    reference = measure(lambda: fit_gamma_gamma(f, m, penalizers=(0.0,), compress=False), repeats)
    ours = measure(lambda: fit_gamma_gamma(f, m, penalizers=(0.0,), compress=True), repeats)
    rows.append(_row("Gamma-Gamma fit", reference, ours, _params_difference(ours.result, reference.result),
                     "rel", **size))
    spend_fit = ours.result

    # 12 months, 1% a month, lifetimes' 4.345 weeks a month: the reference's own conventions
    reference = measure(
        lambda: lifetimes_bridge.reference_cltv(purchase_fit, spend_fit, f, r, t, m, time=12,
                                                monthly_discount_rate=0.01, freq="W"),
        repeats,
    )
    spend = spend_fit.expected_average_spend(f, m)
    ours = measure(
        lambda: discounted_cltv(purchase_fit, f, r, t, spend, horizon_months=12, monthly_discount_rate=0.01,
                                periods_per_month_=4.345, unit_days=7),
        repeats,
    )
    rows.append(_row("CLTV prediction", reference, ours, _largest_relative(ours.result, reference.result),
                     "rel", **size))
    rows.append(_intervals_row(purchase_fit, spend_fit, (f, r, t, m), ours.result, repeats, size))
    rows.extend(_pareto_rows(f, r, t, repeats, size))
    return pd.DataFrame(rows)


def _intervals_row(purchase_fit, spend_fit, history, cltv, repeats: int, size: dict) -> dict:
    """The intervals (per customer: purchases and value; the total's, with both models' parameter
    uncertainty), which lifetimes does not have: our time only."""
    f = history[0]
    quick_rows, margin = np.zeros(len(f), dtype=bool), np.ones(len(f))
    timing = {"horizon_months": 12, "discount_rate": 0.10, "unit_days": 7.0}
    ours = measure(
        lambda: intervals.cltv_uncertainty(purchase_fit, spend_fit, history, cltv, quick_rows, margin, 0.9, timing),
        repeats,
    )
    row = _row("CLTV intervals (no lifetimes equivalent)", ours, ours, float("nan"), "-", **size)
    row.update({"lifetimes_s": float("nan"), "speedup": float("nan"), "lifetimes_peak_mib": float("nan")})
    return row


#: lifetimes' Pareto/NBD fit (Nelder-Mead, two hyp2f1 per customer and evaluation) would run for hours at a
#: million customers: it is timed on every k-th customer, at most this many
PARETO_REFERENCE_CUSTOMERS = 1_000


def _pareto_rows(f: np.ndarray, r: np.ndarray, t: np.ndarray, repeats: int, size: dict) -> list[dict]:
    """Pareto/NBD. The fit: lifetimes' (``ParetoNBD(compress=False)``: Nelder-Mead from a fixed start, tight
    tolerance) and ours on every k-th customer; then ours on all customers against lifetimes' time scaled by
    k (an estimate, said in the stage name: its cost per evaluation grows with the customers, its number of
    evaluations does not). The fits are compared by the log-likelihood on the same customers (max_diff: how
    far ours falls short of lifetimes', relative; 0 when ours is at least as high), since where the
    likelihood has a flat ridge (this log's lifetimes are exponential: s and beta large together) lifetimes
    stops anywhere along it (``params_diff``). The prediction: P(alive) and the expected purchases in 52
    weeks, lifetimes' formulas against ours on all customers, both at lifetimes' fitted parameters (far out
    on such a ridge its hyp2f1 fails: compared where its values are finite)."""
    k = max(1, int(np.ceil(len(f) / PARETO_REFERENCE_CUSTOMERS)))
    part = slice(k // 2, None, k) if k > 1 else slice(None)
    fs, rs, ts = f[part], r[part], t[part]
    with lifetimes_bridge.quiet():
        reference = measure(lambda: ParetoNBD(compress=False).fit(fs, rs, ts), repeats)
    ours = measure(lambda: ParetoNBD().fit(fs, rs, ts), repeats)
    reference_ll, ours_ll = reference.result.log_likelihood_, ours.result.log_likelihood_
    row = _row("Pareto/NBD fit" if k == 1 else f"Pareto/NBD fit, 1 in {k} customers", reference, ours,
               max(0.0, reference_ll - ours_ll) / abs(reference_ll), "ll", **{**size, "customers": len(fs)})
    row.update(params_diff=_params_difference(ours.result, reference.result), loglik_gain=ours_ll - reference_ll)
    rows = [row]
    if k > 1:
        full = measure(lambda: ParetoNBD().fit(f, r, t), repeats)
        scaled = Measurement([seconds * k for seconds in reference.seconds], float("nan"), None)
        rows.append(_row(f"Pareto/NBD fit, all customers (lifetimes: time of 1 in {k} x {k})", scaled, full,
                         float("nan"), "-", **size))
    fitted = ParetoNBD.from_params(reference.result.params_)
    formulas = fitted.to_lifetimes()

    def lifetimes_prediction() -> np.ndarray:
        with lifetimes_bridge.quiet():
            alive = formulas.conditional_probability_alive(f, r, t)
            return np.concatenate([alive, formulas.conditional_expected_number_of_purchases_up_to_time(52.0, f, r, t)])

    reference = measure(lifetimes_prediction, repeats)
    ours = measure(lambda: np.concatenate([fitted.probability_alive(f, r, t), fitted.expected_purchases(52.0, f, r, t)]),
                   repeats)
    finite = np.isfinite(reference.result)
    row = _row("Pareto/NBD prediction", reference, ours,
               _largest_relative(ours.result[finite], reference.result[finite]), "rel", **size)
    row.update(lifetimes_nonfinite=int(np.count_nonzero(~finite)))
    rows.append(row)
    return rows


def text_table(table: pd.DataFrame) -> str:
    formats = {
        "lifetimes_s": "{:.3f}".format, "ours_s": "{:.3f}".format, "speedup": "{:.1f}x".format,
        "max_diff": "{:.1e}".format, "lifetimes_peak_mib": "{:.0f}".format, "ours_peak_mib": "{:.0f}".format,
        "customers": "{:,}".format, "rows": "{:,}".format,
    }
    return table.to_string(index=False, formatters=formats)
