"""Reading input files into raw tables: CSV (.csv/.txt/.tsv), Parquet and Excel (.xlsx).

`read_raw` reads one file into a frame of raw values (CSV: all text, so that nothing is lost before
validation) with the row number of every row as a user sees it. CSV files are decoded as UTF-8 (with or
without byte-order mark), UTF-16 with byte-order mark or Windows-1252, and split at the delimiter among
, ; tab | that fits their lines (`sniff_delimiter`). Faults of the whole file raise DataContractError.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data.contract import DataContractError
from helpers.data.intake.columns import is_blank

FILE_TYPES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
}
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_CHARS = 64 * 1024


@dataclass
class RawTable:
    """The raw content of one file."""

    path: Path
    frame: pd.DataFrame  # raw values, the file's column names, RangeIndex; blank rows removed
    source_rows: np.ndarray  # per row: CSV line number (header = 1), Excel row number, Parquet row number
    file_type: str  # csv | excel | parquet
    delimiter: str | None = None
    encoding: str | None = None
    decimal: str = "."  # default decimal separator of the file's numbers
    blank_rows: int = 0  # empty lines / rows skipped (not counted as read)


def file_type(path: str | Path) -> str:
    path = Path(path)
    kind = FILE_TYPES.get(path.suffix.lower())
    if kind is None:
        supported = ", ".join(sorted(FILE_TYPES))
        fix = "Export the data as CSV (UTF-8) or .xlsx" + (
            " (Excel: File > Save As > 'Excel Workbook (.xlsx)')"
            if path.suffix.lower() in (".xls", ".xlsm", ".ods")
            else ""
        )
        raise DataContractError(
            f"{path}: file type '{path.suffix or '(none)'}' is not supported; supported are {supported}.\nFix: {fix}.",
            file=str(path),
            fix=fix,
        )
    return kind


def read_raw(path: str | Path) -> RawTable:
    """Read one file into raw values. Raises DataContractError for faults of the whole file."""
    path = Path(path)
    kind = file_type(path)
    if not path.is_file():
        fix = "check the path (relative paths start at the current directory) or put the file under data/raw/"
        raise DataContractError(f"{path}: file not found.\nFix: {fix}.", file=str(path), fix=fix)
    if kind == "csv":
        raw = _read_csv(path)
    elif kind == "excel":
        raw = _read_excel(path)
    else:
        raw = _read_parquet(path)
    raw.frame.columns = [clean_header(c) for c in raw.frame.columns]
    if len(raw.frame.columns) == 0 or len(raw.frame) == 0:
        what = "no columns" if len(raw.frame.columns) == 0 else "a header but no data rows"
        fix = "export the data again with its header row and at least one data row"
        raise DataContractError(f"{path}: the file is empty ({what}).\nFix: {fix}.", file=str(path), fix=fix)
    return raw


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM: Excel's "Unicode text"
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data:
        try:
            return data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc:
            bad = exc.start
            line = data.count(b"\n", 0, bad) + 1
            fix = "save the file as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8) and read it again"
            raise DataContractError(
                f"{path}: the encoding is neither UTF-8 nor Windows-1252 (cp1252): byte 0x{data[bad]:02x} "
                f"on line {line} cannot be read.\nFix: {fix}.",
                file=str(path),
                fix=fix,
            ) from exc
    fix = "save the file as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8) and read it again"
    raise DataContractError(
        f"{path}: the encoding is neither UTF-8 nor Windows-1252 (cp1252): the file contains NUL bytes "
        f"(binary data or UTF-16 without a byte-order mark).\nFix: {fix}.",
        file=str(path),
        fix=fix,
    )


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the header and the next lines into the same number of fields."""
    sample = text[:_SNIFF_CHARS]
    lines = sample.splitlines()
    if len(text) > _SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut
    lines = [line for line in lines if line.strip()][:30]
    if not lines:
        return ","
    best, best_score = ",", None
    for delimiter in DELIMITERS:
        counts = [_count_outside_quotes(line, delimiter) for line in lines]
        if counts[0] == 0:
            continue
        rest = counts[1:]
        agree = sum(c == counts[0] for c in rest) / len(rest) if rest else 1.0
        score = (agree, counts[0])
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(path: Path) -> RawTable:
    text, encoding = _decode(path.read_bytes(), path)
    stripped = text.lstrip("\r\n")
    offset = text[: len(text) - len(stripped)].count("\n")  # empty lines before the header
    if not stripped.strip():
        fix = "export the data again with its header row and at least one data row"
        raise DataContractError(
            f"{path}: the file is empty (no header, no rows).\nFix: {fix}.", file=str(path), fix=fix
        )
    delimiter = sniff_delimiter(stripped)
    try:
        frame = pd.read_csv(
            io.StringIO(stripped),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quotechar='"',
            engine="c",
        )
    except pd.errors.ParserError as exc:
        name = {"\t": "tab"}.get(delimiter, delimiter)
        fix = f"put values that contain the delimiter '{name}' in double quotes, or export with ';' as delimiter"
        raise DataContractError(
            f"{path}: the file cannot be split into columns with delimiter '{name}' "
            f"({exc}; line numbers count from the header, {offset} empty line(s) before it).\nFix: {fix}.",
            file=str(path),
            fix=fix,
        ) from exc
    source_rows = _csv_line_numbers(stripped, delimiter, len(frame)) + offset
    blank = _blank_rows(frame)
    frame, source_rows = frame.loc[~blank].reset_index(drop=True), source_rows[~blank.to_numpy()]
    return RawTable(
        path,
        frame,
        source_rows,
        "csv",
        delimiter=delimiter,
        encoding=encoding,
        decimal="," if delimiter == ";" else ".",
        blank_rows=int(blank.sum()),
    )


def _csv_line_numbers(text: str, delimiter: str, n_rows: int) -> np.ndarray:
    """Line of each data row (header = line 1); exact also when quoted values span several lines."""
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if n_lines == n_rows + 1:
        return np.arange(2, n_rows + 2)
    starts, previous = [], 0
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for _ in reader:
        starts.append(previous + 1)
        previous = reader.line_num
    if len(starts) == n_rows + 1:
        return np.asarray(starts[1:])
    return np.arange(2, n_rows + 2)  # pragma: no cover - csv and pandas disagree on the records


def _blank_rows(frame: pd.DataFrame) -> pd.Series:
    blank = pd.Series(True, index=frame.index)
    for column in frame.columns:
        blank &= is_blank(frame[column])
    return blank


def _read_excel(path: Path) -> RawTable:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        fix = "open the file in Excel and save it again as 'Excel Workbook (.xlsx)', or export CSV UTF-8"
        raise DataContractError(
            f"{path}: not a readable .xlsx workbook ({exc}).\nFix: {fix}.", file=str(path), fix=fix
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    header_at = next((i for i, r in enumerate(rows) if any(_filled(v) for v in r)), None)
    if header_at is None:
        return RawTable(path, pd.DataFrame(), np.arange(0), "excel")
    width = max(len(r) for r in rows)
    rows = [r + (None,) * (width - len(r)) for r in rows]
    header = [str(v).strip() if _filled(v) else f"column_{i + 1}" for i, v in enumerate(rows[header_at])]
    data = rows[header_at + 1 :]
    frame = pd.DataFrame(data, columns=unique_names(header), dtype=object)
    keep = [
        c
        for c, h in zip(frame.columns, rows[header_at], strict=True)
        if _filled(h) or frame[c].map(_filled).any()
    ]
    frame = frame[keep]
    source_rows = np.arange(header_at + 2, header_at + 2 + len(frame))
    blank = _blank_rows(frame)
    frame, source_rows = frame.loc[~blank].reset_index(drop=True), source_rows[~blank.to_numpy()]
    return RawTable(path, frame, source_rows, "excel", blank_rows=int(blank.sum()))


def _read_parquet(path: Path) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for broken files
        fix = "write the file again (pandas: df.to_parquet(path)) or export CSV UTF-8"
        raise DataContractError(
            f"{path}: not a readable Parquet file ({exc}).\nFix: {fix}.", file=str(path), fix=fix
        ) from exc
    frame = frame.reset_index(drop=True)
    frame.columns = unique_names([str(c) for c in frame.columns])
    source_rows = np.arange(1, len(frame) + 1)
    blank = _blank_rows(frame)
    frame, source_rows = frame.loc[~blank].reset_index(drop=True), source_rows[~blank.to_numpy()]
    return RawTable(path, frame, source_rows, "parquet", blank_rows=int(blank.sum()))


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def unique_names(names: Iterable[str]) -> list[str]:
    """Repeated column names made unique as pandas does: 'amount', 'amount.1', ..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def clean_header(name: object) -> str:
    """A column name as the readers give it: no byte-order mark, no surrounding spaces."""
    return str(name).replace("\ufeff", "").strip()

