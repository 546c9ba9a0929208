"""Readers: decoding, delimiter sniffing, line numbers, Excel/Parquet, column matching, value parsing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.contract import DataContractError
from helpers.data.intake.columns import (
    match_columns,
    parse_bool,
    parse_date,
    parse_enum,
    parse_int,
    parse_number,
    parse_percent,
)
from helpers.data.intake.readers import read_raw, sniff_delimiter

CORPUS = Path(__file__).parent / "data" / "intake"


def text(values: list) -> pd.Series:
    return pd.Series(values, dtype="str")


# ---------------------------------------------------------------------------------------------- files


def test_german_cp1252_export_is_read_with_umlauts_and_semicolons():
    raw = read_raw(CORPUS / "de_transactions_cp1252.csv")
    assert raw.encoding == "cp1252"
    assert raw.delimiter == ";"
    assert raw.decimal == ","
    assert list(raw.frame.columns)[:3] == ["Kundennummer", "Rechnungsdatum", "Betrag"]
    assert raw.frame["Kundenname"].tolist()[3] == "Größer & Söhne"
    assert raw.frame["Betrag"].tolist()[0] == "1.234,56 €"  # raw text, nothing parsed yet
    assert raw.source_rows.tolist() == [2, 3, 4, 5]


def test_utf8_bom_is_removed_from_the_first_header():
    raw = read_raw(CORPUS / "utf8_bom_transactions.csv")
    assert raw.encoding == "utf-8"
    assert raw.delimiter == ","
    assert list(raw.frame.columns) == ["customer_id", "date", "amount", "quantity", "currency"]
    assert raw.frame["amount"].tolist()[1] == "1,299.00"  # quoted value with the delimiter inside


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_sniff_delimiter(delimiter):
    lines = ["Kunde{d}Datum{d}Betrag", "1{d}01.01.2024{d}5", '2{d}"a, b; c"{d}7']
    assert sniff_delimiter("\n".join(line.format(d=delimiter) for line in lines)) == delimiter


def test_line_numbers_skip_blank_lines_and_follow_multiline_quotes(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        '\ncustomer_id,date,amount\n1,2024-01-01,5\n\n2,"2024-01-02",6\n3,2024-01-03,"7"\n,,\n',
        encoding="utf-8",
    )
    raw = read_raw(path)
    # empty line before the header: header is line 2, data on 3, (4 blank), 5, 6
    assert raw.source_rows.tolist() == [3, 5, 6]
    assert raw.blank_rows == 2  # the empty line and the line of empty fields
    path.write_text('id;note;amount\n1;"two\nlines";5\n2;x;6\n', encoding="utf-8")
    raw = read_raw(path)
    assert raw.frame["note"].tolist() == ["two\nlines", "x"]
    assert raw.source_rows.tolist() == [2, 4]


def test_excel_round_trip_keeps_native_values_and_row_numbers(tmp_path):
    path = tmp_path / "t.xlsx"
    frame = pd.DataFrame(
        {
            "Kundennummer": [1001, 1002, None],
            "Rechnungsdatum": [dt.datetime(2024, 1, 5, 10, 30), dt.datetime(2024, 2, 1), None],
            "Betrag": [1234.5, "1.234,56", None],
        }
    )
    frame.to_excel(path, index=False)
    raw = read_raw(path)
    assert raw.file_type == "excel"
    assert raw.source_rows.tolist() == [2, 3]  # the empty third row is skipped; header is row 1
    assert raw.frame["Kundennummer"].tolist() == [1001, 1002]
    assert isinstance(raw.frame["Rechnungsdatum"].iloc[0], dt.datetime)
    dates, bad = parse_date(raw.frame["Rechnungsdatum"])
    assert dates.tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-01")]
    assert not bad.any()
    amounts, bad = parse_number(raw.frame["Betrag"])
    assert amounts.tolist() == [1234.5, 1234.56]


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame(
        {
            "customer_id": [7, 8],
            "date": pd.to_datetime(["2024-01-05 13:00", "2024-01-06 00:00"]),
            "amount": [1.5, -2.0],
        }
    ).to_parquet(path)
    raw = read_raw(path)
    assert raw.file_type == "parquet"
    assert raw.source_rows.tolist() == [1, 2]
    dates, bad = parse_date(raw.frame["date"])
    assert dates.tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-06")]
    assert parse_number(raw.frame["amount"])[0].tolist() == [1.5, -2.0]


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(DataContractError, match=r"(?s)\.json.*not supported.*Fix:"):
        read_raw(tmp_path / "x.json")
    with pytest.raises(DataContractError, match=r"(?s)not found.*Fix:"):
        read_raw(tmp_path / "nothing.csv")


def test_utf16_with_bom_is_read(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("Kundennummer\tDatum\tBetrag\r\n1\t01.01.2024\t5,00\r\n".encode("utf-16"))
    raw = read_raw(path)
    assert raw.delimiter == "\t"
    assert raw.frame.to_dict("records") == [{"Kundennummer": "1", "Datum": "01.01.2024", "Betrag": "5,00"}]


# ---------------------------------------------------------------------------------------------- columns


def test_match_columns_ignores_case_spaces_and_bom_and_reports_unknown_columns():
    mapping = {
        "transactions": {
            "Kundennummer": "customer_id",
            "Rechnungsdatum": "date",
            "Datum": "date",
            "Betrag": "amount",
        }
    }
    match = match_columns(
        ["\ufeff KUNDENNUMMER ", "rechnungsdatum", "Datum", " betrag", "Filiale"], "transactions", mapping
    )
    assert match.columns == {
        "customer_id": "\ufeff KUNDENNUMMER ",
        "date": "rechnungsdatum",
        "amount": " betrag",
    }
    assert match.ignored == [
        "Datum",
        "Filiale",
    ]  # second column for `date`, and a column outside the contract


def test_mapping_to_an_unknown_contract_column_is_an_error():
    with pytest.raises(DataContractError, match=r"(?s)column_mapping\.yaml.*'Summe'.*'revenue'.*Fix:"):
        match_columns(["Summe"], "transactions", {"transactions": {"Summe": "revenue"}})


# ---------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("raw", "decimal", "expected"),
    [
        ("1.234,56", ",", 1234.56),
        ("1.234,56 €", ",", 1234.56),
        ("EUR 1.234,56", ",", 1234.56),
        ("1,234.56", ",", 1234.56),  # both separators: the last one is the decimal separator
        ("1.234", ",", 1234.0),  # decimal-comma file: dot is a thousands separator
        ("1.234.567", ".", 1234567.0),
        ("-3,20", ",", -3.2),
        ("(12,50)", ",", -12.5),
        ("12,50-", ",", -12.5),
        ("1 234,5", ",", 1234.5),
        ("1'234.50", ".", 1234.5),
        ("12.5", ".", 12.5),
        ("1e3", ".", 1000.0),
    ],
)
def test_parse_number_values(raw, decimal, expected):
    values, bad = parse_number(text([raw]), decimal)
    assert values.iloc[0] == pytest.approx(expected)
    assert not bad.iloc[0]


def test_parse_number_decides_per_column_and_flags_garbage():
    # a comma-delimited file whose column is clearly decimal comma ("12,5" has no thousands grouping)
    values, bad = parse_number(text(["12,5", "1.234", "3", ""]), ".")
    assert values.tolist()[:3] == [12.5, 1234.0, 3.0] and np.isnan(values.iloc[3])
    values, bad = parse_number(text(["abc", "1,2,3", "--", "nan", "inf", None, " "]), ",")
    assert bad.tolist() == [True, True, True, True, True, False, False]  # blanks are missing, not faults


def test_parse_int_and_percent():
    values, bad = parse_int(text(["1.200", "12,5", "7", ""]), ",")
    assert values.tolist()[:3] == [1200, pd.NA, 7] and bad.tolist() == [False, True, False, False]
    assert str(values.dtype) == "Int64"
    values, bad = parse_percent(text(["12 %", "0,12", "-5%", "x"]), ",")
    assert values.tolist()[:3] == pytest.approx([0.12, 0.12, -0.05])
    assert bad.tolist() == [False, False, False, True]


def test_parse_date_formats():
    raw = [
        "2024-01-05",
        "2024-01-05T13:00:00",
        "2024-01-05 13:00",
        "05.01.2024",
        "5.1.2024 13:45",
        "20240105",
    ]
    values, bad = parse_date(text(raw))
    assert values.tolist() == [pd.Timestamp("2024-01-05")] * len(raw)
    assert not bad.any()
    assert str(values.dtype) == "datetime64[ns]"
    values, bad = parse_date(
        text(["31.02.2024", "01/05/2024", "5.1.24", "yesterday", "9999-12-31", "", None])
    )
    assert bad.tolist() == [True, True, True, True, True, False, False]
    assert values.isna().all()


def test_parse_date_native_and_mixed_cells():
    cells = pd.Series(
        [dt.datetime(2024, 1, 5, 13), dt.date(2024, 2, 1), "03.03.2024", 20240405, None, "bad"], dtype=object
    )
    values, bad = parse_date(cells)
    assert values.tolist()[:4] == [
        pd.Timestamp(d) for d in ("2024-01-05", "2024-02-01", "2024-03-03", "2024-04-05")
    ]
    assert bad.tolist() == [False, False, False, False, False, True]
    aware = pd.Series(pd.to_datetime(["2024-01-05 23:30"]).tz_localize("Europe/Berlin"))
    assert parse_date(aware)[0].tolist() == [pd.Timestamp("2024-01-05")]


def test_parse_bool_and_enum():
    values, bad = parse_bool(text(["Ja", "nein", "1", "0", "yes", "NO", "true", "False", "vielleicht", None]))
    assert values.tolist()[:8] == [True, False, True, False, True, False, True, False]
    assert bad.tolist() == [False] * 8 + [True, False]
    assert parse_enum(text(["Lead Gen", " retail ", "Business-Industry", None])).tolist()[:3] == [
        "lead_gen",
        "retail",
        "business_industry",
    ]


def test_large_column_parses_each_distinct_value_once_with_the_same_result():
    raw = text(["1.234,56", "7,5", "x"] * 2000)
    values, bad = parse_number(raw, ",")
    from helpers.data.intake.columns import parse_column

    fast, fast_bad = parse_column(raw, "float", ",")
    assert fast.tolist()[:3] == [1234.56, 7.5, pytest.approx(np.nan, nan_ok=True)]
    pd.testing.assert_series_equal(fast, values)
    assert fast_bad.tolist() == bad.tolist()
    dates, bad_dates = parse_column(text(["05.01.2024", "bad", ""] * 2000), "date")
    assert dates.iloc[0] == pd.Timestamp("2024-01-05") and bad_dates.sum() == 2000
