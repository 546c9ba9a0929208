"""Intake: every input row checked against the contract, accepted or set aside with a reason.

`loader.load_inputs` is the one front door; `readers` reads CSV, Excel and Parquet files; the row checks
run in pandas (`loader`), in DuckDB (`in_duckdb`, large transaction files) or in Spark (`in_spark`)."""
