"""Building a month out of sight and publishing it at once.

A month belongs to an edition (a data set's name and a language, see helpers.core.paths): it is published
to ``data/processed/<name>/<language>/<YYYY-MM>/`` and ``reports/<name>/<language>/<YYYY-MM>/``, so runs of
other data sets or languages never replace it. A run builds its month in two staging folders, ``reports/.staging/<run id>/`` (the report, the notebooks'
HTML, the exports) and ``data/processed/.staging/<run id>/`` (the processed files), each beside the tree it
is published into, so that publishing is a rename on one file system. While the notebooks run, the
environment variable WORKBOOK_STAGE points the month's processed files and exports there
(helpers.core.paths); every other month is read from the published tree, so a comparison with last month
never reads a half-built month.

Publishing renames the processed files into place first and the report second; when the second rename
fails the first is undone, so the published processed files and report always belong to the same run.
A run that fails, is stopped or cannot publish keeps its build in ``reports/.failed/<run id>/`` (with the
processed files under ``processed/``); only the newest ``run.keep_failed_runs`` of them are kept. Staging
folders left by a killed run are moved there at the next start.

One run per month and edition at a time: an operating-system file lock (filelock), which the system releases when the
holding process dies, so a killed run never blocks the next one, whatever its lock file says.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

from helpers.core import artifacts, paths
from helpers.core.errors import WorkbookError

_RUN_ID = re.compile(
    r"^(?P<name>[\w.-]+)\+(?P<language>[a-z]{2})\+(?P<month>\d{4}-\d{2})-(?P<stamp>\d{8}T\d{6})-\d+$"
)


class PipelineError(WorkbookError, RuntimeError):
    """A run that did not publish; the message says which notebook and cell, and where its output is."""


def new_run_id(month: str, edition: paths.Edition | None = None) -> str:
    edition = edition or paths.edition()
    return (f"{edition.name}+{edition.language}+{month}-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}-"
            f"{os.getpid()}")


def run_edition(run_id: str) -> tuple[paths.Edition, str] | None:
    """The edition and month a run id belongs to (None for a folder that is not a run's)."""
    match = _RUN_ID.match(run_id)
    if match is None:
        return None
    try:
        return paths.Edition(match["name"], match["language"]), match["month"]
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# one run per month
# --------------------------------------------------------------------------------------------------
class MonthLock:
    """Refuse a second run of the same month and edition while one is going.

    The lock is an OS file lock on ``reports/.locks/<name>/<language>/<month>.lock``: atomic, and released by
    the system when the process ends however it ends. Who holds it is written to ``<month>.holder`` for the
    message only."""

    def __init__(self, month: str, edition: paths.Edition | None = None):
        self.edition = edition or paths.edition()
        folder = paths.reports_dir() / ".locks" / self.edition.folder
        self.path = folder / f"{month}.lock"
        self.holder = folder / f"{month}.holder"
        self.month = month
        self._lock: filelock.BaseFileLock | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free (never waits); False when another run holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(self.path, timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            return False
        self._lock = lock
        return True

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> MonthLock:
        if not self.acquire():
            holder = self.holder.read_text(encoding="utf-8").strip() if self.holder.exists() else "unknown"
            raise PipelineError(
                f"another run of {self.month} ({self.edition}) is going (process {holder}); wait for it to "
                "finish"
            )
        self.holder.write_text(f"{os.getpid()} since {dt.datetime.now().isoformat(timespec='seconds')}\n",
                               encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        self.holder.unlink(missing_ok=True)
        self.release()


# --------------------------------------------------------------------------------------------------
# the build of one run
# --------------------------------------------------------------------------------------------------
@dataclass
class Build:
    month: str
    run_id: str

    @property
    def report(self) -> Path:
        return paths.report_staging_dir(self.run_id)

    @property
    def processed(self) -> Path:
        return paths.processed_staging_dir(self.run_id)

    @classmethod
    def start(cls, month: str, from_published: bool = False) -> Build:
        """A new build of `month`. ``from_published``: start from a copy of the published month's processed
        files (a run of some notebooks only, e.g. the report again in another language); a full run prepares
        them afresh."""
        build = cls(month, new_run_id(month))
        build.report.mkdir(parents=True)
        published = paths.published_processed_dir(month)
        if from_published and not published.is_dir():
            # the report in another language: the same data set's month as published in a language it has
            edition = paths.edition()
            others = [paths.published_processed_dir(month, paths.Edition(edition.name, language))
                      for language in paths.LANGUAGES if language != edition.language]
            published = next((folder for folder in others if folder.is_dir()), published)
        if from_published and published.is_dir():
            shutil.copytree(published, build.processed, ignore=shutil.ignore_patterns(artifacts.PUBLISHED))
        else:
            build.processed.mkdir(parents=True)
        return build

    @contextlib.contextmanager
    def staged(self) -> Iterator[None]:
        """While inside, this process and the notebook kernels it starts read and write the month's
        processed files and exports in the staging folders."""
        with paths.environment_set(paths.STAGE_ENV, f"{self.month}/{self.run_id}"):
            yield

    def publish(self, with_report: bool = True) -> Path:
        """Processed files and report into place together; the previous ones are removed only afterwards.
        Without the report (``with_report=False``: a month built only as the history that the next month is
        compared with) only the processed files are published, and the staged report folder is dropped."""
        artifacts.mark_published(self.processed, {"run": self.run_id, "with_report": with_report})
        processed_target = paths.published_processed_dir(self.month)
        report_target = paths.published_report_dir(self.month)
        processed_target.parent.mkdir(parents=True, exist_ok=True)
        old_processed = _set_aside(processed_target, self.run_id)
        try:
            self.processed.rename(processed_target)
        except OSError:
            _restore(old_processed, processed_target)
            raise
        if not with_report:
            shutil.rmtree(self.report, ignore_errors=True)
            if old_processed is not None:
                shutil.rmtree(old_processed, ignore_errors=True)
            return processed_target
        report_target.parent.mkdir(parents=True, exist_ok=True)
        old_report = _set_aside(report_target, self.run_id)
        try:
            self.report.rename(report_target)
        except OSError:
            # undo the first step: the published month stays the previous run's, files and report alike
            processed_target.rename(self.processed)
            _restore(old_processed, processed_target)
            _restore(old_report, report_target)
            raise
        for old in (old_processed, old_report):
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return report_target

    def keep_as_failed(self) -> Path | None:
        """Move what the run made to reports/.failed/<run id>/ (processed files under processed/)."""
        return _keep_as_failed(self.run_id, self.report, self.processed)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait while the month is being swapped into place (a stop there would leave half of
    it); they arrive when the block ends."""
    held = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _set_aside(target: Path, run_id: str) -> Path | None:
    if not target.exists():
        return None
    aside = target.with_name(f".old-{target.name}-{run_id}")
    target.rename(aside)
    return aside


def _restore(aside: Path | None, target: Path) -> None:
    if aside is not None and not target.exists():
        aside.rename(target)


def failed_dir() -> Path:
    return paths.reports_dir() / ".failed"


def _keep_as_failed(run_id: str, report: Path, processed: Path) -> Path | None:
    if not report.exists() and not processed.exists():
        return None
    target = failed_dir() / run_id
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if report.exists():
            shutil.move(str(report), str(target))
        if processed.exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.move(str(processed), str(target / "processed"))
    except OSError:
        return report if report.exists() else None  # cannot move it: say where it still is
    return target


# --------------------------------------------------------------------------------------------------
# housekeeping at the start of a run
# --------------------------------------------------------------------------------------------------
def clean_leftovers(keep_failed: int, holding: str | None = None) -> list[Path]:
    """Staging folders of runs that no longer hold their month's lock (killed) go to reports/.failed/;
    then only the newest ``keep_failed`` failed runs are kept. ``holding``: the month whose lock this run
    holds (its leftovers are stale by definition). Returns where the leftovers went."""
    _restore_set_aside(holding)
    moved = []
    run_ids = {p.name for root in (paths.reports_dir(), paths.processed_root())
               for p in _children(root / ".staging")}
    own = (paths.edition(), holding)
    for run_id in sorted(run_ids):
        belongs = run_edition(run_id)
        lock = MonthLock(belongs[1], belongs[0]) if belongs and belongs != own else None
        if lock is not None and not lock.acquire():
            continue  # a run of that month is going: its staging folder is in use
        try:
            kept = _keep_as_failed(run_id, paths.report_staging_dir(run_id), paths.processed_staging_dir(run_id))
            if kept is not None:
                moved.append(kept)
        finally:
            if lock is not None:
                lock.release()
    prune_failed(keep_failed)
    return moved


def _restore_set_aside(holding: str | None) -> None:
    """A publish killed between its renames leaves `.old-<month>-<run>` folders: put a missing month back,
    remove the ones whose month is in place again."""
    own = paths.edition()
    for root in (paths.reports_dir(), paths.processed_root()):
        for aside in (p for p in root.glob("*/*/.old-*") if p.is_dir()):
            month = aside.name[len(".old-"):len(".old-") + 7]
            try:
                edition = paths.Edition(aside.parent.parent.name, aside.parent.name)
            except ValueError:
                continue
            lock = MonthLock(month, edition) if (edition, month) != (own, holding) else None
            if lock is not None and not lock.acquire():
                continue
            try:
                target = aside.parent / month
                if target.exists():
                    shutil.rmtree(aside, ignore_errors=True)
                else:
                    aside.rename(target)
            finally:
                if lock is not None:
                    lock.release()


def prune_failed(keep: int) -> None:
    """Keep the newest ``keep`` runs in reports/.failed/ (by their run id's time stamp)."""
    runs = sorted(_children(failed_dir()), key=lambda p: (_stamp(p.name), p.name))
    for old in runs[: max(len(runs) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def _stamp(run_id: str) -> str:
    match = _RUN_ID.match(run_id)
    return match["stamp"] if match else ""


def _children(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def check_writable(*folders: Path) -> None:
    """Fail before any notebook runs when a run could not write its build or publish it."""
    for folder in folders:
        probe_dir = folder
        while not probe_dir.exists():
            probe_dir = probe_dir.parent
        probe = probe_dir / f".write-check-{os.getpid()}"
        try:
            probe.write_text("", encoding="utf-8")
            probe.unlink()
        except OSError as error:
            raise PipelineError(
                f"{folder} is not writable ({error.strerror}): a run builds and publishes there. Give the user "
                f"running the workbook write access (e.g. chmod -R u+w {folder}), or set WORKBOOK_ROOT to a "
                f"writable folder"
            ) from None
