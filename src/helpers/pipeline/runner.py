"""The monthly run: execute every notebook in notebooks/ in name order with papermill and publish
reports/<name>/<language>/<YYYY-MM>/ (the stakeholder report, each notebook's HTML without code, the executed
notebooks, the CRM export, key figures and the run log), then refresh reports/index.html. Each data set and
language is an edition of its own (helpers.core.paths): runs of other editions never replace it.

A month can also be built as *history* only (``history=True``): the analysis notebooks without the report,
published as processed files, so that the next month's report can say what changed since then.

A month is built out of sight (processed files and report alike, see helpers.pipeline.publishing) and
published at once only when every notebook succeeded, so a failed, stopped or killed run never damages the
previous good month; the failed run's build is kept under reports/.failed/ for debugging. One run per month
at a time (an OS file lock).
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from helpers.core import config, paths, periods
from helpers.pipeline import publishing
from helpers.pipeline.publishing import PipelineError
from helpers.reporting import index_page, report_index


@dataclass
class RunResult:
    month: str
    report_dir: Path
    notebooks: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        return self.report_dir / report_index.REPORT


#: the kernels' own log lines (an unencrypted-TCP warning at every start, a KeyboardInterrupt logged when the
#: client interrupts the kernel on shutdown) are not the run's: a cell's error still reaches the run through
#: papermill, and the kernel's death too
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def run_edition(parameters: dict) -> paths.Edition:
    """The edition a run publishes to: the data set's name (``name``, else the bundled ``dataset``) and the
    report's ``language``."""
    name = parameters.get("name") or paths.safe_name(parameters.get("dataset") or paths.DEFAULT_NAME)
    return paths.Edition(name, parameters.get("language") or "en")


def is_report(notebook: Path) -> bool:
    return notebook.stem.split("_", 1)[-1] == "report"


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


def _html_target(staging: Path, notebook_name: str) -> Path:
    """The stakeholder report (a notebook named NN_report) becomes report.html; the analysis notebooks
    go to notebooks/ for analysts."""
    if notebook_name.split("_", 1)[-1] == "report":
        return staging / report_index.REPORT
    return staging / "notebooks" / f"{notebook_name}.html"


def _collect_exports(build: publishing.Build) -> list[str]:
    """Move what the notebooks left for this month (the CRM export) into the staged month."""
    source = build.report / ".exports"
    if not source.is_dir():
        return []
    moved = []
    for item in sorted(source.iterdir()):
        if item.is_file():
            item.rename(build.report / item.name)
            moved.append(item.name)
    shutil.rmtree(source, ignore_errors=True)
    return moved


def _stop_reason(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        code = error.code if isinstance(error.code, int) else 0
        name = signal.Signals(code - 128).name if 128 < code < 128 + 65 else f"exit {code}"
        return f"stopped by {name}"
    if isinstance(error, KeyboardInterrupt):
        return "stopped by Ctrl-C (SIGINT)"
    return "failed"


def history_month(month: str, parameters: dict, covered: list[str]) -> str | None:
    """The month before `month` when the edition has nothing to compare `month` with yet and the data
    cover that month (or the one before it, as a run requires): a first run builds it as history first
    (unless the setting run.build_previous_month is false)."""
    from helpers.reporting import changes

    if not config.load_settings(parameters.get("config_path") or None).run.build_previous_month:
        return None
    previous = periods.shift_month(month, -1)
    if previous not in covered and periods.shift_month(previous, -1) not in covered:
        return None
    with _working_on(run_edition(parameters)):
        return previous if changes.previous_month(month) is None else None


def _working_on(edition: paths.Edition):
    return paths.environment_set(paths.EDITION_ENV, str(edition))


def run_notebooks(
    month: str,
    parameters: dict,
    notebooks: list[Path] | None = None,
    log: Callable[[str], None] = print,
    keep_failed: int | None = None,
    history: bool = False,
) -> RunResult:
    """Execute the notebooks for `month` with `parameters` (each notebook gets the ones it declares), build
    the month in staging folders and publish report and processed files together (helpers.pipeline.publishing)
    into the edition of ``parameters`` (:func:`run_edition`).
    ``keep_failed``: failed runs kept in reports/.failed/ (default: the setting run.keep_failed_runs).
    ``history``: build the month only as what the next month is compared with: no report notebook, no HTML,
    only the processed files are published."""
    notebooks = notebooks if notebooks is not None else list_notebooks()
    if history:
        notebooks = [notebook for notebook in notebooks if not is_report(notebook)]
    if not notebooks:
        raise PipelineError(f"no notebooks named NN_*.ipynb in {paths.notebooks_dir()}")
    with _working_on(run_edition(parameters)):
        return _run(month, parameters, notebooks, log, keep_failed, history)


def _run(month: str, parameters: dict, notebooks: list[Path], log: Callable[[str], None],
         keep_failed: int | None, history: bool) -> RunResult:
    settings = config.load_settings(parameters.get("config_path") or None)
    keep_failed = settings.run.keep_failed_runs if keep_failed is None else keep_failed
    reports = paths.reports_dir()
    publishing.check_writable(reports, paths.processed_root())
    result = RunResult(month=month, report_dir=paths.published_report_dir(month))

    with publishing.MonthLock(month):
        for leftover in publishing.clean_leftovers(keep_failed, holding=month):
            log(f"a run stopped before it could finish left {leftover.name}: moved to {leftover.parent}")
        # without the data preparation the notebooks work on the month as published
        prepares = any(notebook.stem.endswith("_data_preparation") for notebook in notebooks)
        build = publishing.Build.start(month, from_published=not prepares)
        log_file = (build.report / "run.log").open("w", encoding="utf-8")

        def say(message: str, terminal: bool = True) -> None:
            if terminal:
                log(message)
            if not log_file.closed:
                log_file.write(f"{dt.datetime.now().isoformat(timespec='seconds')} {message}\n")
                log_file.flush()

        log(f"run {month} of {paths.edition()}: {len(notebooks)} notebooks")
        say(f"run {month} ({paths.edition()}): {len(notebooks)} notebooks, parameters {parameters}", terminal=False)
        failed = publishing.failed_dir() / build.run_id
        current = "the start"
        published = False
        try:
            with build.staged():
                for position, notebook in enumerate(notebooks, start=1):
                    name = current = notebook.stem
                    accepted = notebook_parameters(notebook)
                    given = {k: v for k, v in parameters.items() if k in accepted}
                    executed = build.report / "executed" / notebook.name
                    executed.parent.mkdir(parents=True, exist_ok=True)
                    say(f"[{position}/{len(notebooks)}] {name} ...", terminal=False)
                    started = time.perf_counter()
                    try:
                        papermill.execute_notebook(
                            str(notebook),
                            str(executed),
                            parameters=given,
                            kernel_name="python3",
                            cwd=str(notebook.parent),
                            progress_bar=sys.stderr.isatty() and not history,
                            extra_arguments=KERNEL_ARGUMENTS,
                        )
                    except PapermillExecutionError as error:
                        say(
                            f"FAILED {name}, cell {error.exec_count} (index {error.cell_index}): "
                            f"{error.ename}: {error.evalue}"
                        )
                        raise PipelineError(
                            f"notebook {notebook.name} failed in cell {error.exec_count}: {error.ename}: "
                            f"{error.evalue}\nThe executed notebook is kept in "
                            f"{failed / 'executed' / notebook.name}; the published report of {month} (if any) "
                            f"is unchanged."
                        ) from error
                    elapsed = time.perf_counter() - started
                    if not history:
                        export_html(executed, _html_target(build.report, name))
                    result.notebooks.append(name)
                    result.seconds[name] = elapsed
                    say(f"[{position}/{len(notebooks)}] {name:<24} {elapsed:6.1f} s", terminal=not history)
                if not history:
                    current = "the key figures"
                    report_index.write_key_figures(month, build.report, settings)
                    moved = _collect_exports(build)
                    if moved:
                        say(f"exports: {', '.join(moved)}", terminal=False)
            current = "publishing"
            say(f"publishing {result.report_dir} and {paths.published_processed_dir(month)}", terminal=False)
            log_file.close()
            with publishing.signals_held():  # a stop signal waits until both renames are done
                try:
                    build.publish(with_report=not history)
                except OSError as error:
                    raise PipelineError(
                        f"could not publish {month}: {error.strerror or error} ({error.filename}). The published "
                        f"month is unchanged; this run's build is kept in {failed}. Check that {reports} and "
                        f"{paths.processed_root()} are writable, then run again."
                    ) from None
                published = True
            if not history:
                index_page.build_index(reports, language=parameters.get("language", "en"), settings=settings)
        except BaseException as error:
            log_file.close()
            if published:
                raise  # the month is out; only the index failed
            kept = build.keep_as_failed()
            publishing.prune_failed(max(keep_failed, 1))
            if not isinstance(error, Exception):  # SystemExit (SIGTERM, see cli) or KeyboardInterrupt
                where = f"the notebooks run so far are in {kept / 'executed'}" if kept else "nothing was kept"
                log(f"run {month} {_stop_reason(error)} during {current}: nothing was published, the "
                    f"published month is unchanged; {where}")
            raise
    return result
