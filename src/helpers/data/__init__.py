"""Data: what comes in.

The data contract (`contract`), which files a run reads (`inputs`), the intake that checks every row
(`intake/`: one front door, with back ends in pandas, DuckDB and Spark) and the bundled sample data sets
(`samples/`). Imports only `helpers.core`."""
