"""Segment workbook: the shared logic behind the notebooks."""
__version__ = "0.1.0"
