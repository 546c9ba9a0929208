"""Adversarial input files (issue 11) through the intake, in pandas and in DuckDB, and through `workbook
validate`: every file either gives read = accepted + rejected with the expected reasons, or stops with one
error naming the file, the column (where there is one) and the fix. Formula and script text in ids and
names is legal data and is accepted as it is (it is escaped where it is written out, not here).

The small files are in tests/data/hostile/ (README.md there says what each holds); the big and binary ones
(a 2 MB name, Parquet and Excel with native values) are made by `generated_files` from fixed values."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.core.config import load_settings
from helpers.data.contract import DataContractError
from helpers.data.intake.loader import load_inputs
from helpers.pipeline import cli

CORPUS = Path(__file__).parent / "data" / "hostile"
TODAY = pd.Timestamp("2026-06-30")  # the files' future dates are far beyond any real today too
FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "<script>alert(1)</script>"]


@dataclass(frozen=True)
class Rows:
    """A file that is read: how many rows are accepted, and how many are rejected for which reason."""

    accepted: int
    reasons: dict[str, int]


@dataclass(frozen=True)
class Fails:
    """A file that cannot be used: words its message holds, and the column it names (None: no column)."""

    words: tuple[str, ...]
    column: str | None = None


EXPECTED: dict[str, tuple[str, Rows | Fails]] = {
    "de_excel_export_cp1252.csv": ("transactions", Rows(4, {"unparseable_date": 1, "unparseable_amount": 1})),
    "absurd_amounts.csv": ("transactions", Rows(2, {"amount_too_large": 4, "unparseable_amount": 6,
                                                    "cost_too_large": 2, "unparseable_cost": 1})),
    "absurd_amounts_de.csv": ("transactions", Rows(1, {"amount_too_large": 3, "unparseable_amount": 2})),
    "extreme_dates.csv": ("transactions", Rows(2, {"date_too_early": 5, "date_in_future": 3})),
    "formula_and_script_transactions.csv": ("transactions", Rows(6, {})),
    "formula_and_script_accounts.csv": ("accounts", Rows(2, {})),
    "mixed_utf8_and_cp1252.csv": ("transactions", Rows(2, {})),
    "invalid_bytes.csv": ("transactions", Fails(("neither UTF-8 nor Windows-1252", "line 3", "CSV UTF-8"))),
    "utf16_without_bom.csv": ("transactions", Fails(("NUL bytes", "UTF-16"))),
    "nul_bytes.csv": ("transactions", Fails(("NUL bytes",))),
    "empty.csv": ("transactions", Fails(("empty",))),
    "only_bom.csv": ("transactions", Fails(("empty",))),
    "blank_lines.csv": ("transactions", Fails(("empty",))),
    "header_only.csv": ("transactions", Fails(("empty", "no data rows"))),
    "header_and_empty_rows.csv": ("transactions", Fails(("empty", "no data rows"))),
    "duplicate_mapped_columns.csv": ("transactions", Fails(("'Kunde' and 'Kundennummer'", "column_mapping.yaml"),
                                                          "customer_id")),
    "contract_and_mapped_column.csv": ("transactions", Fails(("'customer_id' and 'Kunde'", "`Kunde: customer_id`"),
                                                            "customer_id")),
    "repeated_header.csv": ("transactions", Fails(("'amount' and 'amount.1'", "header written again"), "amount")),
    "ragged_rows.csv": ("transactions", Fails(("cannot be split into columns", "double quotes"))),
    # generated
    "long_name_accounts.csv": ("accounts", Rows(1, {"field_too_long": 2})),
    "long_values_transactions.csv": ("transactions", Rows(1, {"field_too_long": 3})),
    "native_values.parquet": ("transactions", Rows(2, {"amount_too_large": 1, "unparseable_amount": 2,
                                                       "date_too_early": 1, "date_in_future": 1,
                                                       "field_too_long": 1})),
    "native_values.xlsx": ("transactions", Rows(1, {"amount_too_large": 1, "unparseable_amount": 1,
                                                    "date_too_early": 1, "date_in_future": 1})),
    "missing_required_column.xlsx": ("transactions", Fails(("required column(s) 'amount' missing", "Columns found"),
                                                           "amount")),
}


@pytest.fixture(scope="module")
def generated_files(tmp_path_factory) -> Path:
    """The corpus files that are big or binary, written from fixed values."""
    folder = tmp_path_factory.mktemp("hostile")
    huge = "Müller GmbH " * 180_000  # about 2 MB
    (folder / "long_name_accounts.csv").write_text(
        f"customer_id,name,industry\nC1,{huge},Handel\nC2,Beta,{'y' * 201}\nC3,{'n' * 200},Handel\n",
        encoding="utf-8",
    )
    (folder / "long_values_transactions.csv").write_text(
        f"customer_id,date,amount,category,currency\n{'1' * 5000},2024-01-05,1,a,EUR\n"
        f"C2,2024-01-05,1,{huge},EUR\nC3,2024-01-05,1,a,{'E' * 300}\nC4,2024-01-05,1,a,EUR\n",
        encoding="utf-8",
    )
    pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"],
        "date": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-01-05", "2024-01-05", "1900-01-01",
                                "2999-01-01", "2024-01-05", "2024-01-05"]).astype("datetime64[us]"),
        "amount": [10.0, 1e308, np.inf, np.nan, 1.0, 1.0, 1.0, -1e9],
        "category": ["a", "a", "a", "a", "a", "a", "c" * 201, "a"],
    }).to_parquet(folder / "native_values.parquet", index=False)
    pd.DataFrame({
        "Kundennummer": [1001, 1002, 1003, 1004, 1005],
        "Rechnungsdatum": [dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 6), dt.datetime(1900, 1, 1),
                           "01.01.2999", dt.datetime(2024, 1, 7)],
        "Betrag": [12.5, 1e308, 1.0, 2.0, "inf"],
    }).to_excel(folder / "native_values.xlsx", index=False)
    pd.DataFrame({"Kundennummer": [1], "Rechnungsdatum": [dt.datetime(2024, 1, 5)]}).to_excel(
        folder / "missing_required_column.xlsx", index=False
    )
    return folder


def corpus_path(name: str, generated: Path) -> Path:
    return CORPUS / name if (CORPUS / name).exists() else generated / name


def test_every_corpus_file_has_an_expectation():
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix != ".md"}
    assert on_disk <= set(EXPECTED), on_disk - set(EXPECTED)


def intake(path: Path, table: str, engine: str, tmp_path: Path):
    settings = load_settings()
    files = {"transactions": [], table: path} if table != "transactions" else {"transactions": path}
    work = tmp_path / f"work-{engine}"
    work.mkdir(exist_ok=True)
    return load_inputs(**files, settings=settings, engine=engine, workdir=work, today=TODAY)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_file_is_accounted_for_or_named_with_its_fix(name, generated_files, tmp_path):
    table, expected = EXPECTED[name]
    path = corpus_path(name, generated_files)
    engines = ("pandas", "auto") if table == "transactions" else ("pandas",)
    results = []
    for engine in engines:
        if isinstance(expected, Fails):
            with pytest.raises(DataContractError) as raised:
                intake(path, table, engine, tmp_path)
            message = str(raised.value)
            assert str(path) in message and raised.value.file == str(path), message
            assert "\nFix: " in message and raised.value.fix, message
            for words in expected.words:
                assert words in message, message
            assert raised.value.column == expected.column
            if expected.column:
                assert f"'{expected.column}'" in message
            results.append(message)
            continue
        result = intake(path, table, engine, tmp_path)
        counts = result.counts.iloc[0]
        assert counts["read"] == counts["accepted"] + counts["rejected"] == len(result.rejected) + counts["accepted"]
        assert counts["accepted"] == expected.accepted
        assert result.rejected["reason"].value_counts().to_dict() == expected.reasons
        assert (result.rejected["value"].str.len().fillna(0) < 1100).all()  # long values are clipped
        assert (result.rejected["raw"].str.len() < 5000).all()
        results.append(result)
    if len(results) == 2 and not isinstance(expected, Fails):  # pandas and DuckDB: the same rows
        pd.testing.assert_frame_equal(results[0].transactions, results[1].transactions)
        pd.testing.assert_frame_equal(results[0].rejected, results[1].rejected)
        pd.testing.assert_frame_equal(results[0].counts, results[1].counts)
    elif len(results) == 2:
        assert results[0] == results[1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_workbook_validate_accounts_for_every_hostile_file(name, generated_files, capsys):
    table, expected = EXPECTED[name]
    path = corpus_path(name, generated_files)
    code = cli.main(["validate", str(path), "--table", table])
    out = capsys.readouterr().out
    if isinstance(expected, Fails):
        assert code == 1 and "FAILED: 1 file(s)" in out and path.name in out and "Fix:" in out
        return
    assert code == (0 if expected.accepted else 1) and out.rstrip().endswith("OK")
    read, accepted, rejected = map(int, re.search(r"Total: read (\d+) = accepted (\d+) \+ rejected (\d+)", out).groups())
    assert read == accepted + rejected and accepted == expected.accepted
    assert len(out) < 20_000  # a 2 MB name is not printed


def test_formula_and_script_text_is_accepted_as_it_is(tmp_path):
    result = intake(CORPUS / "formula_and_script_transactions.csv", "transactions", "auto", tmp_path)
    assert result.transactions["customer_id"].tolist()[:5] == FORMULAS
    assert result.transactions["category"].tolist()[:5] == FORMULAS
    assert result.transactions["customer_id"].iloc[5] == "'; DROP TABLE transactions; --"
    accounts = intake(CORPUS / "formula_and_script_accounts.csv", "accounts", "pandas", tmp_path).accounts
    assert accounts["name"].tolist() == [FORMULAS[0], FORMULAS[4]]
    assert accounts["industry"].tolist() == ["@SUM(1)", "<img src=x onerror=alert(1)>"]


def test_the_german_excel_export_keeps_its_umlauts_leading_zeros_and_decimal_commas(tmp_path):
    result = intake(CORPUS / "de_excel_export_cp1252.csv", "transactions", "auto", tmp_path)
    tx = result.transactions
    assert tx["customer_id"].tolist() == ["0815", "0815", "4711", "4711"]
    assert tx["amount"].tolist() == [1234.56, 89.90, -120.0, 12000.0] and tx["cost"].tolist()[0] == 500.0
    assert tx["category"].tolist()[1] == "Beratung – Straße" and tx["category"].tolist()[3] == "Projekt „Ärger“"
    assert result.ignored_columns == {"transactions": ["Kundenname"]}
