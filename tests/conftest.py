"""Shared fixtures: a private data root (WORKBOOK_ROOT) with a small bundled data set."""

from __future__ import annotations

import pytest

from helpers import paths


@pytest.fixture
def workbook_root(tmp_path, monkeypatch):
    """An empty data root: data/raw, data/processed and reports live here for the test."""
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    return tmp_path


@pytest.fixture(scope="session")
def small_agency_dir(tmp_path_factory):
    """A small agency data set (60 clients), written once per test session."""
    from helpers.sample_data import write_agency

    directory = tmp_path_factory.mktemp("small-agency") / "agency"
    write_agency(directory, n_clients=60, seed=11)
    return directory
