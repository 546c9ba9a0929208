"""What the intake tells the user, worded once for every back end (pandas, DuckDB, Spark).

The errors of a whole file (a required column missing, unknown funnel / service values) name the file, the
column, example rows and the fix; `rejected_rows` lists the quarantined rows with their reason, the file's
column, its value and the raw row (REJECTED_COLUMNS, written to rejected_rows.csv).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.core import paths
from helpers.core.config import Settings
from helpers.data.contract import CONTRACT, DataContractError
from helpers.data.intake.columns import as_text
from helpers.data.intake.readers import RawTable

REJECTED_COLUMNS = ["table", "source_file", "source_row", "reason", "column", "value", "raw"]
# longest text of one cell in the rejected rows (`value`, and each cell of `raw`): a 50 MB name is set
# aside as field_too_long, and its first characters are enough to find it
CELL_LIMIT = 1000


def clipped(value: object, limit: int = CELL_LIMIT) -> object:
    """Text longer than `limit` characters cut there, with the length it had; anything else as it is."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}… ({len(value):,} characters)"
    return value


def empty_rejected() -> pd.DataFrame:
    """A rejected-rows table without rows."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "str") for c in REJECTED_COLUMNS})


def _mapping_display(settings: Settings) -> str:
    mapping_file = settings.resolve(settings.intake.column_mapping)
    try:
        return str(mapping_file.resolve().relative_to(paths.repo_root()))
    except ValueError:
        return str(mapping_file)


def _quote_list(values: Sequence[str]) -> str:
    return ", ".join(repr(str(v)) for v in values) if len(values) else "(none)"


def _row_unit(raw: RawTable) -> str:
    return "line" if raw.file_type == "csv" else "row"


# ---------------------------------------------------------------------------------------------- file faults


def missing_columns_error(raw: RawTable, table: str, missing: list[str], settings: Settings) -> DataContractError:
    """A file without a required column: the columns found, its first data row, and how to map a header."""
    mapping_file = _mapping_display(settings)
    columns = list(raw.frame.columns)
    first = raw.frame.iloc[0]
    example = ", ".join(f"{c}={as_text(pd.Series([first[c]], dtype=object)).iloc[0]!r}" for c in columns[:8])
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
        f"First data row ({_row_unit(raw)} {raw.source_rows[0]}): {example}.\n"
        f"Fix: {fix}.",
        file=str(raw.path),
        column=missing[0],
        fix=fix,
    )


def missing_table_columns_error(source: str, columns: list[str], missing: list[str]) -> DataContractError:
    """A Spark table (or cluster path) without a required column: its columns, and how to map one."""
    fix = (
        f"rename the column(s) to {', '.join(repr(m) for m in missing)} in a view of the table, or map the table's "
        f"column to the contract name under 'transactions:' in config/column_mapping.yaml "
        f"(e.g. `Your Column: {missing[0]}`)"
    )
    return DataContractError(
        f"transactions table {source}: required column(s) {', '.join(repr(m) for m in missing)} missing.\n"
        f"Columns found: {', '.join(repr(c) for c in columns)}.\nFix: {fix}.",
        file=source,
        column=missing[0],
        fix=fix,
    )


def unknown_values_error(
    raw: RawTable, table: str, column: str, source_column: str, index: np.ndarray
) -> DataContractError:
    """Values outside an enum column's allowed values (rows `index`): each with the rows it stands in."""
    allowed = CONTRACT[table].column(column).allowed
    values = as_text(raw.frame[source_column].iloc[index]).to_numpy()
    rows = raw.source_rows[index]
    unit = _row_unit(raw)
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


# ---------------------------------------------------------------------------------------------- faulty rows


def _raw_json(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    long = [c for c in frame.columns if _longest(frame[c]) > CELL_LIMIT]
    if long:
        frame = frame.copy()
        for column in long:
            frame[column] = frame[column].map(clipped).astype(object)
    text = frame.to_json(
        orient="records", lines=True, force_ascii=False, date_format="iso", default_handler=str
    )
    lines = text.split("\n")
    return lines[: len(frame)]


def _clip_long(values: pd.Series) -> pd.Series:
    long = (values.str.len() > CELL_LIMIT).fillna(False).to_numpy(bool)
    if long.any():
        values = values.copy()
        values[long] = values[long].map(clipped)
    return values


def _longest(values: pd.Series) -> int:
    if isinstance(values.dtype, pd.StringDtype):
        return int(values.str.len().max()) if values.notna().any() else 0
    if values.dtype == object:
        return int(values.map(lambda v: len(v) if isinstance(v, str) else 0).max()) if len(values) else 0
    return 0


def rejected_rows(raw: RawTable, table: str, chosen: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The rejected-rows table of one file. `chosen`: the reason and contract column of each faulty row,
    indexed by the row's position in `raw.frame`; `columns`: contract column -> the file's column."""
    if chosen.empty:
        return empty_rejected()
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
            "value": _clip_long(value).to_numpy(),
            "raw": _raw_json(raw.frame.iloc[index]),
        },
        columns=REJECTED_COLUMNS,
    )
