"""Tables for stakeholders: numbers turned into readable text (currency, percent, thousands separators).

The analysis tables stay numeric (and tested); these helpers only format a copy for display in a report.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from helpers.reporting import i18n
from helpers.reporting.privacy import escape_markup


def money_text(value: float, currency: str, decimals: int = 0) -> str:
    return i18n.money(value, currency, "en", decimals)


def percent_text(value: float, decimals: int = 0) -> str:
    return i18n.percent(value, "en", decimals)


def format_table(
    table: pd.DataFrame,
    currency: str = "",
    money: Iterable[str] = (),
    percent: Iterable[str] = (),
    numbers: dict[str, int] | None = None,
    rename: dict[str, str] | None = None,
    percent_decimals: int = 0,
) -> pd.DataFrame:
    """A copy of ``table`` with ``money`` columns as "12,345 EUR", ``percent`` columns (fractions) as
    "18%" (``percent_decimals`` decimals), ``numbers`` columns with the given decimals and thousands separators; then columns renamed."""
    out = table.copy()
    for column in money:
        if column in out:
            out[column] = [money_text(float(v), currency) for v in out[column]]
    for column in percent:
        if column in out:
            out[column] = [percent_text(float(v), percent_decimals) for v in out[column]]
    for column, decimals in (numbers or {}).items():
        if column in out:
            out[column] = ["-" if pd.isna(v) else f"{float(v):,.{decimals}f}" for v in out[column]]
    return out.rename(columns=rename or {})


def markdown_table(table: pd.DataFrame, index: bool = True) -> str:
    """A small table as Markdown (long texts stay whole; a DataFrame's HTML would cut them at 50
    characters). Every cell and column name is escaped as data text
    (:func:`helpers.reporting.privacy.escape_markup`: HTML, links, emphasis), pipes written as ``\\|``.
    The notebooks show their tables through :func:`helpers.reporting.privacy.table_html` instead."""
    frame = table.reset_index() if index else table

    def cell(value: object) -> str:
        return escape_markup(value).replace("&#124;", "\\|")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
