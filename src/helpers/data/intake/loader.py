"""Intake: read the input files, validate them against the data contract, quarantine faulty rows.

Faults of a whole file (missing required column, empty file, unreadable encoding, unknown funnel /
service values, unsupported file type, file not found) raise DataContractError with a message that
names the file, the column, example rows and the fix. Faulty rows are moved to `rejected` with a
reason; for every file read == accepted + rejected. See data/raw/README.md for the user's view.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from helpers.core import duck
from helpers.core import paths as _paths
from helpers.core.config import load_column_mapping, load_settings
from helpers.core.errors import UsageError
from helpers.data.contract import (
    CONTRACT,
    REASON_ORDER,
    ROW_KEY,
    DataContractError,
    empty_frame,
    reason_for,
    row_schema,
    unique_schema,
)
from helpers.data.intake.readers import (
    RawTable,
    as_text,
    match_columns,
    missing_column,
    parse_column,
    read_raw,
)

__all__ = [
    "COUNT_COLUMNS",
    "REJECTED_COLUMNS",
    "DataContractError",
    "IntakeResult",
    "guess_table",
    "load_inputs",
    "validate_paths",
]

REJECTED_COLUMNS = ["table", "source_file", "source_row", "reason", "column", "value", "raw"]
COUNT_COLUMNS = ["table", "source_file", "read", "accepted", "rejected"]
_MAX_EXAMPLES = 5

PathLike = str | Path


ENGINES = ("auto", "pandas")


@dataclass
class IntakeResult:
    """The checked inputs. Accepted transactions are in `transaction_parts`, one per file: a DataFrame
    (checked in pandas) or a Parquet file (checked inside DuckDB, see helpers.data.intake.in_duckdb); `transactions`
    gives them as one DataFrame, `write_transactions` as one Parquet file without passing through pandas."""

    transaction_parts: list[pd.DataFrame | Path]
    accounts: pd.DataFrame | None
    service_map: pd.DataFrame | None
    rejected: pd.DataFrame
    counts: pd.DataFrame
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    engines: dict[str, str] = field(default_factory=dict)  # source file -> "duckdb", "spark" or "pandas (why)"
    # (table, reason) -> rows rejected but not listed in `rejected` (a warehouse table's rows after the month)
    unlisted_rejections: dict[tuple[str, str], int] = field(default_factory=dict)
    _transactions: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def transactions(self) -> pd.DataFrame:
        if self._transactions is None:
            frames = [p if isinstance(p, pd.DataFrame) else pd.read_parquet(p) for p in self.transaction_parts]
            if not frames:
                self._transactions = empty_frame("transactions")
            else:
                self._transactions = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return self._transactions

    def write_transactions(self, target: PathLike) -> Path:
        """All accepted transactions, in file order, as one Parquet file (written then renamed)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".parquet.tmp")
        parts = self.transaction_parts or [empty_frame("transactions")]
        if len(parts) == 1 and isinstance(parts[0], pd.DataFrame):
            parts[0].to_parquet(temporary, index=False)
        elif len(parts) == 1:
            Path(parts[0]).replace(temporary)
            self.transaction_parts = [target]
        else:
            with tempfile.TemporaryDirectory(dir=target.parent) as work:
                files = []
                for i, part in enumerate(parts):
                    if isinstance(part, pd.DataFrame):
                        files.append(Path(work) / f"part{i}.parquet")
                        part.to_parquet(files[-1], index=False)
                    else:
                        files.append(Path(part))
                union = " UNION ALL ".join(
                    f"SELECT *, {i} AS __part, file_row_number AS __row FROM read_parquet('{f}', file_row_number=true)"
                    for i, f in enumerate(files)
                )
                with duck.connect() as con:
                    con.execute(
                        f"COPY (SELECT * EXCLUDE (__part, __row) FROM ({union}) ORDER BY __part, __row) "
                        f"TO '{temporary}' (FORMAT parquet)"
                    )
        temporary.replace(target)
        return target

    def merged(self, other: IntakeResult) -> IntakeResult:
        """This result and another one's files together (e.g. a warehouse table and local account files)."""
        frames = [r for r in (self.rejected, other.rejected) if not r.empty]
        return IntakeResult(
            transaction_parts=[*self.transaction_parts, *other.transaction_parts],
            accounts=self.accounts if self.accounts is not None else other.accounts,
            service_map=self.service_map if self.service_map is not None else other.service_map,
            rejected=pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames or [self.rejected])[0],
            counts=pd.concat([self.counts, other.counts], ignore_index=True),
            ignored_columns={**other.ignored_columns, **self.ignored_columns},
            engines={**self.engines, **other.engines},
            unlisted_rejections={**self.unlisted_rejections, **other.unlisted_rejections},
        )

    def write_rejected(self, path: PathLike) -> Path:
        """Write the rejected rows as CSV (UTF-8, comma), e.g. data/processed/<YYYY-MM>/rejected_rows.csv."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rejected.to_csv(path, index=False, columns=REJECTED_COLUMNS)
        return path


@dataclass
class _FileResult:
    table: str
    source_file: str
    accepted: pd.DataFrame | Path
    rejected: pd.DataFrame
    read: int
    ignored: list[str]
    accepted_rows: int
    engine: str = "pandas"


# ---------------------------------------------------------------------------------------------- helpers


def _analysis_end(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, pd.Period):
        return value.end_time.normalize()
    return pd.Timestamp(value).normalize()


def _mapping_display(settings: dict) -> str:
    mapping_file = Path(settings.get("intake", {}).get("column_mapping", "column_mapping.yaml"))
    if not mapping_file.is_absolute():
        mapping_file = Path(settings.get("_dir", _paths.config_dir())) / mapping_file
    try:
        return str(mapping_file.resolve().relative_to(_paths.repo_root()))
    except ValueError:
        return str(mapping_file)


def _quote_list(values: Sequence[str]) -> str:
    return ", ".join(repr(str(v)) for v in values) if len(values) else "(none)"


def _failure_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases of a lazy validation (empty when the frame passes)."""
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(
        columns=["schema_context", "column", "check", "check_number", "failure_case", "index"]
    )


def _row_reasons(table: str, cases: pd.DataFrame) -> pd.DataFrame:
    """Failure cases -> one row per (frame index, reason, contract column); unknown cases are bugs."""
    if cases.empty:
        return pd.DataFrame(
            {
                "index": pd.Series(dtype="int64"),
                "reason": pd.Series(dtype="str"),
                "column": pd.Series(dtype="str"),
            }
        )
    keys = cases[["column", "check"]].drop_duplicates()
    reason_of = {(c, k): reason_for(table, c, str(k)) for c, k in keys.itertuples(index=False)}
    unknown = [key for key, reason in reason_of.items() if reason is None]
    if unknown:
        raise RuntimeError(f"intake: unexpected schema failures for {table}: {unknown}\n{cases.head(10)}")
    reasons = pd.Series("", index=cases.index, dtype=object)
    for (column, check), reason in reason_of.items():
        reasons[(cases["column"] == column).to_numpy() & (cases["check"] == check).to_numpy()] = reason
    return pd.DataFrame(
        {"index": cases["index"].astype("int64"), "reason": reasons, "column": cases["column"]}
    )


def _first_reason(reasons: pd.DataFrame) -> pd.DataFrame:
    """One reason per row: the first in REASON_ORDER."""
    rank = {reason: i for i, reason in enumerate(REASON_ORDER)}
    reasons = reasons.assign(_rank=reasons["reason"].map(rank).fillna(len(rank)))
    reasons = reasons.sort_values(["index", "_rank"], kind="stable").drop_duplicates("index")
    return reasons.drop(columns="_rank").set_index("index")


def _row_hash(frame: pd.DataFrame) -> pd.Series:
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells (e.g. lists in Parquet)
        hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
    return hashed.astype("uint64")


def _raw_json(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    text = frame.to_json(
        orient="records", lines=True, force_ascii=False, date_format="iso", default_handler=str
    )
    lines = text.split("\n")
    return lines[: len(frame)]


# ---------------------------------------------------------------------------------------------- file faults


def _missing_columns_error(
    raw: RawTable, table: str, missing: list[str], settings: dict
) -> DataContractError:
    mapping_file = _mapping_display(settings)
    columns = list(raw.frame.columns)
    first = raw.frame.iloc[0]
    example = ", ".join(f"{c}={as_text(pd.Series([first[c]], dtype=object)).iloc[0]!r}" for c in columns[:8])
    unit = "line" if raw.file_type == "csv" else "row"
    delimiter_hint = ""
    if len(columns) == 1 and raw.file_type == "csv":
        delimiter_hint = " (only one column was found: is the delimiter one of , ; tab | ?)"
    fix = (
        f"rename the column(s) in the file to {_quote_list(missing)}, or map your header to the contract name "
        f"under '{table}:' in {mapping_file} (e.g. `Your Header: {missing[0]}`)"
    )
    return DataContractError(
        f"{table} file {raw.path}: required column(s) {_quote_list(missing)} missing{delimiter_hint}.\n"
        f"Columns found: {_quote_list(columns)}.\n"
        f"First data row ({unit} {raw.source_rows[0]}): {example}.\n"
        f"Fix: {fix}.",
        file=str(raw.path),
        column=missing[0],
        fix=fix,
    )


def _unknown_values_error(
    raw: RawTable, table: str, column: str, source_column: str, index: np.ndarray
) -> DataContractError:
    allowed = CONTRACT[table].column(column).allowed
    values = as_text(raw.frame[source_column].iloc[index]).to_numpy()
    rows = raw.source_rows[index]
    unit = "line" if raw.file_type == "csv" else "row"
    examples: dict[str, list[int]] = {}
    for value, row in zip(values, rows, strict=True):
        examples.setdefault(str(value), []).append(int(row))
    shown = []
    for value, rows_of_value in list(examples.items())[:10]:
        more = f" and {len(rows_of_value) - 3} more" if len(rows_of_value) > 3 else ""
        plural = "s" if len(rows_of_value) > 1 else ""
        shown.append(f"{value!r} ({unit}{plural} {', '.join(map(str, rows_of_value[:3]))}{more})")
    fix = (
        f"use one of {_quote_list(allowed)} in column '{source_column}' (case, spaces and hyphens do not matter, "
        f"e.g. '{allowed[-1].replace('_', ' ').title()}' = {allowed[-1]}), or leave the cell empty"
    )
    return DataContractError(
        f"{table} file {raw.path}: column '{source_column}' ({column}) has {len(examples)} unknown value(s): "
        f"{'; '.join(shown)}.\nAllowed values: {_quote_list(allowed)}.\nFix: {fix}.",
        file=str(raw.path),
        column=source_column,
        fix=fix,
    )


# ---------------------------------------------------------------------------------------------- one file


def _intake_file(
    raw: RawTable,
    table: str,
    mapping: dict,
    settings: dict,
    analysis_end: pd.Timestamp | None,
) -> _FileResult:
    spec = CONTRACT[table]
    match = match_columns(raw.frame.columns, table, mapping)
    missing = [c for c in spec.required_columns if c not in match.columns]
    if missing:
        raise _missing_columns_error(raw, table, missing, settings)
    n = len(raw.frame)
    typed: dict[str, pd.Series] = {}
    failures: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in match.columns:
            typed[col.name] = missing_column(col.kind, n)
            continue
        values, bad = parse_column(raw.frame[match.columns[col.name]], col.kind, raw.decimal)
        typed[col.name] = values.reset_index(drop=True)
        if bad is not None and bad.any():
            failures[col.name] = bad.reset_index(drop=True)
    frame = pd.DataFrame(typed, index=pd.RangeIndex(n))

    refunds = settings["intake"]["refunds"]
    schema = row_schema(table, parse_failures=failures, analysis_end=analysis_end, refunds=refunds)
    cases = _failure_cases(schema, frame)
    enum_cases = cases[cases["check"] == "allowed_values"]
    if not enum_cases.empty:
        column = str(enum_cases["column"].iloc[0])
        index = np.sort(enum_cases.loc[enum_cases["column"] == column, "index"].astype("int64").unique())
        raise _unknown_values_error(raw, table, column, match.columns[column], index)
    reasons = _row_reasons(table, cases)

    survivors = frame.index.difference(pd.Index(reasons["index"].unique()))
    unique_frame = pd.DataFrame({ROW_KEY: _row_hash(raw.frame).to_numpy()}, index=frame.index).loc[survivors]
    if spec.unique_key:
        unique_frame[spec.unique_key] = frame.loc[survivors, spec.unique_key]
    reasons = pd.concat([reasons, _row_reasons(table, _failure_cases(unique_schema(table), unique_frame))])
    chosen = _first_reason(reasons)

    rejected = _rejected_rows(raw, table, chosen, match.columns)
    accepted = frame.drop(index=chosen.index).reset_index(drop=True)
    return _FileResult(table, str(raw.path), accepted, rejected, n, list(match.ignored), len(accepted))


def _rejected_rows(raw: RawTable, table: str, chosen: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    if chosen.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c == "source_row" else "str") for c in REJECTED_COLUMNS}
        )
    chosen = chosen.sort_index()
    index = chosen.index.to_numpy()
    source_column = chosen["column"].map(columns)
    value = pd.Series(None, index=chosen.index, dtype="str")
    for contract_column, source in columns.items():
        hit = (chosen["column"] == contract_column).to_numpy()
        if hit.any():
            rows = index[hit]
            value.iloc[np.flatnonzero(hit)] = as_text(raw.frame[source].iloc[rows]).fillna("").to_numpy()
    return pd.DataFrame(
        {
            "table": table,
            "source_file": str(raw.path),
            "source_row": raw.source_rows[index].astype("int64"),
            "reason": chosen["reason"].to_numpy(),
            "column": source_column.to_numpy(),
            "value": value.to_numpy(),
            "raw": _raw_json(raw.frame.iloc[index]),
        },
        columns=REJECTED_COLUMNS,
    )


# ---------------------------------------------------------------------------------------------- API


def guess_table(columns: Sequence[str], mapping: dict) -> str:
    """The table whose contract matches most of the file's columns (customer_id aside); ties: transactions first."""
    best, best_score = "transactions", -1
    for table in ("transactions", "service_map", "accounts"):
        found = match_columns(columns, table, mapping).columns
        score = len([c for c in found if c != "customer_id"])
        if score > best_score:
            best, best_score = table, score
    return best


def _combine(results: list[_FileResult], tables_given: set[str]) -> IntakeResult:
    def table_frame(table: str) -> pd.DataFrame | None:
        frames = [r.accepted for r in results if r.table == table]
        if not frames:
            return empty_frame(table) if table in tables_given else None
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    rejected_frames = [r.rejected for r in results if not r.rejected.empty]
    rejected = (
        pd.concat(rejected_frames, ignore_index=True)
        if rejected_frames
        else pd.DataFrame(
            {c: pd.Series(dtype="int64" if c == "source_row" else "str") for c in REJECTED_COLUMNS}
        )
    )
    counts = pd.DataFrame(
        [
            {
                "table": r.table,
                "source_file": r.source_file,
                "read": r.read,
                "accepted": r.accepted_rows,
                "rejected": len(r.rejected),
            }
            for r in results
        ],
        columns=COUNT_COLUMNS,
    )
    ignored: dict[str, list[str]] = {}
    for r in results:
        if r.ignored:
            ignored.setdefault(r.table, [])
            ignored[r.table].extend(c for c in r.ignored if c not in ignored[r.table])
    return IntakeResult(
        transaction_parts=[r.accepted for r in results if r.table == "transactions"],
        accounts=table_frame("accounts"),
        service_map=table_frame("service_map"),
        rejected=rejected,
        counts=counts,
        ignored_columns=ignored,
        engines={r.source_file: r.engine for r in results},
    )


def _intake_path(
    path: PathLike,
    table: str,
    mapping: dict,
    settings: dict,
    end: pd.Timestamp | None,
    engine: str,
    workdir: Path | None,
) -> _FileResult:
    """One file: transactions in CSV or Parquet are checked inside DuckDB unless `engine` is "pandas" or
    the file needs the pandas reader (see helpers.data.intake.in_duckdb); everything else in pandas."""
    from helpers.data.intake import in_duckdb as bulk_intake  # it uses this module's message builders

    why_pandas = "engine: pandas" if engine == "pandas" else "accounts and service maps are small"
    if table == "transactions" and engine != "pandas":
        target_dir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="workbook-intake-"))
        target = target_dir / f"accepted-{len(list(target_dir.glob('accepted-*.parquet')))}.parquet"
        try:
            checked = bulk_intake.check_file(
                Path(path), mapping, settings, end, target, _missing_columns_error, _rejected_rows
            )
        except bulk_intake.NotForEngine as reason:
            target.unlink(missing_ok=True)
            why_pandas = str(reason)
        else:
            accepted: pd.DataFrame | Path = checked.accepted_file
            if workdir is None:  # a caller without a work folder gets a DataFrame, as from pandas
                accepted = pd.read_parquet(checked.accepted_file)
                checked.accepted_file.unlink()
                target_dir.rmdir()
            return _FileResult(
                table, str(checked.path), accepted, checked.rejected, checked.read, checked.ignored,
                checked.accepted_rows, "duckdb",
            )
        finally:
            if workdir is None and target_dir.exists() and not any(target_dir.iterdir()):
                target_dir.rmdir()
    result = _intake_file(read_raw(path), table, mapping, settings, end)
    result.engine = f"pandas ({why_pandas})"
    return result


def load_inputs(
    transactions: PathLike | Sequence[PathLike],
    accounts: PathLike | None = None,
    service_map: PathLike | None = None,
    *,
    analysis_end: Any = None,
    settings: dict | None = None,
    engine: str | None = None,
    workdir: PathLike | None = None,
) -> IntakeResult:
    """Read and validate the input files. `transactions` may be one path or a list (e.g. monthly exports).

    analysis_end: last day of the analysis (inclusive; a Timestamp, date string or Period); transactions
    after it are quarantined as `after_analysis_month`. Raises DataContractError for file-level faults.
    engine: "auto" (transactions in CSV or Parquet are checked inside DuckDB) or "pandas"; default: the
    setting intake.engine. workdir: where DuckDB leaves the accepted transactions as Parquet files (they
    stay there, see IntakeResult.write_transactions); without it they are read into pandas.
    """
    settings = settings or load_settings()
    mapping = load_column_mapping(settings)
    end = _analysis_end(analysis_end)
    engine = engine or settings["intake"].get("engine", "auto")
    if engine not in ENGINES:
        raise UsageError(f"intake engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if isinstance(transactions, str | Path):
        transactions = [transactions]
    jobs = [("transactions", p) for p in transactions]
    jobs += [(t, p) for t, p in (("accounts", accounts), ("service_map", service_map)) if p is not None]
    work = Path(workdir) if workdir is not None else None
    results = [_intake_path(p, table, mapping, settings, end, engine, work) for table, p in jobs]
    return _combine(results, {"transactions", *(t for t, _ in jobs)})


def validate_paths(
    paths: list[PathLike],
    *,
    table: str | None = None,
    analysis_end: Any = None,
    settings: dict | None = None,
) -> tuple[IntakeResult | None, str]:
    """Validate files for `workbook validate PATH...`: the result (None if a file fails) and a plain-text report.

    Each file's table is guessed from its columns unless `table` is given.
    """
    if table is not None and table not in CONTRACT:
        return None, f"unknown table {table!r}; use one of {', '.join(CONTRACT)}"
    settings = settings or load_settings()
    mapping = load_column_mapping(settings)
    end = _analysis_end(analysis_end)
    results: list[_FileResult] = []
    errors: list[str] = []
    for path in paths:
        try:
            file_table = table or guess_table(_header(path), mapping)
            results.append(_intake_path(path, file_table, mapping, settings, end, settings["intake"]["engine"], None))
        except DataContractError as exc:
            errors.append(str(exc))
    result = _combine(results, {r.table for r in results}) if results else None
    report = _report(result, errors, settings, end)
    return (None if errors else result), report


def _header(path: PathLike) -> list[str]:
    """The file's column names, read without its rows where the format allows (CSV, Parquet)."""
    from helpers.data.intake import in_duckdb as bulk_intake

    try:
        return bulk_intake.column_names(Path(path))
    except bulk_intake.NotForEngine:
        return list(read_raw(path).frame.columns)


def _report(result: IntakeResult | None, errors: list[str], settings: dict, end: pd.Timestamp | None) -> str:
    lines = [
        f"Intake check (refunds: {settings['intake']['refunds']}, analysis end: "
        f"{end.date().isoformat() if end is not None else 'none'})",
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
            lines.append("")
            lines.append("First examples:")
            examples = rejected.groupby("reason", sort=True).head(2).head(3 * _MAX_EXAMPLES)
            for row in examples.itertuples(index=False):
                where = f"{Path(row.source_file).name} {'line' if row.source_file.lower().endswith(('.csv', '.txt', '.tsv')) else 'row'} {row.source_row}"
                detail = (
                    f"{row.column} = {row.value!r}" if isinstance(row.column, str) and row.column else row.raw
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
