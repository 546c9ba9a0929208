"""Where the workbook keeps its files.

Code, notebooks and config live in the repository (found from this package's location). Data and
reports live under the data root: the repository too, unless the environment variable WORKBOOK_ROOT
names another tree, so that tests and scheduled runs can point the same notebooks at other data.

A monthly run builds its month out of sight: while the environment variable WORKBOOK_STAGE names a run
(``<YYYY-MM>/<run id>``, set by helpers.pipeline.runner for the notebooks it executes), the processed files
and exports of that month are read and written in the run's staging folders, and every other month is
read from the published tree. The runner publishes the staged processed files and the report together.

Every published month belongs to an *edition*: a data set's name and a report language. Editions never
overwrite each other: a month lives in ``data/processed/<name>/<language>/<YYYY-MM>/`` and
``reports/<name>/<language>/<YYYY-MM>/``. The run names its edition in the environment variable
WORKBOOK_EDITION (``<name>/<language>``); an analyst's notebook 00 chooses it from its inputs
(:func:`use_edition`), and the later notebooks of an analyst's session open the edition prepared last.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from helpers.core import periods
from helpers.core.language import LANGUAGES

ROOT_ENV = "WORKBOOK_ROOT"


def repo_root() -> Path:
    # src/helpers/core/paths.py -> the repository root is three levels above
    return Path(__file__).resolve().parents[3]


def project_root() -> Path:
    override = os.environ.get(ROOT_ENV)
    if override:
        return Path(override).resolve()
    return repo_root()


def raw_dir() -> Path:
    return project_root() / "data" / "raw"


def dataset_dir(dataset: str) -> Path:
    return raw_dir() / dataset


STAGE_ENV = "WORKBOOK_STAGE"
EDITION_ENV = "WORKBOOK_EDITION"
DEFAULT_NAME = "agency"
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class Edition:
    """A data set's name and a report language: the series of months that a run adds to."""

    name: str
    language: str = "en"

    def __post_init__(self):
        if self.language not in LANGUAGES:
            raise ValueError(f"unknown report language {self.language!r}; use one of {', '.join(LANGUAGES)}")
        if safe_name(self.name) != self.name:
            raise ValueError(f"{self.name!r} cannot name a data set's folder; use e.g. {safe_name(self.name)!r}")

    @property
    def folder(self) -> Path:
        return Path(self.name) / self.language

    def __str__(self) -> str:
        return f"{self.name}/{self.language}"

    @classmethod
    def parse(cls, value: str) -> Edition:
        name, _, language = value.partition("/")
        return cls(name, language or "en")


def safe_name(text: str) -> str:
    """A data set's name as a folder name: letters (also ä, é ...), digits, ".", "_" and "-" (at most 60), never
    hidden."""
    name = _UNSAFE.sub("-", str(text)).strip(".-")[:60].strip(".-")
    return name or DEFAULT_NAME


@contextlib.contextmanager
def environment_set(variable: str, value: str) -> Iterator[None]:
    """``variable`` = ``value`` in this process and the notebook kernels it starts while inside; as it was
    before afterwards."""
    before = os.environ.get(variable)
    os.environ[variable] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = before


def use_edition(chosen: Edition) -> None:
    """Work on `chosen` in this process (and the kernels it starts)."""
    os.environ[EDITION_ENV] = str(chosen)


def edition() -> Edition:
    """The edition this process works on: the run's (WORKBOOK_EDITION), else the one prepared last (an
    analyst's session), else the bundled agency sample in English."""
    value = os.environ.get(EDITION_ENV, "")
    if value:
        return Edition.parse(value)
    return newest_prepared_edition() or Edition(DEFAULT_NAME)


def editions() -> list[Edition]:
    """Every edition with a month folder in data/processed/, by name and language."""
    root = processed_root()
    found = []
    for folder in sorted(root.glob("*/*")) if root.is_dir() else []:
        if folder.is_dir() and not folder.parent.name.startswith(".") and folder.name in LANGUAGES:
            try:
                found.append(Edition(folder.parent.name, folder.name))
            except ValueError:
                continue
    return found


def newest_prepared_edition() -> Edition | None:
    """The edition whose data preparation finished last (by the time of its run_info.json)."""
    newest, stamp = None, -1.0
    for candidate in editions():
        for info in (processed_root() / candidate.folder).glob("*/run_info.json"):
            if periods.is_month(info.parent.name) and info.stat().st_mtime > stamp:
                newest, stamp = candidate, info.stat().st_mtime
    return newest


def staged_run() -> tuple[str, str] | None:
    """(month, run id) of the run being built in this process, or None (an analyst's session)."""
    value = os.environ.get(STAGE_ENV, "")
    month, _, run_id = value.partition("/")
    return (month, run_id) if month and run_id else None


def processed_root() -> Path:
    return project_root() / "data" / "processed"


def edition_processed_dir(of: Edition | None = None) -> Path:
    return processed_root() / (of or edition()).folder


def published_processed_dir(month: str, of: Edition | None = None) -> Path:
    return edition_processed_dir(of) / month


def processed_staging_dir(run_id: str) -> Path:
    # beside the published months, so that publishing is a rename on the same file system
    return processed_root() / ".staging" / run_id


def report_staging_dir(run_id: str) -> Path:
    return reports_dir() / ".staging" / run_id


def processed_dir(month: str) -> Path:
    """Where the processed files of `month` are: the run's staging folder while that month is being built
    (WORKBOOK_STAGE), else data/processed/<name>/<language>/<month>/."""
    staged = staged_run()
    if staged is not None and staged[0] == month:
        return processed_staging_dir(staged[1])
    return published_processed_dir(month)


def reports_dir() -> Path:
    return project_root() / "reports"


def edition_reports_dir(of: Edition | None = None) -> Path:
    return reports_dir() / (of or edition()).folder


def published_report_dir(month: str, of: Edition | None = None) -> Path:
    """reports/<name>/<language>/<YYYY-MM>/: the month's report as published."""
    return edition_reports_dir(of) / month


def export_dir(month: str) -> Path:
    """Where notebooks leave files for the published month (the CRM export): the runner copies them
    into the published month when it publishes (inside the run's staging folder while it builds)."""
    staged = staged_run()
    if staged is not None and staged[0] == month:
        return report_staging_dir(staged[1]) / ".exports"
    return reports_dir() / ".exports" / str(edition()).replace("/", "-") / month


def config_dir() -> Path:
    return repo_root() / "config"


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"
