"""What the intake hands on: the checked inputs of a run (`IntakeResult`), made of one `FileResult` per file.

Every back end gives the same shapes: accepted rows with the contract's columns and types, rejected rows
with REJECTED_COLUMNS (see helpers.data.intake.messages) and per file the counts, read == accepted + rejected.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers.core import duck
from helpers.data.contract import empty_frame
from helpers.data.intake.messages import REJECTED_COLUMNS

COUNT_COLUMNS = ["table", "source_file", "read", "accepted", "rejected"]

PathLike = str | Path


@dataclass
class IntakeResult:
    """The checked inputs. Accepted transactions are in `transaction_parts`, one per file: a DataFrame
    (checked in pandas) or a Parquet file (checked inside DuckDB, see helpers.data.intake.in_duckdb); `transactions`
    gives them as one DataFrame, `write_transactions` as one Parquet file without passing through pandas."""

    transaction_parts: list[pd.DataFrame | Path]
    accounts: pd.DataFrame | None
    service_map: pd.DataFrame | None
    rejected: pd.DataFrame
    counts: pd.DataFrame
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    engines: dict[str, str] = field(default_factory=dict)  # source file -> "duckdb", "spark" or "pandas (why)"
    # (table, reason) -> rows rejected but not listed in `rejected` (a warehouse table's rows after the month)
    unlisted_rejections: dict[tuple[str, str], int] = field(default_factory=dict)
    _transactions: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def transactions(self) -> pd.DataFrame:
        if self._transactions is None:
            frames = [p if isinstance(p, pd.DataFrame) else pd.read_parquet(p) for p in self.transaction_parts]
            if not frames:
                self._transactions = empty_frame("transactions")
            else:
                self._transactions = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return self._transactions

    def write_transactions(self, target: PathLike) -> Path:
        """All accepted transactions, in file order, as one Parquet file (written then renamed)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".parquet.tmp")
        parts = self.transaction_parts or [empty_frame("transactions")]
        if len(parts) == 1 and isinstance(parts[0], pd.DataFrame):
            parts[0].to_parquet(temporary, index=False)
        elif len(parts) == 1:
            Path(parts[0]).replace(temporary)
            self.transaction_parts = [target]
        else:
            with tempfile.TemporaryDirectory(dir=target.parent) as work:
                files = []
                for i, part in enumerate(parts):
                    if isinstance(part, pd.DataFrame):
                        files.append(Path(work) / f"part{i}.parquet")
                        part.to_parquet(files[-1], index=False)
                    else:
                        files.append(Path(part))
                union = " UNION ALL ".join(
                    f"SELECT *, {i} AS __part, file_row_number AS __row FROM read_parquet('{f}', file_row_number=true)"
                    for i, f in enumerate(files)
                )
                with duck.connect() as con:
                    con.execute(
                        f"COPY (SELECT * EXCLUDE (__part, __row) FROM ({union}) ORDER BY __part, __row) "
                        f"TO '{temporary}' (FORMAT parquet)"
                    )
        temporary.replace(target)
        return target

    def merged(self, other: IntakeResult) -> IntakeResult:
        """This result and another one's files together (e.g. a warehouse table and local account files)."""
        frames = [r for r in (self.rejected, other.rejected) if not r.empty]
        return IntakeResult(
            transaction_parts=[*self.transaction_parts, *other.transaction_parts],
            accounts=self.accounts if self.accounts is not None else other.accounts,
            service_map=self.service_map if self.service_map is not None else other.service_map,
            rejected=pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames or [self.rejected])[0],
            counts=pd.concat([self.counts, other.counts], ignore_index=True),
            ignored_columns={**other.ignored_columns, **self.ignored_columns},
            engines={**self.engines, **other.engines},
            unlisted_rejections={**self.unlisted_rejections, **other.unlisted_rejections},
        )

    def write_rejected(self, path: PathLike) -> Path:
        """Write the rejected rows as CSV (UTF-8, comma), e.g. data/processed/<YYYY-MM>/rejected_rows.csv."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rejected.to_csv(path, index=False, columns=REJECTED_COLUMNS)
        return path


@dataclass
class FileResult:
    """One checked file: its accepted rows (a DataFrame, or a Parquet file written by DuckDB) and rejected rows."""

    table: str
    source_file: str
    accepted: pd.DataFrame | Path
    rejected: pd.DataFrame
    read: int
    ignored: list[str]
    accepted_rows: int
    engine: str = "pandas"

