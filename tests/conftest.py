"""Shared fixtures: a private data root (WORKBOOK_ROOT) with a small bundled data set."""

from __future__ import annotations

import os
import time

import pytest

from helpers.core import paths


@pytest.fixture(autouse=True)
def _edition_restored():
    """Preparing a month in a test (an analyst's session) chooses the edition for the process: undone after."""
    before = os.environ.get(paths.EDITION_ENV)
    yield
    if before is None:
        os.environ.pop(paths.EDITION_ENV, None)
    else:
        os.environ[paths.EDITION_ENV] = before


@pytest.fixture
def workbook_root(tmp_path, monkeypatch):
    """An empty data root: data/raw, data/processed and reports live here for the test."""
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    return tmp_path


@pytest.fixture(scope="session")
def small_agency_dir(tmp_path_factory):
    """A small agency data set (60 clients), written once per test session."""
    from helpers.data.samples.agency import write_agency

    directory = tmp_path_factory.mktemp("small-agency") / "agency"
    write_agency(directory, n_clients=60, seed=11)
    return directory


@pytest.fixture(scope="session")
def cdnow_sample_calibration():
    """The published CDNOW setting: the 1/10 sample, same-day purchases merged, weeks, calibration to
    1997-09-30 (39 weeks), holdout to 1998-06-30; built by lifetimes itself (the reference)."""
    from lifetimes.utils import calibration_and_holdout_data

    from helpers.data.samples.cdnow import read_cdnow

    return calibration_and_holdout_data(
        read_cdnow("sample"), "customer_id", "date", calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30", freq="D", freq_multiplier=7, monetary_value_col="amount",
    )


@pytest.fixture(scope="module")
def spark():
    """One local SparkSession per test module, stopped after it. Without pyspark or Java 17+ the Spark
    tests are skipped, except when the environment variable CI is set: CI must run them, so there they fail."""
    from helpers.features import engines

    reason = engines.spark_unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the Spark engine: {reason}")
        pytest.skip(reason)
    started = time.perf_counter()
    session = engines.local_spark_session()
    print(f"local SparkSession started in {time.perf_counter() - started:.1f} s")
    yield session
    engines.stop_spark_session()
    assert session.sparkContext._jsc is None  # stopped
