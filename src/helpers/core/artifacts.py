"""The files that notebooks hand to each other: data/processed/<name>/<language>/<YYYY-MM>/<file>.parquet
(one folder per month of the edition being worked on, see helpers.core.paths).

One place for the names, so that a notebook's inputs and outputs are stated once and spelled alike.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core import config, paths, periods

ARTIFACTS = {
    "transactions": "transactions.parquet",  # accepted transactions of the month's window
    "accounts": "accounts.parquet",
    "service_map": "service_map.parquet",
    "intake_counts": "intake_counts.parquet",  # per input file: read, accepted, rejected
    "customer_summary": "customer_summary.parquet",
    "calibration_holdout": "calibration_holdout.parquet",
    "rfm": "rfm.parquet",
    "cltv": "cltv.parquet",
    "cltv_totals": "cltv_totals.parquet",  # one row: the total CLTV with its interval, customers per model
    "clusters": "clusters.parquet",
    "customer_segments": "customer_segments.parquet",
    "backtest": "backtest.parquet",  # the scores at an earlier cut-off and what the clients did since
}
REJECTED_ROWS = "rejected_rows.csv"
RUN_INFO = "run_info.json"
#: written by the monthly run when it publishes the month with its report: months without it were prepared
#: by hand (or are being built) and are never compared with
PUBLISHED = "published.json"


def artifact_path(month: str, name: str) -> Path:
    if name not in ARTIFACTS:
        raise KeyError(f"unknown artifact {name!r}; known: {', '.join(ARTIFACTS)}")
    return paths.processed_dir(month) / ARTIFACTS[name]


def write_artifact(frame: pd.DataFrame, month: str, name: str) -> Path:
    target = artifact_path(month, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    # write then rename, so that a reader never sees half a file
    temporary = target.with_suffix(".parquet.tmp")
    frame.to_parquet(temporary, index=False)
    temporary.replace(target)
    return target


def read_artifact(month: str, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A processed file of `month` (only `columns`, when given: a million-row file reads much faster)."""
    source = artifact_path(month, name)
    if not source.exists():
        raise FileNotFoundError(
            f"{source} does not exist: run the notebooks before this one for month {month} "
            f"(or `workbook run --month {month}`)"
        )
    return pd.read_parquet(source, columns=columns)


def has_artifact(month: str, name: str) -> bool:
    return artifact_path(month, name).exists()


def write_rejected_rows(rejected: pd.DataFrame, month: str) -> Path:
    target = paths.processed_dir(month) / REJECTED_ROWS
    target.parent.mkdir(parents=True, exist_ok=True)
    rejected.to_csv(target, index=False)
    return target


def write_run_info(month: str, info: dict) -> Path:
    target = paths.processed_dir(month) / RUN_INFO
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    return target


def read_run_info(month: str) -> dict:
    source = paths.processed_dir(month) / RUN_INFO
    return json.loads(source.read_text(encoding="utf-8")) if source.exists() else {}


def mark_published(folder: Path, info: dict) -> Path:
    """Mark a month's processed files as published with its report (helpers.pipeline.publishing)."""
    target = folder / PUBLISHED
    stamp = {"published_at": dt.datetime.now().isoformat(timespec="seconds"), **info}
    target.write_text(json.dumps(stamp, indent=2, default=str), encoding="utf-8")
    return target


def unmark_published(month: str) -> None:
    """Preparing a month by hand rewrites its files in place: they no longer belong to the published report."""
    if paths.staged_run() is None:
        (paths.published_processed_dir(month) / PUBLISHED).unlink(missing_ok=True)


def month_folders() -> list[Path]:
    """The edition's month folders in data/processed/ (published or prepared by hand), oldest first."""
    root = paths.edition_processed_dir()
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and periods.is_month(p.name))


def published_months() -> list[str]:
    """Months published by a monthly run together with their report, oldest first."""
    return [p.name for p in month_folders() if (p / PUBLISHED).exists()]


def prepared_months() -> list[str]:
    """Months whose data preparation finished (they have run_info.json), oldest first."""
    return [p.name for p in month_folders() if (p / RUN_INFO).exists()]


def resolve_prepared_month(month: str | None) -> str:
    """The month an analysis notebook works on: the one given, or else the newest prepared month."""
    if month:
        if not (paths.processed_dir(month) / RUN_INFO).exists():
            raise FileNotFoundError(
                f"month {month} has not been prepared: run notebooks/00_data_preparation.ipynb with "
                f"month = \"{month}\" first (or `workbook run --month {month}`)"
            )
        return month
    months = prepared_months()
    if not months:
        raise FileNotFoundError(
            "no prepared month in data/processed/: run notebooks/00_data_preparation.ipynb first "
            "(or `workbook run`)"
        )
    return months[-1]


def month_currency(month: str, settings: config.Settings) -> str:
    """The currency of a prepared month's amounts (from its data, see preparation.data_currency)."""
    return read_run_info(month).get("currency") or settings.currency


def month_settings(month: str, settings: config.Settings) -> config.Settings:
    """The settings with the prepared month's currency, so that every helper formats amounts alike."""
    return settings.with_changes(currency=month_currency(month, settings))


@dataclass(frozen=True)
class PreparedMonth:
    """What an analysis notebook opens with: the month, its settings and currency, its run info, and its
    processed files (required ones with `table`, optional ones with `optional`, which gives None)."""

    month: str
    settings: config.Settings
    run_info: dict[str, Any] = field(repr=False)

    @property
    def currency(self) -> str:
        return self.settings.currency

    @property
    def cutoff(self) -> str:
        """The last day of the data (the end of the analysis month)."""
        return self.run_info["cutoff"]

    def path(self, name: str) -> Path:
        return artifact_path(self.month, name)

    def has(self, name: str) -> bool:
        return has_artifact(self.month, name)

    def table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return read_artifact(self.month, name, columns=columns)

    def optional(self, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
        """A processed file that this month may not have (no accounts, no holdout window): None then."""
        return read_artifact(self.month, name, columns=columns) if has_artifact(self.month, name) else None


def load_month(month: str = "", config_path: str = "") -> PreparedMonth:
    """The prepared month (the newest when `month` is empty) with the settings of `config_path` (default
    config/settings.yaml) in the month's currency."""
    settings = config.load_settings(config_path or None)
    month = resolve_prepared_month(month)
    return PreparedMonth(month=month, settings=month_settings(month, settings), run_info=read_run_info(month))
