"""The file's columns against the contract: header matching and the parsing of raw values into typed values.

`match_columns` maps the file's headers onto the contract through config/column_mapping.yaml.
`parse_column` turns raw values into typed values plus a mask of the values that could not be parsed:
numbers with decimal comma or point (German '1.234,56'), currency signs and codes, dates as yyyy-mm-dd,
dd.mm.yyyy or yyyymmdd, yes/no words in English and German. All parsing is vectorised (pandas string
methods and `to_datetime` with explicit formats).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.data.contract import CONTRACT, DTYPES, MAPPING_FILE_HINT, DataContractError

TRUE_WORDS = ("true", "1", "yes", "ja", "wahr", "y", "j", "t", "x")
FALSE_WORDS = ("false", "0", "no", "nein", "falsch", "n", "f")
_BOOL_WORDS = {
    **dict.fromkeys(TRUE_WORDS, True),
    **dict.fromkeys(FALSE_WORDS, False),
    "1.0": True,
    "0.0": False,
}

# Number noise: spaces (also non-breaking and narrow), apostrophes (Swiss thousands), currency signs/codes
# (plain characters, no \s or \u escapes: so that pandas can use pyarrow's RE2 instead of Python's re)
_NUMBER_NOISE = "[ \t\u00a0\u202f'’€$£¥]|EUR|Eur|eur|USD|usd|GBP|gbp|CHF|chf"
_COMMA_DECIMAL = r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]*)(?:,[0-9]*)?"
_POINT_DECIMAL = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
DATE_ISO = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
_DATE_DE = r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}(?:,? +[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?"
_DATE_COMPACT = r"[0-9]{8}"
MIN_DATE = pd.Timestamp("1677-09-22")
MAX_DATE = pd.Timestamp("2262-04-10")


@dataclass
class ColumnMatch:
    """Contract column -> the file's column, the file's columns that are ignored, and the contract columns
    that several of the file's columns map to (`conflicts`: contract column -> those columns)."""

    columns: dict[str, str]
    ignored: list[str] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- headers


def normalize_name(name: object) -> str:
    """Header as compared with the contract and the mapping: no BOM, no surrounding spaces, case-folded."""
    return str(name).replace("\ufeff", "").strip().casefold()


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(known)}"


def _mapping_error(source: str, message: str, fix: str, column: str | None = None) -> DataContractError:
    return DataContractError(f"{source}: {message}\nFix: {fix}.", file=source, column=column, fix=fix)


def check_mapping(mapping: Mapping[str, Mapping[str, str]] | None) -> None:
    """The column mapping against the contract: tables and targets that exist (a typo gets a suggestion),
    no contract column mapped onto another, no header given twice with different targets. The errors
    name the mapping file, the table and the key."""
    source = str(getattr(mapping, "source", MAPPING_FILE_HINT))
    for table, columns in (mapping or {}).items():
        if table not in CONTRACT:
            raise _mapping_error(
                source, f"'{table}:' is not a table of the data contract; {_did_you_mean(str(table), CONTRACT)}",
                f"name the section after one of the tables: {', '.join(CONTRACT)}",
            )
        spec = CONTRACT[table]
        seen: dict[str, tuple[str, str]] = {}
        for user_name, contract_name in (columns or {}).items():
            where = f"under '{table}:', '{user_name}' is mapped to '{contract_name}'"
            if contract_name not in spec.column_names:
                hint = _did_you_mean(str(contract_name), spec.column_names)
                raise _mapping_error(
                    source, f"{where}, which is not a column of the {table} contract; {hint}",
                    f"map '{user_name}' to one of: {', '.join(spec.column_names)}", str(user_name),
                )
            key = normalize_name(user_name)
            own = next((c for c in spec.column_names if normalize_name(c) == key), None)
            if own is not None and own != contract_name:
                raise _mapping_error(
                    source, f"{where}, but '{own}' is itself a column of the {table} contract (a file's "
                    f"'{own}' column is always read as {own}); a contract column cannot be mapped onto another",
                    f"remove the line (a contract name needs no entry); if your export's '{user_name}' column "
                    f"holds the {contract_name}, rename that header in the export", str(user_name),
                )
            if key in seen and seen[key][1] != contract_name:
                first, target = seen[key]
                raise _mapping_error(
                    source, f"under '{table}:', '{first}: {target}' and '{user_name}: {contract_name}' name "
                    f"the same header (case and spaces do not matter) with different targets",
                    "keep one of the two lines", str(user_name),
                )
            seen.setdefault(key, (str(user_name), str(contract_name)))


def match_columns(
    columns: Iterable[str],
    table: str,
    mapping: Mapping[str, Mapping[str, str]] | None,
    *,
    file: str | None = None,
    what: str = "file",
) -> ColumnMatch:
    """Map the file's columns onto the contract of `table` (contract names, then the user's mapping).

    When several columns of the file map to the same contract column (`customer_id` and `Kunde`, or
    `Kundennummer` and `Kunde`, or a header written twice), a DataContractError names the `file` (`what`:
    "file", or "table" for a table Spark reads), the columns and the fix; without `file` (guessing a
    file's table) the first one is taken and `conflicts` lists them.
    """
    check_mapping(mapping)
    columns = list(columns)
    spec = CONTRACT[table]
    lookup = {normalize_name(c): c for c in spec.column_names}
    via: dict[str, str] = {}  # normalised header -> the mapping's key for it
    for user_name, contract_name in (mapping or {}).get(table, {}).items():
        if normalize_name(user_name) not in lookup:
            lookup[normalize_name(user_name)] = contract_name
            via[normalize_name(user_name)] = str(user_name)
    names = set(columns)
    found: dict[str, str] = {}
    ignored: list[str] = []
    sources: dict[str, list[str]] = {}
    for column in columns:
        target = lookup.get(normalize_name(column))
        repeat = re.fullmatch(r"(.*)\.[0-9]+", str(column))  # 'amount.1': the reader's name of a repeated header
        if target is None and repeat and repeat.group(1) in names:
            target = lookup.get(normalize_name(repeat.group(1)))
            if target is not None:
                sources.setdefault(target, []).append(column)
            ignored.append(column)
            continue
        if target is not None:
            sources.setdefault(target, []).append(column)
        if target is None or target in found:
            ignored.append(column)
        else:
            found[target] = column
    conflicts = {target: cols for target, cols in sources.items() if len(cols) > 1}
    if conflicts and file is not None:
        raise _conflict_error(f"{table} {what} {file}", file, table, conflicts, via, mapping)
    return ColumnMatch(found, ignored, conflicts)


def _conflict_error(
    named: str, file: str, table: str, conflicts: dict[str, list[str]], via: dict[str, str], mapping
) -> DataContractError:
    target, columns = next(iter(conflicts.items()))
    source = str(getattr(mapping, "source", MAPPING_FILE_HINT))

    def how(column: str) -> str:
        key = normalize_name(column)
        if key in via:
            return f"'{column}' through the line `{via[key]}: {target}`"
        if normalize_name(column) == normalize_name(target):
            return f"'{column}' by its name"
        return f"'{column}' (the header written again)"

    lines = [f"`{via[normalize_name(c)]}: {target}`" for c in columns if normalize_name(c) in via]
    fix = "remove all but one of these columns from the file"
    if lines:
        fix += (f", or delete the line {' or '.join(lines)} under '{table}:' in {source} (that column is then "
                f"ignored), or map it to the contract column it really holds")
    quoted = " and ".join(f"'{c}'" for c in columns)
    both = "both" if len(columns) == 2 else "all"
    return DataContractError(
        f"{named}: columns {quoted} {both} map to the contract column '{target}' "
        f"({'; '.join(how(c) for c in columns)}); only one column can be read as {target}, and none is "
        f"chosen silently.\nFix: {fix}.",
        file=file,
        column=target,
        fix=fix,
    )


# ---------------------------------------------------------------------------------------------- parsing


def is_blank(values: pd.Series) -> pd.Series:
    """Missing values and empty / whitespace-only text."""
    blank = values.isna()
    if isinstance(values.dtype, pd.StringDtype):
        blank |= values.str.strip().eq("").fillna(False).astype(bool)
    elif values.dtype == object:
        is_text = values.map(lambda v: isinstance(v, str), na_action="ignore").fillna(False).astype(bool)
        if is_text.any():
            blank |= is_text & values.where(is_text).astype("str").str.strip().eq("").fillna(False).astype(
                bool
            )
    return blank.astype(bool)


def _cell_text(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def as_text(values: pd.Series) -> pd.Series:
    """Raw values as stripped text (str dtype) with missing/blank values as NaN; 12.0 -> '12'."""
    if isinstance(values.dtype, pd.StringDtype):
        text = values
    elif pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        text = values.astype("str").where(values.notna())
    else:
        text = values.map(_cell_text).astype("str")
    text = text.str.strip()
    return text.where(text.ne("").fillna(False).astype(bool)).astype("str")


def _split_native(values: pd.Series, types: tuple[type, ...]) -> tuple[pd.Series, pd.Series]:
    """For object columns (Excel, Parquet): mask of cells already of `types`, and the rest as text."""
    native = values.map(lambda v: isinstance(v, types) and not isinstance(v, bool), na_action="ignore")
    native = native.fillna(False).astype(bool)
    return native, as_text(values.where(~native))


def parse_number(
    values: pd.Series, decimal: str = ".", *, weights: np.ndarray | None = None, decided: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Numbers (float64) and the mask of non-blank values that are no numbers.

    `decimal` is the file's default decimal separator; a column's own values can overrule it (e.g.
    '12,5' is decimal comma, '1.234' in a decimal-comma column is 1234). A value with both '.' and ','
    uses the last one as decimal separator. Currency signs/codes and spaces are ignored; '(12,50)' and
    '12,50-' are negative. `weights`: rows per value when `values` are a column's distinct values (the
    vote counts rows); `decided`: `decimal` is already the column's (see `number_votes`), no vote.
    """
    blank = is_blank(values)
    if pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(np.nan, index=values.index, dtype="float64"), ~blank
    if pd.api.types.is_numeric_dtype(values.dtype):
        out = values.astype("float64")
        bad = ~blank & ~np.isfinite(out.fillna(0.0))
        return out.where(~bad), bad
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.Series(np.nan, index=values.index, dtype="float64"), ~blank
    native = pd.Series(False, index=values.index)
    if isinstance(values.dtype, pd.StringDtype):
        text = values.str.strip()
    else:
        native, text = _split_native(values, (int, float, np.integer, np.floating))
    if not decided:
        decimal = column_decimal(decimal, *number_votes(text, weights))
    out = _parse_number_text(text, decimal)
    if native.any():
        out = out.where(~native, pd.to_numeric(values.where(native), errors="coerce"))
    out = out.where(np.isfinite(out.fillna(0.0)))
    bad = ~blank & out.isna()
    return out.astype("float64"), bad


def _number_text(text: pd.Series) -> pd.Series:
    """Number text without noise (currency, spaces) and without the signs of a negative ('(12)', '12-')."""
    t = text.astype("str").str.replace(_NUMBER_NOISE, "", regex=True)
    return t.str.replace(r"[()]", "", regex=True).str.replace(r"-$", "", regex=True)


def number_votes(text: pd.Series, weights: np.ndarray | None = None) -> tuple[int, int]:
    """The column's own evidence for its decimal separator, in rows: (votes for ',', votes for '.').

    '12,5' can only be decimal comma and '12.5' only decimal point; '1.234' or '1,234' (thousands
    groups) and plain integers say nothing. `weights`: rows per value (values are distinct values)."""
    t = _number_text(text)
    has_comma = t.str.contains(",", regex=False).fillna(False).to_numpy(bool)
    has_point = t.str.contains(".", regex=False).fillna(False).to_numpy(bool)
    comma_last = t.str.contains(r",[^.]*$").fillna(False).to_numpy(bool)
    comma_groups = t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+").fillna(False).to_numpy(bool)
    point_groups = t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+").fillna(False).to_numpy(bool)
    both = has_comma & has_point
    comma = (has_comma & ~has_point & ~comma_groups) | (both & comma_last)
    point = (has_point & ~has_comma & ~point_groups) | (both & ~comma_last)
    w = np.ones(len(t), dtype="int64") if weights is None else np.asarray(weights, dtype="int64")
    return int(w[comma].sum()), int(w[point].sum())


def column_decimal(default: str, votes_comma: int, votes_point: int) -> str:
    """The decimal separator of a column: the majority of its own evidence, else the file's default."""
    if votes_comma == votes_point:
        return default
    return "," if votes_comma > votes_point else "."


def _parse_number_text(text: pd.Series, decimal: str) -> pd.Series:
    text = text.astype("str")
    negative = text.str.fullmatch(r"\(.*\)").fillna(False) | text.str.endswith("-").fillna(False)
    t = _number_text(text)
    has_comma = t.str.contains(",", regex=False).fillna(False)
    has_point = t.str.contains(".", regex=False).fillna(False)
    both = has_comma & has_point
    comma_last = t.str.contains(r",[^.]*$").fillna(False)
    only_comma, only_point = has_comma & ~has_point, has_point & ~has_comma
    comma_groups = t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+").fillna(False)
    point_groups = t.str.fullmatch(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+").fillna(False)
    multi_comma = t.str.count(",").fillna(0) > 1
    multi_point = t.str.count(r"\.").fillna(0) > 1
    comma_mode = (
        (both & comma_last)
        | (only_comma & ~(comma_groups & ((decimal == ".") | multi_comma)))
        | (only_point & point_groups & ((decimal == ",") | multi_point))
    )
    valid_comma = t.str.fullmatch(_COMMA_DECIMAL).fillna(False) & t.str.contains(r"[0-9]").fillna(False)
    valid_point = t.str.fullmatch(_POINT_DECIMAL).fillna(False) & t.str.contains(r"[0-9]").fillna(False)
    from_comma = t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    from_point = t.str.replace(",", "", regex=False)
    normalized = from_point.where(~comma_mode, from_comma)
    valid = (comma_mode & valid_comma) | (~comma_mode & valid_point)
    out = pd.to_numeric(normalized.where(valid), errors="coerce").astype("float64")
    return out.where(~negative, -out.abs())


def parse_percent(
    values: pd.Series, decimal: str = ".", *, weights: np.ndarray | None = None
) -> tuple[pd.Series, pd.Series]:
    """Fractions: '12%' / '12 %' -> 0.12, a bare number is taken as the fraction itself."""
    if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
        return parse_number(values, decimal, weights=weights)
    text = as_text(values)
    percent = text.str.endswith("%").fillna(False).astype(bool)
    out, bad = parse_number(values.where(~percent, text.str.rstrip("%")), decimal, weights=weights)
    return out.where(~percent, out / 100.0), bad


def parse_int(
    values: pd.Series, decimal: str = ".", *, weights: np.ndarray | None = None
) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (Int64); '1.200' in a decimal-comma file is 1200, '12,5' is not whole and fails."""
    out, bad = parse_number(values, decimal, weights=weights)
    fraction = out.notna() & (out != out.round())
    out = out.where(~fraction)
    return out.round().astype("Int64"), bad | fraction


def parse_date(values: pd.Series, *, bounded: bool = False) -> tuple[pd.Series, pd.Series]:
    """Days (datetime64[ns] at midnight) and the mask of non-blank values that are no valid date.

    Accepted: yyyy-mm-dd (optionally with a time), dd.mm.yyyy (optionally with a time), yyyymmdd and
    native dates / datetimes (Parquet, Excel). The time of day is dropped. Days that datetime64[ns] cannot
    hold (before MIN_DATE, after MAX_DATE) are unparseable, unless `bounded` (a column checked against
    intake.min_date and today, which lie inside): then they become MIN_DATE or MAX_DATE, so that the row
    is set aside as too early or in the future, as Spark, which holds such days, sets it aside.
    """
    blank = is_blank(values)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
        if getattr(values.dtype, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        native = pd.Series(True, index=values.index)
        text = pd.Series(pd.NA, index=values.index, dtype="str")
    elif isinstance(values.dtype, pd.StringDtype):
        native = pd.Series(False, index=values.index)
        text, out = values.str.strip(), None
    else:
        native, text = _split_native(values, (dt.date, np.datetime64))
        out = None
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if out is not None:
        parsed = pd.to_datetime(out, errors="coerce").astype("datetime64[us]")
    elif native.any():
        natives = pd.to_datetime(values.where(native).dropna(), errors="coerce", utc=False)
        if getattr(natives.dtype, "tz", None) is not None:
            natives = natives.dt.tz_localize(None)
        parsed.loc[natives.index] = natives.astype("datetime64[us]")
    formats = (
        (DATE_ISO, r"[ T].*$", "%Y-%m-%d"),
        (_DATE_DE, r",? .*$", "%d.%m.%Y"),
        (_DATE_COMPACT, None, "%Y%m%d"),
    )
    for pattern, time_part, fmt in formats:
        match = text.str.fullmatch(pattern).fillna(False).astype(bool) & ~native
        if not match.any():
            continue
        day = text[match]
        if time_part:
            day = day.str.replace(time_part, "", regex=True)
        parsed.loc[match] = pd.to_datetime(day, format=fmt, errors="coerce").astype("datetime64[us]")
    if bounded:
        parsed = parsed.clip(MIN_DATE, MAX_DATE)
    else:
        parsed = parsed.where((parsed >= MIN_DATE) & (parsed <= MAX_DATE))
    parsed = parsed.dt.floor("D").astype("datetime64[ns]")
    bad = ~blank & parsed.isna()
    return parsed, bad


def parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Booleans (nullable): true/false, 1/0, yes/no, ja/nein (also wahr/falsch, y/n, j/n, t/f, x)."""
    blank = is_blank(values)
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), pd.Series(False, index=values.index)
    text = as_text(values).str.lower()
    out = text.map(_BOOL_WORDS)
    bad = ~blank & out.isna()
    return out.astype("boolean"), bad.astype(bool)


def parse_enum(values: pd.Series) -> pd.Series:
    """Lower case, spaces and hyphens as '_' ('Lead Gen' -> 'lead_gen'); the schema checks the allowed values."""
    text = as_text(values).str.lower().str.replace(r"[ \t_-]+", "_", regex=True)
    return text.astype("str")


def _on_uniques(values: pd.Series, kind: str, decimal: str, bounded: bool) -> tuple[pd.Series, pd.Series | None]:
    """Parse each distinct text once (dates and amounts repeat a lot) and spread the result to the rows."""
    if not isinstance(values.dtype, pd.StringDtype) or len(values) < 1000:
        return parse_kind(values, kind, decimal, bounded=bounded)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if len(uniques) > len(values) // 2:
        return parse_kind(values, kind, decimal, bounded=bounded)
    rows_per_value = np.bincount(codes, minlength=len(uniques))
    parsed, bad = parse_kind(
        pd.Series(uniques, dtype=values.dtype), kind, decimal, weights=rows_per_value, bounded=bounded
    )
    parsed = pd.Series(
        parsed.to_numpy()[codes]
        if not isinstance(parsed.dtype, pd.api.extensions.ExtensionDtype)
        else parsed.array.take(codes),
        index=values.index,
        dtype=parsed.dtype,
    )
    if bad is not None:
        bad = pd.Series(bad.to_numpy()[codes], index=values.index)
    return parsed, bad


def parse_column(
    values: pd.Series, kind: str, decimal: str = ".", *, bounded: bool = False
) -> tuple[pd.Series, pd.Series | None]:
    """Typed values of one contract column and the mask of unparseable values (None for text kinds);
    `bounded`: the contract's ColumnSpec.bounded (see `parse_date`)."""
    if kind in ("float", "int", "percent", "date", "bool", "enum"):
        return _on_uniques(values, kind, decimal, bounded)
    return parse_kind(values, kind, decimal)


def parse_kind(
    values: pd.Series, kind: str, decimal: str = ".", *, weights: np.ndarray | None = None, bounded: bool = False
) -> tuple[pd.Series, pd.Series | None]:
    """Like `parse_column`, for values that may be a column's distinct values with `weights` rows each
    (only numbers use them: their decimal separator is voted by rows)."""
    if kind in ("id", "text"):
        return as_text(values), None
    if kind == "upper":
        return as_text(values).str.upper().astype("str"), None
    if kind == "enum":
        return parse_enum(values), None
    if kind == "float":
        return parse_number(values, decimal, weights=weights)
    if kind == "int":
        return parse_int(values, decimal, weights=weights)
    if kind == "percent":
        return parse_percent(values, decimal, weights=weights)
    if kind == "date":
        return parse_date(values, bounded=bounded)
    if kind == "bool":
        return parse_bool(values)
    raise ValueError(f"unknown column kind {kind!r}")


def missing_column(kind: str, n: int) -> pd.Series:
    """An optional contract column that the file does not have: all missing, with the contract's dtype."""
    return pd.Series(index=pd.RangeIndex(n), dtype=DTYPES[kind])
