"""Intake: every input row checked against the contract, accepted or set aside with a reason.

`loader` is the one front door (`load_inputs`, `validate_paths`). The back ends check the rows:
`in_pandas` (accounts, service maps, files DuckDB cannot read exactly alike), `in_duckdb` (transaction
files in CSV or Parquet; its SQL in `duckdb_sql`) and `in_spark` (a table or cluster path that Spark
reads), all against the contract's row checks and limits (helpers.data.contract `row_checks`,
`RowLimits`). They share `readers` (CSV, Excel, Parquet into raw tables), `columns` (header matching, the
column mapping's checks, German numbers and dates), `messages` (the errors and rejected rows, worded once)
and `result` (IntakeResult; the check of accounts and service maps against the transactions' customers).
Imports point that way: loader -> back ends -> result -> messages -> readers -> columns -> helpers.data.contract."""
