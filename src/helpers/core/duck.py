"""DuckDB connections set up alike everywhere: in-memory, and without the progress bar, which would
otherwise fill terminal output and run logs with bars."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass  # in a Jupyter kernel without ipywidgets DuckDB draws no bar and refuses the setting
    return con


def parquet(path) -> str:
    """The SQL relation `read_parquet(...)` of a Parquet file, or of a folder of Parquet part files (as Spark's
    executors write the accepted transactions), read in the order of the parts' names."""
    path = Path(path)
    target = path / "*.parquet" if path.is_dir() else path
    return "read_parquet('{}')".format(target.as_posix().replace("'", "''"))


def parquet_exists(path) -> bool:
    """Whether `path` is a Parquet file or a folder holding Parquet part files."""
    path = Path(path)
    return path.is_file() or (path.is_dir() and any(path.glob("*.parquet")))
