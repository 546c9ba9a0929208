"""Where the workbook keeps its files.

Code, notebooks and config live in the repository (found from this package's location). Data and
reports live under the data root: the repository too, unless the environment variable WORKBOOK_ROOT
names another tree, so that tests and scheduled runs can point the same notebooks at other data.
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


def processed_dir(month: str) -> Path:
    return project_root() / "data" / "processed" / month


def reports_dir() -> Path:
    return project_root() / "reports"


def export_dir(month: str) -> Path:
    """Where notebooks leave files for the published month (the CRM export): the runner copies them
    into reports/<YYYY-MM>/ when it publishes."""
    return reports_dir() / ".exports" / month


def config_dir() -> Path:
    return repo_root() / "config"


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"
