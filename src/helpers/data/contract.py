"""The data contract of the workbook's inputs, in one place.

Three tables come in: `transactions` (required), `accounts` and `service_map` (optional). Each column
has a kind that says how raw values are parsed (see helpers.data.intake.columns) and, after parsing, a pandera
schema checks the rows (see `row_schema` and `unique_schema`). helpers.data.intake.in_pandas maps the schema's
failure cases back to source rows: rows with faults are quarantined, faults of the whole file stop the run
with a DataContractError. The engines that check rows in SQL follow the same rules (`row_checks`). The
limits of a plausible row (intake.max_amount, intake.min_date, intake.max_field_length, today) are one
`RowLimits` per intake; REASON_ORDER says which reason a row with several faults gets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

from helpers.core.config import IntakeSettings
from helpers.core.errors import WorkbookError

TABLES = ("transactions", "accounts", "service_map")
MAPPING_FILE_HINT = "config/column_mapping.yaml"

# Kinds of columns, i.e. how raw values are parsed:
#   id     - identifier: text, surrounding spaces stripped, integral numbers written without ".0"
#   text   - free text, surrounding spaces stripped
#   upper  - text in upper case (currency codes)
#   enum   - one of `allowed` after lower-casing and turning spaces/hyphens into "_"
#   float  - number, decimal comma or point, thousands separators and currency symbols allowed
#   int    - number that must be whole (stored as Int64)
#   percent- number; "12%" and "12 %" mean 0.12, a bare number is taken as the fraction
#   date   - yyyy-mm-dd (optional time), dd.mm.yyyy, yyyymmdd, or native datetimes
#   bool   - true/false/1/0/yes/no/ja/nein (and wahr/falsch, y/n, j/n)
KINDS = ("id", "text", "upper", "enum", "float", "int", "percent", "date", "bool")
NUMERIC_KINDS = ("float", "int", "percent")
PARSED_KINDS = ("float", "int", "percent", "date", "bool")
TEXT_KINDS = ("id", "text", "upper", "enum")  # values longer than intake.max_field_length are row faults

FUNNEL_TYPES = ("retail", "lead_gen", "business_industry")
FUNNEL_STAGES = ("see", "think", "do", "care")
SERVICE_KINDS = ("operations", "consulting")


class DataContractError(WorkbookError, ValueError):
    """A file that cannot be used as a whole. The message names the file, the column, example rows and the fix."""

    def __init__(
        self, message: str, *, file: str | None = None, column: str | None = None, fix: str | None = None
    ):
        super().__init__(message)
        self.file = file
        self.column = column
        self.fix = fix


@dataclass(frozen=True)
class ColumnSpec:
    """`bounded`: a money column whose absolute value must not exceed intake.max_amount (float), or a day
    that must lie between intake.min_date and today (date)."""

    name: str
    kind: str
    required: bool = False
    allowed: tuple[str, ...] = ()
    description: str = ""
    bounded: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...]
    required: bool = False
    unique_key: str | None = None  # a column whose repeats are quarantined (first row kept)
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)


CONTRACT: dict[str, TableSpec] = {
    "transactions": TableSpec(
        "transactions",
        (
            ColumnSpec("customer_id", "id", required=True, description="customer number"),
            ColumnSpec(
                "date", "date", required=True, description="day of the purchase (invoice date)", bounded=True
            ),
            ColumnSpec(
                "amount", "float", required=True, description="revenue; negative = refund / credit note",
                bounded=True,
            ),
            ColumnSpec("order_id", "id", description="order or invoice number"),
            ColumnSpec("quantity", "float", description="units"),
            ColumnSpec("category", "text", description="product or service line"),
            ColumnSpec("cost", "float", description="cost of the line, for contribution margin", bounded=True),
            ColumnSpec("currency", "upper", description="currency code, e.g. EUR"),
        ),
        required=True,
        description="one row per purchase (or invoice line)",
    ),
    "accounts": TableSpec(
        "accounts",
        (
            ColumnSpec("customer_id", "id", required=True, description="customer number"),
            ColumnSpec("name", "text", description="company or customer name"),
            ColumnSpec("industry", "text", description="industry"),
            ColumnSpec("funnel_type", "enum", allowed=FUNNEL_TYPES, description="kind of sales funnel"),
            ColumnSpec("employees", "int", description="number of employees"),
            ColumnSpec("marketing_budget", "float", description="yearly marketing budget"),
            ColumnSpec(
                "yoy_growth", "percent", description="growth year over year as a fraction, 0.12 = +12%"
            ),
            ColumnSpec("region", "text", description="region"),
            ColumnSpec("business_model", "text", description="e.g. B2B, B2C"),
            ColumnSpec("acquired_on", "date", description="customer since"),
        ),
        unique_key="customer_id",
        description="one row per customer",
    ),
    "service_map": TableSpec(
        "service_map",
        (
            ColumnSpec("customer_id", "id", required=True, description="customer number"),
            ColumnSpec(
                "funnel_stage",
                "enum",
                required=True,
                allowed=FUNNEL_STAGES,
                description="see / think / do / care",
            ),
            ColumnSpec(
                "service_kind",
                "enum",
                required=True,
                allowed=SERVICE_KINDS,
                description="operations / consulting",
            ),
            ColumnSpec("channel", "text", description="channel, e.g. SEO, SEA, e-mail"),
            ColumnSpec("active", "bool", description="service currently active"),
            ColumnSpec("started_on", "date", description="first day of the service (dates contract clients)"),
            ColumnSpec(
                "ended_on", "date", description="first day without the service; empty while it runs"
            ),
        ),
        description="which services a customer gets, per funnel stage",
    ),
}

# pandas dtype of each kind after parsing
DTYPES = {
    "id": "str",
    "text": "str",
    "upper": "str",
    "enum": "str",
    "float": "float64",
    "int": "Int64",
    "percent": "float64",
    "date": "datetime64[ns]",
    "bool": "boolean",
}

ROW_KEY = "_row_key"  # hash of the raw row, for exact duplicates


def _bounded(kind: str) -> list[ColumnSpec]:
    return [c for t in CONTRACT.values() for c in t.columns if c.bounded and c.kind == kind]


# Row-level reasons, in the order in which one is chosen when a row has several faults: a value that is
# missing or does not parse, then a value outside the limits (intake.max_field_length, intake.max_amount,
# intake.min_date, today), then repeats, then rows that are fine but outside the analysis (after the month,
# refunds under `quarantine`), last the rows whose customer has no accepted transaction (checked once all
# transactions are known: helpers.data.intake.result). A row dated after today is `date_in_future`, even
# when it is after the analysis month too.
REASON_ORDER = [
    "missing_customer_id",
    "unparseable_date",
    "unparseable_amount",
    *[f"unparseable_{c.name}" for t in CONTRACT.values() for c in t.columns if c.kind in PARSED_KINDS],
    "field_too_long",
    *[f"{c.name}_too_large" for c in _bounded("float")],
    *[f"{c.name}_too_early" for c in _bounded("date")],
    *[f"{c.name}_in_future" for c in _bounded("date")],
    "duplicate_row",
    "duplicate_customer_id",
    "after_analysis_month",
    "negative_amount",
    "unknown_customer",
]
REASON_ORDER = list(dict.fromkeys(REASON_ORDER))
UNKNOWN_CUSTOMER = "unknown_customer"
AFTER_ANALYSIS_MONTH = "after_analysis_month"


@dataclass(frozen=True)
class RowLimits:
    """What the row checks compare values with, fixed once per intake (every file of a run is checked
    against the same day). `today`: the day the intake runs, the machine's local date unless the caller
    gives one (a test, or a run that replays a past day); `analysis_end`: the last day of the analysis
    month, inclusive (None: no such check)."""

    today: pd.Timestamp
    analysis_end: pd.Timestamp | None
    min_date: pd.Timestamp
    max_amount: float
    max_field_length: int
    refunds: str

    @classmethod
    def of(cls, intake: IntakeSettings, analysis_end: Any = None, today: Any = None) -> RowLimits:
        """The limits of the settings' intake section; `analysis_end` a day or a month (pd.Period: its last
        day), `today` a day (default: today's date on this machine)."""
        if isinstance(analysis_end, pd.Period):
            analysis_end = analysis_end.end_time
        return cls(
            today=pd.Timestamp(dt.date.today() if today is None else today).normalize(),
            analysis_end=None if analysis_end is None else pd.Timestamp(analysis_end).normalize(),
            min_date=pd.Timestamp(intake.min_date),
            max_amount=float(intake.max_amount),
            max_field_length=int(intake.max_field_length),
            refunds=intake.refunds,
        )


@dataclass(frozen=True)
class RowCheck:
    """One row-level check, for the engines that check rows in SQL (helpers.data.intake.in_duckdb,
    helpers.data.intake.in_spark). `test`, against the RowLimits of the intake:
      missing     - no value after parsing           unparseable - a value that did not parse
      too_long    - text longer than max_field_length  too_large - |number| above max_amount
      too_early   - a day before min_date            in_future   - a day after today
      after_end   - a day after the analysis end     negative    - an amount below zero"""

    reason: str
    column: str
    test: str


def row_checks(table: str, *, parsed: Iterable[str], has_end: bool, refunds: str) -> list[RowCheck]:
    """The row checks of `table`, in the order in which a row's reason is chosen (REASON_ORDER; checks of
    one reason in the contract's column order); the same rules as `row_schema`. `parsed`: the columns
    whose parse failures are flagged."""
    spec = CONTRACT[table]
    parsed = set(parsed)
    checks = []
    for col in spec.columns:
        if col.required and col.kind in ("id", "date", "float"):  # not nullable, as in row_schema
            reason = "missing_customer_id" if col.name == "customer_id" else f"unparseable_{col.name}"
            checks.append(RowCheck(reason, col.name, "missing"))
        if col.name in parsed:
            checks.append(RowCheck(f"unparseable_{col.name}", col.name, "unparseable"))
        if col.kind in TEXT_KINDS:
            checks.append(RowCheck("field_too_long", col.name, "too_long"))
        if col.bounded and col.kind == "float":
            checks.append(RowCheck(f"{col.name}_too_large", col.name, "too_large"))
        if col.bounded and col.kind == "date":
            checks.append(RowCheck(f"{col.name}_too_early", col.name, "too_early"))
            checks.append(RowCheck(f"{col.name}_in_future", col.name, "in_future"))
    if table == "transactions" and has_end:
        checks.append(RowCheck("after_analysis_month", "date", "after_end"))
    if table == "transactions" and refunds == "quarantine":
        checks.append(RowCheck("negative_amount", "amount", "negative"))
    order = {reason: i for i, reason in enumerate(REASON_ORDER)}
    return sorted(checks, key=lambda check: order[check.reason])  # stable: "missing" before "unparseable"


def reason_column(table: str, reason: str) -> str | None:
    """The contract column a row reason is about (None: the whole row, e.g. duplicate_row; the first
    text column for field_too_long, which is about any of them)."""
    if reason == UNKNOWN_CUSTOMER:
        return "customer_id"
    parsed = [c.name for c in CONTRACT[table].columns if c.kind in PARSED_KINDS]
    for check in row_checks(table, parsed=parsed, has_end=True, refunds="quarantine"):
        if check.reason == reason:
            return check.column
    return None


def empty_frame(table: str) -> pd.DataFrame:
    """A frame with the table's contract columns and dtypes and no rows."""
    spec = CONTRACT[table]
    return pd.DataFrame({c.name: pd.Series(dtype=DTYPES[c.kind]) for c in spec.columns})


def _not_failed(mask: pd.Series, name: str) -> pa.Check:
    # `mask` marks rows whose raw value could not be parsed; aligned on the frame's index
    return pa.Check(lambda s, m=mask: ~m.reindex(s.index, fill_value=False), name=name, ignore_na=False)


def row_schema(
    table: str,
    limits: RowLimits,
    *,
    parse_failures: Mapping[str, pd.Series] | None = None,
) -> pa.DataFrameSchema:
    """Schema of the row checks of `table` after parsing, against the intake's `limits`.

    Check names are the quarantine reasons (`unparseable_<column>`, `field_too_long`, `amount_too_large`,
    `date_in_future`, `after_analysis_month`, `negative_amount`, ...: REASON_ORDER); `not_nullable` on a
    required column is a missing / unparseable value and `allowed_values` on an enum column is a fault of
    the file. The same rules as `row_checks`.
    """
    spec = CONTRACT[table]
    parse_failures = parse_failures or {}
    columns: dict[str, pa.Column] = {}
    for col in spec.columns:
        checks: list[pa.Check] = []
        if col.name in parse_failures:
            checks.append(_not_failed(parse_failures[col.name], f"unparseable_{col.name}"))
        if col.kind in TEXT_KINDS:
            longest = limits.max_field_length
            checks.append(pa.Check(lambda s, n=longest: s.str.len() <= n, name="field_too_long"))
        if col.kind == "enum":
            checks.append(pa.Check(lambda s, a=list(col.allowed): s.isin(a), name="allowed_values"))
        if col.bounded and col.kind == "float":
            largest = limits.max_amount
            checks.append(pa.Check(lambda s, m=largest: s.abs() <= m, name=f"{col.name}_too_large"))
        if col.bounded and col.kind == "date":
            checks.append(pa.Check(lambda s, d=limits.min_date: s >= d, name=f"{col.name}_too_early"))
            checks.append(pa.Check(lambda s, d=limits.today: s <= d, name=f"{col.name}_in_future"))
        if table == "transactions" and col.name == "date" and limits.analysis_end is not None:
            checks.append(pa.Check(lambda s, end=limits.analysis_end: s <= end, name="after_analysis_month"))
        if table == "transactions" and col.name == "amount" and limits.refunds == "quarantine":
            checks.append(pa.Check(lambda s: s >= 0, name="negative_amount"))
        nullable = not (col.required and col.kind in ("id", "date", "float"))
        columns[col.name] = pa.Column(DTYPES[col.kind], checks=checks, nullable=nullable, required=True)
    return pa.DataFrameSchema(columns, name=f"{table}_rows", strict=False)


def unique_schema(table: str) -> pa.DataFrameSchema:
    """Schema of the uniqueness checks of `table`: exact duplicate rows and repeated keys (first kept)."""
    spec = CONTRACT[table]
    columns = {ROW_KEY: pa.Column("uint64", unique=True, report_duplicates="exclude_first")}
    if spec.unique_key:
        columns[spec.unique_key] = pa.Column(
            DTYPES[spec.column(spec.unique_key).kind], unique=True, report_duplicates="exclude_first"
        )
    return pa.DataFrameSchema(columns, name=f"{table}_unique", strict=False)


def reason_for(table: str, column: str | None, check: str) -> str | None:
    """The quarantine reason of one pandera failure case, or None if it is not a row-level fault."""
    if check == "not_nullable":
        return "missing_customer_id" if column == "customer_id" else f"unparseable_{column}"
    if check == "field_uniqueness":
        if column == ROW_KEY:
            return "duplicate_row"
        return f"duplicate_{column}"
    if check in REASON_ORDER:
        return check
    return None
