"""Where the workbook keeps its files.

Code, notebooks and config live in the repository (found from this package's location). Data and
reports live under the data root: the repository too, unless the environment variable WORKBOOK_ROOT
names another tree, so that tests and scheduled runs can point the same notebooks at other data.

A monthly run builds its month out of sight: while the environment variable WORKBOOK_STAGE names a run
(``<YYYY-MM>/<run id>``, set by helpers.pipeline.runner for the notebooks it executes), the processed files
and exports of that month are read and written in the run's staging folders, and every other month is
read from the published tree. The runner publishes the staged processed files and the report together.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def staged_run() -> tuple[str, str] | None:
    """(month, run id) of the run being built in this process, or None (an analyst's session)."""
    value = os.environ.get(STAGE_ENV, "")
    month, _, run_id = value.partition("/")
    return (month, run_id) if month and run_id else None


def processed_root() -> Path:
    return project_root() / "data" / "processed"


def published_processed_dir(month: str) -> Path:
    return processed_root() / month


def processed_staging_dir(run_id: str) -> Path:
    # beside the published months, so that publishing is a rename on the same file system
    return processed_root() / ".staging" / run_id


def report_staging_dir(run_id: str) -> Path:
    return reports_dir() / ".staging" / run_id


def processed_dir(month: str) -> Path:
    """Where the processed files of `month` are: the run's staging folder while that month is being built
    (WORKBOOK_STAGE), else data/processed/<month>/."""
    staged = staged_run()
    if staged is not None and staged[0] == month:
        return processed_staging_dir(staged[1])
    return published_processed_dir(month)


def reports_dir() -> Path:
    return project_root() / "reports"


def export_dir(month: str) -> Path:
    """Where notebooks leave files for the published month (the CRM export): the runner copies them
    into reports/<YYYY-MM>/ when it publishes (inside the run's staging folder while it builds)."""
    staged = staged_run()
    if staged is not None and staged[0] == month:
        return report_staging_dir(staged[1]) / ".exports"
    return reports_dir() / ".exports" / month


def config_dir() -> Path:
    return repo_root() / "config"


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"
