"""The customer summary equals lifetimes' reference on CDNOW, and follows its documented rules."""

import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from helpers.data.samples.cdnow import read_cdnow
from helpers.features.summary import SUMMARY_COLUMNS, calibration_holdout_summary, customer_summary

BTYD_COLUMNS = ["frequency", "recency", "T", "monetary_value"]


@pytest.fixture(scope="module")
def cdnow_master():
    return read_cdnow("master")


def _reference(transactions, end, unit_days):
    reference = summary_data_from_transaction_data(
        transactions, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=end, freq="D", freq_multiplier=unit_days,
    )
    reference.index = reference.index.astype(str)
    return reference.sort_index()


@pytest.mark.parametrize("unit_days", [1, 7])
def test_summary_equals_lifetimes_on_cdnow(cdnow_master, unit_days):
    ours = customer_summary(cdnow_master, "1998-06-30", unit_days=unit_days).set_index("customer_id")
    reference = _reference(cdnow_master, "1998-06-30", unit_days)
    assert len(ours) == len(reference) == 23_570
    ours = ours.loc[reference.index]
    # integer-valued columns are identical; the repeat-spend mean differs only by float summation order
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), reference["frequency"].to_numpy())
    np.testing.assert_array_equal(ours["recency"].to_numpy(), reference["recency"].to_numpy())
    np.testing.assert_array_equal(ours["T"].to_numpy(), reference["T"].to_numpy())
    np.testing.assert_allclose(ours["monetary_value"], reference["monetary_value"], rtol=1e-12, atol=1e-9)


def test_summary_with_a_cut_off_inside_the_data(cdnow_master):
    ours = customer_summary(cdnow_master, "1997-09-30", unit_days=7).set_index("customer_id")
    reference = _reference(cdnow_master[cdnow_master["date"] <= "1997-09-30"], "1997-09-30", 7)
    ours = ours.loc[reference.index]
    np.testing.assert_allclose(ours[BTYD_COLUMNS].to_numpy(), reference[BTYD_COLUMNS].to_numpy(), rtol=1e-12)


def test_summary_matches_the_published_cdnow_sample_summary():
    """lifetimes ships Fader and Hardie's own summary of the 1/10 sample (weeks, rounded to 2 decimals)."""
    import importlib.resources

    published = pd.read_csv(importlib.resources.files("lifetimes.datasets") / "cdnow_customers_summary.csv")
    published["ID"] = published["ID"].astype(str)
    ours = customer_summary(read_cdnow("sample"), "1997-09-30", unit_days=7).set_index("customer_id")
    ours = ours.loc[published["ID"]]
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), published["frequency"].to_numpy())
    np.testing.assert_allclose(ours["recency"].to_numpy(), published["recency"].to_numpy(), atol=0.005)
    np.testing.assert_allclose(ours["T"].to_numpy(), published["T"].to_numpy(), atol=0.005)
    assert (ours["frequency"] > 0).sum() == 946


def test_calibration_holdout_equals_lifetimes(cdnow_master):
    ours = calibration_holdout_summary(cdnow_master, "1997-09-30", "1998-06-30", unit_days=7)
    ours = ours.set_index("customer_id")
    reference = calibration_and_holdout_data(
        cdnow_master, "customer_id", "date", calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30", freq="D", freq_multiplier=7, monetary_value_col="amount",
    )
    reference.index = reference.index.astype(str)
    ours = ours.loc[reference.index]
    for column in BTYD_COLUMNS:
        np.testing.assert_allclose(ours[column], reference[f"{column}_cal"], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(ours["frequency_holdout"], reference["frequency_holdout"])
    np.testing.assert_array_equal(ours["duration_holdout"], reference["duration_holdout"])


def _log(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount", "cost"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_same_day_rows_merge_and_refund_only_days_are_no_purchase():
    log = _log(
        [
            ("a", "2025-01-01", 10.0, 4.0),
            ("a", "2025-01-01", 5.0, 1.0),  # same day: one purchase day of 15
            ("a", "2025-01-08", 20.0, 5.0),
            ("a", "2025-01-10", -5.0, 0.0),  # refund-only day: not a purchase, but reduces revenue
            ("a", "2025-01-15", 30.0, 10.0),
            ("b", "2025-01-14", 7.0, None),
        ]
    )
    summary = customer_summary(log, "2025-01-15", unit_days=1).set_index("customer_id")
    a, b = summary.loc["a"], summary.loc["b"]
    assert a["purchase_days"] == 3 and a["frequency"] == 2
    assert a["recency"] == 14 and a["T"] == 14
    assert a["monetary_value"] == pytest.approx((20 + 30) / 2)
    assert a["total_revenue"] == pytest.approx(60.0)
    assert a["total_margin"] == pytest.approx(60.0 - 20.0)
    assert b["frequency"] == 0 and b["monetary_value"] == 0 and b["T"] == 1
    assert np.isnan(b["total_margin"])  # cost unknown: margin unknown, not zero
    assert list(summary.reset_index().columns) == SUMMARY_COLUMNS


def test_rows_after_the_observation_end_are_ignored():
    log = _log([("a", "2025-01-01", 10.0, None), ("a", "2025-02-01", 99.0, None)])
    summary = customer_summary(log, "2025-01-31", unit_days=7)
    assert summary.loc[0, "frequency"] == 0 and summary.loc[0, "total_revenue"] == 10.0


def test_summary_reads_parquet_directly(tmp_path, cdnow_master):
    path = tmp_path / "transactions.parquet"
    cdnow_master.to_parquet(path)
    from_file = customer_summary(path, "1998-06-30", unit_days=7)
    from_frame = customer_summary(cdnow_master, "1998-06-30", unit_days=7)
    pd.testing.assert_frame_equal(from_file, from_frame)


def test_holdout_spend_is_per_purchase_day():
    log = _log(
        [("a", "2025-01-01", 10.0, None), ("a", "2025-03-01", 5.0, None), ("a", "2025-03-01", 15.0, None),
         ("a", "2025-03-05", 40.0, None)]
    )
    result = calibration_holdout_summary(log, "2025-01-31", "2025-03-31", unit_days=1).iloc[0]
    assert result["frequency_holdout"] == 2
    assert result["monetary_value_holdout"] == pytest.approx((20 + 40) / 2)
    assert result["duration_holdout"] == 59


def test_invalid_windows_are_refused():
    log = _log([("a", "2025-01-01", 10.0, None)])
    with pytest.raises(ValueError, match="before observation end"):
        calibration_holdout_summary(log, "2025-02-01", "2025-01-31")
    with pytest.raises(ValueError, match="unit_days"):
        customer_summary(log, "2025-01-31", unit_days=0)
