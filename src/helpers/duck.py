"""DuckDB connections set up alike everywhere: in-memory, and without the progress bar, which would
otherwise fill notebook outputs and run logs with bars."""

from __future__ import annotations

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con
