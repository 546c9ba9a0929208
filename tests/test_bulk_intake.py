"""The DuckDB intake of transaction files (helpers.data.intake.in_duckdb) against the pandas intake: same accepted rows,
same rejected rows with the same reasons, lines and raw values, same counts, on the test corpus, the
bundled data and seeded messy files; and the files that need the pandas reader are handed to it."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.core.config import load_settings
from helpers.data.contract import DataContractError
from helpers.data.intake.loader import load_inputs
from helpers.data.samples import agency as sample_data

CORPUS = Path(__file__).parent / "data" / "intake"
END = pd.Timestamp("2024-06-30")


def settings_with(refunds: str = "net"):
    return load_settings().with_changes({"intake": {"refunds": refunds}})


def both(path, tmp_path, *, end=END, refunds="net"):
    settings = settings_with(refunds)
    by_pandas = load_inputs(path, analysis_end=end, settings=settings, engine="pandas")
    by_engine = load_inputs(path, analysis_end=end, settings=settings, engine="auto", workdir=tmp_path)
    return by_pandas, by_engine


def assert_same(by_pandas, by_engine) -> None:
    pd.testing.assert_frame_equal(
        by_engine.transactions.reset_index(drop=True), by_pandas.transactions.reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(by_engine.rejected, by_pandas.rejected)
    pd.testing.assert_frame_equal(by_engine.counts, by_pandas.counts)
    assert by_engine.ignored_columns == by_pandas.ignored_columns


# ---------------------------------------------------------------------------------------------- messy files

CUSTOMERS = ["C1", " C2 ", "c3", "\u00a0C4\u3000", "", None, "12", "007"]
DATES = [
    "2024-01-05", "2024-1-5", "05.01.2024", "5.1.2024", "20240105", "2024-01-05 13:45", "2024-01-05T13:45:00Z",
    "2024-03-05 14:30:00", "2024-02-30", "bad", "", "2030-01-01", " 2024-04-01 ", "01.07.2024", "1500-01-01",
]
AMOUNTS = [
    "12.5", "12,50", "1.234,56", "1,234.56", "1.234", "1,234", "(12,50)", "12,50-", "€ 12", "12 EUR", "-3", "abc",
    "", "1e3", "inf", "nan", ".5", "+7", "0", "-0.0", "1 234,5", "3.", "99999999.99", "0.1", " 42 ",
]


def messy_frame(rows: int, seed: int, amounts=AMOUNTS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Kunde": rng.choice(np.array(CUSTOMERS, dtype=object), rows),
            "Datum": rng.choice(np.array(DATES, dtype=object), rows),
            "Betrag": rng.choice(np.array(amounts, dtype=object), rows),
            "category": rng.choice(np.array(["SEO", " SEA", None, "Content"], dtype=object), rows),
            "currency": rng.choice(np.array(["eur", "EUR ", None], dtype=object), rows),
            "notes": rng.choice(np.array(["a", "b", None], dtype=object), rows),
        }
    )
    repeats = frame.sample(frac=0.1, random_state=seed)
    return pd.concat([frame, repeats], ignore_index=True).sample(frac=1.0, random_state=seed + 1)


@pytest.fixture
def german_mapping(tmp_path, monkeypatch):
    """Map the German headers of the messy files (the mapping file of the settings is replaced)."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("transactions:\n  Kunde: customer_id\n  Datum: date\n  Betrag: amount\n", encoding="utf-8")
    base = load_settings()

    def settings_for(refunds: str = "net"):
        return base.with_changes({"intake": {"refunds": refunds, "column_mapping": str(mapping)}})

    monkeypatch.setattr(f"{__name__}.settings_with", settings_for)
    return settings_for


@pytest.mark.parametrize(("delimiter", "refunds", "seed"), list(itertools.product([",", ";"], ["net", "quarantine"], [1, 2])))
def test_messy_csv_gives_the_same_result_in_both_engines(tmp_path, german_mapping, delimiter, refunds, seed):
    path = tmp_path / "messy.csv"
    messy_frame(600, seed).to_csv(path, sep=delimiter, index=False)
    by_pandas, by_engine = both(path, tmp_path, refunds=refunds)
    assert by_engine.engines[str(path)] == "duckdb"
    assert set(by_pandas.rejected["reason"]) >= {
        "missing_customer_id", "unparseable_date", "unparseable_amount", "after_analysis_month", "duplicate_row"
    }
    assert_same(by_pandas, by_engine)


def test_a_comma_decimal_column_is_voted_by_its_rows_in_both_engines(tmp_path, german_mapping):
    # most rows say decimal comma ('7,5'), so '1.234' is 1234 in both paths
    path = tmp_path / "votes.csv"
    frame = messy_frame(300, 3, amounts=["7,5", "7,5", "1.234", "12.5", "3"])
    frame.to_csv(path, index=False)
    by_pandas, by_engine = both(path, tmp_path)
    assert 1234.0 in set(by_engine.transactions["amount"])
    assert_same(by_pandas, by_engine)


def test_messy_parquet_with_native_types_gives_the_same_result(tmp_path, german_mapping):
    rng = np.random.default_rng(5)
    rows = 500
    frame = pd.DataFrame(
        {
            "Kunde": rng.integers(1, 40, rows),
            "Datum": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, rows), unit="D")
            + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
            "Betrag": np.where(rng.random(rows) < 0.05, np.nan, np.round(rng.normal(50, 40, rows), 2)),
            "quantity": rng.integers(1, 5, rows),
            "order_id": rng.integers(1, 10_000, rows),
        }
    )
    frame.loc[3, "Betrag"] = np.inf
    frame = pd.concat([frame, frame.iloc[:20]], ignore_index=True)
    path = tmp_path / "native.parquet"
    frame.to_parquet(path)  # with the pandas index stored: it must not count as a column
    for refunds in ("net", "quarantine"):
        by_pandas, by_engine = both(path, tmp_path, refunds=refunds)
        assert by_engine.engines[str(path)] == "duckdb"
        assert_same(by_pandas, by_engine)


def test_text_parquet_gives_the_same_result(tmp_path, german_mapping):
    path = tmp_path / "text.parquet"
    messy_frame(400, 7).to_parquet(path, index=False)
    by_pandas, by_engine = both(path, tmp_path)
    assert_same(by_pandas, by_engine)


# ---------------------------------------------------------------------------------------------- corpus and bundled data


@pytest.mark.parametrize("name", ["row_faults.csv", "utf8_bom_transactions.csv"])
def test_corpus_files_give_the_same_result(tmp_path, name):
    for refunds in ("net", "quarantine"):
        by_pandas, by_engine = both(CORPUS / name, tmp_path, refunds=refunds)
        assert_same(by_pandas, by_engine)


def test_bundled_data_gives_the_same_result(tmp_path):
    directory = tmp_path / "agency"
    path = sample_data.write_agency(directory)["transactions"]
    by_pandas, by_engine = both(path, tmp_path, end=pd.Timestamp("2025-06-30"))
    assert by_engine.engines[str(path)] == "duckdb"
    assert len(by_engine.transactions) > 1000
    assert_same(by_pandas, by_engine)


def test_windows_1252_and_utf16_files_are_read_from_a_utf8_copy(tmp_path, german_mapping):
    # German Excel exports are Windows-1252 ('Müller', '€ 12'); "Unicode text" is UTF-16 with a BOM
    frame = messy_frame(300, 9)
    frame.loc[frame.index[:5], "category"] = ["Müller", "€uro", "Straße", "Ärger", "x"]
    for encoding in ("cp1252", "utf-16"):
        path = tmp_path / f"{encoding}.csv"
        frame.to_csv(path, sep=";", index=False, encoding=encoding, errors="replace")  # cp1252 has no '\u3000'
        by_pandas, by_engine = both(path, tmp_path)
        assert by_engine.engines[str(path)] == "duckdb"
        seen = " ".join(by_engine.transactions["category"].dropna()) + " ".join(by_engine.rejected["raw"])
        assert "Müller" in seen and "€uro" in seen and "Straße" in seen
        assert_same(by_pandas, by_engine)
        assert not list(tmp_path.glob(".utf8-*"))  # the copy is removed


def test_the_windows_1252_corpus_file_gives_the_same_result(tmp_path):
    by_pandas, by_engine = both(CORPUS / "de_transactions_cp1252.csv", tmp_path)
    assert by_engine.engines[str(CORPUS / "de_transactions_cp1252.csv")] == "duckdb"
    assert_same(by_pandas, by_engine)


def test_files_the_engine_cannot_read_exactly_go_to_pandas(tmp_path):
    quoted = tmp_path / "quoted_break.csv"
    quoted.write_text('customer_id,date,amount,category\nC1,2024-01-05,10,"two\nlines"\nC2,2024-01-06,11,x\n', encoding="utf-8")
    blank_line = tmp_path / "blank_line.csv"
    blank_line.write_text("customer_id,date,amount\nC1,2024-01-05,10\n\nC2,2024-01-06,11\n", encoding="utf-8")
    for path in (quoted, blank_line):
        by_pandas, by_engine = both(path, tmp_path)
        assert by_engine.engines[str(path)].startswith("pandas ("), by_engine.engines
        assert_same(by_pandas, by_engine)
    # the line numbers stay those a user sees in an editor
    assert load_inputs(quoted, settings=settings_with()).transactions["customer_id"].tolist() == ["C1", "C2"]


def test_rows_without_any_value_are_skipped_and_later_lines_keep_their_numbers(tmp_path):
    path = tmp_path / "empty_rows.csv"
    path.write_text(
        "customer_id;date;amount\nC1;05.01.2024;10\n;;\n  ; ;\u00a0\nC2;xx;11\nC3;06.01.2024;1,5\n", encoding="utf-8"
    )
    by_pandas, by_engine = both(path, tmp_path)
    assert by_engine.engines[str(path)] == "duckdb"
    assert by_engine.rejected["source_row"].tolist() == [5]  # C2, after two rows without values
    assert by_engine.counts["read"].tolist() == [3]
    assert_same(by_pandas, by_engine)


def test_a_file_without_a_required_column_gets_the_same_message(tmp_path):
    path = tmp_path / "no_amount.csv"
    path.write_text("customer_id;date;betrag_brutto\nC1;05.01.2024;10\n", encoding="utf-8")
    messages = []
    for engine in ("pandas", "auto"):
        with pytest.raises(DataContractError) as caught:
            load_inputs(path, settings=settings_with(), engine=engine, workdir=tmp_path)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "'amount'" in messages[1] and "line 2" in messages[1]


def test_accepted_rows_stay_in_a_parquet_file_and_several_files_are_joined_in_order(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.parquet"
    first.write_text("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,11\n", encoding="utf-8")
    pd.DataFrame({"customer_id": ["C3"], "date": [pd.Timestamp("2024-02-01")], "amount": [5.0]}).to_parquet(second)
    work = tmp_path / "work"
    work.mkdir()
    result = load_inputs([first, second], settings=settings_with(), workdir=work)
    assert all(isinstance(part, Path) for part in result.transaction_parts)
    target = result.write_transactions(tmp_path / "out" / "transactions.parquet")
    written = pd.read_parquet(target)
    assert written["customer_id"].tolist() == ["C1", "C2", "C3"]
    assert str(written["date"].dtype) == "datetime64[ns]"
    assert result.counts["read"].tolist() == [2, 1]


def test_sql_strips_exactly_the_characters_python_strips():
    from helpers.data.intake.in_duckdb import PY_WHITESPACE

    assert PY_WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())
