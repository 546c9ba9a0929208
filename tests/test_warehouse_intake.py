"""A transactions table read by Spark as the input of the month (`--engine spark --transactions TABLE`): the
rows are checked in Spark with the file intake's reasons, the summary is condensed in Spark, and the result
equals the DuckDB path on the same rows written as a file.

One local SparkSession for the module; skipped without pyspark or Java 17+, except when CI is set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.core import artifacts as processed
from helpers.core.config import load_column_mapping, load_settings
from helpers.core.spark import is_remote_source
from helpers.data.contract import DataContractError
from helpers.data.inputs import InputFiles, resolve_inputs
from helpers.data.intake.loader import load_inputs
from helpers.pipeline.preparation import prepare_month

pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]

END = pd.Timestamp("2024-06-30")


@pytest.fixture(scope="module")
def table_rows() -> pd.DataFrame:
    """A typed table with the faults a warehouse can hold: missing and blank ids, missing dates and amounts,
    an infinite amount, refunds, rows after the month, and an exact repeat."""
    rng = np.random.default_rng(11)
    n = 400
    frame = pd.DataFrame(
        {
            "kunde": rng.choice([f"C{i}" for i in range(60)], n).astype(object),
            "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D"),
            "amount": np.round(rng.normal(60, 50, n), 2),
            "cost": np.round(rng.uniform(0, 20, n), 2),
            "channel": rng.choice(["web", "shop"], n).astype(object),
        }
    )
    frame.loc[[1, 2], "kunde"] = [None, "  "]
    frame.loc[3, "date"] = pd.NaT
    frame.loc[[4, 5], "amount"] = [np.nan, np.inf]
    frame = pd.concat([frame, frame.iloc[[10, 10, 20]]], ignore_index=True)
    return frame


@pytest.fixture
def settings(tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("transactions:\n  kunde: customer_id\n", encoding="utf-8")
    return load_settings().with_changes({"intake": {"column_mapping": str(mapping)}})


def _reason_counts(result) -> dict[str, int]:
    counts = result.rejected["reason"].value_counts().to_dict()
    for (_, reason), rows in result.unlisted_rejections.items():
        counts[reason] = counts.get(reason, 0) + rows
    return counts


@pytest.mark.parametrize("refunds", ["net", "quarantine"])
def test_spark_checks_a_table_like_duckdb_checks_the_same_rows(spark, table_rows, settings, tmp_path, refunds):
    from helpers.data.intake import in_spark as warehouse_intake

    settings = settings.with_changes({"intake": {"refunds": refunds}})
    spark.createDataFrame(table_rows).createOrReplaceTempView("sales_transactions")
    accepted, by_spark = warehouse_intake.check_table(
        "sales_transactions", load_column_mapping(settings), settings, END, spark
    )
    path = tmp_path / "same_rows.parquet"
    table_rows.to_parquet(path, index=False)
    by_duckdb = load_inputs(path, analysis_end=END, settings=settings)
    assert by_duckdb.engines[str(path)] == "duckdb"

    assert _reason_counts(by_spark) == _reason_counts(by_duckdb)
    assert by_spark.counts[["read", "accepted", "rejected"]].to_numpy().tolist() == (
        by_duckdb.counts[["read", "accepted", "rejected"]].to_numpy().tolist()
    )
    ours = accepted.toPandas().sort_values(["customer_id", "date", "amount"]).reset_index(drop=True)
    reference = by_duckdb.transactions.sort_values(["customer_id", "date", "amount"]).reset_index(drop=True)
    assert ours["customer_id"].tolist() == reference["customer_id"].tolist()
    assert (ours["date"].to_numpy("datetime64[us]") == reference["date"].to_numpy("datetime64[us]")).all()
    np.testing.assert_allclose(ours["amount"], reference["amount"], rtol=0, atol=0)
    np.testing.assert_allclose(ours["cost"], reference["cost"], rtol=0, atol=0)
    listed = by_spark.rejected
    assert "after_analysis_month" not in set(listed["reason"])  # counted, not listed
    assert listed["source_row"].isna().all()
    missing = listed[listed["reason"] == "missing_customer_id"]
    assert missing["column"].tolist() == ["kunde", "kunde"] and '"channel"' in missing["raw"].iloc[0]


def test_a_reason_with_many_rows_lists_some_and_counts_all(spark, table_rows, settings, monkeypatch):
    from helpers.data.intake import in_spark as warehouse_intake

    spark.createDataFrame(table_rows).createOrReplaceTempView("sales_transactions")
    everything = warehouse_intake.check_table("sales_transactions", load_column_mapping(settings), settings, END, spark)[1]
    monkeypatch.setattr(warehouse_intake, "LISTED_PER_REASON", 1)
    capped = warehouse_intake.check_table("sales_transactions", load_column_mapping(settings), settings, END, spark)[1]

    assert _reason_counts(capped) == _reason_counts(everything)  # every row still counted, by its reason
    assert capped.counts["rejected"].tolist() == everything.counts["rejected"].tolist()
    assert capped.rejected["reason"].value_counts().max() == 1
    assert set(capped.rejected["reason"]) == set(everything.rejected["reason"])
    many = {reason for reason, rows in everything.rejected["reason"].value_counts().items() if rows > 1}
    assert many and {reason for (_, reason) in capped.unlisted_rejections} >= many


def test_a_month_prepared_from_a_table_equals_the_month_prepared_from_the_file(
    spark, table_rows, settings, tmp_path, monkeypatch
):
    spark.createDataFrame(table_rows).createOrReplaceTempView("sales_transactions")
    path = tmp_path / "same_rows.parquet"
    table_rows.to_parquet(path, index=False)
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path / "by_duckdb"))
    by_duckdb = prepare_month(InputFiles(path, None, None), "2024-06", settings, "duckdb")
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path / "by_spark"))
    files = resolve_inputs("agency", "sales_transactions", "", "", engine="spark")
    assert files.transactions == "sales_transactions"
    by_spark = prepare_month(files, "2024-06", settings, "spark")

    assert by_spark.intake.engines == {"sales_transactions": "spark"}
    pd.testing.assert_frame_equal(
        by_spark.summary[["customer_id", "frequency", "recency", "T", "purchase_days"]],
        by_duckdb.summary[["customer_id", "frequency", "recency", "T", "purchase_days"]],
    )
    np.testing.assert_allclose(by_spark.summary["total_revenue"], by_duckdb.summary["total_revenue"], rtol=1e-9)
    np.testing.assert_allclose(
        by_spark.calibration["frequency_holdout"], by_duckdb.calibration["frequency_holdout"], rtol=0
    )
    here = pd.read_parquet(processed.artifact_path("2024-06", "transactions"))  # WORKBOOK_ROOT: by_spark
    assert len(here) == int(by_duckdb.intake.counts["accepted"].sum())
    assert str(here["date"].dtype).startswith("datetime64")


def test_a_table_without_a_required_column_names_the_table_and_the_fix(spark, table_rows, settings):
    from helpers.data.intake import in_spark as warehouse_intake

    spark.createDataFrame(table_rows.drop(columns="amount")).createOrReplaceTempView("no_amount")
    with pytest.raises(DataContractError, match=r"transactions table no_amount: required column\(s\) 'amount'"):
        warehouse_intake.check_table("no_amount", load_column_mapping(settings), settings, END, spark)


def test_a_table_name_needs_the_spark_engine():
    with pytest.raises(FileNotFoundError, match="needs --engine spark"):
        resolve_inputs("agency", "sales.transactions", "", "")
    assert resolve_inputs("agency", "s3a://bucket/sales/", "", "", engine="spark").transactions == "s3a://bucket/sales/"
    assert is_remote_source("sales.transactions") and not is_remote_source("data/x.parquet")


def test_spark_applies_the_intake_limits_like_duckdb(spark, tmp_path):
    """Issue 11's limits in a table: dates after today and before intake.min_date, amounts and costs beyond
    intake.max_amount, text beyond intake.max_field_length; the same reasons and columns as DuckDB on the
    same rows; accounts of customers without an accepted transaction are rejected once merged."""
    from helpers.data.intake import in_spark as warehouse_intake

    today = pd.Timestamp("2024-06-15")
    long = "x" * 201
    rows = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4", "C5", long, "C7", "C8", "C9", "C10", "C11"],
        "date": pd.to_datetime(["2024-01-05", "2024-06-16", "1900-01-01", "2024-01-05", "2024-01-05",
                                "2024-01-05", "2024-01-05", "2024-01-05", "2024-06-15", "1990-01-01", "2024-06-15"]),
        "amount": [10.0, 10.0, 10.0, 1e308, -np.inf, 10.0, 10.0, 1e9, 10.0, 10.0, 10.0],
        "cost": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2e9, 1.0, 1.0, 1.0, 1.0],
        "category": ["a", "a", "a", "a", "a", "a", "a", "a", long, "a", "a"],
    })
    settings = load_settings()
    spark.createDataFrame(rows).createOrReplaceTempView("limits_rows")
    accepted, by_spark = warehouse_intake.check_table(
        "limits_rows", load_column_mapping(settings), settings, pd.Timestamp("2024-05-31"), spark, today=today
    )
    path = tmp_path / "limits_rows.parquet"
    rows.to_parquet(path, index=False)
    by_duckdb = load_inputs(path, analysis_end=pd.Timestamp("2024-05-31"), settings=settings, today=today)
    assert by_duckdb.engines[str(path)] == "duckdb"
    expected = {"date_in_future": 1, "date_too_early": 1, "amount_too_large": 1, "unparseable_amount": 1,
                "field_too_long": 2, "cost_too_large": 1, "after_analysis_month": 1}
    assert _reason_counts(by_spark) == _reason_counts(by_duckdb) == expected
    by_reason = {r: sorted(g["column"]) for r, g in by_spark.rejected.groupby("reason")}
    listed = by_duckdb.rejected[by_duckdb.rejected["reason"] != "after_analysis_month"]  # Spark only counts those
    assert by_reason == {r: sorted(g["column"]) for r, g in listed.groupby("reason")}
    assert by_reason["field_too_long"] == ["category", "customer_id"]
    assert sorted(accepted.toPandas()["customer_id"]) == sorted(by_duckdb.transactions["customer_id"]) == [
        "C1", "C10", "C8"]
    # C11 buys only after the analysis month: a customer already, as in DuckDB
    assert by_spark.known_customers is None and sorted(by_spark.customer_ids()) == ["C1", "C10", "C11", "C8"]

    accounts = tmp_path / "accounts.csv"
    accounts.write_text("customer_id,name\nC1,Alpha\nC2,Later\nC99,Ghost\nC11,Next month\n", encoding="utf-8")
    merged = by_spark.merged(load_inputs([], accounts, settings=settings, today=today))
    assert merged.accounts["customer_id"].tolist() == ["C1", "C11"]
    unknown = merged.rejected[merged.rejected["reason"] == "unknown_customer"]
    assert unknown["value"].tolist() == ["C2", "C99"]
    assert (merged.counts["read"] == merged.counts["accepted"] + merged.counts["rejected"]).all()


def test_a_table_with_two_columns_for_one_contract_column_is_an_error(spark, settings):
    from helpers.data.intake import in_spark as warehouse_intake

    frame = pd.DataFrame({"customer_id": ["C1"], "kunde": ["C2"], "date": [pd.Timestamp("2024-01-05")],
                          "amount": [1.0]})
    spark.createDataFrame(frame).createOrReplaceTempView("two_ids")
    with pytest.raises(DataContractError, match=r"transactions table two_ids: columns 'customer_id' and 'kunde' both"):
        warehouse_intake.check_table("two_ids", load_column_mapping(settings), settings, END, spark)
