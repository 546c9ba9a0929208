"""Segment workbook: the shared logic behind the notebooks."""

import warnings

__version__ = "0.1.0"

# pandera imports pyspark.pandas when pyspark is installed (the optional Spark engine), and that warns
# about pandas 3 on every import although the workbook never uses pyspark.pandas: keep reports clean.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
