"""End to end: `workbook run` on a small data set, and every notebook under nbval with its defaults."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from helpers.core import artifacts as processed
from helpers.core import paths
from helpers.pipeline import cli, runner

pytestmark = pytest.mark.slow


def test_workbook_run_end_to_end(workbook_root, small_agency_dir, capfd):
    arguments = [
        "run",
        "--transactions", str(small_agency_dir / "transactions.csv"),
        "--accounts", str(small_agency_dir / "accounts.csv"),
        "--service-map", str(small_agency_dir / "service_map.csv"),
    ]
    assert cli.main(arguments) == 0
    captured = capfd.readouterr()
    printed = captured.out
    assert "latest complete month in the data, 2025-12" in printed
    report = workbook_root / "reports" / "agency" / "en" / "2025-12"
    # issue 14: the terminal shows one line per notebook and ends with where to look; no kernel chatter
    lines = printed.strip().splitlines()
    assert lines[-2:] == [f"report: {report / 'report.html'}", f"index:  {workbook_root / 'reports' / 'index.html'}"]
    assert "IPKernelApp" not in captured.out + captured.err and "parameters" not in printed
    assert sum(line.startswith("[") and line.rstrip().endswith(" s") for line in lines) == len(runner.list_notebooks())
    names = [p.stem for p in runner.list_notebooks()]
    analyses = [n for n in names if not n.endswith("_report")]
    assert sorted(p.stem for p in (report / "notebooks").glob("*.html")) == analyses
    assert sorted(p.stem for p in (report / "executed").glob("*.ipynb")) == names
    assert (report / "report.html").exists() == (len(analyses) < len(names))
    counts = processed.read_artifact("2025-12", "intake_counts")
    assert (counts["read"] == counts["accepted"] + counts["rejected"]).all()
    read_rows = len(pd.read_csv(small_agency_dir / "transactions.csv"))
    assert counts.set_index("table").loc["transactions", "read"] == read_rows
    summary = processed.read_artifact("2025-12", "customer_summary")
    transactions = processed.read_artifact("2025-12", "transactions")
    assert set(summary["customer_id"]) <= set(transactions["customer_id"])
    assert processed.read_run_info("2025-12")["cutoff"] == "2025-12-31"


def test_run_refuses_a_bad_month_with_a_clear_message(workbook_root, small_agency_dir, capsys):
    code = cli.main(["run", "--transactions", str(small_agency_dir / "transactions.csv"), "--month", "2025-13"])
    assert code == 2
    assert "YYYY-MM" in capsys.readouterr().err


def test_run_without_sample_data_says_how_to_get_it(workbook_root, capsys):
    assert cli.main(["run"]) == 2
    assert "workbook sample-data" in capsys.readouterr().err


def test_notebooks_run_with_their_defaults_under_nbval(tmp_path, small_agency_dir):
    """Opening a notebook and pressing Run All works: nbval executes each with its parameter defaults,
    in name order, on a small agency data set placed where the defaults look."""
    import shutil

    shutil.copytree(small_agency_dir, tmp_path / "data" / "raw" / "agency")
    environment = dict(os.environ, **{paths.ROOT_ENV: str(tmp_path)})
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), str(paths.notebooks_dir())],
        env=environment, capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout
    assert (tmp_path / "data" / "processed" / "agency" / "en" / "2025-12" / "customer_summary.parquet").exists()


def test_a_backfill_of_consecutive_months_publishes_each_and_compares_with_the_one_before(
    workbook_root, small_agency_dir, capsys
):
    """The README's backfill once published its first month and stopped (T = 0 in the next). Each month
    is published with its processed files, and each report compares with the month before it."""
    arguments = [
        "run", "--from", "2025-10", "--to", "2025-12",
        "--transactions", str(small_agency_dir / "transactions.csv"),
        "--accounts", str(small_agency_dir / "accounts.csv"),
        "--service-map", str(small_agency_dir / "service_map.csv"),
    ]
    assert cli.main(arguments) == 0
    months = ["2025-10", "2025-11", "2025-12"]
    # the month before the first was built as history only: processed files to compare with, no report
    assert processed.published_months() == ["2025-09", *months]
    assert not (workbook_root / "reports" / "agency" / "en" / "2025-09").exists()
    assert "building 2025-09 first, without a report" in capsys.readouterr().out
    for month in months:
        report = workbook_root / "reports" / "agency" / "en" / month
        assert (report / "report.html").exists() and (report / "customer_segments.csv").exists(), month
        assert processed.read_run_info(month)["cutoff"] == str(pd.Period(month, freq="M").end_time.date())
    import json

    for before, month in zip(["2025-09", *months], months, strict=False):
        figures = json.loads((workbook_root / "reports" / "agency" / "en" / month / "key_figures.json").read_text())
        assert figures["month"] == month
        html = (workbook_root / "reports" / "agency" / "en" / month / "report.html").read_text()
        assert f"Compared with {pd.Period(before, freq='M').strftime('%B %Y')}" in html, month
    assert not list((workbook_root / "reports" / ".staging").iterdir())
    assert not list((workbook_root / "data" / "processed" / ".staging").iterdir())
