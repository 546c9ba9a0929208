"""Retention of the contract clients: the sBG fit on them, retention by start cohort, and the holdout check.

- :func:`fit_retention`: the sBG model (:class:`~helpers.clv.models.sbg.ShiftedBetaGeometric`) fitted on the
  contract clients of :func:`helpers.clv.contracts.contract_clients` whose start is known (a contract begun
  before the data enters with the renewals it had made by then: left truncation), its homogeneous limit when
  the fit has no finite optimum;
- :func:`cohort_retention`: clients per start cohort (year, quarter or month) and how many of them were
  still clients after 1, 2, ... months, each cohort only as far as the data see all of its clients;
  :func:`projected_cohort_retention` the sBG's expectation of the same table;
- :func:`retention_holdout`: the model fitted on the contracts as they stood ``holdout_months`` before the
  cutoff, its projection of the survivors over the holdout months against what happened, per cohort and
  per month, like the purchase models' holdout check (:mod:`helpers.clv.diagnostics`).

Periods are months: the sBG's ``periods`` are the renewals a contract has made (its months - 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.clv import contracts as contract_rules
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.sbg import NEARLY_HOMOGENEOUS, ShiftedBetaGeometric
from helpers.core.errors import UsageError

COHORT_PERIODS = {"year": "Y", "quarter": "Q", "month": "M"}


def _month_number(months: pd.Series) -> pd.Series:
    return pd.Series(contract_rules.month_numbers(months), index=months.index)


def retention_sample(contracts: pd.DataFrame) -> pd.DataFrame:
    """The contract clients the retention is learned from: contractual with a known start. Columns
    customer_id, periods (renewals), active, entered (renewals made before the data begin)."""
    known = contracts["contractual"].astype(bool) & contracts["start_known"].fillna(False).astype(bool)
    rows = contracts[known]
    return pd.DataFrame({
        "customer_id": rows["customer_id"].to_numpy(),
        "periods": rows["periods_completed"].astype("int64").to_numpy(),
        "active": rows["active"].astype(bool).to_numpy(),
        "entered": rows["entered"].fillna(0).astype("int64").to_numpy(),
    })


def fit_retention(contracts: pd.DataFrame, penalizer: float = 0.0) -> ShiftedBetaGeometric:
    """The sBG model fitted on :func:`retention_sample`. When the fit has no finite optimum (the retention
    rate does not rise: one churn probability fits everyone best), the homogeneous limit
    (:meth:`~helpers.clv.models.sbg.ShiftedBetaGeometric.fit_homogeneous`) is taken instead and ``notes_``
    says so. (A penalizer, as for the purchase models, would pull gamma and delta towards 0, i.e. towards
    the *most* heterogeneous clients: the opposite of what such data say.) Raises ``ValueError`` when there
    is no contract client with a known start or no contract has ended yet (nothing to learn the churn from)."""
    sample = retention_sample(contracts)
    if sample.empty:
        raise ValueError("there are no contract clients with a known start to learn the retention from")
    columns = (sample["periods"], sample["active"])
    count = f"{len(sample):,} contract clients ({int((~sample['active']).sum()):,} ended)"
    try:
        model = ShiftedBetaGeometric(penalizer=penalizer).fit(*columns, entered=sample["entered"])
    except ConvergenceError as exc:
        model = ShiftedBetaGeometric().fit_homogeneous(*columns, entered=sample["entered"])
        model.notes_ = [f"sBG fitted on {count}: no finite optimum ({' '.join(str(exc).split())}), so "
                        f"{model.notes_[0]}."]
        return model
    model.notes_ = [f"sBG fitted on {count}.", *model.notes_]
    return model


def _cohort_members(contracts: pd.DataFrame, by: str) -> pd.DataFrame:
    if by not in COHORT_PERIODS:
        raise UsageError(f"cohorts are by {', '.join(COHORT_PERIODS)}, got {by!r}")
    known = contracts["contractual"].astype(bool) & contracts["start_known"].fillna(False).astype(bool)
    rows = contracts[known & (contracts["entered"].fillna(0) == 0)]  # a cohort is seen from its start
    start = pd.to_datetime(rows["start_month"])
    return pd.DataFrame({
        "cohort": start.dt.to_period(COHORT_PERIODS[by]).astype(str).to_numpy(),
        "start_m": _month_number(start).to_numpy(),
        "periods": rows["periods_completed"].astype("int64").to_numpy(),
        "active": rows["active"].astype(bool).to_numpy(),
        "customer_id": rows["customer_id"].to_numpy(),
    })


def _cutoff_month(contracts: pd.DataFrame, cutoff: Any) -> int:
    if cutoff is not None:
        day = pd.Timestamp(cutoff)
        return int(day.year) * 12 + int(day.month) - 1
    rows = contracts[contracts["contractual"].astype(bool)]
    if rows.empty:
        raise ValueError("no contract clients: give the cutoff")
    # every contract's months end at its last paid month or, while it runs, at the cutoff month
    return int((_month_number(rows["start_month"]) + rows["months"].astype("int64") - 1).max())


def cohort_retention(contracts: pd.DataFrame, by: str = "year", cutoff: Any = None) -> pd.DataFrame:
    """Survivors per start cohort: one row per cohort (``by``: year, quarter or month of the contract
    start; clients with a known start inside the data), column k = the clients still a client after k
    renewals (k months after the start month; column 0: the cohort's clients). A cohort has a value at k only
    when the data see every one of its clients k months after its start (up to the cutoff month, default
    the contracts' own); later columns are NaN, so no cohort looks better than it is for being young."""
    members = _cohort_members(contracts, by)
    cutoff_m = _cutoff_month(contracts, cutoff)
    if members.empty:
        return pd.DataFrame(index=pd.Index([], name="cohort"))
    horizon = int(cutoff_m - members["start_m"].min())
    k = np.arange(horizon + 1)
    alive = members["periods"].to_numpy()[:, None] >= k[None, :]
    counts = pd.DataFrame(alive.astype("float64"), columns=k).groupby(members["cohort"].to_numpy()).sum()
    seen = cutoff_m - members.groupby("cohort")["start_m"].max()
    counts = counts.where(k[None, :] <= seen.reindex(counts.index).to_numpy()[:, None])
    counts.index.name = "cohort"
    return counts


def projected_cohort_retention(cohorts: pd.DataFrame, model: ShiftedBetaGeometric) -> pd.DataFrame:
    """The sBG's expected survivors for the table of :func:`cohort_retention` (same rows and columns, every
    cell filled): a cohort's clients times S(k)."""
    k = np.asarray(cohorts.columns, dtype="float64")
    expected = cohorts[0].to_numpy()[:, None] * model.survival(k)[None, :]
    return pd.DataFrame(expected, index=cohorts.index, columns=cohorts.columns)


@dataclass
class RetentionHoldout:
    """The holdout check of the sBG projection.

    ``model``: fitted on the contracts at the end of the calibration (``calibration_end``); ``by_month``:
    per holdout month (1 .. holdout_months, ``month`` its first day) the calibration cohorts' clients still
    running (``actual``) and the model's expectation (``projected``), summed over the cohorts;
    ``by_cohort``: per start cohort its clients at the start, running at the calibration end, actual and
    projected at the cutoff and the error (projected - actual) / actual; ``total_error_pct`` the same for
    all cohorts together (the one figure to quote)."""

    model: ShiftedBetaGeometric
    calibration_end: pd.Timestamp
    by_month: pd.DataFrame
    by_cohort: pd.DataFrame
    total_error_pct: float
    notes: list[str] = field(default_factory=list)


def retention_holdout(
    transactions: Any,
    service_map: pd.DataFrame | None,
    cutoff: Any,
    holdout_months: int = 12,
    by: str = "year",
    setting: str = "auto",
    gap_months: int = 2,
    margin: float = 0.4,
    final: pd.DataFrame | None = None,
) -> RetentionHoldout:
    """Fit on the contracts as they stood ``holdout_months`` before the ``cutoff`` (the rules of
    :func:`helpers.clv.contracts.contract_clients` applied to the data up to then, so the calibration knows
    nothing of the holdout), project each client still running then over the holdout months
    (P(k more renewals | n renewals made)) and compare with the contracts at the cutoff.

    An ended contract counts as ended once ``gap_months`` passed without an invoice (or by its ended_on), so
    the last months of the holdout carry the detection's lag on both sides."""
    months = int(holdout_months)
    if months < 1:
        raise UsageError(f"the retention holdout needs at least 1 month, got {holdout_months!r}")
    end = pd.Timestamp(cutoff)
    calibration_end = (end.to_period("M") - months).to_timestamp(how="end").normalize()
    rules = {"setting": setting, "gap_months": gap_months, "margin": margin}
    calibration = contract_rules.contract_clients(transactions, service_map, calibration_end, **rules)
    if final is None:  # the contracts at the cutoff (the caller's, when it has them: the same rules)
        final = contract_rules.contract_clients(transactions, service_map, end, **rules)
    model = fit_retention(calibration)
    members = _cohort_members(calibration, by)
    running = members[members["active"]]
    h = np.arange(1, months + 1)
    projected = model.conditional_survival(h[None, :].astype("float64"), running["periods"].to_numpy()[:, None])
    # actual: the same contract (begun by the calibration end; a later one is a new contract after a gap) still
    # covers the month at the cutoff: its months run from its start to its last paid month or the cutoff
    later = final.set_index("customer_id").reindex(running["customer_id"])
    calibration_m = int(_month_number(pd.Series([calibration_end])).iloc[0])
    start_m = _month_number(later["start_month"]).to_numpy(dtype="float64")
    stop_m = start_m + later["months"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan) - 1
    stop_m[~(start_m <= calibration_m)] = -np.inf
    month_m = calibration_m + h
    actual = month_m[None, :] <= stop_m[:, None]
    cohorts = running["cohort"].to_numpy()
    by_month = pd.DataFrame({
        "holdout_month": h,
        "month": [(calibration_end.to_period("M") + int(k)).to_timestamp() for k in h],
        "actual": actual.sum(axis=0).astype("int64"),
        "projected": projected.sum(axis=0),
    })
    sizes = members.groupby("cohort").size()
    by_cohort = pd.DataFrame({
        "clients": sizes,
        "running_at_calibration_end": running.groupby("cohort").size().reindex(sizes.index, fill_value=0),
        "actual_at_cutoff": pd.Series(actual[:, -1], index=cohorts).groupby(level=0).sum().reindex(sizes.index,
                                                                                                   fill_value=0),
        "projected_at_cutoff": pd.Series(projected[:, -1], index=cohorts).groupby(level=0).sum().reindex(
            sizes.index, fill_value=0.0),
    })
    by_cohort.index.name = "cohort"
    with np.errstate(divide="ignore", invalid="ignore"):
        by_cohort["error_pct"] = (by_cohort["projected_at_cutoff"] - by_cohort["actual_at_cutoff"]) / by_cohort[
            "actual_at_cutoff"].where(by_cohort["actual_at_cutoff"] > 0)
    total_actual, total_projected = float(by_month["actual"].iloc[-1]), float(by_month["projected"].iloc[-1])
    total_error = (total_projected - total_actual) / total_actual if total_actual else float("nan")
    return RetentionHoldout(model=model, calibration_end=calibration_end, by_month=by_month, by_cohort=by_cohort,
                            total_error_pct=float(total_error), notes=list(model.notes_))


def retention_holdout_reading(holdout: RetentionHoldout) -> str:
    """The holdout check in one sentence (the chart's second title line)."""
    last = holdout.by_month.iloc[-1]
    return (
        f"of the {int(holdout.by_cohort['running_at_calibration_end'].sum()):,} contracts running on "
        f"{holdout.calibration_end:%Y-%m-%d}, the sBG expected {last['projected']:,.0f} to run "
        f"{len(holdout.by_month)} months later, {int(last['actual']):,} did ({holdout.total_error_pct:+.0%})"
    )


def retention_shares(
    contracts: pd.DataFrame, model: ShiftedBetaGeometric, by: str = "year", cutoff: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The retention chart's two tables: per start cohort the share still a client k periods after the
    start (:func:`cohort_retention` over its column 0; NaN where the data do not reach) and the sBG's
    projection of it, S(k), for every k."""
    cohorts = cohort_retention(contracts, by, cutoff)
    if cohorts.empty:
        return cohorts, cohorts
    projected = projected_cohort_retention(cohorts, model)
    return cohorts.div(cohorts[0], axis=0), projected.div(cohorts[0], axis=0)


def contracts_reading(contracts: pd.DataFrame, customers: int, valued: bool = True) -> str:
    """How many of the ``customers`` hold a contract and why, and (``valued``) that the retention model
    values them, or (not ``valued``) that the purchase model does, in one sentence."""
    holding = contracts[contracts["contractual"].astype(bool)]
    if holding.empty:
        return (
            f"None of the {customers:,} customers holds a contract (no retainer in the service map, no regular "
            "monthly invoices): all are valued by the purchase model, as buyers who may leave without saying so."
        )
    why = holding["why"].value_counts()
    parts = [f"{int(why[key]):,} {text}" for key, text in (
        ("service_map", "by a retainer in the service map"),
        ("monthly_invoices", "by regular monthly invoices"),
        ("setting", "because cltv.setting is contractual"),
    ) if key in why]
    running = int(holding["active"].astype(bool).sum())
    if not valued:
        return (
            f"{len(holding):,} of the {customers:,} customers hold a contract ({', '.join(parts)}), too few to learn "
            "a retention from, or none has ended yet: the purchase model values every customer."
        )
    return (
        f"{len(holding):,} of the {customers:,} customers hold a contract ({', '.join(parts)}): their leaving is seen "
        f"when the contract ends, so the retention model (sBG) values them; {running:,} contracts run, "
        f"{len(holding) - running:,} have ended (worth nothing more as contracts). The other "
        f"{customers - len(holding):,} are valued by the purchase model."
    )


def run_retention_holdout(
    transactions: Any, service_map: pd.DataFrame | None, cutoff: Any, settings: Any, by: str = "year",
    contracts: pd.DataFrame | None = None,
) -> tuple[RetentionHoldout | None, str]:
    """:func:`retention_holdout` over the purchase models' holdout window (``summary.holdout_months``) with
    the ``cltv`` settings (``contracts``: the month's, from :func:`helpers.clv.contracts.run_contract_clients`),
    and its reading; (None, why not) when it cannot be made (no holdout window, or no
    contract had ended by the calibration end)."""
    months = settings.summary.holdout_months
    if months < 1:
        return None, "No holdout window (summary.holdout_months is 0): the retention projection is not checked."
    options = settings.cltv
    try:
        check = retention_holdout(
            transactions, service_map, cutoff, holdout_months=months, by=by, setting=options.setting,
            gap_months=options.contract_gap_months, margin=options.margin, final=contracts,
        )
    except ValueError as exc:
        return None, f"The retention projection cannot be checked on the holdout window: {exc}."
    return check, retention_holdout_reading(check)


def retention_model_reading(model: ShiftedBetaGeometric) -> str:
    """The fitted retention in plain words: the mean churn per month and whether it differs between
    clients (the sBG's spread), as the retention rates of a new and of a two-year-old contract."""
    gamma, delta = model.params_["gamma"], model.params_["delta"]
    mean = gamma / (gamma + delta)
    if gamma + delta > NEARLY_HOMOGENEOUS:
        return (
            f"On average {mean:.1%} of the contracts end each month, about the same for every client: the data show "
            "no sign that long-standing contracts are safer than new ones."
        )
    first, later = 1.0 - float(model.retention_rate(1.0)), 1.0 - float(model.retention_rate(25.0))
    return (
        f"On average {mean:.1%} of new contracts end in a month; churn differs between clients, so the contracts "
        f"that last are the safer ones: {first:.1%} of the new contracts end in their first month, "
        f"{later:.1%} of those two years old."
    )
