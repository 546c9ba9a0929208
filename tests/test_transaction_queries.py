"""Figures over the accepted transactions in DuckDB: the same as pandas computes them, from a file or a frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.features import transaction_queries
from helpers.pipeline.preparation import data_currency
from helpers.reporting import overview


@pytest.fixture
def transactions(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "customer_id": rng.choice([f"C{i}" for i in range(40)], 500),
            # January and March only: February must show as an empty month
            "date": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.choice(np.r_[0:31, 60:91], 500), unit="D"),
            "amount": np.round(rng.normal(40, 30, 500), 2),
            "currency": rng.choice(["EUR", None], 500),
        }
    )
    path = tmp_path / "transactions.parquet"
    frame.to_parquet(path, index=False)
    return frame, path


def test_revenue_by_month_equals_pandas_and_shows_empty_months(transactions):
    frame, path = transactions
    table = transaction_queries.revenue_by_month(path)
    month = frame["date"].dt.to_period("M")
    expected = frame.groupby(month).agg(
        revenue=("amount", "sum"), rows=("amount", "size"), customers=("customer_id", "nunique")
    )
    assert [str(p) for p in table.index] == ["2024-01", "2024-02", "2024-03"]
    assert table.loc[pd.Period("2024-02", "M")].tolist() == [0, 0, 0]
    for period, row in expected.iterrows():
        assert table.loc[period, "revenue"] == pytest.approx(row["revenue"], rel=1e-12)
        assert table.loc[period, ["rows", "customers"]].tolist() == [row["rows"], row["customers"]]
    # a DataFrame source gives the same table as the Parquet file
    pd.testing.assert_frame_equal(transaction_queries.revenue_by_month(frame), table)


def test_key_figures_and_month_activity(transactions):
    frame, path = transactions
    summary = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "frequency": [0, 2, 1]})
    figures = overview.data_figures(path, summary)
    assert figures["transactions"] == 500
    assert figures["first_date"] == frame["date"].min().date()
    assert figures["last_date"] == frame["date"].max().date()
    assert figures["revenue"] == pytest.approx(frame["amount"].sum(), rel=1e-12)
    assert figures["refund_rows"] == int((frame["amount"] < 0).sum()) > 0
    assert figures["repeat_customers"] == 2
    march = frame[frame["date"].dt.to_period("M") == pd.Period("2024-03", "M")]
    activity = transaction_queries.month_activity(path, "2024-03")
    assert activity["revenue"] == pytest.approx(march["amount"].sum(), rel=1e-12)
    assert activity["customers"] == march["customer_id"].nunique()
    assert transaction_queries.month_activity(path, "2024-02") == {"revenue": 0.0, "customers": 0}


def test_currency_of_a_file(transactions, tmp_path):
    _, path = transactions
    assert data_currency(path, "CHF", path) == "EUR"
    mixed = tmp_path / "mixed.parquet"
    pd.DataFrame({"amount": [1.0, 2.0], "currency": ["EUR", "USD"]}).to_parquet(mixed)
    with pytest.raises(ValueError, match="several currencies"):
        data_currency(mixed, "EUR", mixed)
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"amount": [1.0]}).to_parquet(plain)
    assert data_currency(plain, "CHF", plain) == "CHF"


def test_a_folder_of_parts_as_spark_writes_it_answers_like_one_file(transactions, tmp_path):
    from helpers.features.summary import customer_summary

    frame, path = transactions
    parts = tmp_path / "parts.parquet"
    parts.mkdir()
    for number, start in enumerate(range(0, len(frame), 200)):
        frame.iloc[start:start + 200].to_parquet(parts / f"part-{number:05d}.parquet", index=False)
    (parts / "_SUCCESS").write_text("")  # Spark's marker and checksums sit beside the parts
    (parts / ".part-00000.parquet.crc").write_bytes(b"\0crc")
    assert transaction_queries.overview(parts) == transaction_queries.overview(path)
    pd.testing.assert_frame_equal(transaction_queries.revenue_by_month(parts), transaction_queries.revenue_by_month(path))
    ids = pd.Index(sorted(frame["customer_id"].unique()))
    pd.testing.assert_series_equal(
        transaction_queries.revenue_12m_by_customer(parts, ids, None),
        transaction_queries.revenue_12m_by_customer(path, ids, None),
    )
    pd.testing.assert_frame_equal(customer_summary(parts, "2024-03-31"), customer_summary(path, "2024-03-31"))
