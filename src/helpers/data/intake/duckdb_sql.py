"""The SQL of the DuckDB intake (helpers.data.intake.in_duckdb): a contract column's typed value from the
file's raw column, and each row's quarantine reason, from the contract's row checks (helpers.data.contract
`row_checks`) against the intake's limits (`RowLimits`).

Plain values take SQL fast paths that give what the pandas parsers give; every other value is parsed by
the pandas functions (helpers.data.intake.columns) once per distinct value, its result joined back.
"""

from __future__ import annotations

import pandas as pd

from helpers.data.contract import RowLimits, row_checks
from helpers.data.intake.columns import (
    DATE_ISO,
    MAX_DATE,
    MIN_DATE,
    column_decimal,
    number_votes,
    parse_kind,
    parse_number,
)

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
FLOAT_TYPES = ("FLOAT", "DOUBLE")
DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
SUPPORTED_TYPES = ("VARCHAR", "BOOLEAN", *INTEGER_TYPES, *FLOAT_TYPES, *DATE_TYPES)
# plain decimal numbers: the same value whatever the column's decimal separator ('1.234' is not plain)
_PLAIN_NUMBER = r"[+-]?[0-9]*\.?[0-9]+"
_THOUSANDS_GROUP = r"[+-]?[0-9]{1,3}\.[0-9]{3}"


class NotForEngine(Exception):
    """A file the engine cannot read exactly as the pandas intake would; the message says why."""


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def blank_sql(ident: str, kind: str) -> str:
    if kind == "VARCHAR":
        return f"({ident} IS NULL OR py_strip({ident}) = '')"
    if kind in FLOAT_TYPES:
        return f"({ident} IS NULL OR isnan({ident}))"
    return f"({ident} IS NULL)"


def _register_mapping(con, name: str, raw: pd.Series, values: pd.Series, bad: pd.Series | None) -> None:
    mapping = pd.DataFrame(
        {
            "raw": raw.reset_index(drop=True),
            "value": values.reset_index(drop=True),
            "bad": (bad.reset_index(drop=True) if bad is not None else pd.Series(False, index=range(len(raw)))).astype(bool),
        }
    )
    con.register(f"{name}_frame", mapping)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_frame")
    con.unregister(f"{name}_frame")


def _distinct(con, ident: str, where: str = "true") -> pd.DataFrame:
    frame = con.execute(
        f"SELECT {ident} AS raw, count(*) AS rows FROM raw WHERE {ident} IS NOT NULL AND {where} GROUP BY {ident}"
    ).df()
    frame["raw"] = frame["raw"].astype("str")
    return frame


def typed_column(con, column, ident: str, kind: str, decimal: str) -> tuple[str, str | None, str | None]:
    """SQL of one contract column's typed value, of its parse failure (None: cannot fail), and the mapping
    table to join (None: no join). Raises NotForEngine for a source type the path does not convert."""
    base = kind.split("(")[0]
    name = f"map_{column.name}"
    blank = blank_sql(f"raw.{ident}", kind)
    if column.kind in ("id", "text"):
        if base == "VARCHAR":
            return f"NULLIF(py_strip(raw.{ident}), '')", None, None
        if base in INTEGER_TYPES:
            return f"CAST(raw.{ident} AS VARCHAR)", None, None
    elif column.kind == "upper" and base == "VARCHAR":
        distinct = _distinct(con, ident)
        values, _ = parse_kind(distinct["raw"], "upper")
        _register_mapping(con, name, distinct["raw"], values.astype(object), None)
        return f"{name}.value", None, f"LEFT JOIN {name} ON raw.{ident} = {name}.raw"
    elif column.kind == "float":
        if base in (*INTEGER_TYPES, *FLOAT_TYPES, "DECIMAL"):
            number = f"CAST(raw.{ident} AS DOUBLE)"
            return f"CASE WHEN isfinite({number}) THEN {number} END", f"NOT {blank} AND NOT isfinite({number})", None
        if base == "VARCHAR":
            # plain decimals ('12.5', '-3') mean the same whatever the column's separator and are cast in
            # SQL; the rest ('12,50', '1.234', '€ 12') is parsed in pandas once per distinct value
            plain = (  # (no 300-digit numbers: those overflow, and pandas calls them unparseable)
                f"(length({ident}) < 300 AND regexp_full_match({ident}, {literal(_PLAIN_NUMBER)}) "
                f"AND NOT regexp_full_match({ident}, {literal(_THOUSANDS_GROUP)}))"
            )
            con.execute(
                f"CREATE TABLE {name}_scan AS SELECT {ident} AS raw, {plain} AS plain FROM raw WHERE {ident} IS NOT NULL"
            )
            point_votes = con.execute(
                f"SELECT count(*) FROM {name}_scan WHERE plain AND contains(raw, '.')"
            ).fetchone()[0]
            distinct = con.execute(
                f"SELECT raw, count(*) AS rows FROM {name}_scan WHERE NOT plain GROUP BY raw"
            ).df()
            con.execute(f"DROP TABLE {name}_scan")
            distinct["raw"] = distinct["raw"].astype("str")
            votes_comma, votes_point = number_votes(distinct["raw"].str.strip(), distinct["rows"].to_numpy())
            column_separator = column_decimal(decimal, votes_comma, votes_point + int(point_votes))
            values, bad = parse_number(distinct["raw"], column_separator, decided=True)
            _register_mapping(con, name, distinct["raw"], values, bad)
            # a value missing from the mapping is plain (or empty)
            value = f"CASE WHEN {name}.raw IS NULL THEN TRY_CAST(raw.{ident} AS DOUBLE) ELSE {name}.value END"
            return value, f"coalesce({name}.bad, false)", f"LEFT JOIN {name} ON raw.{ident} = {name}.raw"
    elif column.kind == "date":
        if base in DATE_TYPES:
            first, last = f"TIMESTAMP '{MIN_DATE}'", f"TIMESTAMP '{MAX_DATE}'"
            if column.bounded:  # as parse_date(bounded=True): too early or in the future, not unparseable
                day = f"CAST(date_trunc('day', raw.{ident}) AS TIMESTAMP)"
                clipped = f"CASE WHEN {day} < {first} THEN {first} WHEN {day} > {last} THEN {last} ELSE {day} END"
                return clipped, "false", None
            in_range = f"raw.{ident} BETWEEN {first} AND {last}"
            value = f"CASE WHEN {in_range} THEN CAST(date_trunc('day', raw.{ident}) AS TIMESTAMP) END"
            return value, f"raw.{ident} IS NOT NULL AND NOT ({in_range})", None
        if base == "VARCHAR":
            # '2024-03-05 14:30' and '2024-03-05' are the same day: parse each distinct day once
            con.execute(
                f"CREATE TABLE {name}_keys AS SELECT raw, CASE WHEN regexp_full_match(raw, {literal(DATE_ISO)}) "
                f"THEN regexp_replace(raw, '[ T].*$', '') ELSE raw END AS day "
                f"FROM (SELECT DISTINCT {ident} AS raw FROM raw WHERE {ident} IS NOT NULL)"
            )
            days = con.execute(f"SELECT DISTINCT day FROM {name}_keys").df()["day"].astype("str")
            values, bad = parse_kind(days, "date", bounded=column.bounded)
            _register_mapping(con, f"{name}_days", days, values, bad)
            con.execute(
                f"CREATE TABLE {name} AS SELECT k.raw, d.value, d.bad FROM {name}_keys k JOIN {name}_days d ON k.day = d.raw"
            )
            return f"{name}.value", f"coalesce({name}.bad, false)", f"LEFT JOIN {name} ON raw.{ident} = {name}.raw"
    raise NotForEngine(f"column '{column.name}' of type {kind} is converted by the pandas reader")


def reason_conditions(
    table: str, typed: dict[str, str], bad: dict[str, str], limits: RowLimits
) -> list[tuple[str, str, str]]:
    """(reason, contract column, SQL condition) in the order in which a row's reason is chosen; `typed`:
    contract column -> SQL of its typed value, `bad`: -> SQL of its parse failure."""
    def day(value: pd.Timestamp) -> str:
        return f"TIMESTAMP '{pd.Timestamp(value)}'"

    sql = {
        "missing": lambda c: f"{typed[c]} IS NULL",
        "unparseable": lambda c: bad[c],
        "too_long": lambda c: f"length({typed[c]}) > {int(limits.max_field_length)}",
        "too_large": lambda c: f"abs({typed[c]}) > {float(limits.max_amount)!r}",
        "too_early": lambda c: f"{typed[c]} < {day(limits.min_date)}",
        "in_future": lambda c: f"{typed[c]} > {day(limits.today)}",
        "after_end": lambda c: f"{typed[c]} > {day(limits.analysis_end)}",
        "negative": lambda c: f"{typed[c]} < 0",
    }
    grouped: dict[tuple[str, str], list[str]] = {}
    has_end = limits.analysis_end is not None
    for check in row_checks(table, parsed=bad, has_end=has_end, refunds=limits.refunds):
        grouped.setdefault((check.reason, check.column), []).append(sql[check.test](check.column))
    return [(reason, column, "(" + " OR ".join(conditions) + ")") for (reason, column), conditions in grouped.items()]
