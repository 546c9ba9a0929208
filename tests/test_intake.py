"""Intake: data contract, file-level errors, quarantine of faulty rows, refund policy, validate report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.core.config import load_settings
from helpers.data.intake.loader import (
    COUNT_COLUMNS,
    REJECTED_COLUMNS,
    DataContractError,
    IntakeResult,
    load_inputs,
    validate_paths,
)

CORPUS = Path(__file__).parent / "data" / "intake"
END = pd.Timestamp("2024-06-30")


@pytest.fixture
def settings_for():
    base = load_settings()

    def make(refunds: str = "net"):
        return base.with_changes({"intake": {"refunds": refunds}})

    return make


def assert_balanced(result: IntakeResult) -> None:
    """read == accepted + rejected for every file, and the rejected rows add up per file."""
    counts = result.counts
    assert list(counts.columns) == COUNT_COLUMNS
    assert (counts["read"] == counts["accepted"] + counts["rejected"]).all()
    per_file = result.rejected.groupby("source_file").size()
    for row in counts.itertuples():
        assert per_file.get(row.source_file, 0) == row.rejected
    assert list(result.rejected.columns) == REJECTED_COLUMNS


def reasons(result: IntakeResult) -> dict[str, list[int]]:
    """reason -> source rows."""
    out: dict[str, list[int]] = {}
    for row in result.rejected.itertuples():
        out.setdefault(row.reason, []).append(int(row.source_row))
    return out


# ---------------------------------------------------------------------------------------------- good files


def test_german_export_end_to_end(settings_for):
    result = load_inputs(
        CORPUS / "de_transactions_cp1252.csv",
        accounts=CORPUS / "de_accounts_cp1252.csv",
        service_map=CORPUS / "service_map.csv",
        analysis_end=END,
        settings=settings_for("net"),
    )
    tx = result.transactions
    assert list(tx.columns) == [
        "customer_id",
        "date",
        "amount",
        "order_id",
        "quantity",
        "category",
        "cost",
        "currency",
    ]
    assert tx["customer_id"].tolist() == ["K-1001", "K-1002", "K-1001", "K-1003"]
    assert tx["date"].tolist() == [
        pd.Timestamp(d) for d in ("2024-01-05", "2024-01-17", "2024-02-02", "2024-02-29")
    ]
    assert tx["amount"].tolist() == [1234.56, 89.90, -120.00, 12000.00]
    assert tx["category"].tolist()[0] == "Büromöbel"
    assert tx["quantity"].isna().all() and tx["cost"].isna().all()  # optional columns present, missing
    assert str(tx["date"].dtype) == "datetime64[ns]" and str(tx["amount"].dtype) == "float64"

    acc = result.accounts.set_index("customer_id")
    assert acc.loc["K-1001", "name"] == "Müller GmbH"
    assert acc["funnel_type"].tolist() == ["retail", "lead_gen", "business_industry"]
    assert acc["employees"].tolist() == [1200, 15, 340]
    assert acc["marketing_budget"].tolist()[:2] == [25000.0, 1500.5] and np.isnan(
        acc.loc["K-1003", "marketing_budget"]
    )
    assert acc["yoy_growth"].tolist() == pytest.approx([0.12, -0.05, 0.08])
    assert acc.loc["K-1003", "acquired_on"] == pd.Timestamp(
        "2020-11-30"
    )  # ISO date in a German file also works
    assert acc.loc["K-1001", "business_model"] == "B2C"

    sm = result.service_map
    assert sm["funnel_stage"].tolist() == ["see", "do", "care"]
    assert sm["active"].tolist() == [True, False, True]
    assert reasons(result) == {"unparseable_active": [5]}

    assert result.ignored_columns == {"transactions": ["Kundenname"], "accounts": ["Notiz"]}
    assert_balanced(result)
    assert result.counts.set_index("table")["read"].to_dict() == {
        "transactions": 4,
        "accounts": 3,
        "service_map": 4,
    }


def test_utf8_bom_file_with_contract_headers(settings_for):
    result = load_inputs(CORPUS / "utf8_bom_transactions.csv", settings=settings_for())
    tx = result.transactions
    assert tx["customer_id"].tolist() == ["C1", "C2", "C1"]
    assert tx["amount"].tolist() == [19.99, 1299.0, 5.5]
    assert tx["date"].tolist() == [
        pd.Timestamp("2024-03-01"),
        pd.Timestamp("2024-03-02"),
        pd.Timestamp("2024-03-15"),
    ]
    assert tx["currency"].tolist() == ["EUR", "EUR", "EUR"]
    assert tx["quantity"].tolist()[:2] == [1.0, 2.0] and np.isnan(tx["quantity"].iloc[2])
    assert result.accounts is None and result.service_map is None
    assert result.rejected.empty and result.ignored_columns == {}


def test_excel_round_trip(tmp_path, settings_for):
    path = tmp_path / "umsatz.xlsx"
    pd.DataFrame(
        {
            "Kundennummer": [1001, 1002, 1003, 1001],
            "Rechnungsdatum": [
                dt.datetime(2024, 1, 5, 9, 15),
                dt.datetime(2024, 2, 1),
                "31.02.2024",
                dt.datetime(2024, 1, 5, 9, 15),
            ],
            "Betrag": [99.5, "1.234,56", 10, 99.5],
            "Filiale": ["Nord", "Süd", "Ost", "Nord"],
        }
    ).to_excel(path, index=False)
    result = load_inputs(path, analysis_end=END, settings=settings_for())
    tx = result.transactions
    assert tx["customer_id"].tolist() == ["1001", "1002"]  # numbers as ids, without ".0"
    assert tx["date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-01")]
    assert tx["amount"].tolist() == [99.5, 1234.56]
    assert reasons(result) == {
        "unparseable_date": [4],
        "duplicate_row": [5],
    }  # Excel row numbers (header = 1)
    raw = json.loads(result.rejected.set_index("reason").loc["unparseable_date", "raw"])
    assert raw == {"Kundennummer": 1003, "Rechnungsdatum": "31.02.2024", "Betrag": 10, "Filiale": "Ost"}
    assert result.ignored_columns == {"transactions": ["Filiale"]}
    assert_balanced(result)


def test_parquet_round_trip(tmp_path, settings_for):
    path = tmp_path / "tx.parquet"
    pd.DataFrame(
        {
            "customer_id": ["a", "b", None, "c"],
            "date": pd.to_datetime(["2024-01-01", "2024-07-01", "2024-01-02", "2024-01-03"]),
            "amount": [1.0, 2.0, 3.0, np.nan],
            "quantity": [1, 2, 3, 4],
        }
    ).to_parquet(path)
    result = load_inputs(path, analysis_end=END, settings=settings_for())
    assert result.transactions["customer_id"].tolist() == ["a"]
    assert result.transactions["quantity"].tolist() == [1.0]
    assert reasons(result) == {
        "after_analysis_month": [2],
        "missing_customer_id": [3],
        "unparseable_amount": [4],
    }
    assert_balanced(result)


def test_several_transaction_files_are_counted_per_file(settings_for):
    result = load_inputs(
        [CORPUS / "utf8_bom_transactions.csv", CORPUS / "de_transactions_cp1252.csv"], settings=settings_for()
    )
    assert len(result.transactions) == 7
    assert result.counts["read"].tolist() == [3, 4]
    assert_balanced(result)


# ---------------------------------------------------------------------------------------------- file-level faults


def test_missing_required_column_names_file_columns_and_mapping(settings_for):
    path = CORPUS / "missing_amount.csv"
    with pytest.raises(DataContractError) as info:
        load_inputs(path, settings=settings_for())
    message = str(info.value)
    assert str(path) in message
    assert "'amount'" in message
    assert "'Kundennummer', 'Rechnungsdatum', 'Summe'" in message  # the columns that were found
    assert "line 2" in message and "Summe='5,00'" in message  # an example row
    assert "Fix:" in message and "column_mapping.yaml" in message and "transactions:" in message
    assert info.value.column == "amount" and info.value.file == str(path)


def test_missing_column_of_an_optional_table(tmp_path, settings_for):
    path = tmp_path / "map.csv"
    path.write_text("customer_id,funnel_stage\n1,see\n", encoding="utf-8")
    with pytest.raises(DataContractError, match=r"(?s)service_map file .*'service_kind'.*Fix:"):
        load_inputs(CORPUS / "utf8_bom_transactions.csv", service_map=path, settings=settings_for())


@pytest.mark.parametrize(
    "content", [b"", b"\r\n\r\n", b"customer_id;date;amount\n", b"customer_id;date;amount\n;;\n\n"]
)
def test_empty_files(tmp_path, settings_for, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(DataContractError) as info:
        load_inputs(path, settings=settings_for())
    assert str(path) in str(info.value) and "empty" in str(info.value) and "Fix:" in str(info.value)


def test_header_only_file_from_corpus(settings_for):
    with pytest.raises(DataContractError, match=r"(?s)header_only\.csv.*empty.*no data rows.*Fix:"):
        load_inputs(CORPUS / "header_only.csv", settings=settings_for())


def test_unreadable_encoding(settings_for):
    with pytest.raises(DataContractError) as info:
        load_inputs(CORPUS / "bad_encoding.csv", settings=settings_for())
    message = str(info.value)
    assert "bad_encoding.csv" in message and "UTF-8" in message and "1252" in message
    assert "line 3" in message and "Fix:" in message and "CSV UTF-8" in message


def test_utf16_without_bom_is_an_encoding_error(tmp_path, settings_for):
    path = tmp_path / "u16.csv"
    path.write_bytes("customer_id;date;amount\n1;01.01.2024;5\n".encode("utf-16-le"))
    with pytest.raises(DataContractError, match=r"(?s)u16\.csv.*neither UTF-8 nor Windows-1252.*Fix:"):
        load_inputs(path, settings=settings_for())


def test_unknown_funnel_type_lists_values_lines_and_allowed_values(settings_for):
    with pytest.raises(DataContractError) as info:
        load_inputs(
            CORPUS / "utf8_bom_transactions.csv",
            accounts=CORPUS / "accounts_unknown_funnel.csv",
            settings=settings_for(),
        )
    message = str(info.value)
    assert "accounts_unknown_funnel.csv" in message and "'Funnel'" in message and "funnel_type" in message
    assert "'Onlineshop' (lines 3, 5)" in message and "'Messe' (line 6)" in message
    assert "'retail', 'lead_gen', 'business_industry'" in message and "Fix:" in message
    assert info.value.column == "Funnel"


@pytest.mark.parametrize(
    ("name", "column", "value", "line", "allowed"),
    [
        ("service_map_unknown_stage.csv", "funnel_stage", "awareness", 3, "'see', 'think', 'do', 'care'"),
        ("service_map_unknown_kind.csv", "service_kind", "hosting", 3, "'operations', 'consulting'"),
    ],
)
def test_unknown_service_map_values(settings_for, name, column, value, line, allowed):
    with pytest.raises(DataContractError) as info:
        load_inputs(CORPUS / "utf8_bom_transactions.csv", service_map=CORPUS / name, settings=settings_for())
    message = str(info.value)
    assert name in message and f"'{column}'" in message and f"'{value}' (line {line})" in message
    assert allowed in message and "Fix:" in message


def test_unsupported_file_type_and_missing_file(tmp_path, settings_for):
    path = tmp_path / "export.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataContractError) as info:
        load_inputs(path, settings=settings_for())
    assert (
        "export.xls" in str(info.value) and "not supported" in str(info.value) and ".xlsx" in str(info.value)
    )
    assert "Fix:" in str(info.value)
    with pytest.raises(DataContractError, match=r"(?s)missing\.csv: file not found.*Fix:"):
        load_inputs(tmp_path / "missing.csv", settings=settings_for())


def test_delimiter_inside_unquoted_values_is_a_file_error(tmp_path, settings_for):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\n1,2024-01-01,5\n2,2024-01-02,5,50\n", encoding="utf-8")
    with pytest.raises(DataContractError, match=r"(?s)t\.csv.*delimiter.*Fix:.*double quotes"):
        load_inputs(path, settings=settings_for())


def test_broken_xlsx_and_parquet(tmp_path, settings_for):
    for name in ("broken.xlsx", "broken.parquet"):
        path = tmp_path / name
        path.write_bytes(b"not really")
        with pytest.raises(DataContractError, match=rf"(?s){name}.*not a readable.*Fix:"):
            load_inputs(path, settings=settings_for())


# ---------------------------------------------------------------------------------------------- row-level faults


def test_every_transaction_row_fault_is_quarantined_with_line_numbers(settings_for):
    result = load_inputs(CORPUS / "row_faults.csv", analysis_end=END, settings=settings_for("quarantine"))
    assert reasons(result) == {
        "missing_customer_id": [3],
        "unparseable_date": [4],
        "unparseable_amount": [5],
        "unparseable_cost": [6],
        "duplicate_row": [7],
        "after_analysis_month": [8],
        "negative_amount": [9],
    }
    assert result.transactions["customer_id"].tolist() == ["A1", "A7"]  # the first A1 row is kept
    assert result.transactions["date"].tolist()[1] == END  # the analysis end is inclusive
    assert result.transactions["cost"].tolist()[0] == 4.0
    counts = result.counts.iloc[0]
    assert (counts["read"], counts["accepted"], counts["rejected"]) == (9, 2, 7)  # the blank line is no row
    assert_balanced(result)

    rejected = result.rejected.set_index("reason")
    assert rejected.loc["unparseable_date", "column"] == "date"
    assert rejected.loc["unparseable_date", "value"] == "32.01.2024"
    assert rejected.loc["unparseable_amount", "value"] == "zehn"
    assert rejected.loc["missing_customer_id", "value"] == ""
    assert json.loads(rejected.loc["negative_amount", "raw"]) == {
        "customer_id": "A6",
        "date": "05.01.2024",
        "amount": "-25,00",
        "cost": "",
        "Bemerkung": "Gutschrift",
    }
    assert set(result.rejected["table"]) == {"transactions"}
    assert result.ignored_columns == {"transactions": ["Bemerkung"]}


def test_refunds_net_keeps_negative_amounts(settings_for):
    result = load_inputs(CORPUS / "row_faults.csv", analysis_end=END, settings=settings_for("net"))
    assert "negative_amount" not in reasons(result)
    refund = result.transactions.set_index("customer_id").loc["A6"]
    assert refund["amount"] == -25.0 and refund["date"] == pd.Timestamp("2024-01-05")
    assert result.counts.iloc[0][["read", "accepted", "rejected"]].tolist() == [9, 3, 6]
    assert_balanced(result)


def test_without_analysis_end_no_row_is_after_the_analysis_month(settings_for):
    result = load_inputs(CORPUS / "row_faults.csv", settings=settings_for("net"))
    assert "after_analysis_month" not in reasons(result)
    assert pd.Timestamp("2024-07-01") in result.transactions["date"].tolist()


def test_analysis_end_as_period_means_its_last_day(settings_for):
    result = load_inputs(
        CORPUS / "row_faults.csv", analysis_end=pd.Period("2024-06", "M"), settings=settings_for()
    )
    assert reasons(result)["after_analysis_month"] == [8]
    assert END in result.transactions["date"].tolist()


def known_customers(tmp_path, *ids: str) -> Path:
    """A transactions file with one purchase of each customer (accounts are checked against them)."""
    path = tmp_path / "known_customers.csv"
    path.write_text("customer_id,date,amount\n" + "".join(f"{i},2024-01-05,10\n" for i in ids), encoding="utf-8")
    return path


def test_account_row_faults(tmp_path, settings_for):
    result = load_inputs(
        known_customers(tmp_path, "B1", "B2", "B3"),
        accounts=CORPUS / "accounts_duplicates.csv",
        settings=settings_for(),
    )
    assert reasons(result) == {
        "unparseable_employees": [3],
        "duplicate_customer_id": [4],
        "unparseable_acquired_on": [5],
        "duplicate_row": [6],
    }
    assert result.accounts["customer_id"].tolist() == ["B1"]
    assert result.accounts["name"].tolist() == ["Alpha"]  # the first row of a customer is kept
    assert set(result.rejected["table"]) == {"accounts"}
    assert_balanced(result)


def test_a_rejected_first_row_does_not_make_the_next_one_a_duplicate(tmp_path, settings_for):
    path = tmp_path / "acc.csv"
    path.write_text("customer_id,employees\nX,many\nX,5\n", encoding="utf-8")
    result = load_inputs(known_customers(tmp_path, "X"), accounts=path, settings=settings_for())
    assert reasons(result) == {"unparseable_employees": [2]}
    assert result.accounts["employees"].tolist() == [5]


def test_rejected_rows_file(tmp_path, settings_for):
    result = load_inputs(CORPUS / "row_faults.csv", analysis_end=END, settings=settings_for())
    path = result.write_rejected(tmp_path / "processed" / "2024-06" / "rejected_rows.csv")
    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(written.columns) == REJECTED_COLUMNS
    assert len(written) == 6 and written["source_row"].tolist()[0] == "3"


# ---------------------------------------------------------------------------------------------- validate


def test_validate_paths_guesses_tables_and_reports(settings_for):
    result, report = validate_paths(
        [CORPUS / "row_faults.csv", CORPUS / "de_transactions_cp1252.csv", CORPUS / "de_accounts_cp1252.csv",
         CORPUS / "service_map.csv"],
        analysis_end=END,
        settings=settings_for(),
    )
    assert result is not None
    assert result.counts["table"].tolist() == ["transactions", "transactions", "accounts", "service_map"]
    assert_balanced(result)
    assert "unparseable_date" in report and "row_faults.csv line 4" in report and "'32.01.2024'" in report
    assert "Ignored columns" in report and "Bemerkung" in report and "Notiz" in report
    assert "Total: read 20 = accepted 13 + rejected 7" in report
    assert report.rstrip().endswith("OK")


def test_validate_paths_reports_file_errors_and_returns_none(settings_for):
    result, report = validate_paths(
        [CORPUS / "utf8_bom_transactions.csv", CORPUS / "missing_amount.csv"], settings=settings_for()
    )
    assert result is None
    assert "FAILED: 1 file(s)" in report and "missing_amount.csv" in report and "'amount'" in report
    assert "utf8_bom_transactions.csv" in report  # the good file is still reported


def test_validate_paths_with_explicit_table(settings_for):
    result, report = validate_paths(
        [CORPUS / "utf8_bom_transactions.csv"], table="accounts", settings=settings_for()
    )
    assert result is not None and result.counts["table"].tolist() == ["accounts"]
    assert result.ignored_columns == {"accounts": ["date", "amount", "quantity", "currency"]}
    assert result.transactions.empty and list(result.transactions.columns)[:3] == [
        "customer_id",
        "date",
        "amount",
    ]
    _, report = validate_paths(
        [CORPUS / "utf8_bom_transactions.csv"], table="orders", settings=settings_for()
    )
    assert "unknown table 'orders'" in report


# ---------------------------------------------------------------------------------------------- scale


def test_one_hundred_thousand_rows_validate_quickly(tmp_path, settings_for):
    import time

    n = 100_000
    rng = np.random.default_rng(1)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D")
    frame = pd.DataFrame(
        {
            "Kundennummer": rng.integers(1, 5000, n).astype(str),
            "Rechnungsdatum": days.strftime("%d.%m.%Y"),
            "Betrag": pd.Series(rng.integers(-500, 100_000, n) / 100).map(
                lambda v: f"{v:.2f}".replace(".", ",")
            ),
        }
    )
    frame.loc[::997, "Betrag"] = "n/a"
    path = tmp_path / "big.csv"
    frame.to_csv(path, sep=";", index=False)
    start = time.perf_counter()
    result = load_inputs(path, analysis_end=END, settings=settings_for("quarantine"))
    elapsed = time.perf_counter() - start
    assert_balanced(result)
    got = result.rejected["reason"].value_counts().to_dict()
    assert got["unparseable_amount"] == len(range(0, n, 997))
    assert got["after_analysis_month"] > 0 and got["negative_amount"] > 0
    assert result.counts.iloc[0]["read"] == n
    assert elapsed < 10  # ~0.5 s here; 1 million rows take a few seconds
