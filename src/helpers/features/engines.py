"""Where the aggregation step (transaction log -> one row per customer) runs: DuckDB or Spark.

The query is written once, in `helpers.features.summary` (DuckDB's dialect); the Spark engine runs the same query
transpiled by sqlglot (`summary_sql(..., dialect="spark")`). Everything after the summary (one row per
customer) stays in-process, in pandas, whatever the engine.

- ``duckdb`` (default, embedded): a pandas DataFrame or a Parquet/CSV path.
- ``spark``: a Parquet/CSV path, a table name of the session's catalog, a Spark DataFrame or a pandas
  DataFrame, in the session that `helpers.core.spark` finds or starts (`spark_session` first; a local
  session is made on first use by `local_spark_session` and stopped at exit or by `stop_spark_session`).

The columns read are customer_id, date, amount and, when present, cost (same rules as `helpers.features.summary`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers.core.errors import UsageError
from helpers.core.spark import (  # the session functions are also this engine's API (README, tests)
    day_of_nanos,
    local_spark_session,
    nanos_setting_kept,
    session,
    source_frame,
    spark_unavailable_reason,
    stop_spark_session,
)
from helpers.features import summary

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "ENGINES",
    "local_spark_session",
    "spark_unavailable_reason",
    "stop_spark_session",
    "summarise",
    "summarise_calibration_holdout",
]

ENGINES = ("duckdb", "spark")
_COLUMNS = ["customer_id", "date", "amount"]


# --- the two entry points -------------------------------------------------------------------------------


def summarise(
    transactions_source,
    observation_end,
    unit_days: float = 7.0,
    engine: str = "duckdb",
    spark_session: SparkSession | None = None,
) -> pd.DataFrame:
    """`helpers.features.summary.customer_summary` on the chosen engine: SUMMARY_COLUMNS, one row per customer with
    a purchase day up to `observation_end`, sorted by customer_id, as a pandas DataFrame."""
    if _engine(engine, transactions_source) == "duckdb":
        return summary.customer_summary(transactions_source, observation_end, unit_days=unit_days)
    summary.summary_sql("check", False, observation_end, unit_days)  # bad arguments fail before Spark starts
    spark = session(spark_session)
    with _registered(spark, transactions_source) as (view, has_cost):
        query = summary.summary_sql(view, has_cost, observation_end, unit_days, dialect="spark")
        frame = spark.sql(query).toPandas()
    return _conform(summary.summary_frame(frame))


def summarise_calibration_holdout(
    transactions_source,
    calibration_end,
    observation_end,
    unit_days: float = 7.0,
    engine: str = "duckdb",
    spark_session: SparkSession | None = None,
) -> pd.DataFrame:
    """`helpers.features.summary.calibration_holdout_summary` on the chosen engine: the calibration summary (up to
    `calibration_end`) plus HOLDOUT_COLUMNS for the window (calibration_end, observation_end]."""
    if _engine(engine, transactions_source) == "duckdb":
        return summary.calibration_holdout_summary(
            transactions_source, calibration_end, observation_end, unit_days=unit_days
        )
    summary.summary_sql("check", False, calibration_end, unit_days)  # bad arguments fail before Spark starts
    summary.holdout_sql("check", False, calibration_end, observation_end)
    spark = session(spark_session)
    with _registered(spark, transactions_source) as (view, has_cost):
        calibration = spark.sql(
            summary.summary_sql(view, has_cost, calibration_end, unit_days, dialect="spark")
        ).toPandas()
        holdout = spark.sql(
            summary.holdout_sql(view, has_cost, calibration_end, observation_end, dialect="spark")
        ).toPandas()
    calibration = _conform(summary.summary_frame(calibration))
    return summary.join_holdout(
        calibration, holdout, summary._as_date(calibration_end), summary._as_date(observation_end), unit_days
    )


def _engine(engine: str, source) -> str:
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "duckdb" and not isinstance(source, pd.DataFrame | str | os.PathLike):
        raise TypeError(
            f"the duckdb engine reads a pandas DataFrame or a Parquet/CSV path, not {type(source).__name__}; "
            "use engine='spark' for a Spark DataFrame"
        )
    return engine


def _conform(frame: pd.DataFrame) -> pd.DataFrame:
    # Spark returns DATE as python dates (pandas makes datetime64[s] of them); DuckDB gives [us]
    for column in ("first_purchase", "last_purchase"):
        frame[column] = frame[column].astype("datetime64[us]")
    frame["purchase_days"] = frame["purchase_days"].astype("int64")
    return frame


@contextlib.contextmanager
def _registered(spark: SparkSession, source):
    """Register the source's columns as a uniquely named temporary view; yield (view, has_cost)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType

    if isinstance(source, pd.DataFrame):
        source = source[[c for c in [*_COLUMNS, "cost"] if c in source.columns]]
    view = f"transactions_input_{uuid.uuid4().hex[:12]}"
    with nanos_setting_kept(spark):
        try:
            frame, nanos_as_long = source_frame(spark, source)
            missing = [c for c in _COLUMNS if c not in frame.columns]
            if missing:
                raise ValueError(f"the transactions have no column {', '.join(missing)} (found {frame.columns})")
            has_cost = "cost" in frame.columns
            columns: list[Any] = [F.col(c) for c in _COLUMNS] + ([F.col("cost")] if has_cost else [])
            if nanos_as_long and isinstance(frame.schema["date"].dataType, LongType):
                columns[1] = day_of_nanos("date")
            frame.select(*columns).createOrReplaceTempView(view)
            yield view, has_cost
        finally:
            with contextlib.suppress(Exception):
                spark.catalog.dropTempView(view)
