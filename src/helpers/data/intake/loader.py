"""The intake's one front door: read the input files, check them against the data contract, quarantine
faulty rows.

`load_inputs` checks a run's files; `validate_paths` checks files for `workbook validate` and reports on
them. Transaction files in CSV or Parquet are checked inside DuckDB (helpers.data.intake.in_duckdb),
everything else in pandas (helpers.data.intake.in_pandas); a table that Spark reads is checked by
helpers.data.intake.in_spark. Faults of a whole file (missing required column, empty file, unreadable
encoding, unknown funnel / service values, unsupported file type, file not found) raise DataContractError
with a message that names the file, the column, example rows and the fix. Faulty rows are moved to
`rejected` with a reason; for every file read == accepted + rejected. See data/raw/README.md for the
user's view.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core.config import Settings, default_settings, load_column_mapping
from helpers.core.errors import UsageError
from helpers.data.contract import CONTRACT, UNKNOWN_CUSTOMER, DataContractError, RowLimits
from helpers.data.intake import in_duckdb, in_pandas
from helpers.data.intake.columns import check_mapping, match_columns
from helpers.data.intake.messages import REJECTED_COLUMNS, clipped
from helpers.data.intake.readers import read_raw
from helpers.data.intake.result import COUNT_COLUMNS, FileResult, IntakeResult, PathLike, combine

__all__ = [
    "COUNT_COLUMNS",
    "REJECTED_COLUMNS",
    "DataContractError",
    "IntakeResult",
    "guess_table",
    "load_inputs",
    "validate_paths",
]

_MAX_EXAMPLES = 5
ENGINES = ("auto", "pandas")


def guess_table(columns: Sequence[str], mapping: dict) -> str:
    """The table whose contract matches most of the file's columns (customer_id aside); ties: transactions first."""
    best, best_score = "transactions", -1
    for table in ("transactions", "service_map", "accounts"):
        found = match_columns(columns, table, mapping).columns
        score = len([c for c in found if c != "customer_id"])
        if score > best_score:
            best, best_score = table, score
    return best


def _intake_path(
    path: PathLike,
    table: str,
    mapping: dict,
    settings: Settings,
    limits: RowLimits,
    engine: str,
    workdir: Path | None,
) -> FileResult:
    """One file: transactions in CSV or Parquet are checked inside DuckDB unless `engine` is "pandas" or
    the file needs the pandas reader (see helpers.data.intake.in_duckdb); everything else in pandas."""
    why_pandas = "engine: pandas" if engine == "pandas" else "accounts and service maps are small"
    if table == "transactions" and engine != "pandas":
        target_dir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="workbook-intake-"))
        target = target_dir / f"accepted-{len(list(target_dir.glob('accepted-*.parquet')))}.parquet"
        try:
            checked = in_duckdb.check_file(Path(path), mapping, settings, limits, target)
        except in_duckdb.NotForEngine as reason:
            target.unlink(missing_ok=True)
            why_pandas = str(reason)
        else:
            if workdir is None:  # a caller without a work folder gets a DataFrame, as from pandas
                checked.accepted = pd.read_parquet(target)
                target.unlink()
                target_dir.rmdir()
            return checked
        finally:
            if workdir is None and target_dir.exists() and not any(target_dir.iterdir()):
                target_dir.rmdir()
    result = in_pandas.check_raw(read_raw(path), table, mapping, settings, limits)
    result.engine = f"pandas ({why_pandas})"
    return result


def load_inputs(
    transactions: PathLike | Sequence[PathLike],
    accounts: PathLike | None = None,
    service_map: PathLike | None = None,
    *,
    analysis_end: Any = None,
    settings: Settings | None = None,
    engine: str | None = None,
    workdir: PathLike | None = None,
    today: Any = None,
) -> IntakeResult:
    """Read and validate the input files. `transactions` may be one path or a list (e.g. monthly exports).

    analysis_end: last day of the analysis (inclusive; a Timestamp, date string or Period); transactions
    after it are quarantined as `after_analysis_month`. today: the day against which `date_in_future` is
    checked (default: today's date on this machine). Raises DataContractError for file-level faults.
    engine: "auto" (transactions in CSV or Parquet are checked inside DuckDB) or "pandas"; default: the
    setting intake.engine. workdir: where DuckDB leaves the accepted transactions as Parquet files (they
    stay there, see IntakeResult.write_transactions); without it they are read into pandas. Accounts and
    service-map rows of customers without an accepted transaction are rejected as `unknown_customer`
    (when no transactions are given, later: IntakeResult.merged).
    """
    settings = settings or default_settings()
    mapping = load_column_mapping(settings)
    check_mapping(mapping)
    limits = RowLimits.of(settings.intake, analysis_end, today)
    engine = engine or settings.intake.engine
    if engine not in ENGINES:
        raise UsageError(f"intake engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if isinstance(transactions, str | Path):
        transactions = [transactions]
    jobs = [("transactions", p) for p in transactions]
    jobs += [(t, p) for t, p in (("accounts", accounts), ("service_map", service_map)) if p is not None]
    work = Path(workdir) if workdir is not None else None
    results = [_intake_path(p, table, mapping, settings, limits, engine, work) for table, p in jobs]
    return combine(results, {"transactions", *(t for t, _ in jobs)})


def validate_paths(
    paths: list[PathLike],
    *,
    table: str | None = None,
    analysis_end: Any = None,
    settings: Settings | None = None,
    today: Any = None,
) -> tuple[IntakeResult | None, str]:
    """Validate files for `workbook validate PATH...`: the result (None if a file fails) and a plain-text report.

    Each file's table is guessed from its columns unless `table` is given. A file fails when it cannot be
    read as a whole, and when none of its rows is accepted (nothing of it could be used). A mistake in the
    column mapping raises DataContractError (it concerns every file).
    """
    if table is not None and table not in CONTRACT:
        return None, f"unknown table {table!r}; use one of {', '.join(CONTRACT)}"
    settings = settings or default_settings()
    mapping = load_column_mapping(settings)
    check_mapping(mapping)
    limits = RowLimits.of(settings.intake, analysis_end, today)
    results: list[FileResult] = []
    errors: list[str] = []
    for path in paths:
        try:
            file_table = table or guess_table(_header(path), mapping)
            results.append(_intake_path(path, file_table, mapping, settings, limits, settings.intake.engine, None))
        except DataContractError as exc:
            errors.append(str(exc))
    result = combine(results, {r.table for r in results}) if results else None
    if result is not None:
        errors.extend(_nothing_accepted(result))
    report = _report(result, errors, settings, limits)
    return (None if errors else result), report


def _nothing_accepted(result: IntakeResult) -> list[str]:
    """A message for every file of which no row was accepted: the check passed, but nothing can be used."""
    messages = []
    for row in result.counts.itertuples(index=False):
        if row.read and not row.accepted:
            reasons = result.rejected.loc[result.rejected["source_file"] == row.source_file, "reason"]
            counted = sorted(reasons.value_counts().items(), key=lambda item: (-item[1], item[0]))
            top = ", ".join(f"{reason} ({n})" for reason, n in counted)
            fix = "see the reasons and examples below; fix the export (or the column mapping) and check it again"
            if UNKNOWN_CUSTOMER in set(reasons):
                fix += (f"; {UNKNOWN_CUSTOMER}: the customer ids of this {row.table} file are not those of the "
                        f"transactions given (another data set, or ids written differently, e.g. leading zeros)")
            messages.append(
                f"{row.table} file {row.source_file}: no row was accepted ({row.read} read, all rejected: "
                f"{top}).\nFix: {fix}."
            )
    return messages


def _header(path: PathLike) -> list[str]:
    """The file's column names, read without its rows where the format allows (CSV, Parquet)."""
    try:
        return in_duckdb.column_names(Path(path))
    except in_duckdb.NotForEngine:
        return list(read_raw(path).frame.columns)


def _report(result: IntakeResult | None, errors: list[str], settings: Settings, limits: RowLimits) -> str:
    end = limits.analysis_end
    intake = settings.intake
    lines = [
        f"Intake check (refunds: {intake.refunds}, analysis end: "
        f"{end.date().isoformat() if end is not None else 'none'}; limits: dates {limits.min_date.date()} to "
        f"today {limits.today.date()}, amounts up to {intake.max_amount:,.0f}, text up to "
        f"{intake.max_field_length} characters)",
        "",
    ]
    if errors:
        lines.append(f"FAILED: {len(errors)} file(s) cannot be used:")
        for message in errors:
            lines.append("")
            lines.extend("  " + line for line in message.splitlines())
        lines.append("")
    if result is not None and not result.counts.empty:
        lines.append("Files:")
        lines.extend("  " + line for line in result.counts.to_string(index=False).splitlines())
        lines.append("")
        rejected = result.rejected
        if rejected.empty:
            lines.append("Rejected rows: none")
        else:
            lines.append(
                f"Rejected rows: {len(rejected)} (reasons below; all of them go to rejected_rows.csv)"
            )
            by_reason = rejected.groupby(["table", "reason"], sort=True).size().rename("rows").reset_index()
            lines.extend("  " + line for line in by_reason.to_string(index=False).splitlines())
            unknown = rejected[rejected["reason"] == UNKNOWN_CUSTOMER].groupby("table").size()
            if not unknown.empty:
                lines.append(
                    "  (" + ", ".join(f"{t}: {n} row(s)" for t, n in unknown.items())
                    + " of customers without an accepted transaction)"
                )
            lines.append("")
            lines.append("First examples:")
            examples = rejected.groupby("reason", sort=True).head(2).head(3 * _MAX_EXAMPLES)
            for row in examples.itertuples(index=False):
                where = f"{Path(row.source_file).name} {'line' if row.source_file.lower().endswith(('.csv', '.txt', '.tsv')) else 'row'} {row.source_row}"
                detail = (
                    f"{row.column} = {clipped(row.value, 80)!r}" if isinstance(row.column, str) and row.column
                    else clipped(row.raw, 200)
                )
                lines.append(f"  {where}: {row.reason}: {detail}")
        if result.ignored_columns:
            lines.append("")
            lines.append("Ignored columns (not in the data contract):")
            for table_name, columns in result.ignored_columns.items():
                lines.append(f"  {table_name}: {', '.join(columns)}")
        lines.append("")
        total = result.counts[["read", "accepted", "rejected"]].sum()
        lines.append(
            f"Total: read {total['read']} = accepted {total['accepted']} + rejected {total['rejected']}"
        )
    if not errors:
        lines.append("OK")
    return "\n".join(lines).rstrip() + "\n"
