"""The languages of the workbook and how each writes numbers, money, percentages, dates and months.

:data:`LANGUAGES` is the one list of languages for the whole package; :func:`check_language` refuses any
other. The formatters give ``1.234,56 €`` and ``31.12.2025`` in German and ``€1,234.56`` and
``31 Dec 2025`` in English, and ``-`` for a missing value. The report's texts (:mod:`helpers.reporting.i18n`),
the reasons of the potential matrix and the cluster names all write values with them.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from helpers.core.errors import UsageError

LANGUAGES: tuple[str, ...] = ("en", "de")

MONTH_NAMES: dict[str, list[str]] = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"],
}
_SHORT_MONTHS_EN = [name[:3] for name in MONTH_NAMES["en"]]
# No "$": Jupyter's and nbconvert's Markdown read $...$ as a formula, which garbles any sentence with two
# dollar amounts; dollars are written with their code (1,234 USD).
CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£"}


def check_language(language: str) -> str:
    """``language`` when it is one of :data:`LANGUAGES`; else a :class:`UsageError` naming them."""
    if language not in LANGUAGES:
        raise UsageError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    return language


def is_missing(value: Any) -> bool:
    """True for None, NaN, infinity and anything that is not a number."""
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def number(value: Any, language: str = "en", decimals: int = 0) -> str:
    """1,234.56 in English, 1.234,56 in German; '-' for missing values."""
    check_language(language)
    if is_missing(value):
        return "-"
    text = f"{float(value):,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if language == "de":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def money(value: Any, currency: str = "EUR", language: str = "en", decimals: int = 0) -> str:
    """€1,234.56 in English, 1.234,56 € in German (other currencies: 1,234 CHF / 1.234 CHF)."""
    if is_missing(value):
        return "-"
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    amount = number(abs(float(value)), language, decimals)
    sign = "-" if float(value) < 0 and amount.strip("0.,") else ""
    if language == "en" and symbol in CURRENCY_SYMBOLS.values():
        return f"{sign}{symbol}{amount}"
    return f"{sign}{amount} {symbol}"


def percent(value: Any, language: str = "en", decimals: int = 0) -> str:
    """A fraction as 18% in English, 18 % in German."""
    if is_missing(value):
        return "-"
    text = number(100.0 * float(value), language, decimals)
    return f"{text} %" if language == "de" else f"{text}%"


def date(value: Any, language: str = "en") -> str:
    """31 Dec 2025 in English, 31.12.2025 in German."""
    check_language(language)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "-"
    day = pd.Timestamp(value)
    if language == "de":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return f"{day.day} {_SHORT_MONTHS_EN[day.month - 1]} {day.year}"


def timestamp(value: Any = None, language: str = "en") -> str:
    """A date with the time of day: 31 Dec 2025, 14:05 / 31.12.2025, 14:05 Uhr."""
    stamp = pd.Timestamp(value if value is not None else dt.datetime.now())
    clock = f"{stamp.hour:02d}:{stamp.minute:02d}"
    return f"{date(stamp, language)}, {clock} Uhr" if language == "de" else f"{date(stamp, language)}, {clock}"


def month_name(month: str, language: str = "en") -> str:
    """'2025-12' as December 2025 / Dezember 2025."""
    check_language(language)
    period = pd.Period(month, freq="M")
    return f"{MONTH_NAMES[language][period.month - 1]} {period.year}"
