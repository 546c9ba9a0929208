import pandas as pd
import pytest

from helpers.core import periods


@pytest.mark.parametrize(
    ("last_date", "today", "expected"),
    [
        ("2025-12-31", "2025-12-31", "2025-12"),  # the data reach the month's last day
        ("2025-12-30", "2025-12-30", "2025-11"),  # December still under way
        ("2025-12-05", "2026-01-02", "2025-12"),  # December is over: last invoices early in the month
        ("2025-01-15", "2025-01-20", "2024-12"),
        ("2024-02-29", "2024-02-29", "2024-02"),
        ("1998-06-30", None, "1998-06"),
    ],
)
def test_latest_complete_month(last_date, today, expected):
    assert periods.latest_complete_month(pd.Timestamp(last_date), today=today) == expected


def test_month_end_and_range():
    assert periods.month_end("2024-02") == pd.Timestamp("2024-02-29")
    assert periods.month_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert periods.shift_month("2025-01", -6) == "2024-07"


@pytest.mark.parametrize("bad", ["2025-13", "2025-1", "25-01", "", None, "2025/01"])
def test_bad_months_are_refused_with_the_expected_form(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        periods.parse_month(bad)


def test_backfill_range_must_be_ordered():
    with pytest.raises(ValueError, match="after"):
        periods.month_range("2025-05", "2025-01")
