"""The CRM export: one row per customer, the agreed columns, no customer lost, CSV and Excel round trips."""

import openpyxl
import pandas as pd
import pytest

from helpers.core import artifacts as processed
from helpers.core import paths
from helpers.potential import funnel
from helpers.potential import scoring as potential
from helpers.reporting import crm_export
from test_potential import SETTINGS, hand_made


def _export(clusters=None):
    inputs = hand_made()
    result = potential.score_customers(inputs, SETTINGS)
    rfm = pd.DataFrame({"customer_id": inputs.summary["customer_id"], "rfm_segment": "Champions", "abc_class": "A"})
    maturity = funnel.maturity_table(inputs.service_map, inputs.summary["customer_id"])
    accounts = inputs.accounts.copy()
    accounts.loc[0, "name"] = "Müller & Söhne Großhandel GmbH"
    accounts.loc[1, "name"] = None
    export = crm_export.build_export(inputs.summary, result.table, rfm=rfm, cltv=inputs.cltv, clusters=clusters,
                                     accounts=accounts, maturity=maturity)
    return inputs, export


def test_export_has_the_agreed_columns_and_one_row_per_customer():
    inputs, export = _export()
    assert list(export.columns) == [
        "customer_id", "name", "rfm_segment", "abc_class", "cltv", "cltv_low", "cltv_high", "purchases_low",
        "purchases_high", "p_alive", "cluster_name", "funnel_maturity", "revenue_12m", "value_at_stake", "upsell_score",
        "growth_score", "quadrant", "likely_lost", "attention", "service_level", "hours_per_month", "next_action",
        "reasons", "quadrant_key", "attention_key",
    ]
    assert export["likely_lost"].dtype == bool and export["hours_per_month"].gt(0).all()
    assert list(export["customer_id"]) == list(inputs.summary["customer_id"])
    crm_export.check_no_customer_lost(inputs.summary, export)
    assert export.loc[1, "name"] == ""  # unknown name: empty, not "None"
    assert (export["cluster_name"] == "").all()  # no clusters artifact yet
    assert export.loc[0, "funnel_maturity"] == pytest.approx(15.0)  # see/operations only
    assert export.set_index("customer_id").loc["gap_grow_1", "quadrant"] == "Develop"
    assert export["reasons"].str.len().gt(0).all()


def test_clusters_are_joined_when_present():
    clusters = pd.DataFrame({"customer_id": ["gap_grow_1"], "cluster": [0], "cluster_name": ["Big & busy"]})
    _, export = _export(clusters)
    assert export.loc[0, "cluster_name"] == "Big & busy" and export.loc[1, "cluster_name"] == ""


def test_customers_without_scores_still_get_a_row():
    inputs = hand_made()
    export = crm_export.build_export(inputs.summary, pd.DataFrame({"customer_id": []}))
    assert len(export) == len(inputs.summary)
    assert export["quadrant"].eq("").all() and export["upsell_score"].isna().all()


def test_lost_duplicated_and_foreign_customers_are_refused():
    inputs, export = _export()
    with pytest.raises(crm_export.CustomersLostError, match="1 customer\\(s\\) of the summary missing: gap_grow_1"):
        crm_export.check_no_customer_lost(inputs.summary, export.iloc[1:])
    with pytest.raises(crm_export.CustomersLostError, match="more than once"):
        crm_export.check_no_customer_lost(inputs.summary, pd.concat([export, export.iloc[:1]]))
    extra = pd.concat([export, export.iloc[:1].assign(customer_id="stranger")])
    with pytest.raises(crm_export.CustomersLostError, match="not in the summary: stranger"):
        crm_export.check_no_customer_lost(inputs.summary, extra)


def test_files_round_trip(workbook_root):
    _, export = _export()
    files = crm_export.write_export(export, "2025-12", workbook_root / "reports" / ".exports" / "2025-12")
    assert files.parquet == processed.artifact_path("2025-12", "customer_segments")
    pd.testing.assert_frame_equal(processed.read_artifact("2025-12", "customer_segments"), export,
                                  check_dtype=False)
    raw = files.csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # byte-order mark: Excel opens umlauts right
    assert "Müller & Söhne Großhandel GmbH".encode() in raw
    for reread in (crm_export.read_csv(files.csv), crm_export.read_xlsx(files.xlsx)):
        assert list(reread.columns) == crm_export.EXPORT_COLUMNS
        pd.testing.assert_frame_equal(reread, export, check_dtype=False, atol=1e-9)


def test_write_export_refuses_other_columns(workbook_root):
    _, export = _export()
    with pytest.raises(ValueError, match="export columns"):
        crm_export.write_export(export.drop(columns="reasons"), "2025-12", workbook_root)


def test_no_excel_workbook_above_the_row_limit(workbook_root):
    export = pd.DataFrame({c: ["x", "y", "z"] for c in crm_export.EXPORT_COLUMNS})
    files = crm_export.write_export(export, "2025-12", workbook_root / "out", xlsx_max_rows=2)
    assert files.xlsx is None and files.csv.exists()
    assert "no Excel workbook" in files.describe(3, "2025-12")
    assert len(crm_export.read_csv(files.csv)) == 3


def _awkward_export() -> pd.DataFrame:
    """Export rows with texts that need quotes (comma, quote, line break), umlauts, empty and missing
    texts, and numbers large, tiny, negative zero, whole and missing."""
    texts = ["plain", "", "Müller, Söhne & Co", 'the "best" client', "two\nlines", " spaced ", "ÄÖÜß €", "NULL",
             "nan", "#1"]
    numbers = [12.0, 0.1, 1e-05, 123456.78, float("nan"), 1e16, 0.0001, -0.0, 2.5, 1 / 3]
    export = pd.DataFrame({c: texts for c in crm_export.TEXT_COLUMNS})
    for position, column in enumerate(c for c in crm_export.EXPORT_COLUMNS if c not in crm_export.TEXT_COLUMNS):
        export[column] = numbers[position:] + numbers[:position]
    export["customer_id"] = [f"C{i}" for i in range(len(export))]
    export.loc[3, "name"] = None
    return export[crm_export.EXPORT_COLUMNS]


def test_csv_is_what_pandas_writes_and_reads_back(tmp_path):
    export = _awkward_export()
    written = crm_export.write_csv(export, tmp_path / "segments.csv")
    # the file pandas' to_csv wrote before DuckDB took over: Excel and the CRM import see no change
    export.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
    assert written.read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert written.read_bytes().startswith(b"\xef\xbb\xbfcustomer_id,name,")
    expected = export.assign(name=export["name"].fillna(""))
    pd.testing.assert_frame_equal(crm_export.read_csv(written), expected, check_exact=True, check_dtype=False)
    assert not list(tmp_path.glob("*.body"))


def test_csv_quotes_a_bare_carriage_return(tmp_path):
    export = _awkward_export()
    export.loc[2, "reasons"] = "old\rMac line break"
    written = crm_export.write_csv(export, tmp_path / "segments.csv")
    assert b',"old\rMac line break",' in written.read_bytes()
    expected = export.assign(name=export["name"].fillna(""))
    pd.testing.assert_frame_equal(crm_export.read_csv(written), expected, check_exact=True, check_dtype=False)


def test_csv_of_other_columns_is_written_by_pandas(tmp_path):
    frame = pd.DataFrame({"customer_id": ["a", "b"], "active": [True, False],
                          "since": pd.to_datetime(["2025-01-02", "2025-03-04"])})
    crm_export.write_csv(frame, tmp_path / "other.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
    assert (tmp_path / "other.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


# OWASP "CSV Injection": what a spreadsheet would run as a formula, and texts that only look close to one
FORMULAS = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\tx=1", "\r=1",
            "'quoted already", "'=1+1", "=1,2", "<script>alert(1)</script>", "plain", "", "a=1"]


def _formula_export() -> pd.DataFrame:
    export = pd.DataFrame({c: FORMULAS for c in crm_export.TEXT_COLUMNS})
    export["customer_id"] = [f"{text}#{i}" for i, text in enumerate(FORMULAS)]  # ids stay unique
    for column in crm_export.EXPORT_COLUMNS:
        if column not in crm_export.TEXT_COLUMNS:
            export[column] = [-1.5 if i % 2 else 2.0 for i in range(len(FORMULAS))]
    return export[crm_export.EXPORT_COLUMNS]


def test_csv_puts_one_quote_before_text_that_starts_like_a_formula_and_leaves_numbers(tmp_path):
    export = _formula_export()
    written = crm_export.write_csv(export, tmp_path / "segments.csv")
    raw = pd.read_csv(written, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    starts = ("=", "+", "-", "@", "\t", "\r", "'")
    for column in crm_export.TEXT_COLUMNS:
        for original, cell in zip(export[column], raw[column], strict=True):
            if original[:1] in starts:
                assert cell == "'" + original  # the documented rule: exactly one quote in front
                assert cell[1:] == original  # stripping it gives the original
            else:
                assert cell == original
    # numbers are numbers: a negative one is written as it is, no quote, no quotes around it
    assert raw["cltv"].tolist()[:2] == ["2.0", "-1.5"]
    assert b",-1.5," in written.read_bytes() and b"'-1.5" not in written.read_bytes()
    pd.testing.assert_frame_equal(crm_export.read_csv(written), export, check_exact=True, check_dtype=False)


def test_csv_written_by_pandas_follows_the_same_rule(tmp_path):
    frame = pd.DataFrame({"customer_id": ["=1+1", "ok"], "active": [True, False], "amount": [-1.0, 2.0]})
    crm_export.write_csv(frame, tmp_path / "other.csv")
    raw = pd.read_csv(tmp_path / "other.csv", encoding="utf-8-sig", dtype=str)
    assert raw["customer_id"].tolist() == ["'=1+1", "ok"] and raw["amount"].tolist() == ["-1.0", "2.0"]


def test_xlsx_holds_no_formula_and_reads_back_exactly_as_written(tmp_path):
    # a carriage return inside a text comes back from any XLSX as a line feed (XML line ends): left out here
    export = _formula_export()
    export = export[~export["name"].str.contains("\r")].reset_index(drop=True)
    written = crm_export.write_xlsx(export, tmp_path / "segments.xlsx")
    sheet = openpyxl.load_workbook(written).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    names = [row[1].value or "" for row in sheet.iter_rows(min_row=2)]
    assert names == export["name"].tolist()
    hyperlink = next(cell for cell in cells if cell.value == FORMULAS[0])
    assert hyperlink.data_type == "s" and hyperlink.quotePrefix  # shown as text, and stays text when edited
    assert sheet.cell(row=2, column=5).data_type == "n"  # numbers stay numbers
    reread = crm_export.read_xlsx(written)
    pd.testing.assert_frame_equal(reread, export, check_exact=True, check_dtype=False)


def test_control_characters_that_excel_cannot_hold_become_replacement_characters_in_the_xlsx_only(tmp_path):
    """A \\x0b in a name once stopped the run in openpyxl (IllegalCharacterError)."""
    export = _formula_export().head(2).copy()
    export.loc[0, "name"] = "Tab\x0bbed\x1fname"
    reread = crm_export.read_xlsx(crm_export.write_xlsx(export, tmp_path / "segments.xlsx"))
    assert reread.loc[0, "name"] == "Tab\ufffdbed\ufffdname"
    assert reread.loc[1, "name"] == export.loc[1, "name"]
    assert crm_export.read_csv(crm_export.write_csv(export, tmp_path / "segments.csv")).loc[0, "name"] == export.loc[0, "name"]


def test_a_pseudonymised_run_keeps_csv_and_xlsx_with_the_processed_files(workbook_root):
    """They hold the real ids and names: a pseudonymised run must not publish them with the report."""
    _, export = _export()
    files = crm_export.write_export(export, "2025-12", pseudonymised=True)
    assert files.csv.parent == paths.processed_dir("2025-12") == files.parquet.parent
    assert files.xlsx is not None and files.xlsx.parent == paths.processed_dir("2025-12")
    assert not paths.export_dir("2025-12").exists()
    assert "not publish" in files.describe(len(export), "2025-12")
    published = crm_export.write_export(export, "2025-12")
    assert published.csv.parent == paths.export_dir("2025-12") and "reports/agency/en/2025-12/" in published.describe(3, "2025-12")
