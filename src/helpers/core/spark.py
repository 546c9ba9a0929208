"""Spark sessions and sources set up alike everywhere (as `duck` does for DuckDB); pyspark stays optional.

The session is, in order: the one passed in, the active session (a notebook on a cluster), the session of
`spark-submit` (its master and conf), a Spark Connect session when ``SPARK_REMOTE`` is set, a session on
the master of the settings (``spark.master``, ``--spark-master``) or of Spark's own configuration, or a
local session made on first use (`local_spark_session`); the sessions made here are stopped at exit or by
`stop_spark_session`.

A source is a Parquet/CSV path (local or a cluster's, e.g. ``s3a://...``; a directory is read as a Parquet
dataset), a table name of the session's catalog (``"sales.transactions"``), a Spark DataFrame or a pandas
DataFrame (`source_frame`).
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
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pandas as pd

from helpers.core.errors import WorkbookError

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession
    from pyspark.sql import DataFrame as SparkDataFrame

MIN_JAVA = 17
SPARK_INSTALL_HINT = "pip install -e .[spark]"
_PATH_SUFFIXES = {".parquet", ".csv", ".txt"}
_NANOS_PER_DAY = 86_400 * 10**9
_NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


class EngineUnavailableError(WorkbookError, RuntimeError):
    """The requested engine cannot run here (pyspark not installed, no Java 17+); the message says the fix."""


# --- sessions -------------------------------------------------------------------------------------------

_ours: SparkSession | None = None  # the session this module started (local or on a cluster); stopped at exit
_ours_warehouse: str | None = None
_ours_lock = threading.Lock()
LOCAL = "local"


def spark_unavailable_reason() -> str | None:
    """Why a local Spark session cannot start here (pyspark missing, Java missing or older than 17), or
    None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return f"the Spark engine needs pyspark, which is not installed: {SPARK_INSTALL_HINT}"
    return java_problem()


def java_problem() -> str | None:
    """Why the Java found here (JAVA_HOME, else PATH) cannot run a local session, or None when it can."""
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


def configured_master() -> str | None:
    """The master that Spark's own configuration names: ``--master`` in PYSPARK_SUBMIT_ARGS, else
    ``spark.master`` in spark-defaults.conf (in SPARK_CONF_DIR, else SPARK_HOME/conf); None when neither does."""
    submit = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    named = re.search(r"--master[ =](\S+)", submit)
    if named:
        return named.group(1).strip("'\"")
    folders = [os.environ.get("SPARK_CONF_DIR"), os.environ.get("SPARK_HOME") and Path(os.environ["SPARK_HOME"]) / "conf"]
    for folder in (Path(f) for f in folders if f):
        defaults = folder / "spark-defaults.conf"
        if not defaults.is_file():
            continue
        for line in defaults.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.strip().partition(" ")
            if key == "spark.master" and value.strip():
                return value.strip()
    return None


def local_spark_session() -> SparkSession:
    """A local SparkSession (all cores of this machine, no UI), made on first use and reused; stopped at
    interpreter exit or by `stop_spark_session`. Raises EngineUnavailableError naming the fix when
    pyspark or Java 17+ is missing."""
    return _our_session(LOCAL)


def cluster_spark_session(master: str | None) -> SparkSession:
    """A SparkSession on a cluster: `master` (spark://host:7077, yarn, k8s://...), or None for the master
    and everything else of Spark's own configuration (PYSPARK_SUBMIT_ARGS, spark-defaults.conf). Made on
    first use and reused; stopped at exit or by `stop_spark_session`. The session's time zone is set to
    UTC (the days of the transactions are read and written as UTC timestamps)."""
    return _our_session(master)


def _our_session(master: str | None) -> SparkSession:
    global _ours, _ours_warehouse
    with _ours_lock:
        if _ours is not None and _ours.sparkContext._jsc is not None:
            if master in (None, LOCAL) or _ours.sparkContext.master == master:
                return _ours
            _stop_ours()  # another master was asked for: a process holds one SparkContext
        _require_pyspark()
        problem = java_problem()
        if problem:
            raise EngineUnavailableError(problem)
        from pyspark.sql import SparkSession

        builder = (
            SparkSession.builder.appName("segment-workbook")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        warehouse = None
        if master == LOCAL:
            cores = os.cpu_count() or 2
            warehouse = tempfile.mkdtemp(prefix="workbook-spark-warehouse-")  # never ./spark-warehouse
            builder = (
                builder.master(f"local[{cores}]")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
                .config("spark.sql.warehouse.dir", warehouse)
            )
        elif master:
            builder = builder.master(master)
        where = "a local Spark session" if master == LOCAL else f"a Spark session on {master or configured_master()}"
        try:
            started = builder.getOrCreate()
        except Exception as error:  # the JVM did not start (JAVA_GATEWAY_EXITED and friends)
            if warehouse:
                shutil.rmtree(warehouse, ignore_errors=True)
            raise EngineUnavailableError(
                f"could not start {where} ({error}); it needs Java {MIN_JAVA}+ and {SPARK_INSTALL_HINT}"
                + ("" if master == LOCAL else ", and a master that this machine reaches")
            ) from error
        started.sparkContext.setLogLevel("ERROR")
        if _ours_warehouse is None:
            atexit.register(stop_spark_session)
        _ours, _ours_warehouse = started, warehouse or ""
        return started


def _stop_ours() -> None:
    global _ours, _ours_warehouse
    if _ours is not None:
        _ours.stop()
        _ours = None
    if _ours_warehouse:
        shutil.rmtree(_ours_warehouse, ignore_errors=True)
        _ours_warehouse = ""  # atexit is registered already


def stop_spark_session(end_jvm: bool = False) -> None:
    """Stop the session this module started (local or on a cluster), if any: on a cluster it gives the
    executors back. Sessions passed in, and those of spark-submit or a notebook's cluster, are never stopped.
    `end_jvm`: also end the Java process behind it (its memory, and what it holds open such as an embedded
    Hive metastore, which another process, e.g. a notebook's kernel, could not open meanwhile); a later
    session starts a new one."""
    with _ours_lock:
        was_ours = _ours is not None
        _stop_ours()
        if end_jvm and was_ours:
            from pyspark import SparkContext

            gateway = SparkContext._gateway
            if gateway is not None and getattr(gateway, "proc", None) is not None:
                gateway.shutdown()
                gateway.proc.stdin.close()  # the JVM ends when its stdin closes (pyspark's design)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    gateway.proc.wait(timeout=60)
                SparkContext._gateway = None
                SparkContext._jvm = None


def session(given: SparkSession | None = None, master: str = "") -> SparkSession:
    """The session to work in: `given`; else the active session (a notebook on a cluster); else the session
    of `spark-submit` (its master and conf); else a Spark Connect session when ``SPARK_REMOTE`` is set; else a
    session on `master` (a setting or ``--spark-master``) or on the master of Spark's own configuration
    (`configured_master`); else a local session made on first use (`local_spark_session`)."""
    if given is not None:
        return given
    _require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and (not master or active.sparkContext.master == master or active is not _ours):
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
    if master or configured_master():
        return cluster_spark_session(master or None)
    return local_spark_session()


def file_uri(path: str | Path) -> str:
    """A local path as Spark reads and writes it on every cluster: ``file://`` plus the absolute path as
    written (Hadoop's Path encodes it itself; `Path.as_uri` would turn a `+` into `%2B`, a folder that does
    not exist). Without the scheme, YARN would look in HDFS."""
    return "file://" + Path(path).resolve().as_posix()


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


def source_frame(spark: SparkSession, source) -> tuple[SparkDataFrame, bool]:
    """The source as a Spark DataFrame, and whether it was read with nanosecond timestamps as longs (then
    the session's setting is changed: read inside `nanos_setting_kept`, and take days with `day_of_nanos`)."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import DataFrame as SparkDataFrame

    if isinstance(source, SparkDataFrame):
        return source, False
    if isinstance(source, pd.DataFrame):
        import pyarrow as pa

        # through Arrow: NaN becomes NULL as in DuckDB, nanosecond timestamps become microseconds
        table = pa.Table.from_pandas(source, preserve_index=False)
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


def day_of_nanos(column: str) -> Column:
    """The calendar day of a naive timestamp read as nanoseconds since 1970-01-01 (floor, also before 1970)."""
    from pyspark.sql import functions as F

    day = f"CAST(({column} - pmod({column}, {_NANOS_PER_DAY})) div {_NANOS_PER_DAY} AS INT)"
    return F.expr(f"date_from_unix_date({day})").alias(column)


@contextlib.contextmanager
def setting_kept(spark: SparkSession, key: str, value: str | None = None) -> Iterator[None]:
    """The session's setting `key` (at `value` for a while when given), then back as it was."""
    previous = spark.conf.get(key, None)
    if value is not None:
        spark.conf.set(key, value)
    try:
        yield
    finally:
        if spark.conf.get(key, None) != previous:
            if previous is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, previous)


def nanos_setting_kept(spark: SparkSession) -> contextlib.AbstractContextManager[None]:
    """Give the session back its nanosecond-timestamp setting, which `source_frame` may change."""
    return setting_kept(spark, _NANOS_AS_LONG)
