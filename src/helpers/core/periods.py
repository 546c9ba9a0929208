"""Analysis months: 'YYYY-MM' strings, their cut-off dates, and the latest complete month in the data."""

from __future__ import annotations

import re

import pandas as pd

from helpers.core.errors import UsageError

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def is_month(text: str) -> bool:
    """True for a month written YYYY-MM (e.g. a month folder's name)."""
    return isinstance(text, str) and _MONTH.match(text) is not None


def parse_month(month: str) -> pd.Period:
    if not isinstance(month, str) or not _MONTH.match(month):
        raise UsageError(f"month must look like 'YYYY-MM' (for example '2025-12'), got {month!r}")
    return pd.Period(month, freq="M")


def month_end(month: str) -> pd.Timestamp:
    """The cut-off of an analysis month: its last day (transactions on that day are included)."""
    return parse_month(month).end_time.normalize()


def month_start(month: str) -> pd.Timestamp:
    return parse_month(month).start_time


def last_complete_calendar_month(today=None) -> str:
    """The newest month that is over by `today` (default: now): the month itself on its last day."""
    today = (pd.Timestamp.now() if today is None else pd.Timestamp(today)).normalize()
    period = today.to_period("M")
    return str(period) if today == period.end_time.normalize() else str(period - 1)


def latest_complete_month(last_date, today=None) -> str:
    """The last month that is both over and in the data: the month of `last_date` when that month has
    ended by `today` (default: now) or the data reach its last day; otherwise the month before, since
    a month still under way is not complete (a run on the 15th reports on last month). Never later than
    the last complete calendar month, whatever date a typo put in the data."""
    last_day = pd.Timestamp(last_date).normalize()
    period = last_day.to_period("M")
    today = pd.Timestamp.now() if today is None else pd.Timestamp(today)
    if last_day == period.end_time.normalize() or today.normalize() > period.end_time.normalize():
        month = str(period)
    else:
        month = str(period - 1)
    return min(month, last_complete_calendar_month(today))


def shift_month(month: str, months: int) -> str:
    return str(parse_month(month) + months)


def month_range(first: str, last: str) -> list[str]:
    start, end = parse_month(first), parse_month(last)
    if end < start:
        raise UsageError(f"--from {first} is after --to {last}")
    return [str(p) for p in pd.period_range(start, end, freq="M")]
