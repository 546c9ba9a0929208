"""`workbook run --engine spark` on a real Spark standalone cluster: a master and a worker on 127.0.0.1, each
its own Java process started from pyspark's `spark-class` (helpers.core.spark_cluster). Once for a file
(`--spark-master`), once for a Hive table with the master named by Spark's own spark-defaults.conf. Both
months equal the DuckDB path on the same rows, and the worker's executors ran the jobs.

Skipped without Java 17+, except when CI is set (CI must run it: `.ci/run` installs Java where missing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.core import paths
from helpers.core import spark as spark_setup
from helpers.data.intake.loader import load_inputs
from helpers.features.engines import summarise, summarise_calibration_holdout

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

MONTH = "2025-12"
CUTOFF = pd.Timestamp("2025-12-31")
CALIBRATION_END = pd.Timestamp("2025-06-30")
WORKBOOK = str(Path(sys.executable).parent / "workbook")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from helpers.core.spark_cluster import StandaloneCluster

    reason = spark_setup.spark_unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the Spark cluster: {reason}")
        pytest.skip(reason)
    with StandaloneCluster(tmp_path_factory.mktemp("cluster"), workers=1, cores=1, memory="1g") as started:
        yield started


@pytest.fixture(scope="module")
def rows(small_agency_dir, tmp_path_factory) -> Path:
    """The small agency's transactions as a typed Parquet file (the rows both engines read)."""
    frame = pd.read_csv(small_agency_dir / "transactions.csv")
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[us]")
    path = tmp_path_factory.mktemp("rows") / "agency_rows.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def by_duckdb(rows, tmp_path_factory):
    """The DuckDB path on the same rows: the accepted transactions, the summaries and the counts."""
    work = tmp_path_factory.mktemp("duckdb")
    intake = load_inputs(rows, analysis_end=CUTOFF, workdir=work)
    accepted = intake.write_transactions(work / "accepted.parquet")
    return {
        "accepted": pd.read_parquet(accepted),
        "summary": summarise(accepted, CUTOFF),
        "calibration": summarise_calibration_holdout(accepted, CALIBRATION_END, CUTOFF),
        "counts": intake.counts,
    }


def _settings_file(folder: Path) -> Path:
    path = folder / "settings.yaml"
    path.write_text("run:\n  build_previous_month: false\n", encoding="utf-8")
    return path


def _spark_conf(folder: Path, lines: str = "") -> dict:
    """A SPARK_CONF_DIR with spark-defaults.conf: `lines`, and few shuffle partitions (Spark's 200 would
    be 200 tasks per stage on the worker's one core, for 60 clients)."""
    conf = folder / "spark-conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        "spark.sql.shuffle.partitions 2\n"
        # an embedded metastore's log (derby.log) in the test's folder, not in the notebooks' folder
        f"spark.driver.extraJavaOptions -Dderby.stream.error.file={folder / 'derby.log'}\n"
        + textwrap.dedent(lines), encoding="utf-8"
    )
    return {"SPARK_CONF_DIR": str(conf), "SPARK_LOCAL_IP": "127.0.0.1"}


def _run(root: Path, arguments: list[str], environment: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBOOK_ROOT": str(root), **environment}
    done = subprocess.run([WORKBOOK, "run", "--engine", "spark", "--month", MONTH, *arguments],
                          capture_output=True, text=True, env=env, timeout=1200, cwd=root.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _published(root: Path, name: str) -> Path:
    folder = root / "data" / "processed" / name / "en" / MONTH
    assert (folder / "run_info.json").is_file(), sorted(p.name for p in folder.parent.glob("*"))
    return folder


def _tasks_run_by_the_worker(cluster) -> int:
    return sum(log.read_text(errors="replace").count("Running task") for log in cluster.executor_logs())


def _assert_same_month(folder: Path, by_duckdb: dict, executors_wrote: bool) -> None:
    # a file is checked by DuckDB here and written as one file; a table's rows by the executors, as parts
    accepted = pd.read_parquet(folder / "transactions.parquet")
    assert (folder / "transactions.parquet").is_dir() == executors_wrote
    keys = ["customer_id", "date", "amount"]
    mine = accepted[keys].sort_values(keys, ignore_index=True)
    theirs = by_duckdb["accepted"][keys].sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)
    assert accepted["date"].dtype.kind == "M"  # a timestamp, as pandas and DuckDB read it
    summary = pd.read_parquet(folder / "customer_summary.parquet")
    exact = ["customer_id", "frequency", "recency", "T", "purchase_days", "first_purchase", "last_purchase"]
    pd.testing.assert_frame_equal(summary[exact], by_duckdb["summary"][exact], check_dtype=False)
    np.testing.assert_allclose(summary["total_revenue"], by_duckdb["summary"]["total_revenue"], rtol=1e-9)
    np.testing.assert_allclose(summary["monetary_value"], by_duckdb["summary"]["monetary_value"], rtol=1e-9)
    calibration = pd.read_parquet(folder / "calibration_holdout.parquet")
    for column in ("frequency", "recency", "T", "frequency_holdout"):
        np.testing.assert_allclose(calibration[column], by_duckdb["calibration"][column], rtol=1e-12)
    counts = pd.read_parquet(folder / "intake_counts.parquet")
    mine_counts = counts.loc[counts["table"] == "transactions", ["read", "accepted", "rejected"]].sum()
    theirs_counts = by_duckdb["counts"][["read", "accepted", "rejected"]].sum()
    assert mine_counts.to_dict() == theirs_counts.to_dict()


def test_a_file_on_the_cluster_equals_duckdb_and_the_worker_ran_it(cluster, rows, by_duckdb, tmp_path):
    tasks_before = _tasks_run_by_the_worker(cluster)
    apps_before = len(cluster.completed_applications())
    root = tmp_path / "root"
    done = _run(root, ["--transactions", str(rows), "--spark-master", cluster.master_url,
                       "--config", str(_settings_file(tmp_path))], _spark_conf(tmp_path))
    folder = _published(root, "agency_rows")
    info = json.loads((folder / "run_info.json").read_text())
    assert info["engine"] == "spark" and info["spark_master"] == cluster.master_url
    _assert_same_month(folder, by_duckdb, executors_wrote=False)
    assert (root / "reports" / "agency_rows" / "en" / MONTH / "report.html").is_file(), done.stdout
    # the worker's executors ran the summary's tasks, and the run's application ended
    assert _tasks_run_by_the_worker(cluster) > tasks_before
    assert len(cluster.completed_applications()) > apps_before
    assert not cluster.state()["activeapps"]  # no session left holding the cluster's cores


def test_a_hive_table_on_the_cluster_of_spark_defaults_equals_duckdb(cluster, rows, by_duckdb, tmp_path):
    # Spark's own configuration names the master, the catalog and the warehouse; the workbook is given none
    environment = _spark_conf(tmp_path, f"""\
        spark.master {cluster.master_url}
        spark.sql.catalogImplementation hive
        spark.sql.warehouse.dir {tmp_path / 'warehouse'}
        spark.hadoop.javax.jdo.option.ConnectionURL jdbc:derby:;databaseName={tmp_path / 'metastore_db'};create=true
        """)
    create = textwrap.dedent(f"""\
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.appName("create-table").getOrCreate()
        spark.sql("CREATE DATABASE IF NOT EXISTS sales")
        spark.read.parquet({str(rows)!r}).write.saveAsTable("sales.transactions")
        spark.stop()
        """)
    made = subprocess.run([sys.executable, "-c", create], env={**os.environ, **environment}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-3000:]
    tasks_before = _tasks_run_by_the_worker(cluster)
    root = tmp_path / "root"
    _run(root, ["--transactions", "sales.transactions", "--config", str(_settings_file(tmp_path))], environment)
    folder = _published(root, "sales.transactions")
    info = json.loads((folder / "run_info.json").read_text())
    assert info["spark_master"] == cluster.master_url and info["intake_engines"] == {"sales.transactions": "spark"}
    _assert_same_month(folder, by_duckdb, executors_wrote=True)
    assert _tasks_run_by_the_worker(cluster) > tasks_before
    assert not cluster.state()["activeapps"]
    assert not (paths.notebooks_dir() / "derby.log").exists() and not (paths.repo_root() / "metastore_db").exists()


def test_parts_the_driver_does_not_see_stop_the_run_with_the_fix(cluster, tmp_path):
    from helpers.core.errors import UsageError
    from helpers.data.intake.in_spark import write_accepted

    spark = spark_setup.session(master=cluster.master_url)
    try:
        rows = spark.range(10).selectExpr("cast(id as string) as customer_id", "current_timestamp() as date",
                                          "cast(id as double) as amount")
        target = tmp_path / "month" / "transactions.parquet"
        assert len(pd.read_parquet(write_accepted(rows, target, expected_rows=10))) == 10
        with pytest.raises(UsageError, match="spark.accepted_rows_dir"):  # as if parts lay on other machines
            write_accepted(rows, target, expected_rows=11)
        assert len(pd.read_parquet(target)) == 10  # the month's earlier parts are kept
        assert not list(target.parent.glob(".spark-accepted-*"))
    finally:
        spark_setup.stop_spark_session(end_jvm=True)
