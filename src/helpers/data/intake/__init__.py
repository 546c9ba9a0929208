"""Intake: every input row checked against the contract, accepted or set aside with a reason.

`loader` is the one front door (`load_inputs`, `validate_paths`). The back ends check the rows:
`in_pandas` (accounts, service maps, files DuckDB cannot read exactly alike), `in_duckdb` (transaction
files in CSV or Parquet) and `in_spark` (a table or cluster path that Spark reads). They share `readers`
(CSV, Excel, Parquet into raw tables), `columns` (header matching, German numbers and dates), `messages`
(the errors and rejected rows, worded once) and `result` (IntakeResult). Imports point that way:
loader -> back ends -> messages, result -> readers -> columns -> helpers.data.contract."""
