"""The papermill runner: publishing, failure atomicity, the month lock."""

from __future__ import annotations

import os

import nbformat
import pytest

from helpers.core import paths
from helpers.pipeline import publishing, runner


def _notebook(path, source, parameters="month = ''"):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Test\nInputs: none. Outputs: none."),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(source),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    good = _notebook(folder / "00_good.ipynb", "print('month is', month)")
    bad = _notebook(folder / "01_bad.ipynb", "x = 1\nraise RuntimeError('broken on purpose')")
    return good, bad


def test_a_run_publishes_executed_notebooks_and_html(workbook_root, notebooks):
    good, _ = notebooks
    result = runner.run_notebooks("2025-03", {"month": "2025-03", "unknown": 1}, notebooks=[good], log=lambda m: None)
    month_dir = workbook_root / "reports" / "agency" / "en" / "2025-03"
    assert result.report_dir == month_dir
    executed = nbformat.read(month_dir / "executed" / "00_good.ipynb", as_version=4)
    outputs = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "month is 2025-03" in outputs  # the parameter reached the notebook
    html = (month_dir / "notebooks" / "00_good.html").read_text()
    assert "month is 2025-03" in html and "print(" not in html  # output shown, code hidden
    assert "<script src" not in html and "cdnjs" not in html  # opens with no network
    assert (month_dir / "key_figures.json").exists()
    assert "2025-03" in (workbook_root / "reports" / "index.html").read_text()
    assert "run 2025-03" in (month_dir / "run.log").read_text()
    assert not list((workbook_root / "reports" / ".staging").iterdir())


def test_a_failed_run_names_notebook_and_cell_and_keeps_the_previous_report(workbook_root, notebooks):
    good, bad = notebooks
    runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good], log=lambda m: None)
    published = workbook_root / "reports" / "agency" / "en" / "2025-03" / "notebooks" / "00_good.html"
    before = published.read_text()
    with pytest.raises(runner.PipelineError) as raised:
        runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good, bad], log=lambda m: None)
    message = str(raised.value)
    assert "01_bad.ipynb" in message and "cell" in message and "broken on purpose" in message
    assert published.read_text() == before  # the good report is untouched
    assert not (workbook_root / "reports" / "agency" / "en" / "2025-03" / "executed" / "01_bad.ipynb").exists()
    kept = list((workbook_root / "reports" / ".failed").glob("agency+en+2025-03-*/executed/01_bad.ipynb"))
    assert len(kept) == 1  # the failed notebook is kept for debugging


def test_a_second_run_of_the_same_month_is_refused(workbook_root, notebooks):
    good, _ = notebooks
    with publishing.MonthLock("2025-04"):
        with pytest.raises(runner.PipelineError, match=r"another run of 2025-04 \(agency/en\) is going \(process \d+"):
            runner.run_notebooks("2025-04", {"month": "2025-04"}, notebooks=[good], log=lambda m: None)
    # released afterwards: the month runs
    runner.run_notebooks("2025-04", {"month": "2025-04"}, notebooks=[good], log=lambda m: None)


@pytest.mark.parametrize("content", ["999999999 2020-01-01T00:00:00\n", "garbage \x00\xff", f"{os.getpid()} now"])
def test_a_lock_file_left_behind_never_blocks_whatever_it_says(workbook_root, content):
    """Only the OS lock counts: a dead pid, garbage or a pid that is alive again (recycled) in a file left
    by a killed run do not block the next run."""
    lock = publishing.MonthLock("2025-05")
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    lock.path.write_text(content, errors="surrogateescape")
    lock.holder.write_text(content, errors="surrogateescape")
    with publishing.MonthLock("2025-05"):
        assert not publishing.MonthLock("2025-05").acquire()  # held now
    assert publishing.MonthLock("2025-05").acquire()


_CONTENDER = """
import os, sys, time
from pathlib import Path
from helpers.pipeline import publishing
start, tried = float(sys.argv[1]), Path(sys.argv[2])
while time.time() < start:
    pass
lock = publishing.MonthLock("2025-08")
got = lock.acquire()
print("got" if got else "refused", flush=True)
(tried / str(os.getpid())).touch()
deadline = time.time() + 60
while len(list(tried.iterdir())) < 2 and time.time() < deadline:  # hold the lock until both have tried
    time.sleep(0.01)
"""


def test_two_simultaneous_starts_never_both_get_the_lock(workbook_root, tmp_path):
    """The stale-lock takeover raced (9 of 150 trials both runs got the lock); an OS lock cannot."""
    import subprocess
    import sys
    import time

    lock = publishing.MonthLock("2025-08")
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    for trial in range(12):
        lock.path.write_text("999999999 a dead run\n")  # the case that raced: a stale lock file present
        tried = tmp_path / f"tried-{trial}"
        tried.mkdir()
        start = time.time() + 1.0
        contenders = [
            subprocess.Popen([sys.executable, "-c", _CONTENDER, str(start), str(tried)], stdout=subprocess.PIPE,
                             text=True)
            for _ in range(2)
        ]
        outcomes = sorted(p.communicate(timeout=90)[0].strip() for p in contenders)
        assert all(p.returncode == 0 for p in contenders), trial
        assert outcomes == ["got", "refused"], (trial, outcomes)


def test_a_killed_runs_leftovers_are_moved_to_failed_and_only_the_newest_failed_runs_are_kept(workbook_root, notebooks):
    from helpers.core import paths

    good, _ = notebooks
    for stamp in ("20240101T000000", "20240102T000000", "20240103T000000"):
        run_id = f"agency+en+2025-09-{stamp}-999999"
        (paths.report_staging_dir(run_id) / "executed").mkdir(parents=True)
        paths.processed_staging_dir(run_id).mkdir(parents=True)
        (paths.processed_staging_dir(run_id) / "customer_segments.parquet").write_text("half")
    messages = []
    runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good], log=messages.append, keep_failed=2)
    assert not list((workbook_root / "reports" / ".staging").iterdir())
    assert not list((workbook_root / "data" / "processed" / ".staging").iterdir())
    kept = sorted(p.name for p in (workbook_root / "reports" / ".failed").iterdir())
    assert kept == ["agency+en+2025-09-20240102T000000-999999", "agency+en+2025-09-20240103T000000-999999"]
    assert (workbook_root / "reports" / ".failed" / kept[-1] / "processed" / "customer_segments.parquet").exists()
    assert sum("left agency+en+2025-09-" in m for m in messages) == 3


def test_a_staging_folder_of_a_run_still_going_is_left_alone(workbook_root):
    from helpers.core import paths

    run_id = "agency+en+2025-10-20240101T000000-1"
    paths.report_staging_dir(run_id).mkdir(parents=True)
    with publishing.MonthLock("2025-10"):
        assert publishing.clean_leftovers(5) == []
    assert paths.report_staging_dir(run_id).exists()
    assert publishing.clean_leftovers(5)[0].name == run_id


def test_a_failed_publish_names_the_fix_keeps_the_build_and_the_published_month(workbook_root, notebooks, monkeypatch):
    """A read-only reports/ (simulated: tests may run as root, who may write anyway) at the moment of publishing."""
    from pathlib import Path

    good, _ = notebooks
    runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good], log=lambda m: None)
    published = workbook_root / "reports" / "agency" / "en" / "2025-03" / "run.log"
    before = published.read_text()
    processed_before = sorted(p.name for p in (workbook_root / "data" / "processed" / "agency" / "en" / "2025-03").iterdir())
    real_rename = Path.rename

    def refuse_the_report(self, target):
        if ".staging" in str(self) and Path(target) == workbook_root / "reports" / "agency" / "en" / "2025-03":
            raise PermissionError(13, "Permission denied", str(target))
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", refuse_the_report)
    with pytest.raises(runner.PipelineError, match="could not publish 2025-03: Permission denied") as raised:
        runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good], log=lambda m: None)
    monkeypatch.undo()
    assert "kept in" in str(raised.value) and "writable" in str(raised.value)
    assert published.read_text() == before  # the report, and the processed files with it, as they were
    assert sorted(p.name for p in (workbook_root / "data" / "processed" / "agency" / "en" / "2025-03").iterdir()) == processed_before
    assert len(list((workbook_root / "reports" / ".failed").glob("agency+en+2025-03-*/executed"))) == 1
    assert not list((workbook_root / "reports" / ".staging").iterdir())


def test_an_unwritable_reports_folder_is_named_before_any_notebook_runs(workbook_root, notebooks, monkeypatch):
    good, _ = notebooks
    reports = workbook_root / "reports"
    reports.mkdir()

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    from pathlib import Path

    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.raises(runner.PipelineError, match=r"reports is not writable \(Permission denied\).*chmod"):
        runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good], log=lambda m: None)


def test_notebooks_are_listed_in_name_order(tmp_path):
    for name in ("02_c.ipynb", "00_a.ipynb", "01_b.ipynb", "scratch.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in runner.list_notebooks(tmp_path)] == ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]


def test_report_notebook_becomes_report_html_and_exports_are_published(workbook_root, tmp_path):
    from helpers.core import paths

    folder = tmp_path / "nbs2"
    folder.mkdir()
    writer = _notebook(
        folder / "04_export.ipynb",
        "from helpers.core import paths\n"
        "target = paths.export_dir(month)\n"
        "target.mkdir(parents=True, exist_ok=True)\n"
        "(target / 'customer_segments.csv').write_text('customer_id\\n1\\n')",
    )
    report = _notebook(folder / "05_report.ipynb", "print('summary for', month)")
    stale = paths.export_dir("2025-06") / "old_export.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier run")
    runner.run_notebooks("2025-06", {"month": "2025-06"}, notebooks=[writer, report], log=lambda m: None)
    month_dir = workbook_root / "reports" / "agency" / "en" / "2025-06"
    assert "summary for 2025-06" in (month_dir / "report.html").read_text()
    assert not (month_dir / "notebooks" / "05_report.html").exists()
    assert (month_dir / "notebooks" / "04_export.html").exists()
    assert (month_dir / "customer_segments.csv").read_text() == "customer_id\n1\n"
    assert not (month_dir / "old_export.csv").exists()  # nothing stale from an earlier run


def test_a_run_stopped_by_sigterm_cleans_up(workbook_root, tmp_path):
    """A scheduler's SIGTERM: the half-built month is moved to .failed, the lock released, nothing published."""
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "nbs3"
    folder.mkdir()
    _notebook(folder / "00_slow.ipynb", "import time\ntime.sleep(60)")
    script = (
        "import sys; from pathlib import Path; from helpers.pipeline import cli, runner\n"
        f"runner.list_notebooks = lambda directory=None: [Path({str(folder / '00_slow.ipynb')!r})]\n"
        "sys.exit(cli.main(['run', '--transactions', sys.argv[1], '--month', '2025-07']))\n"
    )
    transactions = tmp_path / "t.csv"
    transactions.write_text("customer_id,date,amount\n1,2025-07-01,10\n")
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(transactions)], env=dict(os.environ), stdout=subprocess.PIPE, text=True
    )
    holder = workbook_root / "reports" / ".locks" / "t" / "en" / "2025-07.holder"  # the data set named after t.csv
    deadline = time.time() + 60
    while not holder.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the notebook is running
    process.send_signal(signal.SIGTERM)
    printed = process.communicate(timeout=60)[0]
    assert process.returncode != 0
    assert publishing.MonthLock("2025-07", paths.Edition("t")).acquire()  # released
    assert "run 2025-07 stopped by SIGTERM during 00_slow: nothing was published" in printed
    assert "the notebooks run so far are in" in printed and ".failed" in printed
    assert not list((workbook_root / "reports").glob("*/en/2025-07"))
    assert list((workbook_root / "reports" / ".failed").glob("t+en+2025-07-*"))
    assert not list((workbook_root / "reports" / ".staging").glob("agency+en+2025-07-*"))


def test_a_run_killed_with_sigkill_damages_nothing(workbook_root, tmp_path):
    """Killed during its last notebook, a rerun on half the customers once left its half-built processed
    files in data/processed/<month>/ and the next month reported them as "new". The build is staged now:
    the published files stay those of the published report, and the next start moves the leftovers away."""
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd

    from helpers.core import artifacts, paths

    folder = tmp_path / "nbs4"
    folder.mkdir()
    writer = _notebook(
        folder / "00_write.ipynb",
        "import pandas as pd\nfrom helpers.core import artifacts\n"
        "artifacts.write_artifact(pd.DataFrame({'customer_id': [str(i) for i in range(rows)]}), month, 'calibration_holdout')",
        parameters="month = ''\nrows = 0",
    )
    runner.run_notebooks("2025-09", {"month": "2025-09", "rows": 286}, notebooks=[writer], log=lambda m: None)
    assert len(artifacts.read_artifact("2025-09", "calibration_holdout")) == 286
    _notebook(folder / "05_report.ipynb", "import time\ntime.sleep(60)")
    script = (
        "import sys; from pathlib import Path; from helpers.pipeline import runner\n"
        f"notebooks = [Path({str(writer)!r}), Path({str(folder / '05_report.ipynb')!r})]\n"
        "runner.run_notebooks('2025-09', {'month': '2025-09', 'rows': 150}, notebooks=notebooks)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ), stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    for line in process.stdout:
        if "[1/2] 00_write" in line or time.time() > deadline:
            break
    time.sleep(2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    # the published month is the good one, files and report alike
    assert len(artifacts.read_artifact("2025-09", "calibration_holdout")) == 286
    assert artifacts.published_months() == ["2025-09"]
    staged = list((workbook_root / "data" / "processed" / ".staging").iterdir())
    assert len(staged) == 1 and len(pd.read_parquet(staged[0] / "calibration_holdout.parquet")) == 150
    # the next start (any month) moves the killed run's build to .failed
    runner.run_notebooks("2025-10", {"month": "2025-10", "rows": 5}, notebooks=[writer], log=lambda m: None)
    assert not list((workbook_root / "data" / "processed" / ".staging").iterdir())
    assert (paths.reports_dir() / ".failed" / staged[0].name / "processed" / "calibration_holdout.parquet").exists()


def test_a_run_of_some_notebooks_works_on_the_month_as_published(workbook_root, tmp_path):
    """E.g. the report again in another language: without the data preparation, the build starts from a
    copy of the published processed files, and publishing them again loses nothing."""
    from helpers.core import artifacts

    folder = tmp_path / "nbs5"
    folder.mkdir()
    writer = _notebook(
        folder / "00_data_preparation.ipynb",
        "import pandas as pd\nfrom helpers.core import artifacts\n"
        "artifacts.write_artifact(pd.DataFrame({'customer_id': ['a', 'b', 'c']}), month, 'calibration_holdout')",
    )
    reader = _notebook(
        folder / "05_report.ipynb",
        "from helpers.core import artifacts\nprint('customers:', len(artifacts.read_artifact(month, 'calibration_holdout')))",
    )
    runner.run_notebooks("2025-06", {"month": "2025-06"}, notebooks=[writer, reader], log=lambda m: None)
    runner.run_notebooks("2025-06", {"month": "2025-06"}, notebooks=[reader], log=lambda m: None)
    executed = nbformat.read(workbook_root / "reports" / "agency" / "en" / "2025-06" / "executed" / "05_report.ipynb", as_version=4)
    assert "customers: 3" in "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert len(artifacts.read_artifact("2025-06", "calibration_holdout")) == 3
    assert artifacts.published_months() == ["2025-06"]


def test_a_backfill_goes_on_after_a_failed_month_and_fails_at_the_end_naming_it(workbook_root, tmp_path, capsys):
    from pathlib import Path

    from helpers.pipeline import cli

    folder = tmp_path / "nbs6"
    folder.mkdir()
    notebook = _notebook(folder / "00_fragile.ipynb", "assert month != '2025-02', 'broken in February'")
    transactions = tmp_path / "t.csv"
    transactions.write_text("customer_id,date,amount\n1,2025-01-05,10\n2,2025-02-05,10\n3,2025-03-05,10\n")
    original = runner.list_notebooks
    runner.list_notebooks = lambda directory=None: [Path(notebook)]
    try:
        code = cli.main(["run", "--transactions", str(transactions), "--from", "2025-01", "--to", "2025-03"])
    finally:
        runner.list_notebooks = original
    printed = capsys.readouterr()
    assert code == 2
    assert "2025-02 was not published" in printed.err and "broken in February" in printed.err
    assert "1 of 3 months were not published: 2025-02" in printed.err
    assert sorted(p.name for p in (workbook_root / "reports").glob("*/en/2025-*")) == ["2025-01", "2025-03"]


def test_a_rerun_of_the_month_moves_its_own_killed_runs_leftovers_and_restores_a_half_published_month(
    workbook_root, notebooks
):
    from helpers.core import paths

    good, _ = notebooks
    run_id = "agency+en+2025-03-20240101T000000-999999"
    paths.report_staging_dir(run_id).mkdir(parents=True)
    # a publish killed between its renames: the old report set aside, none in place
    runner.run_notebooks("2025-04", {"month": "2025-04"}, notebooks=[good], log=lambda m: None)
    (workbook_root / "reports" / "agency" / "en" / "2025-04").rename(workbook_root / "reports" / "agency" / "en" / ".old-2025-04-x")
    runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good], log=lambda m: None)
    assert not paths.report_staging_dir(run_id).exists()
    assert (workbook_root / "reports" / ".failed" / run_id).exists()
    assert (workbook_root / "reports" / "agency" / "en" / "2025-04" / "run.log").exists()
    assert not (workbook_root / "reports" / "agency" / "en" / ".old-2025-04-x").exists()


def test_a_first_run_builds_the_month_before_only_when_there_is_nothing_to_compare_with(workbook_root, tmp_path):
    """Issue 14: the first report already says what changed; a later one, or one without the data, does not
    build history; the setting run.build_previous_month switches it off."""
    import pandas as pd

    from helpers.core import artifacts, config

    covered = ["2025-10", "2025-11", "2025-12"]
    parameters = {"name": "shop", "language": "de", "config_path": ""}
    assert runner.history_month("2025-12", parameters, covered) == "2025-11"
    assert runner.history_month("2025-10", parameters, covered) is None  # the data start in October
    assert runner.history_month("2025-11", parameters, covered) == "2025-10"
    # once the edition has a published month to compare with, nothing more is built
    with paths.environment_set(paths.EDITION_ENV, "shop/de"):
        artifacts.write_artifact(pd.DataFrame({"customer_id": ["1"], "quadrant": ["A"]}), "2025-11",
                                 "customer_segments")
        artifacts.mark_published(paths.published_processed_dir("2025-11"), {"run": "test"})
    assert runner.history_month("2025-12", parameters, covered) is None
    assert runner.history_month("2025-12", {**parameters, "language": "en"}, covered) == "2025-11"  # other edition
    off = tmp_path / "off.yaml"
    off.write_text("run: {build_previous_month: false}\n")
    assert runner.history_month("2025-12", {**parameters, "language": "en", "config_path": str(off)}, covered) is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: {build_previous_month: 'yes'}\n")
    with pytest.raises(config.ConfigError, match="run.build_previous_month must be true or false"):
        config.load_settings(bad)


def test_editions_are_named_safely_and_kept_apart(workbook_root, tmp_path):
    from helpers.data import inputs

    assert inputs.dataset_name("cdnow") == "cdnow"
    assert inputs.dataset_name("agency", tmp_path / "shop" / "transactions.csv") == "shop"
    assert inputs.dataset_name("agency", tmp_path / "Umsätze 2025 (Export).csv") == "Umsätze-2025-Export"
    assert inputs.dataset_name("agency", "", given="../../etc") == "etc"
    assert inputs.dataset_name("agency", "sales.transactions") == "sales.transactions"
    assert paths.safe_name("...") == paths.DEFAULT_NAME
    with pytest.raises(ValueError, match="cannot name"):
        paths.Edition("a/b")
    with pytest.raises(ValueError, match="language"):
        paths.Edition("shop", "fr")
    english, german = paths.Edition("shop"), paths.Edition("shop", "de")
    assert paths.published_report_dir("2025-12", english) != paths.published_report_dir("2025-12", german)
    assert paths.published_processed_dir("2025-12", german) == workbook_root / "data" / "processed" / "shop" / "de" / "2025-12"
    assert publishing.run_edition(publishing.new_run_id("2025-12", german)) == (german, "2025-12")
