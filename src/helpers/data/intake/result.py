"""What the intake hands on: the checked inputs of a run (`IntakeResult`), made of one `FileResult` per file.

Every back end gives the same shapes: accepted rows with the contract's columns and types, rejected rows
with REJECTED_COLUMNS (see helpers.data.intake.messages) and per file the counts, read == accepted + rejected.
`combine` joins the files' results; there the accounts and service-map rows whose customer has no accepted
transaction are moved to the rejected rows (`unknown_customer`), once the transactions are known.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core import duck
from helpers.data.contract import UNKNOWN_CUSTOMER, empty_frame
from helpers.data.intake.messages import REJECTED_COLUMNS, empty_rejected, rejected_rows
from helpers.data.intake.readers import RawTable

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
    # the customer ids of the accepted transactions (`customer_ids`); None: not known yet, or no transactions;
    # `customer_source` finds them when they are needed (a warehouse table's, collected from Spark)
    known_customers: pd.Index | None = None
    customer_source: Callable[[], pd.Index] | None = field(default=None, repr=False)
    files: list[FileResult] = field(default_factory=list, repr=False)
    tables_given: frozenset[str] = frozenset()
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

    def has_transactions(self) -> bool:
        return (self.known_customers is not None or self.customer_source is not None
                or any(f.table == "transactions" for f in self.files))

    def customer_ids(self) -> pd.Index | None:
        """The customer ids of the accepted transactions; None when this result holds no transactions."""
        if self.known_customers is None and self.customer_source is not None:
            self.known_customers = self.customer_source()
        elif self.known_customers is None and any(f.table == "transactions" for f in self.files):
            self.known_customers = known_customer_ids(self.transaction_parts)
        return self.known_customers

    def _unchecked(self) -> bool:
        """Accounts or service-map rows not yet checked against the transactions' customers."""
        return not self.has_transactions() and any(f.raw is not None for f in self.files)

    def merged(self, other: IntakeResult) -> IntakeResult:
        """This result and another one's files together (e.g. a warehouse table and local account files);
        the accounts and service map of one are checked against the customers of the other's transactions."""
        if other._unchecked() and self.has_transactions():
            other = combine(other.files, other.tables_given, self.customer_ids())
        elif self._unchecked() and other.has_transactions():
            return other.merged(self)
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
            known_customers=_union(self.known_customers, other.known_customers),
            customer_source=self.customer_source or other.customer_source,
            files=[*self.files, *other.files],
            tables_given=self.tables_given | other.tables_given,
        )

    def write_rejected(self, path: PathLike) -> Path:
        """Write the rejected rows as CSV (UTF-8, comma), e.g. data/processed/<name>/<language>/<YYYY-MM>/rejected_rows.csv."""
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
    # accounts and service maps (checked in pandas): the raw rows, the position in them of each accepted
    # row, and contract column -> the file's column; what `reject_unknown_customers` needs to set rows aside
    raw: RawTable | None = field(default=None, repr=False)
    positions: np.ndarray | None = field(default=None, repr=False)
    columns: dict[str, str] | None = field(default=None, repr=False)
    # transactions: the customers of rows set aside only for lying after the analysis month; they are
    # customers already (a backfilled month precedes their first purchase), not unknown ones
    later_customers: pd.Index | None = field(default=None, repr=False)


def known_customer_ids(parts: Iterable[pd.DataFrame | Path]) -> pd.Index:
    """The distinct customer ids of accepted transactions (DataFrames, or Parquet files written by DuckDB)."""
    ids: list[np.ndarray] = []
    files = [str(p) for p in parts if not isinstance(p, pd.DataFrame)]
    for part in parts:
        if isinstance(part, pd.DataFrame):
            ids.append(part["customer_id"].dropna().unique().astype(object))
    if files:
        with duck.connect() as con:
            found = con.execute(
                "SELECT DISTINCT customer_id FROM read_parquet(?) WHERE customer_id IS NOT NULL", [files]
            ).fetchnumpy()["customer_id"]
        ids.append(np.asarray(found, dtype=object))
    return pd.Index(pd.unique(np.concatenate(ids)) if ids else np.array([], dtype=object), dtype=object)


def _union(first: pd.Index | None, second: pd.Index | None) -> pd.Index | None:
    if first is None or second is None:
        return second if first is None else first
    return first.union(second)


def reject_unknown_customers(result: FileResult, known: pd.Index) -> FileResult:
    """An accounts or service-map file's accepted rows whose customer has no accepted transaction, moved to
    its rejected rows with reason `unknown_customer` (they cannot be joined to anything the analysis uses).
    Transactions, and results without raw rows, are returned as they are."""
    if result.raw is None or result.table == "transactions" or not isinstance(result.accepted, pd.DataFrame):
        return result
    unknown = ~result.accepted["customer_id"].isin(known).to_numpy()
    if not unknown.any():
        return result
    chosen = pd.DataFrame(
        {"reason": UNKNOWN_CUSTOMER, "column": "customer_id"}, index=pd.Index(result.positions[unknown])
    )
    extra = rejected_rows(result.raw, result.table, chosen, result.columns or {})
    frames = [r for r in (result.rejected, extra) if not r.empty]
    rejected = pd.concat(frames, ignore_index=True).sort_values("source_row", kind="stable").reset_index(drop=True)
    accepted = result.accepted.loc[~unknown].reset_index(drop=True)
    return FileResult(
        result.table, result.source_file, accepted, rejected, result.read, result.ignored, len(accepted),
        result.engine, result.raw, result.positions[~unknown], result.columns,
    )


def combine(results: list[FileResult], tables_given: Iterable[str], known: pd.Index | None = None) -> IntakeResult:
    """The files' results as one IntakeResult. The accounts and service-map rows are checked against the
    customers of the accepted transactions: of `results` when they hold transaction files, else `known`
    (e.g. a warehouse table's customers), else not yet (`IntakeResult.merged` does it later)."""
    tables_given = frozenset(tables_given)
    transaction_parts = [r.accepted for r in results if r.table == "transactions"]
    to_check = any(r.raw is not None for r in results)
    if to_check and any(r.table == "transactions" for r in results):
        known = _union(known, known_customer_ids(transaction_parts))
        for later in (r.later_customers for r in results if r.table == "transactions"):
            known = _union(known, later)
    if to_check and known is not None:
        results = [reject_unknown_customers(r, known) for r in results]

    def table_frame(table: str) -> pd.DataFrame | None:
        frames = [r.accepted for r in results if r.table == table]
        if not frames:
            return empty_frame(table) if table in tables_given else None
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    rejected_frames = [r.rejected for r in results if not r.rejected.empty]
    rejected = pd.concat(rejected_frames, ignore_index=True) if rejected_frames else empty_rejected()
    counts = pd.DataFrame(
        [
            {"table": r.table, "source_file": r.source_file, "read": r.read, "accepted": r.accepted_rows,
             "rejected": len(r.rejected)}
            for r in results
        ],
        columns=COUNT_COLUMNS,
    )
    ignored: dict[str, list[str]] = {}
    for r in results:
        if r.ignored:
            ignored.setdefault(r.table, [])
            ignored[r.table].extend(c for c in r.ignored if c not in ignored[r.table])
    return IntakeResult(
        transaction_parts=transaction_parts,
        accounts=table_frame("accounts"),
        service_map=table_frame("service_map"),
        rejected=rejected,
        counts=counts,
        ignored_columns=ignored,
        engines={r.source_file: r.engine for r in results},
        known_customers=known,
        files=results,
        tables_given=tables_given,
    )

