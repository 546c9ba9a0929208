"""The row checks in pandas: the file's columns parsed into the contract's types, then pandera's schemas
(helpers.data.contract.row_schema, unique_schema) find the faulty rows, each with its first reason in
REASON_ORDER. Used for accounts and service maps, with the intake engine "pandas", and for transaction
files that DuckDB cannot read exactly as the pandas reader does (helpers.data.intake.in_duckdb).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from helpers.core.config import Settings
from helpers.data.contract import (
    AFTER_ANALYSIS_MONTH,
    CONTRACT,
    REASON_ORDER,
    ROW_KEY,
    RowLimits,
    reason_for,
    row_schema,
    unique_schema,
)
from helpers.data.intake.columns import match_columns, missing_column, parse_column
from helpers.data.intake.messages import missing_columns_error, rejected_rows, unknown_values_error
from helpers.data.intake.readers import RawTable
from helpers.data.intake.result import FileResult


def check_raw(
    raw: RawTable,
    table: str,
    mapping: dict,
    settings: Settings,
    limits: RowLimits,
) -> FileResult:
    """Check the rows of one file read by helpers.data.intake.readers against `limits`; the accepted rows
    as a DataFrame. Accounts and service maps keep their raw rows for the check of their customers against
    the transactions (helpers.data.intake.result.reject_unknown_customers)."""
    spec = CONTRACT[table]
    match = match_columns(raw.frame.columns, table, mapping, file=str(raw.path))
    missing = [c for c in spec.required_columns if c not in match.columns]
    if missing:
        raise missing_columns_error(raw, table, missing, settings)
    n = len(raw.frame)
    typed: dict[str, pd.Series] = {}
    failures: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in match.columns:
            typed[col.name] = missing_column(col.kind, n)
            continue
        values, bad = parse_column(raw.frame[match.columns[col.name]], col.kind, raw.decimal, bounded=col.bounded)
        typed[col.name] = values.reset_index(drop=True)
        if bad is not None and bad.any():
            failures[col.name] = bad.reset_index(drop=True)
    frame = pd.DataFrame(typed, index=pd.RangeIndex(n))

    schema = row_schema(table, limits, parse_failures=failures)
    cases = _failure_cases(schema, frame)
    too_long = cases.loc[cases["check"] == "field_too_long", "index"].astype("int64")
    enum_cases = cases[(cases["check"] == "allowed_values") & ~cases["index"].astype("int64").isin(too_long)]
    cases = cases[cases["check"] != "allowed_values"]  # the too long ones: field_too_long says enough
    if not enum_cases.empty:
        column = str(enum_cases["column"].iloc[0])
        index = np.sort(enum_cases.loc[enum_cases["column"] == column, "index"].astype("int64").unique())
        raise unknown_values_error(raw, table, column, match.columns[column], index)
    reasons = _row_reasons(table, cases)

    survivors = frame.index.difference(pd.Index(reasons["index"].unique()))
    unique_frame = pd.DataFrame({ROW_KEY: _row_hash(raw.frame).to_numpy()}, index=frame.index).loc[survivors]
    if spec.unique_key:
        unique_frame[spec.unique_key] = frame.loc[survivors, spec.unique_key]
    reasons = pd.concat([reasons, _row_reasons(table, _failure_cases(unique_schema(table), unique_frame))])
    chosen = _first_reason(reasons, table)

    rejected = rejected_rows(raw, table, chosen, match.columns)
    kept = frame.index.difference(chosen.index)
    accepted = frame.loc[kept].reset_index(drop=True)
    result = FileResult(table, str(raw.path), accepted, rejected, n, list(match.ignored), len(accepted))
    if table == "transactions":
        later = chosen.index[chosen["reason"].to_numpy() == AFTER_ANALYSIS_MONTH]
        result.later_customers = pd.Index(frame.loc[later, "customer_id"].dropna().unique(), dtype=object)
    if table != "transactions":
        result.raw, result.positions, result.columns = raw, kept.to_numpy(), dict(match.columns)
    return result


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


def _first_reason(reasons: pd.DataFrame, table: str) -> pd.DataFrame:
    """One reason per row: the first in REASON_ORDER; of one reason in several columns (field_too_long),
    the first column of the contract."""
    rank = {reason: i for i, reason in enumerate(REASON_ORDER)}
    position = {name: i for i, name in enumerate(CONTRACT[table].column_names)}
    reasons = reasons.assign(
        _rank=reasons["reason"].map(rank).fillna(len(rank)),
        _position=reasons["column"].map(position).fillna(len(position)),
    )
    reasons = reasons.sort_values(["index", "_rank", "_position"], kind="stable").drop_duplicates("index")
    return reasons.drop(columns=["_rank", "_position"]).set_index("index")


def _row_hash(frame: pd.DataFrame) -> pd.Series:
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells (e.g. lists in Parquet)
        hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
    return hashed.astype("uint64")
