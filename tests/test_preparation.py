"""Data preparation for a month: artifacts written, rows accounted for, currency and month rules."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.core import artifacts as processed
from helpers.core import config
from helpers.core.errors import UsageError
from helpers.data.inputs import resolve_inputs
from helpers.pipeline import preparation
from helpers.pipeline.preparation import calibration_end_for, data_currency, latest_month, prepare_month


def test_currency_comes_from_the_data_when_it_names_one():
    assert data_currency(pd.DataFrame({"currency": ["usd", "USD", None]}), "EUR", "t.csv") == "USD"
    assert data_currency(pd.DataFrame({"currency": [None, None]}), "EUR", "t.csv") == "EUR"
    assert data_currency(pd.DataFrame({"amount": [1.0]}), "CHF", "t.csv") == "CHF"


def test_several_currencies_stop_the_run_with_the_fix():
    with pytest.raises(ValueError, match=r"t\.csv.*EUR, USD.*convert"):
        data_currency(pd.DataFrame({"currency": ["EUR", "USD"]}), "EUR", "t.csv")


def test_calibration_window_needs_data_before_it():
    assert calibration_end_for("2025-12", 6, "2023-01-01") == pd.Timestamp("2025-06-30")
    assert calibration_end_for("2025-12", 6, "2025-08-01") is None
    assert calibration_end_for("2025-12", 0, "2023-01-01") is None


def test_prepare_month_writes_every_artifact_and_accounts_for_every_row(workbook_root, small_agency_dir):
    settings = config.load_settings()
    files = resolve_inputs("agency", small_agency_dir / "transactions.csv", small_agency_dir / "accounts.csv",
                           small_agency_dir / "service_map.csv")
    prepared = prepare_month(files, "2025-06", settings)
    assert prepared.month == "2025-06" and prepared.cutoff == pd.Timestamp("2025-06-30")
    for name in ("transactions", "accounts", "service_map", "intake_counts", "customer_summary",
                 "calibration_holdout"):
        assert processed.has_artifact("2025-06", name), name
    counts = processed.read_artifact("2025-06", "intake_counts").set_index("table")
    assert (counts["read"] == counts["accepted"] + counts["rejected"]).all()
    rejected = pd.read_csv(workbook_root / "data" / "processed" / "agency" / "en" / "2025-06" / "rejected_rows.csv")
    later = (rejected["reason"] == "after_analysis_month").sum()
    raw = pd.read_csv(small_agency_dir / "transactions.csv", parse_dates=["date"])
    assert later == (raw["date"] > "2025-06-30").sum()  # everything after June is set aside, and counted
    assert prepared.summary["last_purchase"].max() <= pd.Timestamp("2025-06-30")
    assert prepared.currency == "EUR" and processed.month_currency("2025-06", settings) == "EUR"


def test_a_stale_optional_artifact_is_removed_when_that_input_is_gone(workbook_root, small_agency_dir):
    settings = config.load_settings()
    with_accounts = resolve_inputs("agency", small_agency_dir / "transactions.csv", small_agency_dir / "accounts.csv")
    prepare_month(with_accounts, "2025-06", settings)
    assert processed.has_artifact("2025-06", "accounts")
    prepare_month(resolve_inputs("agency", small_agency_dir / "transactions.csv"), "2025-06", settings)
    assert not processed.has_artifact("2025-06", "accounts")


def test_rejection_reasons_count_listed_and_unlisted_rows():
    from helpers.reporting.overview import rejection_reasons

    rejected = pd.DataFrame(
        {"table": ["transactions"] * 3, "reason": ["duplicate_row", "unparseable_date", "duplicate_row"],
         "source_row": [4, 7, 9]}
    )
    table = rejection_reasons(rejected, {("transactions", "after_analysis_month"): 120})
    assert table[["reason", "rows"]].values.tolist() == [
        ["after_analysis_month", 120], ["duplicate_row", 2], ["unparseable_date", 1]
    ]
    assert table["example_row"].tolist()[1:] == [4, 7] and pd.isna(table["example_row"].iloc[0])
    assert rejection_reasons(rejected.iloc[:0]).empty
    # a reason with listed rows and rows beyond those listed is one line, with a listed row as its example
    both = rejection_reasons(rejected, {("transactions", "duplicate_row"): 5_000})
    assert both[["reason", "rows", "example_row"]].values.tolist() == [["duplicate_row", 5_002, 4], ["unparseable_date", 1, 7]]


def test_without_a_month_the_latest_complete_month_of_the_accepted_rows_is_taken(workbook_root, tmp_path):
    # the last accepted purchase is in March 2025 (a month that is over); the row of May has no customer,
    # is set aside and must not move the month to May
    settings = config.load_settings()
    path = tmp_path / "transactions.csv"
    path.write_text(
        "customer_id,date,amount\nC1,2025-01-05,10\nC2,2025-03-31,20\nC1,2025-03-10,5\n,2025-05-20,7\n",
        encoding="utf-8",
    )
    files = resolve_inputs("agency", path)
    assert latest_month(files, settings) == "2025-03"
    prepared = prepare_month(files, "", settings)
    assert prepared.month == "2025-03" and "latest complete month" in " ".join(prepared.notes)


def test_the_default_month_is_never_later_than_the_last_complete_calendar_month():
    """A typo row dated 2031-05-17 once made the scheduled run publish reports/2031-04/."""
    from helpers.core import periods

    assert periods.latest_complete_month("2031-05-17", today="2026-12-02") == "2026-11"
    assert periods.latest_complete_month("2026-11-30", today="2026-11-30") == "2026-11"
    assert periods.latest_complete_month("2026-11-29", today="2026-11-30") == "2026-10"
    covered = preparation.DataMonths(["2025-11", "2025-12", "2031-05"], pd.Timestamp("2031-05-17"))
    assert covered.latest_complete(today="2026-12-02") == "2025-12"


def test_a_month_without_accepted_transactions_in_it_or_the_month_before_is_refused():
    covered = preparation.DataMonths(["2025-01", "2025-02", "2025-06"], pd.Timestamp("2025-06-30"))
    preparation.check_months(["2025-01", "2025-03", "2025-06", "2025-07"], covered, "t.csv")  # each has data near
    with pytest.raises(UsageError, match=r"t.csv: no accepted transaction in 2025-04, 2025-05 or the month before; "
                                         r"the data cover 2025-01 to 2025-06"):
        preparation.check_months(["2025-04", "2025-05", "2025-06"], covered, "t.csv")


def test_run_refuses_a_month_outside_the_data_before_any_notebook(workbook_root, tmp_path, capsys):
    from helpers.pipeline import cli

    transactions = tmp_path / "t.csv"
    transactions.write_text("customer_id,date,amount\n1,2025-07-01,10\n2,2025-07-03,20\n")
    assert cli.main(["run", "--transactions", str(transactions), "--month", "2031-04"]) == 2
    assert "no accepted transaction in 2031-04 or the month before" in capsys.readouterr().err
    assert not (workbook_root / "reports").exists()


def test_preparing_a_published_month_by_hand_takes_it_out_of_the_comparisons(workbook_root, small_agency_dir):
    files = resolve_inputs("agency", str(small_agency_dir / "transactions.csv"), "", "", "duckdb")
    prepare_month(files, "2025-12", config.default_settings())
    processed.mark_published(workbook_root / "data" / "processed" / "agency" / "en" / "2025-12", {"run": "test"})
    assert processed.published_months() == ["2025-12"]
    prepare_month(files, "2025-12", config.default_settings())  # an analyst's session: no staged run
    assert processed.published_months() == []
