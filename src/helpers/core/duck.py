"""DuckDB connections set up alike everywhere: in-memory, and without the progress bar, which would
otherwise fill terminal output and run logs with bars."""

from __future__ import annotations

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass  # in a Jupyter kernel without ipywidgets DuckDB draws no bar and refuses the setting
    return con
