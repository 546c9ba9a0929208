"""The CDNOW reader against the files and the published summary shipped in lifetimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.data.samples.cdnow import CONTRACT_COLUMNS, cdnow_path, read_cdnow, summary_path, write_cdnow


@pytest.fixture(scope="module")
def master() -> pd.DataFrame:
    return read_cdnow("master")


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return read_cdnow("sample")


def test_files_come_from_the_installed_lifetimes_package():
    for kind in ("master", "sample"):
        path = cdnow_path(kind)
        assert path.is_file()
        assert path.parent.name == "datasets" and path.parent.parent.name == "lifetimes"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        read_cdnow("full")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "rows", "customers"), [("master", 69_659, 23_570), ("sample", 6_919, 2_357)]
)
def test_row_and_customer_counts(kind, rows, customers, master, sample):
    df = master if kind == "master" else sample
    assert len(df) == rows
    assert df["customer_id"].nunique() == customers


def test_contract_columns_and_types(master, sample):
    for df in (master, sample):
        assert list(df.columns) == CONTRACT_COLUMNS
        assert pd.api.types.is_string_dtype(df["customer_id"])
        assert pd.api.types.is_datetime64_any_dtype(df["date"])
        assert df["amount"].dtype == np.float64
        assert df["quantity"].dtype == np.float64
        assert (df["currency"] == "USD").all()
        assert df["date"].min() == pd.Timestamp("1997-01-01")
        assert df["date"].max() == pd.Timestamp("1998-06-30")
        assert (df["quantity"] >= 1).all()
        assert (df["amount"] >= 0).all()


def test_ids_have_no_leading_zeros(master, sample):
    for df in (master, sample):
        ids = df["customer_id"]
        assert not ids.str.startswith("0").any()
        assert ids.str.fullmatch(r"[1-9]\d*").all()
    assert set(master["customer_id"].astype(int)) == set(range(1, 23_571))


def test_sample_ids_match_the_published_summary(sample):
    summary = pd.read_csv(summary_path())
    assert len(summary) == 2_357
    assert set(summary["ID"].astype(str)) == set(sample["customer_id"])


def test_sample_reproduces_the_published_calibration_summary(sample):
    # Fader/Hardie: 39 calibration weeks ending 1997-09-30, same-day purchases merged into one
    summary = pd.read_csv(summary_path()).set_index("ID")
    cal = sample[sample["date"] <= "1997-09-30"]
    per = cal.groupby("customer_id")["date"].agg(["nunique", "min", "max"])
    per.index = per.index.astype(int)
    joined = summary.join(per, how="left")
    assert joined["nunique"].notna().all()
    assert (joined["frequency"] == joined["nunique"] - 1).all()
    recency = (joined["max"] - joined["min"]).dt.days / 7
    age = (pd.Timestamp("1997-09-30") - joined["min"]).dt.days / 7
    np.testing.assert_allclose(recency, joined["recency"], atol=0.006)
    np.testing.assert_allclose(age, joined["T"], atol=0.006)


def test_sample_rows_are_master_rows_of_the_sampled_customers(master):
    raw = pd.read_csv(cdnow_path("sample"), sep=r"\s+", header=None, dtype={0: str, 1: str})
    master_ids = set(raw[0].astype(int).astype(str))
    sub = master[master["customer_id"].isin(master_ids)]
    assert len(sub) == len(raw) == 6_919
    assert sub["amount"].sum() == pytest.approx(raw[4].sum())
    assert sub["quantity"].sum() == raw[3].sum()


def test_write_cdnow_round_trips(tmp_path, sample):
    path = write_cdnow(tmp_path / "cdnow", kind="sample")
    assert path == tmp_path / "cdnow" / "transactions.csv"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "customer_id,date,amount,quantity,currency"
    assert "\r" not in text
    raw = pd.read_csv(path, dtype=str)
    assert raw["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    back = pd.read_csv(path, dtype={"customer_id": str}, parse_dates=["date"])
    assert len(back) == len(sample)
    assert (back["customer_id"] == sample["customer_id"]).all()
    np.testing.assert_allclose(back["amount"], sample["amount"])
    assert (back["date"] == sample["date"]).all()
