"""Intake of a transactions table that Spark reads (a warehouse or lakehouse table such as
`sales.transactions`, or a cluster path such as `s3a://bucket/transactions/`): `workbook run --engine spark
--transactions sales.transactions`.

The rows are checked in Spark, against the same data contract as files (helpers.data.contract): the table's
columns are mapped through config/column_mapping.yaml, values are cast (customer_id to trimmed text, date
to a day, amounts to numbers; a value that does not cast is unparseable), and faulty rows are quarantined
with the file intake's reasons, in the same order (errors and rejected rows worded by
helpers.data.intake.messages). The session and the reading of the source are helpers.core.spark's. The
accepted rows stay a Spark DataFrame, from which Spark condenses the customer summary
(helpers.features.engines); only that summary (one row per customer, through Arrow), the counts and the
listed rejected rows reach this process. The executors write the accepted rows' contract columns as Parquet
parts into the month's folder (`write_accepted`), where the later notebooks ask their per-day and
per-customer questions of them in DuckDB.

Differences from files, because a table is not a file: a table is typed, so text such as `1.234,56` is not
parsed (a text column must hold plain numbers and ISO dates); rows have no line numbers (`source_row` is
empty); of two identical rows one is kept, but which one is not defined; rows after the analysis month are
counted but not listed in rejected_rows.csv (a table that spans years would list most of itself), and of
each other reason the first LISTED_PER_REASON rows are listed and the rest counted (a broken column of a
warehouse table would otherwise bring millions of rows to this process).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from helpers.core import spark as spark_setup
from helpers.core.config import Settings
from helpers.core.errors import UsageError
from helpers.data.contract import AFTER_ANALYSIS_MONTH, CONTRACT, RowLimits, row_checks
from helpers.data.intake.columns import match_columns
from helpers.data.intake.messages import (
    REJECTED_COLUMNS,
    clipped,
    empty_rejected,
    missing_table_columns_error,
)
from helpers.data.intake.result import COUNT_COLUMNS, IntakeResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

TABLE = "transactions"
NOT_LISTED = ("after_analysis_month",)
LISTED_PER_REASON = 10_000  # rejected_rows.csv stays readable in a spreadsheet, and small on the driver


def _typed(frame: SparkDataFrame, match: dict[str, str]):
    """Spark columns of the contract's typed values, and of parse failures (value present, cast failed)."""
    from pyspark.sql import functions as F

    typed, failed = {}, {}
    for column in CONTRACT[TABLE].columns:
        if column.name not in match:
            kind = {"float": "double", "date": "timestamp"}.get(column.kind, "string")
            typed[column.name] = F.lit(None).cast(kind)
            continue
        source = F.col(f"`{match[column.name]}`")
        if column.kind in ("id", "text", "upper"):
            text = F.trim(source.cast("string"))
            text = F.when(text == "", None).otherwise(text)
            typed[column.name] = F.upper(text) if column.kind == "upper" else text
        elif column.kind == "float":
            number = source.cast("double")
            finite = number.isNotNull() & ~F.isnan(number) & (F.abs(number) != float("inf"))
            typed[column.name] = F.when(finite, number)
            present = source.isNotNull() & (F.trim(source.cast("string")) != "")
            failed[column.name] = present & ~finite
        elif column.kind == "date":
            day = F.to_date(source)
            typed[column.name] = day.cast("timestamp")
            present = source.isNotNull() & (F.trim(source.cast("string")) != "")
            failed[column.name] = present & day.isNull()
    return typed, failed


def _reason(typed, failed, limits: RowLimits):
    """The Spark columns of each row's quarantine reason (null: accepted), first in REASON_ORDER, and of
    the contract column it is about."""
    from pyspark.sql import functions as F

    def day(value: pd.Timestamp):
        return F.lit(pd.Timestamp(value).to_pydatetime())

    test = {
        "missing": lambda c: typed[c].isNull(),
        "unparseable": lambda c: failed[c],
        "too_long": lambda c: F.length(typed[c]) > limits.max_field_length,
        "too_large": lambda c: F.abs(typed[c]) > limits.max_amount,
        "too_early": lambda c: typed[c] < day(limits.min_date),
        "in_future": lambda c: typed[c] > day(limits.today),
        "after_end": lambda c: typed[c] > day(limits.analysis_end),
        "negative": lambda c: typed[c] < 0,
    }
    conditions: dict[tuple[str, str], Any] = {}
    has_end = limits.analysis_end is not None
    for check in row_checks(TABLE, parsed=failed, has_end=has_end, refunds=limits.refunds):
        key, condition = (check.reason, check.column), test[check.test](check.column)
        conditions[key] = conditions[key] | condition if key in conditions else condition
    reason = column = None
    for (name, about), condition in conditions.items():
        if reason is None:
            reason, column = F.when(condition, F.lit(name)), F.when(condition, F.lit(about))
        else:
            reason, column = reason.when(condition, F.lit(name)), column.when(condition, F.lit(about))
    return reason, column


def check_table(
    source: str | SparkDataFrame,
    mapping: dict,
    settings: Settings,
    analysis_end,
    spark: SparkSession | None = None,
    *,
    today: Any = None,
    find_repeats: bool = True,
) -> tuple[SparkDataFrame, IntakeResult]:
    """Check the rows of a Spark-readable transactions source (against the limits of the settings, the
    analysis end and `today`, default today's date here). Returns the accepted rows (a Spark DataFrame
    with the contract's columns) and an IntakeResult with the counts, the listed rejected rows and the
    accepted customers' ids (its transaction_parts are empty: see `write_accepted`). `find_repeats=False`
    keeps identical rows (a shuffle of every row less) for questions they cannot change, such as which
    months the data cover."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = spark_setup.session(spark)
    frame, _ = spark_setup.source_frame(spark, source)
    name = source if isinstance(source, str) else "Spark DataFrame"
    columns = list(frame.columns)
    limits = RowLimits.of(settings.intake, analysis_end, today)
    match = match_columns(columns, TABLE, mapping, file=name, what="table")
    missing = [c for c in CONTRACT[TABLE].required_columns if c not in match.columns]
    if missing:
        raise missing_table_columns_error(name, columns, missing)
    # rows without any value are skipped and not counted, as in files
    frame = frame.where(F.greatest(*[F.col(f"`{c}`").isNotNull().cast("int") for c in columns]) == 1)
    typed, failed = _typed(frame, match.columns)
    checked = frame.select(
        *[F.col(f"`{c}`") for c in columns],
        *[value.alias(f"__v_{key}") for key, value in typed.items()],
    )
    typed_columns = {key: F.col(f"__v_{key}") for key in typed}
    failed_columns = {}
    for key, condition in failed.items():  # failure columns over the typed values of the same row
        checked = checked.withColumn(f"__f_{key}", condition)
        failed_columns[key] = F.col(f"__f_{key}")
    reason, about = _reason(typed_columns, failed_columns, limits)
    checked = checked.withColumn("__reason", reason).withColumn("__about", about)
    if find_repeats:
        # identical rows among those without another fault: one is kept
        window = Window.partitionBy(F.col("__reason").isNull(), *[F.col(f"`{c}`") for c in columns]).orderBy(F.lit(1))
        repeat = F.col("__reason").isNull() & (F.row_number().over(window) > 1)
        checked = checked.withColumns({
            "__reason": F.when(repeat, F.lit("duplicate_row")).otherwise(F.col("__reason")),
            "__about": F.when(repeat, F.lit(None).cast("string")).otherwise(F.col("__about")),
        })
    checked = checked.persist()
    by_reason = {row["__reason"]: int(row["count"]) for row in checked.groupBy("__reason").count().collect()}
    read = sum(by_reason.values())
    accepted_rows = by_reason.pop(None, 0)
    unlisted = {reason: count - min(count, _listed_at_most(reason))
                for reason, count in by_reason.items() if count > _listed_at_most(reason)}
    listed = checked.where(F.col("__reason").isNotNull() & ~F.col("__reason").isin(*NOT_LISTED))
    if set(unlisted) - set(NOT_LISTED):
        place = F.row_number().over(Window.partitionBy("__reason").orderBy(F.lit(1)))
        listed = listed.withColumn("__place", place).where(F.col("__place") <= LISTED_PER_REASON)
    rejected = listed.select(
        F.col("__reason").alias("reason"),
        F.col("__about").alias("about"),
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns])).alias("raw"),
        *[F.col(f"`{source_column}`").cast("string").alias(f"__raw_{key}") for key, source_column in match.columns.items()],
    ).toPandas()
    rejected_table = _rejected_table(name, rejected, match.columns)
    accepted = checked.where(F.col("__reason").isNull()).select(
        *[F.col(f"__v_{key}").alias(key) for key in typed]
    )
    counts = pd.DataFrame(
        [{"table": TABLE, "source_file": name, "read": read, "accepted": accepted_rows,
          "rejected": read - accepted_rows}],
        columns=COUNT_COLUMNS,
    )
    result = IntakeResult(
        transaction_parts=[],
        accounts=None,
        service_map=None,
        rejected=rejected_table,
        counts=counts,
        ignored_columns={TABLE: list(match.ignored)} if match.ignored else {},
        engines={name: "spark"},
        unlisted_rejections={(TABLE, reason): count for reason, count in unlisted.items()},
        # a client whose rows all lie after the analysis month is a customer already, not an unknown one
        customer_source=lambda: _customer_ids(checked.where(
            F.col("__reason").isNull() | (F.col("__reason") == AFTER_ANALYSIS_MONTH)
        ).select(F.col("__v_customer_id").alias("customer_id"))),
        tables_given=frozenset({TABLE}),
    )
    return accepted, result


def _listed_at_most(reason: str) -> int:
    return 0 if reason in NOT_LISTED else LISTED_PER_REASON


def _customer_ids(accepted: SparkDataFrame) -> pd.Index:
    """The distinct customer ids of the known customers' rows, collected (only when accounts or a service map are
    checked against them: helpers.data.intake.result.IntakeResult.merged)."""
    ids = accepted.select("customer_id").distinct().toPandas()["customer_id"]
    return pd.Index(ids.dropna().astype(object).unique(), dtype=object)


def _rejected_table(name: str, rejected: pd.DataFrame, match: dict[str, str]) -> pd.DataFrame:
    if rejected.empty:
        return empty_rejected()
    about = rejected["about"]
    value = pd.Series("", index=rejected.index, dtype="str")
    for key in match:
        hit = (about == key).to_numpy()
        value[hit] = rejected.loc[hit, f"__raw_{key}"].fillna("").astype("str").map(clipped)
    return pd.DataFrame(
        {
            "table": TABLE,
            "source_file": name,
            "source_row": pd.array([pd.NA] * len(rejected), dtype="Int64"),  # a table has no line numbers
            "reason": rejected["reason"].astype("str"),
            "column": about.map(match).astype("str"),
            "value": value,
            "raw": rejected["raw"].astype("str").map(clipped),
        },
        columns=REJECTED_COLUMNS,
    )


def write_accepted(accepted: SparkDataFrame, target: Path, shared_dir: str | Path = "",
                   expected_rows: int | None = None) -> Path:
    """The accepted rows' contract columns, written by the executors as a folder of Parquet part files at
    `target` (days as timestamps in microseconds without a time zone, as pandas and DuckDB read them): no
    row passes through this process. The executors write into `shared_dir` when given (a folder that they
    and this machine both see), else into target's folder, which must then be on storage they share; the
    parts are then moved to `target`. With `expected_rows` (the accepted count), parts that this machine
    does not see (the folder is not shared with the executors) stop the run with the fix."""
    from pyspark.sql import functions as F

    # a day without a time zone (TIMESTAMP_NTZ), as the file intake writes it; the session runs in UTC
    accepted = accepted.withColumn("date", F.col("date").cast("timestamp_ntz"))
    spark = accepted.sparkSession
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    base = Path(shared_dir) if shared_dir else target.parent
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".spark-accepted-", dir=base))
    written = folder / "parts"
    staged = target.with_name(target.name + ".tmp")
    try:
        with spark_setup.setting_kept(spark, "spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"):
            # a file:// URI: the shared folder, never the cluster's default file system (HDFS on YARN)
            accepted.write.mode("overwrite").parquet(spark_setup.file_uri(written))
        parts = sorted(written.glob("part-*.parquet"))
        seen = sum(pq.ParquetFile(part).metadata.num_rows for part in parts)
        if expected_rows is not None and seen != expected_rows:
            raise UsageError(
                f"the Spark executors wrote the {expected_rows:,} accepted rows to {written}, and this machine sees "
                f"{seen:,} of them there: that folder is not on storage the executors share with this machine. "
                "Set spark.accepted_rows_dir in the settings to a folder both see (e.g. an NFS mount), or run "
                "the workbook where the data/processed folder is shared with the cluster"
            )
        _remove(staged)
        staged.mkdir()
        for number, part in enumerate(parts):
            shutil.move(part, staged / f"part-{number:05d}.parquet")  # a copy when shared_dir is another disk
        _remove(target)
        staged.replace(target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _remove(staged)
    return target


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
