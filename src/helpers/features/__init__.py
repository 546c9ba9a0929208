"""Features: the transaction log condensed per customer.

The customer summary (`summary`, frequency / recency / T / monetary value in DuckDB SQL), where it runs
(`engines`: DuckDB or Spark) and per-day and per-month questions of the transactions
(`transaction_queries`). Imports `core` and `data`."""
