"""The intake's limits (issue 11): rows dated after today, before intake.min_date, amounts beyond
intake.max_amount, text beyond intake.max_field_length, and customers of accounts / service maps without a
transaction are rejected rows with a reason, in pandas and in DuckDB alike (Spark:
tests/test_warehouse_intake.py); `workbook validate` fails when nothing was accepted; mapping mistakes and
columns that map onto one contract column are errors naming the file, the column and the fix."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers.core.config import load_settings
from helpers.data.contract import REASON_ORDER, DataContractError, RowLimits
from helpers.data.intake.loader import IntakeResult, load_inputs, validate_paths
from helpers.data.intake.messages import CELL_LIMIT
from helpers.pipeline import cli

TODAY = pd.Timestamp("2024-06-15")
ENGINES = ("pandas", "auto")


def check(path, tmp_path, engine, *, settings=None, end=None, today=TODAY, **tables):
    settings = settings or load_settings()
    work = tmp_path / f"work-{engine}"
    work.mkdir(exist_ok=True)
    return load_inputs(path, analysis_end=end, settings=settings, engine=engine, workdir=work, today=today, **tables)


def reasons(result: IntakeResult) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row in result.rejected.itertuples():
        out.setdefault(row.reason, []).append(int(row.source_row))
    return out


def balanced(result: IntakeResult) -> bool:
    counts = result.counts
    per_file = result.rejected.groupby("source_file").size()
    return bool((counts["read"] == counts["accepted"] + counts["rejected"]).all()) and all(
        per_file.get(row.source_file, 0) == row.rejected for row in counts.itertuples()
    )


def both_engines(path, tmp_path, **kwargs) -> IntakeResult:
    """The result of pandas, after checking that DuckDB gives the very same."""
    by_pandas, by_duckdb = (check(path, tmp_path, engine, **kwargs) for engine in ENGINES)
    assert by_duckdb.engines[str(path)] == "duckdb"
    pd.testing.assert_frame_equal(by_duckdb.transactions, by_pandas.transactions)
    pd.testing.assert_frame_equal(by_duckdb.rejected, by_pandas.rejected)
    pd.testing.assert_frame_equal(by_duckdb.counts, by_pandas.counts)
    assert balanced(by_pandas)
    return by_pandas


# ---------------------------------------------------------------------------------------------- dates


def test_a_row_dated_after_today_is_date_in_future_even_after_the_analysis_month(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "customer_id,date,amount\nC1,2024-05-31,1\nC2,2024-06-15,2\nC3,2024-06-16,3\nC4,16.06.2024,4\n"
        "C5,2030-01-01,5\nC6,2024-06-01,6\n", encoding="utf-8",
    )
    result = both_engines(path, tmp_path, end=pd.Timestamp("2024-05-31"))
    assert reasons(result) == {"date_in_future": [4, 5, 6], "after_analysis_month": [3, 7]}
    assert result.transactions["customer_id"].tolist() == ["C1"]
    # without an analysis month today is still the limit, and today itself is not in the future
    result = both_engines(path, tmp_path)
    assert reasons(result) == {"date_in_future": [4, 5, 6]}
    assert REASON_ORDER.index("date_in_future") < REASON_ORDER.index("after_analysis_month")


def test_today_defaults_to_the_date_of_the_machine():
    limits = RowLimits.of(load_settings().intake)
    assert limits.today == pd.Timestamp.today().normalize() and limits.analysis_end is None
    assert RowLimits.of(load_settings().intake, pd.Period("2024-02", "M"), "2024-03-01 13:00").analysis_end == (
        pd.Timestamp("2024-02-29")
    )


def test_dates_before_min_date_are_too_early_and_the_limit_is_a_setting(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "customer_id,date,amount\nC1,1900-01-01,1\nC2,01.01.1900,2\nC3,1989-12-31,3\nC4,1990-01-01,4\n"
        "C5,0001-01-01,5\nC6,1997-01-01,6\n", encoding="utf-8",
    )
    result = both_engines(path, tmp_path)
    assert reasons(result) == {"date_too_early": [2, 3, 4, 6]}
    later = load_settings().with_changes({"intake": {"min_date": "1997-01-02"}})
    assert reasons(both_engines(path, tmp_path, settings=later))["date_too_early"] == [2, 3, 4, 5, 6, 7]


def test_native_dates_outside_what_pandas_holds_are_too_early_or_in_the_future(tmp_path):
    path = tmp_path / "t.parquet"
    days = pa.array([dt.date(2024, 1, 5), dt.date(1900, 1, 1), dt.date(1, 1, 1), dt.date(2999, 1, 1)], pa.date32())
    pq.write_table(pa.table({"customer_id": ["C1", "C2", "C3", "C4"], "date": days, "amount": [1.0] * 4}), path)
    result = both_engines(path, tmp_path)
    assert reasons(result) == {"date_too_early": [2, 3], "date_in_future": [4]}
    assert result.rejected["value"].tolist() == ["1900-01-01", "0001-01-01", "2999-01-01"]


# ---------------------------------------------------------------------------------------------- amounts


def test_huge_and_non_finite_amounts_and_costs_are_rejected(tmp_path):
    path = tmp_path / "t.csv"
    amounts = ["12.5", "1e308", "-1e308", "inf", "-inf", "NaN", "Infinity", "1e309", "1000000000", "1000000000.5"]
    lines = [f"C{i},2024-01-05,{a}," for i, a in enumerate(amounts)]
    lines += ["X1,2024-01-05,10,1e15", "X2,2024-01-05,10,-inf", "X3,2024-01-05,10,999999999"]
    path.write_text("customer_id,date,amount,cost\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = both_engines(path, tmp_path)
    assert reasons(result) == {
        "amount_too_large": [3, 4, 11], "unparseable_amount": [5, 6, 7, 8, 9],
        "cost_too_large": [12], "unparseable_cost": [13],
    }
    assert result.transactions["amount"].abs().max() == 1e9  # the limit itself is allowed
    assert np.isfinite(result.transactions["amount"]).all()
    small = load_settings().with_changes({"intake": {"max_amount": 100}})
    assert reasons(both_engines(path, tmp_path, settings=small))["cost_too_large"] == [12, 14]


def test_native_huge_and_infinite_numbers_in_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4", "C5"],
        "date": pd.to_datetime(["2024-01-05"] * 5),
        "amount": [10.0, 1e308, -np.inf, np.nan, 5.0],
        "cost": [1.0, 1.0, 1.0, 1.0, -1e300],
    }).to_parquet(path)
    result = both_engines(path, tmp_path)
    assert reasons(result) == {"amount_too_large": [2], "unparseable_amount": [3, 4], "cost_too_large": [5]}


# ---------------------------------------------------------------------------------------------- text


def test_a_text_value_longer_than_the_limit_is_field_too_long_in_every_table(tmp_path):
    long = "x" * 201
    transactions = tmp_path / "t.csv"
    transactions.write_text(
        f"customer_id,date,amount,category,order_id\nC1,2024-01-05,1,{'y' * 200},o1\nC2,2024-01-05,1,{long},o2\n"
        f"{long},2024-01-05,1,a,o3\nC3,2024-01-05,1,a,{long}\nC4,xx,1,{long},o4\nC3,2024-01-06,1,a,o5\n",
        encoding="utf-8",
    )
    result = both_engines(transactions, tmp_path)
    assert reasons(result) == {"field_too_long": [3, 4, 5], "unparseable_date": [6]}
    assert result.rejected["column"].tolist()[:3] == ["category", "customer_id", "order_id"]

    accounts = tmp_path / "a.csv"
    accounts.write_text(
        f"customer_id,name,funnel_type\nC1,{'N' * 50_000},retail\nC2,Beta,{long}\nC3,Gamma,retail\n",
        encoding="utf-8",
    )
    service_map = tmp_path / "s.csv"
    service_map.write_text(f"customer_id,funnel_stage,service_kind,channel\nC1,see,operations,{long}\n"
                           "C3,do,consulting,SEO\n", encoding="utf-8")
    result = check(transactions, tmp_path, "auto", accounts=accounts, service_map=service_map)
    assert balanced(result)
    rejected = result.rejected[result.rejected["table"] != "transactions"]
    assert rejected[["table", "source_row", "reason", "column"]].values.tolist() == [
        ["accounts", 2, "field_too_long", "name"],
        ["accounts", 3, "field_too_long", "funnel_type"],  # a row fault, not an unknown funnel type of the file
        ["service_map", 2, "field_too_long", "channel"],
    ]
    assert result.accounts["name"].tolist() == ["Gamma"]
    # the rejected rows keep the start of the value and its length, not 50,000 characters
    name_row = rejected.iloc[0]
    assert len(name_row["value"]) < CELL_LIMIT + 30 and name_row["value"].endswith("(50,000 characters)")
    assert json.loads(name_row["raw"])["name"].endswith("(50,000 characters)")
    shorter = load_settings().with_changes({"intake": {"max_field_length": 2}})
    assert set(reasons(both_engines(transactions, tmp_path, settings=shorter))) == {"field_too_long", "unparseable_date"}


# ---------------------------------------------------------------------------------------------- customers


def test_accounts_and_service_map_rows_of_unknown_customers_are_rejected_and_counted(tmp_path):
    transactions = tmp_path / "t.csv"
    transactions.write_text("customer_id,date,amount\nC1,2024-01-05,1\nC2,2024-01-05,1\nC9,2030-01-01,1\n",
                            encoding="utf-8")
    accounts = tmp_path / "a.csv"
    accounts.write_text("customer_id,name\nC1,Alpha\nC7,Ghost\nC2,Beta\nC9,Later\nC7,Ghost\n", encoding="utf-8")
    service_map = tmp_path / "s.csv"
    service_map.write_text("customer_id,funnel_stage,service_kind\nC1,see,operations\nC8,do,consulting\n",
                           encoding="utf-8")
    for engine in ENGINES:
        result = check(transactions, tmp_path, engine, accounts=accounts, service_map=service_map)
        assert balanced(result)
        assert reasons(result) == {"date_in_future": [4], "unknown_customer": [3, 5, 3], "duplicate_row": [6]}
        assert result.accounts["customer_id"].tolist() == ["C1", "C2"]  # C9's only purchase is not accepted
        assert result.service_map["customer_id"].tolist() == ["C1"]
        assert result.counts[["read", "accepted", "rejected"]].values.tolist() == [[3, 2, 1], [5, 2, 3], [2, 1, 1]]
    unknown = result.rejected[result.rejected["reason"] == "unknown_customer"]
    assert unknown["column"].tolist() == ["customer_id"] * 3 and unknown["value"].tolist() == ["C7", "C9", "C8"]

    # validate reports them when the transactions are given too, and not otherwise
    checked, report = validate_paths([transactions, accounts, service_map], settings=load_settings(), today=TODAY)
    assert checked is not None and "unknown_customer" in report and "accounts: 2 row(s), service_map: 1 row(s)" in report
    alone, report = validate_paths([accounts, service_map], settings=load_settings(), today=TODAY)
    assert alone is not None and "unknown_customer" not in report


def test_a_client_whose_first_purchase_comes_after_the_analysis_month_is_no_unknown_customer(tmp_path):
    """A backfilled month precedes some clients' first purchase: their account and services are kept (they
    join no customer of that month), never rejected as unknown."""
    transactions = tmp_path / "t.csv"
    transactions.write_text("customer_id,date,amount\nC1,2024-01-05,1\nC2,2024-03-05,1\n", encoding="utf-8")
    accounts = tmp_path / "a.csv"
    accounts.write_text("customer_id,name\nC1,Alpha\nC2,Beta\nC7,Ghost\n", encoding="utf-8")
    for engine in ENGINES:
        result = check(transactions, tmp_path, engine, accounts=accounts, end=pd.Timestamp("2024-01-31"))
        assert balanced(result)
        assert reasons(result) == {"after_analysis_month": [3], "unknown_customer": [4]}, engine
        assert result.accounts["customer_id"].tolist() == ["C1", "C2"]


def test_accounts_are_checked_against_a_warehouse_tables_customers_when_merged(tmp_path):
    accounts = tmp_path / "a.csv"
    accounts.write_text("customer_id,name\nC1,Alpha\nC7,Ghost\n", encoding="utf-8")
    local = load_inputs([], accounts, settings=load_settings())
    assert local.known_customers is None and len(local.accounts) == 2  # no transactions yet: not checked
    table = IntakeResult([], None, None, local.rejected.iloc[:0], local.counts.iloc[:0], known_customers=pd.Index(["C1"]))
    merged = table.merged(local)
    assert merged.accounts["customer_id"].tolist() == ["C1"]
    assert merged.rejected[["reason", "value", "source_row"]].values.tolist() == [["unknown_customer", "C7", 3]]
    assert merged.counts[["read", "accepted", "rejected"]].values.tolist() == [[2, 1, 1]]


# ---------------------------------------------------------------------------------------------- validate


def test_validate_fails_when_no_row_is_accepted(tmp_path, capsys):
    path = tmp_path / "future.csv"
    path.write_text("customer_id,date,amount\nC1,2999-01-01,1\nC2,2999-01-02,1e308\n", encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: 1 file(s)" in out
    assert "no row was accepted (2 read, all rejected: amount_too_large (1), date_in_future (1))" in out
    assert "future.csv" in out and "Fix:" in out and not out.rstrip().endswith("OK")

    accounts = tmp_path / "accounts.csv"
    accounts.write_text("customer_id,name\nX1,Other data set\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("customer_id,date,amount\nC1,2024-01-05,1\n", encoding="utf-8")
    assert cli.main(["validate", str(good), str(accounts)]) == 1
    out = capsys.readouterr().out
    assert "accounts file" in out and "unknown_customer (1)" in out and "leading zeros" in out
    assert cli.main(["validate", str(good)]) == 0


# ---------------------------------------------------------------------------------------------- columns


@pytest.mark.parametrize(("header", "columns"), [
    ("Kunde;Kundennummer;Datum;Betrag", "'Kunde' and 'Kundennummer'"),
    ("customer_id;Kunde;Datum;Betrag", "'customer_id' and 'Kunde'"),
    ("Kundennummer;Kunde;Datum;Betrag", "'Kundennummer' and 'Kunde'"),
    ("customer_id;date;amount;amount", "'amount' and 'amount.1'"),
])
@pytest.mark.parametrize("engine", ENGINES)
def test_two_columns_for_one_contract_column_are_an_error_naming_both_and_the_fix(tmp_path, header, columns, engine):
    path = tmp_path / "export.csv"
    path.write_text(f"{header}\n;K1;05.01.2024;10,00\n", encoding="utf-8")
    with pytest.raises(DataContractError) as raised:
        check(path, tmp_path, engine)
    message = str(raised.value)
    assert message.startswith(f"transactions file {path}: columns {columns} both map to the contract column")
    assert "none is chosen silently" in message and "Fix: remove all but one of these columns" in message
    if "Kunde" in header:
        assert "`Kunde: customer_id`" in message and "under 'transactions:' in" in message
        assert "column_mapping.yaml (that column is then ignored)" in message
    assert raised.value.file == str(path) and raised.value.column in ("customer_id", "amount")


@pytest.mark.parametrize(("mapping", "message"), [
    ("transactions:\n  cost: amount\n", "under 'transactions:', 'cost' is mapped to 'amount', but 'cost' is itself"),
    ("transactions:\n  Betrag: amout\n", "'Betrag' is mapped to 'amout', which is not a column of the transactions "
                                         "contract; did you mean 'amount'?"),
    ("transaction:\n  Betrag: amount\n", "'transaction:' is not a table of the data contract; did you mean "
                                         "'transactions'?"),
    ("transactions:\n  Betrag: amount\n  betrag: cost\n", "'Betrag: amount' and 'betrag: cost' name the same header"),
])
def test_a_mapping_mistake_names_the_mapping_file_the_key_and_the_fix(tmp_path, capsys, mapping, message):
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(mapping, encoding="utf-8")
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(f"intake:\n  column_mapping: {mapping_file.name}\n", encoding="utf-8")
    data = tmp_path / "t.csv"
    data.write_text("customer_id,date,amount\nC1,2024-01-05,1\n", encoding="utf-8")
    with pytest.raises(DataContractError) as raised:
        load_inputs(data, settings=load_settings(settings_file))
    assert str(raised.value).startswith(f"{mapping_file}: ") and message in str(raised.value)
    assert "Fix:" in str(raised.value)
    assert cli.main(["validate", str(data), "--config", str(settings_file)]) == 2
    assert message in capsys.readouterr().err


def test_the_shipped_mapping_passes_its_own_checks():
    from helpers.core.config import load_column_mapping
    from helpers.data.intake.columns import check_mapping

    check_mapping(load_column_mapping())
