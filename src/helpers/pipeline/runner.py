"""The monthly run: execute every notebook in notebooks/ in name order with papermill and publish
reports/<YYYY-MM>/ (the stakeholder report, each notebook's HTML without code, the executed notebooks,
the CRM export, key figures and the run log), then refresh reports/index.html.

A month is built in a staging folder and moved into place only when every notebook succeeded, so a failed
run never destroys the previous good report; the failed run's notebooks are kept under
reports/.failed/ for debugging. One run per month at a time (a lock file).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from helpers.core import config, paths
from helpers.core.errors import WorkbookError
from helpers.reporting import report_index


class PipelineError(WorkbookError, RuntimeError):
    """A run that did not publish; the message says which notebook and cell, and where its output is."""


@dataclass
class RunResult:
    month: str
    report_dir: Path
    notebooks: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def list_notebooks(directory: Path | None = None) -> list[Path]:
    directory = directory or paths.notebooks_dir()
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def notebook_parameters(notebook: Path) -> set[str]:
    return set(papermill.inspect_notebook(str(notebook)).keys())


TEMPLATES = Path(__file__).parents[1] / "reporting" / "templates"


def export_html(executed: Path, target: Path) -> Path:
    """HTML without code: stakeholders see text, tables and pictures. Self-contained: images embedded,
    no script fetched from the internet (the offline template drops require.js, MathJax and mermaid)."""
    exporter = HTMLExporter(
        template_name="lab",
        template_file="offline.html.j2",
        extra_template_paths=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


class MonthLock:
    """Refuse a second run of the same month while one is going (an O_EXCL lock file with the pid)."""

    def __init__(self, month: str):
        self.path = paths.reports_dir() / ".locks" / f"{month}.lock"
        self.month = month

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = self.path.read_text(encoding="utf-8").strip() if self.path.exists() else "?"
            pid = int(holder.split()[0]) if holder.split() and holder.split()[0].isdigit() else None
            if pid is not None and not _process_alive(pid):
                # the run that held it died without cleaning up: take the lock over
                self.path.unlink(missing_ok=True)
                return self.__enter__()
            raise PipelineError(
                f"another run of {self.month} is going ({self.path}: {holder}); wait for it to finish, "
                f"or delete the lock file if no run is going"
            ) from None
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"{os.getpid()} {dt.datetime.now().isoformat(timespec='seconds')}\n")
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _html_target(staging: Path, notebook_name: str) -> Path:
    """The stakeholder report (a notebook named NN_report) becomes report.html; the analysis notebooks
    go to notebooks/ for analysts."""
    if notebook_name.split("_", 1)[-1] == "report":
        return staging / "report.html"
    return staging / "notebooks" / f"{notebook_name}.html"


def _collect_exports(month: str, staging: Path) -> list[str]:
    """Copy what the notebooks left for this month (the CRM export) into the staged month."""
    source = paths.export_dir(month)
    if not source.is_dir():
        return []
    copied = []
    for item in sorted(source.iterdir()):
        if item.is_file():
            shutil.copy2(item, staging / item.name)
            copied.append(item.name)
    return copied


def _publish(staging: Path, target: Path) -> None:
    """Swap the staged month into place; the old one is removed only after the new one is there."""
    previous = None
    if target.exists():
        previous = target.with_name(f".old-{target.name}-{os.getpid()}")
        target.rename(previous)
    staging.rename(target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def run_notebooks(
    month: str,
    parameters: dict,
    notebooks: list[Path] | None = None,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Execute the notebooks for `month` with `parameters` (each notebook gets the ones it declares)."""
    notebooks = notebooks if notebooks is not None else list_notebooks()
    if not notebooks:
        raise PipelineError(f"no notebooks named NN_*.ipynb in {paths.notebooks_dir()}")
    reports = paths.reports_dir()
    target = reports / month
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    staging = reports / ".staging" / f"{month}-{stamp}-{os.getpid()}"
    result = RunResult(month=month, report_dir=target)

    with MonthLock(month):
        # exports are rebuilt by this run's notebooks; none may linger from an earlier run
        shutil.rmtree(paths.export_dir(month), ignore_errors=True)
        staging.mkdir(parents=True)
        log_file = (staging / "run.log").open("w", encoding="utf-8")

        def say(message: str) -> None:
            log(message)
            log_file.write(f"{dt.datetime.now().isoformat(timespec='seconds')} {message}\n")
            log_file.flush()

        say(f"run {month}: {len(notebooks)} notebooks, parameters {parameters}")
        failed = reports / ".failed" / f"{month}-{stamp}"
        try:
            for position, notebook in enumerate(notebooks, start=1):
                name = notebook.stem
                accepted = notebook_parameters(notebook)
                given = {k: v for k, v in parameters.items() if k in accepted}
                executed = staging / "executed" / notebook.name
                executed.parent.mkdir(parents=True, exist_ok=True)
                say(f"[{position}/{len(notebooks)}] {name} ...")
                started = time.perf_counter()
                try:
                    papermill.execute_notebook(
                        str(notebook),
                        str(executed),
                        parameters=given,
                        kernel_name="python3",
                        cwd=str(notebook.parent),
                        progress_bar=sys.stderr.isatty(),
                    )
                except PapermillExecutionError as error:
                    say(
                        f"FAILED {name}, cell {error.exec_count} (index {error.cell_index}): "
                        f"{error.ename}: {error.evalue}"
                    )
                    raise PipelineError(
                        f"notebook {notebook.name} failed in cell {error.exec_count}: {error.ename}: "
                        f"{error.evalue}\nThe executed notebook is kept in {failed / 'executed' / notebook.name}; "
                        f"the published report of {month} (if any) is unchanged."
                    ) from error
                elapsed = time.perf_counter() - started
                export_html(executed, _html_target(staging, name))
                result.notebooks.append(name)
                result.seconds[name] = elapsed
                say(f"[{position}/{len(notebooks)}] {name} done in {elapsed:.1f} s")
            settings = config.load_settings(parameters.get("config_path") or None)
            report_index.write_key_figures(month, staging, settings)
            copied = _collect_exports(month, staging)
            if copied:
                say(f"exports: {', '.join(copied)}")
            say(f"publishing {target}")
            log_file.close()
            _publish(staging, target)
            report_index.build_index(reports, language=parameters.get("language", "en"))
        except BaseException:
            # keep what the failed run made for debugging, outside the published tree
            log_file.close()
            if staging.exists():
                failed.parent.mkdir(parents=True, exist_ok=True)
                staging.rename(failed)
            raise
    return result
