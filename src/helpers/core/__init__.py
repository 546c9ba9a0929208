"""Core: what every step stands on.

Typed settings (`config`), where files live (`paths`), analysis months (`periods`), DuckDB and Spark
connections (`duck`, `spark`), languages and number formats (`language`), the user-error base class
(`errors`), and the processed files that notebooks hand to each other and the month a notebook opens
(`artifacts`). Imports nothing else of `helpers`."""
