"""Core: what every step stands on.

Typed settings (`config`), where files live (`paths`), analysis months (`periods`), DuckDB
connections (`duck`), and the processed files that notebooks hand to each other (`artifacts`).
Imports nothing else of `helpers`."""
