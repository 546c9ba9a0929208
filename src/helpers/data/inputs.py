"""Which input files a run uses, and which month it analyses.

A run names its files explicitly, or picks a bundled data set from data/raw/<dataset>/ (prepared by
`workbook sample-data`). Accounts and the service map are optional: a missing file means "not known".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpers.core import paths, periods
from helpers.core.errors import UsageError
from helpers.core.spark import is_remote_source

DATASETS = ("agency", "cdnow")
TABLE_FILES = {"transactions": "transactions", "accounts": "accounts", "service_map": "service_map"}
_EXTENSIONS = (".csv", ".parquet", ".xlsx", ".txt")


@dataclass(frozen=True)
class InputFiles:
    transactions: Path | str  # str: a table name or cluster path that Spark reads (engine spark)
    accounts: Path | None
    service_map: Path | None
    name: str = paths.DEFAULT_NAME  # the data set's name: its months are kept apart from other data sets'

    def as_dict(self) -> dict[str, Path | None]:
        return {"transactions": self.transactions, "accounts": self.accounts, "service_map": self.service_map}


def _find_table(directory: Path, table: str) -> Path | None:
    for extension in _EXTENSIONS:
        candidate = directory / f"{TABLE_FILES[table]}{extension}"
        if candidate.exists():
            return candidate
    return None


def resolve_inputs(
    dataset: str = "agency",
    transactions_path: str | Path | None = "",
    accounts_path: str | Path | None = "",
    service_map_path: str | Path | None = "",
    engine: str = "duckdb",
) -> InputFiles:
    """Explicit paths win; empty ones fall back to the bundled data set's files. With engine spark the
    transactions may also be a table name of Spark's catalog or a cluster path (`s3a://...`)."""
    if transactions_path and engine == "spark" and is_remote_source(transactions_path):
        transactions: Path | str = str(transactions_path)
        directory = None
    elif transactions_path:
        transactions = Path(transactions_path)
        directory = None
    else:
        if dataset not in DATASETS:
            raise UsageError(f"unknown dataset {dataset!r}; use one of {', '.join(DATASETS)} or give --transactions")
        directory = paths.dataset_dir(dataset)
        transactions = _find_table(directory, "transactions")
        if transactions is None:
            raise FileNotFoundError(
                f"no transactions file in {directory}: run `workbook sample-data` (or `make run`) to prepare "
                f"the bundled data, or give --transactions PATH"
            )
    if isinstance(transactions, Path) and not transactions.exists():
        hint = "" if engine == "spark" else " (a table name or cluster path needs --engine spark)"
        raise FileNotFoundError(f"{transactions}: transactions file not found{hint}")

    def optional(explicit, table):
        if explicit:
            path = Path(explicit)
            if not path.exists():
                raise FileNotFoundError(f"{path}: {table} file not found")
            return path
        return _find_table(directory, table) if directory is not None else None

    return InputFiles(transactions, optional(accounts_path, "accounts"), optional(service_map_path, "service_map"),
                      name=dataset_name(dataset, transactions_path))


def dataset_name(dataset: str = "agency", transactions_path: str | Path | None = "", given: str = "") -> str:
    """The name a data set's months are published under: the one given, else the bundled data set's, else
    one taken from the transactions (the file's name, or its folder's when the file is just called
    "transactions"; a table's name), so that the same input always lands in the same place."""
    if given:
        return paths.safe_name(given)
    if not transactions_path:
        return paths.safe_name(dataset)
    text = str(transactions_path)
    if is_remote_source(text) and not Path(text).exists():
        return paths.safe_name(text.rstrip("/").rsplit("/", 1)[-1])
    path = Path(text)
    stem = path.stem
    generic = stem.lower() in TABLE_FILES or stem.lower().startswith("transaction")
    return paths.safe_name(path.resolve().parent.name if generic and path.resolve().parent.name else stem)


def resolve_month(month: str | None, last_transaction_date) -> str:
    """An explicit month is checked and kept; an empty one becomes the latest complete month in the data."""
    if month:
        periods.parse_month(month)
        return month
    return periods.latest_complete_month(last_transaction_date)
