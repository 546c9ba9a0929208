"""Where the aggregation step (transaction log -> one row per customer) runs: DuckDB or Spark.

The query is written once, in `helpers.features.summary` (DuckDB's dialect); the Spark engine runs the same query
transpiled by sqlglot (`summary_sql(..., dialect="spark")`). Everything after the summary (one row per
customer) stays in-process, in pandas, whatever the engine.

- ``duckdb`` (default, embedded): a pandas DataFrame or a Parquet/CSV path.
- ``spark``: a Parquet/CSV path (local or a cluster's, e.g. ``s3a://...``; a directory is read as a
  Parquet dataset), a table name of the session's catalog (``"sales.transactions"``), a Spark DataFrame,
  or a pandas DataFrame. The session is, in order: `spark_session`, the active session (a notebook on a
  cluster), the session of `spark-submit` (its master and conf), a Spark Connect session when
  ``SPARK_REMOTE`` is set, or a local session made on first use (`local_spark_session`, stopped at exit
  or by `stop_local_spark_session`).

The columns read are customer_id, date, amount and, when present, cost (same rules as `helpers.features.summary`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers.core.errors import UsageError, WorkbookError
from helpers.features import summary

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

ENGINES = ("duckdb", "spark")
MIN_JAVA = 17
SPARK_INSTALL_HINT = "pip install -e .[spark]"
_COLUMNS = ["customer_id", "date", "amount"]
_PATH_SUFFIXES = {".parquet", ".csv", ".txt"}
_NANOS_PER_DAY = 86_400 * 10**9
_NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


class EngineUnavailableError(WorkbookError, RuntimeError):
    """The requested engine cannot run here (pyspark not installed, no Java 17+); the message says the fix."""


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
    spark = _session(spark_session)
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
    spark = _session(spark_session)
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


# --- sessions -------------------------------------------------------------------------------------------

_local: SparkSession | None = None
_local_warehouse: str | None = None
_local_lock = threading.Lock()


def spark_unavailable_reason() -> str | None:
    """Why a local Spark session cannot start here (pyspark missing, Java missing or older than 17), or
    None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return f"the Spark engine needs pyspark, which is not installed: {SPARK_INSTALL_HINT}"
    return _java_problem()


def _java_problem() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    fix = f"install Java {MIN_JAVA}+ (e.g. apt-get install openjdk-17-jre-headless) and set JAVA_HOME or PATH"
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
        return f"a local Spark session needs Java {MIN_JAVA}+ ({where}): {fix}"
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return f"a local Spark session needs Java {MIN_JAVA}+ ({java} -version failed: {error}): {fix}"
    match = re.search(r'version "(\d+)(?:\.(\d+))?', shown.stderr + shown.stdout)
    if not match:
        return None  # unusual build: let Spark try
    major = int(match.group(2)) if match.group(1) == "1" else int(match.group(1))  # "1.8.0" is Java 8
    if major < MIN_JAVA:
        return f"a local Spark session needs Java {MIN_JAVA}+, {java} is Java {major}: {fix}"
    return None


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as error:
        raise EngineUnavailableError(
            f"the Spark engine needs pyspark, which is not installed: {SPARK_INSTALL_HINT} "
            f"(and Java {MIN_JAVA}+ for a local session)"
        ) from error


def local_spark_session() -> SparkSession:
    """A local SparkSession (all cores of this machine, no UI), made on first use and reused; stopped at
    interpreter exit or by `stop_local_spark_session`. Raises EngineUnavailableError naming the fix when
    pyspark or Java 17+ is missing."""
    global _local, _local_warehouse
    with _local_lock:
        if _local is not None and _local.sparkContext._jsc is not None:
            return _local
        _require_pyspark()
        problem = _java_problem()
        if problem:
            raise EngineUnavailableError(problem)
        from pyspark.sql import SparkSession

        cores = os.cpu_count() or 2
        warehouse = tempfile.mkdtemp(prefix="workbook-spark-warehouse-")  # never ./spark-warehouse
        builder = (
            SparkSession.builder.master(f"local[{cores}]")
            .appName("segment-workbook")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.warehouse.dir", warehouse)
        )
        try:
            session = builder.getOrCreate()
        except Exception as error:  # the JVM did not start (JAVA_GATEWAY_EXITED and friends)
            shutil.rmtree(warehouse, ignore_errors=True)
            raise EngineUnavailableError(
                f"could not start a local Spark session ({error}); it needs Java {MIN_JAVA}+ and "
                f"{SPARK_INSTALL_HINT}"
            ) from error
        session.sparkContext.setLogLevel("ERROR")
        if _local_warehouse is None:
            atexit.register(stop_local_spark_session)
        _local, _local_warehouse = session, warehouse
        return session


def stop_local_spark_session() -> None:
    """Stop the session made by `local_spark_session` (if any). Sessions passed in are never stopped."""
    global _local, _local_warehouse
    with _local_lock:
        if _local is not None:
            _local.stop()
            _local = None
        if _local_warehouse:
            shutil.rmtree(_local_warehouse, ignore_errors=True)
            _local_warehouse = ""  # atexit is registered already


def _session(spark_session: SparkSession | None) -> SparkSession:
    if spark_session is not None:
        return spark_session
    _require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # under spark-submit: its JVM, its master and conf
        return SparkSession.builder.getOrCreate()
    if os.environ.get("SPARK_REMOTE"):  # Spark Connect: the cluster's session, nothing starts here
        try:
            return SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
        except ImportError as error:
            raise EngineUnavailableError(
                f"SPARK_REMOTE is set, and Spark Connect needs pyspark's Connect extras ({error}): "
                "pip install 'pyspark[connect]' (or unset SPARK_REMOTE for a local session)"
            ) from error
    return local_spark_session()


# --- sources --------------------------------------------------------------------------------------------


def is_remote_source(source) -> bool:
    """A table name of Spark's catalog or a cluster path (`s3a://...`): nothing this machine opens as a file."""
    text = str(source)
    if "://" in text:
        return not text.startswith("file://")
    return not os.path.exists(text) and not _is_path(text)


def _is_path(source: str) -> bool:
    if "://" in source or "/" in source or "\\" in source or os.path.exists(source):
        return True
    return PurePosixPath(source).suffix.lower() in _PATH_SUFFIXES


def _read_path(spark: SparkSession, location: str) -> SparkDataFrame:
    suffix = PurePosixPath(location.rstrip("/")).suffix.lower()
    if suffix in (".csv", ".txt"):
        return spark.read.csv(location, header=True, inferSchema=True)
    if suffix not in ("", ".parquet"):
        raise ValueError(f"{location}: the Spark engine reads Parquet (a file or a directory) or CSV")
    return spark.read.parquet(location)


def _source_frame(spark: SparkSession, source) -> tuple[SparkDataFrame, bool]:
    """The source as a Spark DataFrame, and whether it was read with nanosecond timestamps as longs."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import DataFrame as SparkDataFrame

    if isinstance(source, SparkDataFrame):
        return source, False
    if isinstance(source, pd.DataFrame):
        import pyarrow as pa

        columns = [c for c in [*_COLUMNS, "cost"] if c in source.columns]
        # through Arrow: NaN becomes NULL as in DuckDB, nanosecond timestamps become microseconds
        table = pa.Table.from_pandas(source[columns], preserve_index=False)
        schema = pa.schema(
            [pa.field(f.name, pa.timestamp("us", f.type.tz)) if pa.types.is_timestamp(f.type) else f
             for f in table.schema]
        )
        table = table.cast(schema, safe=False)
        return spark.createDataFrame(table), False
    if isinstance(source, os.PathLike):
        source = Path(source).as_posix()
    if isinstance(source, str):
        if not _is_path(source):
            return spark.table(source), False
        if _local_date_is_nanos(source):  # known beforehand: no failed read in the log
            spark.conf.set(_NANOS_AS_LONG, "true")
            return _read_path(spark, source), True
        try:
            return _read_path(spark, source), False
        except AnalysisException as error:
            # pandas writes nanosecond timestamps, which Spark refuses; read them as longs and take the day
            if "TIMESTAMP(NANOS" not in str(error):
                raise
            spark.conf.set(_NANOS_AS_LONG, "true")
            return _read_path(spark, source), True
    raise TypeError(
        "the Spark engine reads a Parquet/CSV path, a table name, a Spark DataFrame or a pandas DataFrame, "
        f"not {type(source).__name__}"
    )


def _local_date_is_nanos(location: str) -> bool:
    """Whether a local Parquet file (or the first file of a local Parquet directory) stores `date` as
    nanosecond timestamps, as pandas writes them. Remote or unreadable: False (the read then tells)."""
    path = Path(location)
    if path.is_dir():
        path = next(iter(sorted(path.rglob("*.parquet"))), path)
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return False
    try:
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    except Exception:
        return False
    if "date" not in schema.names:
        return False
    date_type = schema.field("date").type
    return getattr(date_type, "unit", None) == "ns"


@contextlib.contextmanager
def _registered(spark: SparkSession, source):
    """Register the source's columns as a uniquely named temporary view; yield (view, has_cost)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType

    previous_nanos = spark.conf.get(_NANOS_AS_LONG, None)
    view = f"transactions_input_{uuid.uuid4().hex[:12]}"
    try:
        frame, nanos_as_long = _source_frame(spark, source)
        missing = [c for c in _COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"the transactions have no column {', '.join(missing)} (found {frame.columns})")
        has_cost = "cost" in frame.columns
        columns: list[Any] = [F.col(c) for c in _COLUMNS] + ([F.col("cost")] if has_cost else [])
        if nanos_as_long and isinstance(frame.schema["date"].dataType, LongType):
            # a naive timestamp's nanoseconds since 1970-01-01 -> its calendar day (floor, also before 1970)
            day = f"CAST((date - pmod(date, {_NANOS_PER_DAY})) div {_NANOS_PER_DAY} AS INT)"
            columns[1] = F.expr(f"date_from_unix_date({day})").alias("date")
        frame.select(*columns).createOrReplaceTempView(view)
        yield view, has_cost
    finally:
        with contextlib.suppress(Exception):
            spark.catalog.dropTempView(view)
        if spark.conf.get(_NANOS_AS_LONG, None) != previous_nanos:
            if previous_nanos is None:
                spark.conf.unset(_NANOS_AS_LONG)
            else:
                spark.conf.set(_NANOS_AS_LONG, previous_nanos)
