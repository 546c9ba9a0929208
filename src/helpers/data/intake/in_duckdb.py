"""Intake of transaction files inside DuckDB: the engine reads the CSV or Parquet file, the rows are checked
in SQL and the accepted rows go straight to a Parquet file, so that tens of millions of rows never pass
through pandas.

The rules are those of the pandas intake (helpers.data.intake.readers and .columns) and of
helpers.data.contract, not a second copy of them: plain values take SQL fast paths that give what the
pandas parsers give (identifiers stripped of the same whitespace, plain decimal numbers, native numbers
and dates), and every other value (German numbers, currency signs, dates as text, ...) is parsed by the
pandas functions once per distinct value, its result joined back to the rows. Files that this path cannot
read exactly as the pandas intake does (Excel, encodings other than UTF-8, quoted line breaks, blank
lines, unusual column types) raise `NotForEngine`, and helpers.data.intake.loader checks them in pandas
(helpers.data.intake.in_pandas). tests/test_bulk_intake.py runs files through both paths and requires the
same result.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from helpers.core import duck
from helpers.core.config import Settings
from helpers.data.contract import AFTER_ANALYSIS_MONTH, CONTRACT, ROW_KEY, RowLimits
from helpers.data.intake.columns import match_columns
from helpers.data.intake.duckdb_sql import (
    SUPPORTED_TYPES,
    NotForEngine,
    blank_sql,
    literal,
    quote,
    reason_conditions,
    typed_column,
)
from helpers.data.intake.messages import missing_columns_error, rejected_rows
from helpers.data.intake.readers import RawTable, clean_header, file_type, sniff_delimiter, unique_names
from helpers.data.intake.result import FileResult

TABLE = "transactions"
ROW = "__source_row"
# what Python's str.strip() removes, so that SQL's trim() strips identifiers exactly like pandas
PY_WHITESPACE = (  # every character c with c.isspace() (a test checks it against this Python)
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_HEAD_BYTES = 64 * 1024
_NO_NULL = "\x01"  # CSV null string that never occurs: empty fields stay '' as in pandas (keep_default_na=False)
class _NotUtf8(NotForEngine):
    """A text file that is not UTF-8: it may be read from a UTF-8 copy (see `_utf8_copy`)."""


@dataclass
class _Source:
    path: Path
    file_type: str
    names: list[str]  # the file's column names as the pandas reader gives them
    idents: list[str]  # their columns in the DuckDB table `raw`
    types: list[str]
    decimal: str
    row_number: str  # SQL of the row's number as a user sees it (CSV: line; Parquet: row)
    blank_rows: int = 0


# ---------------------------------------------------------------------------------------------- reading


def _csv_header(path: Path) -> tuple[str, list[str]]:
    """Delimiter and header of a UTF-8 CSV file, or NotForEngine."""
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _NotUtf8("UTF-16 text")
    if b"\x00" in head:
        raise NotForEngine("NUL bytes: binary data or UTF-16 without a byte-order mark")
    if len(head) == _HEAD_BYTES and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]  # no character cut in half
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _NotUtf8("not UTF-8 text") from exc
    if not text.strip() or text[:1] in "\r\n":
        raise NotForEngine("empty file or empty lines before the header")
    delimiter = sniff_delimiter(text)
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    if any("\n" in name or "\r" in name or not name.strip() for name in header):
        raise NotForEngine("a column without a name in the header")
    return delimiter, header


def column_names(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file as the pandas reader gives them, from its header only."""
    kind = file_type(path)
    if kind == "csv" and path.is_file():
        return [clean_header(n) for n in unique_names(_csv_header(path)[1])]
    if kind == "parquet" and path.is_file():
        try:
            schema = pq.read_schema(path)
        except Exception as exc:
            raise NotForEngine(f"not a readable Parquet file ({exc})") from exc
        return [clean_header(n) for n in unique_names([str(n) for n in schema.names if n not in _index_columns(schema)])]
    raise NotForEngine(f"{kind} files are read by the pandas reader")


def _line_count(path: Path) -> int:
    lines, last = 0, b""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (0 if last in (b"\n", b"") else 1)


def _utf8_copy(path: Path, folder: Path) -> Path:
    """A UTF-8 copy of a Windows-1252 or UTF-16 (with byte-order mark) text file, decoded as the pandas
    reader decodes it (helpers.data.intake.readers.read_raw), in pieces; NotForEngine when neither decodes it (the pandas
    reader then names the faulty byte)."""
    with open(path, "rb") as handle:
        encoding = "utf-16" if handle.read(2) in (b"\xff\xfe", b"\xfe\xff") else "cp1252"
    copy = folder / f".utf8-{path.stem}-{abs(hash(str(path)))}.csv"
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as source, open(copy, "w", encoding="utf-8", newline="") as target:
            while chunk := source.read(1 << 24):
                target.write(decoder.decode(chunk))
            target.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        copy.unlink(missing_ok=True)
        raise NotForEngine(f"neither UTF-8 nor {encoding}") from exc
    return copy


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, folder: Path) -> _Source:
    """Read a CSV file into the table `raw`: UTF-8 directly, Windows-1252 and UTF-16 from a UTF-8 copy."""
    try:
        return _read_csv_table(con, path, path)
    except _NotUtf8:
        copy = _utf8_copy(path, folder)
        try:
            con.execute("DROP TABLE IF EXISTS raw")
            return _read_csv_table(con, path, copy)
        finally:
            copy.unlink(missing_ok=True)


def _read_csv_table(con: duckdb.DuckDBPyConnection, path: Path, readable: Path) -> _Source:
    delimiter, header = _csv_header(readable)
    idents = [f"c{i}" for i in range(len(header))]
    columns = "{" + ", ".join(f"{literal(i)}: 'VARCHAR'" for i in idents) + "}"
    try:
        con.execute(
            f"CREATE TABLE raw AS SELECT * FROM read_csv({literal(str(readable))}, delim={literal(delimiter)}, "
            f"quote='\"', escape='\"', header=true, auto_detect=false, columns={columns}, null_padding=true, "
            f"nullstr={literal(_NO_NULL)}, strict_mode=true)"
        )
    except duckdb.Error as exc:  # ragged rows, stray quotes, invalid UTF-8: pandas reads or explains them
        if "not utf-8 encoded" in str(exc):
            raise _NotUtf8("not UTF-8 text") from exc
        raise NotForEngine(f"DuckDB cannot read the file as the pandas reader would ({exc})") from exc
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    if _line_count(readable) != rows + 1:
        raise NotForEngine("quoted line breaks or blank lines: row numbers need the pandas reader")
    names = [clean_header(n) for n in unique_names(header)]
    # the table keeps the file's order (and a deleted row keeps its rowid out of use), so rowid + 2 is the
    # line of the row, the header being line 1
    decimal = "," if delimiter == ";" else "."
    return _Source(path, "csv", names, idents, ["VARCHAR"] * len(idents), decimal, "rowid + 2")


def _index_columns(schema) -> set[str]:
    """Columns that hold a stored pandas index: pandas restores them as the index and the reader drops it."""
    return {c for c in ((schema.pandas_metadata or {}).get("index_columns") or []) if isinstance(c, str)}


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> _Source:
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # broken files get the pandas reader's message
        raise NotForEngine(f"not a readable Parquet file ({exc})") from exc
    index_columns = _index_columns(schema)
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal(str(path))})").fetchall()
    kept = [(name, kind) for name, kind, *_ in described if name not in index_columns]
    unsupported = [f"{name} ({kind})" for name, kind in kept if kind.split("(")[0] not in (*SUPPORTED_TYPES, "DECIMAL")]
    if unsupported:
        raise NotForEngine(f"column types the engine path does not convert: {', '.join(unsupported)}")
    idents = [f"c{i}" for i in range(len(kept))]
    select = ", ".join(f"{quote(name)} AS {ident}" for (name, _), ident in zip(kept, idents, strict=True))
    con.execute(
        f"CREATE TABLE raw AS SELECT {select}, file_row_number + 1 AS {ROW} "
        f"FROM read_parquet({literal(str(path))}, file_row_number=true)"
    )
    names = [clean_header(n) for n in unique_names([str(name) for name, _ in kept])]
    return _Source(path, "parquet", names, idents, [kind for _, kind in kept], ".", ROW)


def _define_macros(con: duckdb.DuckDBPyConnection) -> None:
    # py_strip: Python's str.strip(); trim() with a set of characters is slow, so values that begin and end
    # with a visible ASCII character (nearly all) are taken as they are
    con.execute(
        "CREATE MACRO py_strip(s) AS CASE WHEN s[1] > ' ' AND s[1] < chr(127) AND s[-1] > ' ' AND s[-1] < chr(127) "
        f"THEN s ELSE trim(s, {literal(PY_WHITESPACE)}) END"
    )


def _drop_blank_rows(con: duckdb.DuckDBPyConnection, source: _Source) -> None:
    """Rows with no value at all are skipped and not counted as read, as in the pandas reader."""
    all_blank = " AND ".join(blank_sql(i, k) for i, k in zip(source.idents, source.types, strict=True))
    source.blank_rows = con.execute(f"SELECT count(*) FROM raw WHERE {all_blank}").fetchone()[0]
    if source.blank_rows:
        con.execute(f"DELETE FROM raw WHERE {all_blank}")


# ---------------------------------------------------------------------------------------------- checks


def check_file(
    path: Path,
    mapping: dict,
    settings: Settings,
    limits: RowLimits,
    accepted_file: Path,
) -> FileResult:
    """Read and check one transactions file in DuckDB against `limits` and write its accepted rows (contract
    columns and types, in file order) to `accepted_file`, the result's `accepted`. Errors and rejected rows
    are worded by helpers.data.intake.messages, as in pandas. Raises NotForEngine when the pandas intake
    must read the file."""
    path = Path(path)
    kind = file_type(path)
    if kind not in ("csv", "parquet") or not path.is_file():
        raise NotForEngine(f"{kind} files are read by the pandas reader")
    con = duck.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        _define_macros(con)
        source = _load_csv(con, path, accepted_file.parent) if kind == "csv" else _load_parquet(con, path)
        _drop_blank_rows(con, source)
        read = con.execute("SELECT count(*) FROM raw").fetchone()[0]
        if not source.names or read == 0:
            raise NotForEngine("an empty file gets the pandas reader's message")
        spec = CONTRACT[TABLE]
        match = match_columns(source.names, TABLE, mapping, file=str(path))
        ident_of = dict(zip(source.names, source.idents, strict=True))
        type_of = dict(zip(source.names, source.types, strict=True))
        missing = [c for c in spec.required_columns if c not in match.columns]
        if missing:
            raise missing_columns_error(_preview(con, source), TABLE, missing, settings)

        typed: dict[str, str] = {}
        bad: dict[str, str] = {}
        joins: list[str] = []
        sql_types = {"id": "VARCHAR", "text": "VARCHAR", "upper": "VARCHAR", "float": "DOUBLE", "date": "TIMESTAMP"}
        for column in spec.columns:
            if column.name not in match.columns:
                typed[column.name] = f"CAST(NULL AS {sql_types[column.kind]})"
                continue
            source_name = match.columns[column.name]
            value, failure, join = typed_column(
                con, column, ident_of[source_name], type_of[source_name], source.decimal
            )
            typed[column.name] = value
            if failure is not None:
                bad[column.name] = failure
            if join is not None:
                joins.append(join)

        # typed values in a subquery (each expression once), the reasons over them
        columns = [f"{sql} AS {quote('v_' + name)}" for name, sql in typed.items()]
        columns += [f"{sql} AS {quote('b_' + name)}" for name, sql in bad.items()]
        raw_columns = ", ".join(f"raw.{ident}" for ident in source.idents)
        typed_rows = (
            f"SELECT {raw_columns}, raw.{source.row_number} AS {ROW}, hash({raw_columns}) AS __row_hash, "
            f"{', '.join(columns)} FROM raw {' '.join(joins)}"
        )
        conditions = reason_conditions(
            TABLE, {name: quote("v_" + name) for name in typed}, {name: quote("b_" + name) for name in bad}, limits
        )
        reason = "CASE " + " ".join(f"WHEN {c} THEN {literal(r)}" for r, _, c in conditions) + " END" if conditions else "NULL"
        reason_column = (
            "CASE " + " ".join(f"WHEN {c} THEN {literal(col)}" for _, col, c in conditions) + " END" if conditions else "NULL"
        )
        # (date and amount are required and can always fail, so there are failure columns to drop)
        con.execute(
            f"CREATE TABLE final AS SELECT * EXCLUDE ({', '.join(quote('b_' + n) for n in bad)}), "
            f"{reason} AS reason, {reason_column} AS reason_column FROM ({typed_rows})"
        )
        # exact repeats of a whole raw row: the first is kept (among rows without another fault); rows are
        # compared by hash first, and exactly only where hashes repeat
        every_column = ", ".join(source.idents)
        con.execute(
            f"CREATE TABLE repeats AS WITH repeated AS (SELECT __row_hash AS h FROM final "
            f"WHERE reason IS NULL GROUP BY h HAVING count(*) > 1) "
            f"SELECT {ROW} FROM (SELECT {ROW}, row_number() OVER (PARTITION BY {every_column} ORDER BY {ROW}) AS n "
            f"FROM final WHERE reason IS NULL AND __row_hash IN (SELECT h FROM repeated)) WHERE n > 1"
        )
        if con.execute("SELECT count(*) FROM repeats").fetchone()[0]:
            con.execute(
                f"UPDATE final SET reason = 'duplicate_row', reason_column = {literal(ROW_KEY)} "
                f"WHERE {ROW} IN (SELECT {ROW} FROM repeats)"
            )
        contract_columns = ", ".join(
            f"CAST({quote('v_' + c.name)} AS TIMESTAMP_NS) AS {quote(c.name)}" if c.kind == "date"
            else f"{quote('v_' + c.name)} AS {quote(c.name)}"
            for c in spec.columns
        )
        con.execute(
            f"COPY (SELECT {contract_columns} FROM final WHERE reason IS NULL ORDER BY {ROW}) "
            f"TO {literal(str(accepted_file))} (FORMAT parquet)"
        )
        accepted_rows = con.execute("SELECT count(*) FROM final WHERE reason IS NULL").fetchone()[0]
        faulty = con.execute(
            f"SELECT {ROW}, reason, reason_column, {every_column} FROM final WHERE reason IS NOT NULL ORDER BY {ROW}"
        ).df()
        later = con.execute(
            f"SELECT DISTINCT {quote('v_customer_id')} FROM final WHERE reason = ? AND {quote('v_customer_id')} "
            "IS NOT NULL", [AFTER_ANALYSIS_MONTH]
        ).fetchnumpy()["v_customer_id"]
    finally:
        con.close()
    raw = RawTable(
        path,
        _as_reader_frame(faulty[source.idents], source),
        faulty[ROW].to_numpy(dtype="int64"),
        source.file_type,
    )
    chosen = pd.DataFrame({"reason": faulty["reason"].to_numpy(), "column": faulty["reason_column"].to_numpy()})
    rejected = rejected_rows(raw, TABLE, chosen, match.columns)
    return FileResult(
        TABLE, str(path), accepted_file, rejected, int(read), list(match.ignored), int(accepted_rows), "duckdb",
        later_customers=pd.Index(np.asarray(later, dtype=object), dtype=object),
    )


def _as_reader_frame(frame: pd.DataFrame, source: _Source) -> pd.DataFrame:
    """DuckDB's rows with the file's column names and the value types the pandas reader would have."""
    frame = frame.copy()
    frame.columns = source.names
    for name, kind in zip(source.names, source.types, strict=True):
        if kind == "VARCHAR":
            frame[name] = frame[name].astype("str")
        elif kind == "DATE":  # pandas reads a Parquet date as datetime.date objects
            frame[name] = pd.Series(
                [None if pd.isna(v) else pd.Timestamp(v).date() for v in frame[name]], index=frame.index, dtype=object
            )
    return frame.reset_index(drop=True)


def _preview(con, source: _Source) -> RawTable:
    """The first rows of the file, for the message of a file-level fault."""
    head = con.execute(
        f"SELECT {', '.join(source.idents)}, {source.row_number} AS {ROW} FROM raw ORDER BY {ROW} LIMIT 5"
    ).df()
    return RawTable(source.path, _as_reader_frame(head[source.idents], source), head[ROW].to_numpy(dtype="int64"), source.file_type)


__all__ = ["NotForEngine", "check_file", "column_names"]
