"""The Spark engine gives the DuckDB summary: same customers, the same integer-valued columns, money to 1e-9.

One local SparkSession for the module. Without pyspark or Java 17+ the Spark tests are skipped, except when
the environment variable CI is set: CI must run them, so there they fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.core import spark as spark_setup
from helpers.data.samples.cdnow import read_cdnow
from helpers.features import engines
from helpers.features.summary import HOLDOUT_COLUMNS, SUMMARY_COLUMNS, holdout_sql, summary_sql
from helpers.pipeline.bench import synthetic_transactions

# pyspark 4.3 warns that it does not fully support pandas 3; the results are compared below
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]

EXACT = ["purchase_days", "frequency", "recency", "T", "first_purchase", "last_purchase"]
MONEY = ["monetary_value", "total_revenue", "total_cost", "total_margin"]


def assert_same_summary(ours: pd.DataFrame, reference: pd.DataFrame, extra: tuple[str, ...] = ()):
    assert list(ours.columns) == list(reference.columns)
    assert ours["customer_id"].tolist() == reference["customer_id"].tolist()
    assert ours.dtypes.equals(reference.dtypes), (ours.dtypes, reference.dtypes)
    for column in [*EXACT, *(c for c in extra if c != "monetary_value_holdout")]:
        np.testing.assert_array_equal(ours[column].to_numpy(), reference[column].to_numpy(), err_msg=column)
    for column in [*MONEY, *(c for c in extra if c == "monetary_value_holdout")]:
        np.testing.assert_allclose(ours[column], reference[column], rtol=1e-9, atol=1e-9, err_msg=column)
        assert ours[column].isna().tolist() == reference[column].isna().tolist()


@pytest.fixture(scope="module")
def cdnow_sample():
    return read_cdnow("sample")


@pytest.fixture(scope="module")
def cdnow_parquet(tmp_path_factory, cdnow_sample):
    path = tmp_path_factory.mktemp("cdnow") / "transactions.parquet"
    cdnow_sample.to_parquet(path)  # pandas' default: nanosecond timestamps, which Spark reads via longs
    return path


def refunds_and_cost_log() -> pd.DataFrame:
    """A synthetic log with what CDNOW lacks: cost (partly unknown), same-day rows, refunds on purchase
    days, refund-only days, refund-only customers, rows after the observation end."""
    rng = np.random.default_rng(3)
    log = synthetic_transactions(customers=400, transactions=4_000, seed=5)
    log["cost"] = np.round(log["amount"] * rng.uniform(0.4, 0.8, len(log)), 2)
    log.loc[log["customer_id"].isin([f"C{i}" for i in range(0, 400, 9)]), "cost"] = np.nan  # cost unknown
    log.loc[rng.random(len(log)) < 0.03, "cost"] = np.nan  # cost missing on a few rows
    sample = log.sample(frac=0.15, random_state=1)
    same_day = sample.assign(amount=np.round(sample["amount"] * 0.5, 2))
    refunds_same_day = log.sample(frac=0.05, random_state=2).assign(amount=lambda f: -0.3 * f["amount"])
    refund_days = log.sample(frac=0.05, random_state=3)
    refund_days = refund_days.assign(
        date=refund_days["date"] + pd.to_timedelta(rng.integers(1, 20, len(refund_days)), unit="D"),
        amount=-refund_days["amount"],
        cost=-refund_days["cost"],
    )
    refund_only = pd.DataFrame(
        {"customer_id": ["R1", "R2"], "date": pd.to_datetime(["2023-03-01", "2023-05-01"]),
         "amount": [-20.0, -5.5], "cost": [-8.0, np.nan]}
    )
    log = pd.concat([log, same_day, refunds_same_day, refund_days, refund_only], ignore_index=True)
    return log.sample(frac=1.0, random_state=4).reset_index(drop=True)  # no helpful row order


@pytest.fixture(scope="module")
def synthetic():
    return refunds_and_cost_log()


@pytest.fixture(scope="module")
def synthetic_parquet(tmp_path_factory, synthetic):
    path = tmp_path_factory.mktemp("synthetic") / "transactions.parquet"
    synthetic.to_parquet(path)
    return path


SYNTHETIC_END = "2024-06-30"  # inside the log: later rows must be ignored


# --- Spark against DuckDB -------------------------------------------------------------------------------


@pytest.mark.parametrize(("end", "unit_days"), [("1998-06-30", 7), ("1997-09-30", 1)])
def test_cdnow_sample_summary_on_spark_equals_duckdb(spark, cdnow_parquet, cdnow_sample, end, unit_days):
    ours = engines.summarise(str(cdnow_parquet), end, unit_days, engine="spark", spark_session=spark)
    reference = engines.summarise(cdnow_sample, end, unit_days)
    assert len(reference) == 2_357 and list(ours.columns) == SUMMARY_COLUMNS
    assert_same_summary(ours, reference)


def test_cdnow_sample_calibration_holdout_on_spark_equals_duckdb(spark, cdnow_parquet):
    ours = engines.summarise_calibration_holdout(
        cdnow_parquet, "1997-09-30", "1998-06-30", 7, engine="spark", spark_session=spark
    )
    reference = engines.summarise_calibration_holdout(cdnow_parquet, "1997-09-30", "1998-06-30", 7)
    assert (reference["frequency_holdout"] > 0).sum() > 100
    assert_same_summary(ours, reference, extra=tuple(HOLDOUT_COLUMNS))


def test_refunds_and_cost_on_spark_equal_duckdb(spark, synthetic_parquet, synthetic):
    ours = engines.summarise(synthetic_parquet, SYNTHETIC_END, 7, engine="spark", spark_session=spark)
    reference = engines.summarise(synthetic_parquet, SYNTHETIC_END, 7)
    assert "R1" not in set(reference["customer_id"])  # refund-only customers have no summary row
    assert reference["total_cost"].isna().any() and reference["total_cost"].notna().any()
    assert_same_summary(ours, reference)
    # the DuckDB reference from the file equals the one from the frame (the file is what Spark read)
    assert_same_summary(engines.summarise(synthetic, SYNTHETIC_END, 7), reference)


def test_refunds_and_cost_calibration_holdout_on_spark_equal_duckdb(spark, synthetic_parquet):
    args = (synthetic_parquet, "2023-12-31", SYNTHETIC_END, 1)
    ours = engines.summarise_calibration_holdout(*args, engine="spark", spark_session=spark)
    reference = engines.summarise_calibration_holdout(*args)
    assert_same_summary(ours, reference, extra=tuple(HOLDOUT_COLUMNS))


def test_spark_reads_a_table_a_spark_frame_a_pandas_frame_and_csv(spark, synthetic, tmp_path):
    reference = engines.summarise(synthetic, SYNTHETIC_END, 7)

    spark.sql(f"CREATE DATABASE IF NOT EXISTS sales LOCATION '{(tmp_path / 'sales').as_uri()}'")
    try:
        spark.createDataFrame(synthetic).write.mode("overwrite").saveAsTable("sales.transactions")
        from_table = engines.summarise("sales.transactions", SYNTHETIC_END, 7, engine="spark", spark_session=spark)
        assert_same_summary(from_table, reference)
    finally:
        spark.sql("DROP DATABASE IF EXISTS sales CASCADE")

    from_spark_frame = engines.summarise(
        spark.read.parquet(_as_microsecond_parquet(synthetic, tmp_path)), SYNTHETIC_END, 7,
        engine="spark", spark_session=spark,
    )
    assert_same_summary(from_spark_frame, reference)
    assert_same_summary(
        engines.summarise(synthetic, SYNTHETIC_END, 7, engine="spark", spark_session=spark), reference
    )

    csv = tmp_path / "transactions.csv"
    synthetic.to_csv(csv, index=False)
    from_csv = engines.summarise(str(csv), SYNTHETIC_END, 7, engine="spark", spark_session=spark)
    assert_same_summary(from_csv, engines.summarise(csv, SYNTHETIC_END, 7))
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("transactions_input")]


def _as_microsecond_parquet(frame: pd.DataFrame, directory) -> str:
    path = directory / "transactions_us.parquet"
    frame.to_parquet(path, coerce_timestamps="us", allow_truncated_timestamps=True)
    return str(path)


def test_the_lazy_local_session_is_reused(spark):
    assert engines.local_spark_session() is spark
    assert spark.conf.get("spark.ui.enabled") == "false"


# --- without Spark --------------------------------------------------------------------------------------


def test_the_spark_sql_is_the_duckdb_sql_transpiled():
    duckdb_sql = summary_sql("t", True, "2025-01-31", 7)
    spark_sql = summary_sql("t", True, "2025-01-31", 7, dialect="spark")
    assert "ARG_MIN" in duckdb_sql and "MIN_BY" in spark_sql and "ARG_MIN" not in spark_sql
    assert "DATEDIFF(DAY" in spark_sql
    assert "MIN_BY" not in holdout_sql("t", False, "2024-12-31", "2025-01-31", dialect="spark")


def test_unknown_engine_and_wrong_source_are_refused(synthetic):
    with pytest.raises(ValueError, match="unknown engine 'polars'"):
        engines.summarise(synthetic, SYNTHETIC_END, engine="polars")
    with pytest.raises(TypeError, match="engine='spark'"):
        engines.summarise(object(), SYNTHETIC_END)
    with pytest.raises(ValueError, match="unit_days"):  # before any Spark session is looked for
        engines.summarise(synthetic, SYNTHETIC_END, unit_days=0, engine="spark")
    with pytest.raises(ValueError, match="before observation end"):
        engines.summarise_calibration_holdout(synthetic, SYNTHETIC_END, "2024-01-01", engine="spark")


def test_missing_pyspark_names_the_fix(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    with pytest.raises(spark_setup.EngineUnavailableError, match=r"pip install -e \.\[spark\]"):
        spark_setup.session(None)
    assert "pip install -e .[spark]" in engines.spark_unavailable_reason()


def test_missing_or_old_java_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    assert "Java 17+" in spark_setup.java_problem()

    fake = tmp_path / "jdk8" / "bin" / "java"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho \'openjdk version "1.8.0_402"\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk8"))
    reason = spark_setup.java_problem()
    assert "Java 17+" in reason and "is Java 8" in reason


def test_the_master_of_sparks_own_configuration_is_found(tmp_path, monkeypatch):
    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS", raising=False)
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert spark_setup.configured_master() is None
    (tmp_path / "spark-defaults.conf").write_text(
        "# a comment\nspark.executor.memory 4g\nspark.master   spark://10.0.0.5:7077\n", encoding="utf-8"
    )
    assert spark_setup.configured_master() == "spark://10.0.0.5:7077"
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", "--master yarn --deploy-mode client pyspark-shell")
    assert spark_setup.configured_master() == "yarn"  # spark-submit's arguments win, as in Spark


def test_local_paths_reach_spark_as_written(tmp_path):
    folder = tmp_path / "a+b c"
    assert spark_setup.file_uri(folder) == "file://" + folder.as_posix()  # no %2B: Hadoop encodes it itself


def test_a_setting_kept_comes_back_as_it_was(spark):
    key = "spark.sql.parquet.outputTimestampType"
    spark.conf.unset(key)
    unset = spark.conf.get(key, None)
    with spark_setup.setting_kept(spark, key, "TIMESTAMP_MICROS"):
        assert spark.conf.get(key) == "TIMESTAMP_MICROS"
    assert spark.conf.get(key, None) == unset  # unset again, not pinned to the default
    spark.conf.set(key, "INT96")
    with pytest.raises(RuntimeError):
        with spark_setup.setting_kept(spark, key, "TIMESTAMP_MICROS"):
            raise RuntimeError("the write failed")
    assert spark.conf.get(key) == "INT96"  # restored after a failure too
    with spark_setup.setting_kept(spark, key):  # no value: only watched
        spark.conf.set(key, "TIMESTAMP_MILLIS")
    assert spark.conf.get(key) == "INT96"
    spark.conf.unset(key)
