"""The papermill runner: publishing, failure atomicity, the month lock."""

from __future__ import annotations

import os

import nbformat
import pytest

from helpers.pipeline import runner


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
    month_dir = workbook_root / "reports" / "2025-03"
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
    published = workbook_root / "reports" / "2025-03" / "notebooks" / "00_good.html"
    before = published.read_text()
    with pytest.raises(runner.PipelineError) as raised:
        runner.run_notebooks("2025-03", {"month": "2025-03"}, notebooks=[good, bad], log=lambda m: None)
    message = str(raised.value)
    assert "01_bad.ipynb" in message and "cell" in message and "broken on purpose" in message
    assert published.read_text() == before  # the good report is untouched
    assert not (workbook_root / "reports" / "2025-03" / "executed" / "01_bad.ipynb").exists()
    kept = list((workbook_root / "reports" / ".failed").glob("2025-03-*/executed/01_bad.ipynb"))
    assert len(kept) == 1  # the failed notebook is kept for debugging


def test_a_second_run_of_the_same_month_is_refused(workbook_root, notebooks):
    good, _ = notebooks
    with runner.MonthLock("2025-04"):
        with pytest.raises(runner.PipelineError, match="another run of 2025-04 is going"):
            runner.run_notebooks("2025-04", {"month": "2025-04"}, notebooks=[good], log=lambda m: None)
    # released afterwards: the month runs
    runner.run_notebooks("2025-04", {"month": "2025-04"}, notebooks=[good], log=lambda m: None)


def test_a_stale_lock_of_a_dead_process_is_taken_over(workbook_root):
    lock = runner.MonthLock("2025-05")
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    lock.path.write_text("999999999 2020-01-01T00:00:00\n")
    with runner.MonthLock("2025-05") as taken:
        assert taken.path.read_text().split()[0] == str(os.getpid())
    assert not lock.path.exists()


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
    month_dir = workbook_root / "reports" / "2025-06"
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
    process = subprocess.Popen([sys.executable, "-c", script, str(transactions)], env=dict(os.environ))
    lock = workbook_root / "reports" / ".locks" / "2025-07.lock"
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the notebook is running
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    assert not lock.exists()
    assert not (workbook_root / "reports" / "2025-07").exists()
    assert list((workbook_root / "reports" / ".failed").glob("2025-07-*"))
    assert not list((workbook_root / "reports" / ".staging").glob("2025-07-*"))
