"""Which clients hold a contract (a retainer), since when, whether it still runs, and what it earns a month.

A contract client's leaving is seen (the contract ends), so it is valued by the sBG retention model
(:mod:`helpers.clv.models.sbg`) instead of a buy-till-you-die model. :func:`contract_clients` decides it per
client, as of a cutoff day, with the setting ``cltv.setting``:

- ``auto`` (the default): a client is contractual when
  1. the service map lists an *operations* service for it (a retainer: the agency runs it every month;
     consulting is project work), that had started by the cutoff where ``started_on`` is given; or
  2. its invoices are *regular monthly invoices*: in the 6 months up to its last invoice it was invoiced in
     at least 5, on one day in a typical month (median), about a month apart (at least 80% of the steps
     between invoices of consecutive months take 25 to 36 days), with a recurring amount (the month's
     smallest invoice within 15% of its usual value in at least 5 of those months). All four together tell a
     retainer from a frequent buyer (each one alone lets dozens to hundreds of CDNOW's heavy buyers pass): on
     the CDNOW cohort (23,570 buyers of CDs, no service map) no buyer meets them; on the agency sample without
     its service map they find 223 of its 287 retainer clients (the others' contracts are younger than 6
     months or ended sooner) and no other client.
- ``contractual``: every client is a contract client (the evidence is still named where there is some);
- ``noncontractual``: none is.

When a contract ended: when all its operations services ended by the cutoff (``ended_on`` on or before the
cutoff day, the first day without the service), or - without end dates, and for invoice-based contracts -
when no invoice came for ``cltv.contract_gap_months`` months up to the cutoff (2 by default: one month
without an invoice happens to running retainers, a late or merged invoice; two in a row hardly, and a longer
wait keeps ended contracts counted as running for longer). The map's ``active`` flag dates nothing: it is a
snapshot of the day the map was exported, which an earlier cutoff (a backfill, the holdout check) must not
see. The contract's months run from its start month to its last paid month (the last month a service ran
on at least one day, i.e. the month of the day before ``ended_on``, or the last invoice month), or to the
cutoff month while it runs.

Where the start is taken from: the earliest ``started_on`` of the operations services in the latest stretch
of contiguous services, else the first month of the client's latest stretch of invoices (months with no gap
of ``contract_gap_months`` or more). A stretch that begins in the first month of the data may have begun
before it: its start is unknown (``start_known`` false) and it is left out of the retention fit and the cohort
table. A known start before the data (``started_on``) is left truncation: ``entered`` counts the renewals
already made when the data begin, and the fit conditions on them.

The margin per period: the client's mean monthly contribution margin (all its invoices, retainers and
projects, credit notes netted) over the contract's last up to 12 months within the data; months without an
invoice count as 0. The margin of a row is amount - cost where the cost is given, else amount x ``margin``
(the setting ``cltv.margin``), as the customer summary does.

The per-month counting runs in DuckDB over the transactions (a DataFrame or the path of a Parquet file), so
ten million rows never become a pandas frame; only one row per client comes back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core import duck
from helpers.core.config import Settings
from helpers.core.errors import UsageError

SETTINGS = ("auto", "contractual", "noncontractual")
#: the regular-invoice rule: window, invoiced months, recurring-amount tolerance, steps a month apart
REGULAR_WINDOW_MONTHS = 6
REGULAR_MIN_MONTHS = 5
RECURRING_AMOUNT_TOLERANCE = 0.15
MONTH_STEP_DAYS = (25, 36)
MONTH_STEP_SHARE = 0.8
#: the margin per period averages the contract's last this many months
MARGIN_MONTHS = 12

WHY = {
    "service_map": "a retainer (operations service) in the service map",
    "monthly_invoices": "regular monthly invoices (at least 5 of 6 months, about a month apart, a recurring amount)",
    "setting": "cltv.setting is contractual: every client is valued as a contract client",
    "none": "no retainer in the service map and no regular monthly invoices",
    "noncontractual": "cltv.setting is noncontractual: no client is valued as a contract client",
}
COLUMNS = [
    "customer_id", "contractual", "why", "reason", "start_month", "start_known", "entered", "end_month", "active",
    "ended_by", "months", "periods_completed", "margin_per_period",
]


def _month_number(day: pd.Timestamp) -> int:
    return int(day.year) * 12 + int(day.month) - 1


def month_numbers(days: pd.Series) -> np.ndarray:
    """The month number (year * 12 + month - 1) of each day, NaN for NaT."""
    values = pd.to_datetime(days).to_numpy(dtype="datetime64[ns]")
    numbers = values.astype("datetime64[M]").astype("int64").astype("float64") + 1970 * 12
    numbers[np.isnat(values)] = np.nan
    return numbers


def _month_start(numbers: Any) -> pd.Series:
    """Month numbers (year * 12 + month - 1) as the first day of each month (NaT for missing)."""
    values = pd.Series(numbers, dtype="Float64")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    known = values.notna()
    if known.any():
        m = values[known].astype("int64")
        out[known] = pd.to_datetime({"year": m // 12, "month": m % 12 + 1, "day": 1})
    return out


def _relation(con: Any, transactions: Any) -> tuple[str, bool]:
    """The transactions as a SQL relation (a registered DataFrame or a Parquet file read where it lies) and
    whether they carry a cost column."""
    if isinstance(transactions, pd.DataFrame):
        has_cost = "cost" in transactions.columns
        con.register("contract_input", transactions[["customer_id", "date", "amount"] + (["cost"] if has_cost else [])])
        return "contract_input", has_cost
    path = Path(transactions)
    if path.suffix != ".parquet":
        raise ValueError(f"{path}: contract clients are read from a DataFrame or a .parquet file")
    if not duck.parquet_exists(path):
        raise FileNotFoundError(f"{path}: no such transactions file (Parquet: customer_id, date, amount)")
    relation = duck.parquet(path)
    return relation, "cost" in con.sql(f"SELECT * FROM {relation} LIMIT 0").columns


def _monthly_sql(relation: str, has_cost: bool, cutoff: pd.Timestamp, margin: float) -> str:
    """Per client and month (year * 12 + month - 1): the first and last day with an invoice (an amount > 0;
    NULL in a month of credit notes only), the smallest invoice and the margin (net of credit notes)."""
    row_margin = f"COALESCE(amount - cost, amount * {margin!r})" if has_cost else f"amount * {margin!r}"
    return f"""
        CREATE TEMP TABLE monthly AS
        SELECT CAST(customer_id AS VARCHAR) AS customer_id,
               year(CAST(date AS DATE)) * 12 + month(CAST(date AS DATE)) - 1 AS m,
               MIN(CAST(date AS DATE)) FILTER (WHERE amount > 0) AS first_day,
               MAX(CAST(date AS DATE)) FILTER (WHERE amount > 0) AS last_day,
               MIN(amount) FILTER (WHERE amount > 0) AS smallest,
               SUM({row_margin}) AS margin
        FROM {relation}
        WHERE CAST(date AS DATE) <= DATE '{cutoff:%Y-%m-%d}'
        GROUP BY ALL
    """


def _clients_sql() -> str:
    """Every client with its first month and its invoiced months among the 6 up to its last invoice (fewer
    than 5 cannot be regular invoices: such clients are settled without the costlier tests)."""
    return f"""
        WITH per AS (
            SELECT customer_id, MIN(m) AS first_m, MAX(m) FILTER (WHERE first_day IS NOT NULL) AS last_m
            FROM monthly GROUP BY customer_id
        )
        SELECT p.customer_id, ANY_VALUE(p.first_m) AS first_m,
               COUNT(*) FILTER (WHERE m.first_day IS NOT NULL AND m.m > p.last_m - {REGULAR_WINDOW_MONTHS})
                   AS recent_months
        FROM per p JOIN monthly m ON p.customer_id = m.customer_id
        GROUP BY p.customer_id ORDER BY p.customer_id
    """


def _invoice_features_sql(gap: int) -> str:
    """Per candidate client (the table ``candidates``): its last invoiced month, the first month of its
    latest stretch of invoices, and the four tests of the regular-invoice rule over the months up to its last
    invoice."""
    low, high = MONTH_STEP_DAYS
    step = "r.step = 1"
    return f"""
        WITH marked AS (
            SELECT m.customer_id, m.m, m.first_day, m.last_day, m.smallest,
                   m.m - LAG(m.m) OVER w AS step, LAG(m.first_day) OVER w AS previous_day
            FROM monthly m JOIN candidates c ON m.customer_id = c.customer_id
            WHERE m.first_day IS NOT NULL
            WINDOW w AS (PARTITION BY m.customer_id ORDER BY m.m)
        ),
        per_client AS (  -- the latest stretch of invoices begins after the last gap (or with the first month)
            SELECT customer_id, MAX(m) AS last_m, COALESCE(MAX(m) FILTER (WHERE step > {gap}), MIN(m)) AS stretch_start
            FROM marked GROUP BY customer_id
        ),
        recent AS (
            SELECT k.*, p.last_m, p.stretch_start FROM marked k JOIN per_client p ON k.customer_id = p.customer_id
            WHERE k.m > p.last_m - {REGULAR_WINDOW_MONTHS}
        ),
        usual AS (SELECT customer_id, MEDIAN(smallest) AS usual_amount FROM recent GROUP BY customer_id)
        SELECT r.customer_id, MAX(r.last_m) AS last_m, MAX(r.stretch_start) AS stretch_start,
               COUNT(*) >= {REGULAR_MIN_MONTHS}
               AND 2 * COUNT(*) FILTER (WHERE r.first_day = r.last_day) >= COUNT(*)
               AND COUNT(*) FILTER (WHERE abs(r.smallest - u.usual_amount)
                                    <= {RECURRING_AMOUNT_TOLERANCE!r} * u.usual_amount) >= {REGULAR_MIN_MONTHS}
               AND COUNT(*) FILTER (WHERE {step}) > 0
               AND COUNT(*) FILTER (WHERE {step} AND date_diff('day', r.previous_day, r.first_day) BETWEEN {low} AND {high})
                   >= {MONTH_STEP_SHARE!r} * COUNT(*) FILTER (WHERE {step}) AS regular_invoices
        FROM recent r JOIN usual u ON r.customer_id = u.customer_id
        GROUP BY r.customer_id
    """


def _service_contracts(service_map: pd.DataFrame | None, cutoff: pd.Timestamp, gap: int) -> pd.DataFrame:
    """Per client with an operations service (started by the cutoff where started_on is given), its latest
    stretch of contiguous services: ``start_m`` (the month of its earliest started_on; NaN without dates),
    ``running`` at the cutoff (NA when the map has no dates to tell) and ``end_m``, the last paid month of a
    stretch ended by dates (the month of the day before its last ended_on: the last month it ran on a day)."""
    columns = ["customer_id", "start_m", "running", "end_m"]
    if service_map is None or len(service_map) == 0:
        return pd.DataFrame(columns=columns)
    if "service_kind" not in service_map.columns or "customer_id" not in service_map.columns:
        raise UsageError("the service map needs the columns customer_id and service_kind (operations / consulting)")
    ops = service_map.loc[service_map["service_kind"].astype(str).str.strip().str.lower() == "operations"]
    day = cutoff.normalize()
    frame = pd.DataFrame({"customer_id": ops["customer_id"].astype(str).to_numpy()})
    for column in ("started_on", "ended_on"):
        frame[column] = pd.to_datetime(ops[column], errors="coerce").to_numpy() if column in ops.columns else pd.NaT
    # the active flag is a snapshot of an unknown day (the export's), so it does not date anything: without
    # dates the invoices tell whether the contract still ran at the cutoff
    frame["running"] = pd.array([pd.NA] * len(frame), dtype="boolean")
    frame = frame[~(frame["started_on"] > day)]  # a service that starts after the cutoff is no contract yet
    if frame.empty:
        return pd.DataFrame(columns=columns)
    ended = frame["ended_on"].notna() & (frame["ended_on"] <= day)
    if "ended_on" in ops.columns:  # dates decide: no end (or an end after the cutoff) runs, an end by then has ended
        dated = frame["started_on"].notna() | frame["ended_on"].notna()
        frame.loc[dated, "running"] = ~ended[dated]
    # contiguous stretches of services: a gap of `gap` months or more between them starts a new one
    frame = frame.sort_values(["customer_id", "started_on"], kind="stable")
    reach = frame["ended_on"].where(ended, pd.Timestamp("2200-01-01")).groupby(frame["customer_id"]).cummax()
    previous = reach.groupby(frame["customer_id"]).shift()
    new_stretch = previous.isna() | (frame["started_on"] > previous + pd.DateOffset(months=gap))
    frame["stretch"] = new_stretch.astype("int64").groupby(frame["customer_id"]).cumsum()
    latest = frame[frame["stretch"] == frame.groupby("customer_id")["stretch"].transform("max")]
    grouped = latest.assign(
        runs=latest["running"].fillna(False).astype(bool), known=latest["running"].notna()
    ).groupby("customer_id")
    per_client = grouped.agg(first_start=("started_on", "min"), last_end=("ended_on", "max"),
                             runs=("runs", "max"), known=("known", "min"))
    running = pd.array(np.where(per_client["runs"], True, np.where(per_client["known"], False, pd.NA)), dtype="boolean")
    stopped = ~per_client["runs"] & per_client["known"] & per_client["last_end"].notna()
    end_m = month_numbers(per_client["last_end"] - pd.Timedelta(days=1))
    end_m[~stopped.to_numpy()] = np.nan
    return pd.DataFrame({
        "customer_id": per_client.index.astype(str), "start_m": month_numbers(per_client["first_start"]),
        "running": running, "end_m": end_m,
    })


def contract_clients(
    transactions: Any,
    service_map: pd.DataFrame | None = None,
    cutoff: Any = None,
    setting: str = "auto",
    gap_months: int = 2,
    margin: float = 0.4,
) -> pd.DataFrame:
    """One row per client of ``transactions`` (up to the ``cutoff`` day, default the last transaction): is
    it a contract client, why, and its contract's start, state and margin per period (module docstring).

    ``transactions``: a DataFrame (customer_id, date, amount [, cost]) or the path of a Parquet file;
    ``service_map``: the service map (customer_id, service_kind [, active, started_on, ended_on]) or None;
    ``setting``: auto | contractual | noncontractual; ``gap_months``: months without an invoice after
    which a contract counts as ended; ``margin``: the margin rate of rows without cost.

    Columns: customer_id; contractual (bool); why (``service_map``, ``monthly_invoices``, ``setting``,
    ``none``, ``noncontractual``) and reason (the same in words); for contract clients (NA for the others):
    start_month (first day of the start month), start_known, entered (renewals made before the data begin),
    end_month (last paid month; NaT while running), active (runs at the cutoff), ended_by
    (``service_map`` / ``invoice_gap``), months (months paid up to the cutoff), periods_completed
    (renewals: months - 1; the sBG's ``periods``) and margin_per_period (mean monthly margin).
    """
    if setting not in SETTINGS:
        raise UsageError(f"cltv.setting is {setting!r}; use one of {', '.join(repr(s) for s in SETTINGS)}")
    gap = int(gap_months)
    if gap < 1:
        raise UsageError(f"the contract gap must be at least 1 month, got {gap_months!r}")
    con = duck.connect()
    try:
        relation, has_cost = _relation(con, transactions)
        if cutoff is None:
            cutoff = con.sql(f"SELECT MAX(CAST(date AS DATE)) FROM {relation}").fetchall()[0][0]
            if cutoff is None:
                raise UsageError("there are no transactions to find contract clients in")
        cutoff = pd.Timestamp(cutoff)
        con.execute(_monthly_sql(relation, has_cost, cutoff, float(margin)))
        clients = con.sql(_clients_sql()).df()
        if clients.empty:
            raise UsageError(f"there are no transactions up to the cutoff {cutoff:%Y-%m-%d} to find contract clients in")
        data_start = int(clients["first_m"].min())
        services = _service_contracts(service_map, cutoff, gap).assign(in_map=True)
        # only these can be contract clients: the rest are settled without looking at their months
        candidate = clients["recent_months"] >= REGULAR_MIN_MONTHS
        candidate |= clients["customer_id"].isin(services["customer_id"])
        if setting == "contractual":
            candidate[:] = True
        elif setting == "noncontractual":
            candidate[:] = False
        con.register("candidates", clients.loc[candidate, ["customer_id"]])
        features = con.sql(_invoice_features_sql(gap)).df()
        table = clients.loc[candidate, ["customer_id"]].merge(features, on="customer_id", how="left")
        table = table.merge(services, on="customer_id", how="left")
        decided = _decide(table, setting, gap, _month_number(cutoff), data_start)
        decided["margin_per_period"] = _margins(con, decided)
    finally:
        con.close()
    out = clients[["customer_id"]].merge(decided, on="customer_id", how="left")
    settled = out["contractual"].isna()
    out["contractual"] = out["contractual"].fillna(False).astype(bool)
    out.loc[settled, "why"] = "noncontractual" if setting == "noncontractual" else "none"
    out.loc[settled, "reason"] = WHY[out.loc[settled, "why"].iloc[0]] if settled.any() else ""
    return out[COLUMNS].reset_index(drop=True)


def _decide(table: pd.DataFrame, setting: str, gap: int, cutoff_m: int, data_start: int) -> pd.DataFrame:
    """The contract columns from the invoice features and the service contracts (see the module docstring)."""
    # a retainer stretch that ended before the data begin is history, not a contract seen in the data
    in_map = table["in_map"].fillna(False).astype(bool) & ~(table["end_m"] < data_start)
    regular = table["regular_invoices"].fillna(False).astype(bool)
    why = np.where(in_map, "service_map", np.where(regular, "monthly_invoices", "none"))
    if setting == "auto":
        contractual = why != "none"
    elif setting == "contractual":
        contractual = (in_map | table["last_m"].notna()).to_numpy()
        why = np.where(why == "none", "setting", why)
    else:
        contractual = np.zeros(len(table), dtype=bool)
        why = np.full(len(table), "noncontractual")
    mask = pd.Series(contractual, index=table.index)
    start_m = table["start_m"].where(in_map)
    dated_start = start_m.notna()
    start_m = start_m.fillna(table["stretch_start"]).fillna(float(cutoff_m))
    # running: the service map where it can tell, else the invoices (no invoice for `gap` months: ended)
    by_invoices = (cutoff_m - table["last_m"]) < gap
    told = table["running"].astype("boolean").where(in_map, pd.NA)
    running = told.fillna(pd.Series(by_invoices.fillna(False).to_numpy(), index=table.index)).astype(bool)
    end_m = table["end_m"].where(in_map).fillna(table["last_m"]).fillna(start_m).where(~running)
    stop_m = end_m.fillna(float(cutoff_m))
    out = table[["customer_id"]].copy()
    out["contractual"] = contractual
    out["why"] = why
    out["reason"] = pd.Series(why, index=table.index).map(WHY)
    out["start_month"] = _month_start(start_m.where(mask))
    out["start_known"] = pd.array((dated_start | (table["stretch_start"] > data_start)).where(mask), dtype="boolean")
    entered = (float(data_start) - start_m).clip(lower=0).where(dated_start, 0.0)
    out["entered"] = pd.array(entered.where(mask).round(), dtype="Int64")
    out["end_month"] = _month_start(end_m.where(mask))
    out["active"] = pd.array(running.where(mask), dtype="boolean")
    ended_by = np.where(told.eq(False).fillna(False), "service_map", "invoice_gap")
    out["ended_by"] = pd.Series(ended_by, index=table.index, dtype="string").where(mask & ~running)
    out["months"] = pd.array((stop_m - start_m + 1).clip(lower=1).where(mask).round(), dtype="Int64")
    out["periods_completed"] = out["months"] - 1
    # the margin window (dropped from the result): the contract's last MARGIN_MONTHS months within the data
    out["_from_m"] = np.maximum(stop_m - (MARGIN_MONTHS - 1), np.maximum(start_m, float(data_start))).where(mask)
    out["_to_m"] = stop_m.where(mask)
    return out


def _margins(con: Any, table: pd.DataFrame) -> pd.Series:
    """Mean monthly margin of each contract client over its margin window (months without invoice: 0)."""
    windows = table.loc[table["_to_m"].notna(), ["customer_id", "_from_m", "_to_m"]]
    result = pd.Series(np.nan, index=table.index)
    if windows.empty:
        return result
    con.register("margin_windows", windows.rename(columns={"_from_m": "from_m", "_to_m": "to_m"}))
    sums = con.sql("""
        SELECT w.customer_id, COALESCE(SUM(m.margin), 0) / (w.to_m - w.from_m + 1) AS margin_per_period
        FROM margin_windows w LEFT JOIN monthly m
          ON m.customer_id = w.customer_id AND m.m BETWEEN w.from_m AND w.to_m
        GROUP BY w.customer_id, w.from_m, w.to_m
    """).df()
    mapped = table["customer_id"].map(sums.set_index("customer_id")["margin_per_period"])
    return mapped.astype("float64")


def run_contract_clients(
    transactions: Any, service_map: pd.DataFrame | None, cutoff: Any, settings: Settings
) -> pd.DataFrame:
    """:func:`contract_clients` with the settings ``cltv.setting``, ``cltv.contract_gap_months`` and
    ``cltv.margin``."""
    options = settings.cltv
    return contract_clients(
        transactions, service_map, cutoff, setting=options.setting, gap_months=options.contract_gap_months,
        margin=options.margin,
    )
