"""Pseudonyms for published HTML, and data text that always shows as text."""

import nbformat
import pandas as pd
import pytest
from IPython.display import Markdown
from nbconvert import HTMLExporter

from helpers.core import paths
from helpers.reporting import privacy
from helpers.reporting.formatting import markdown_table
from helpers.reporting.report_tables import AnalysisTables

SALT = b"a-test-salt-of-sufficient-length"
EVIL = "<script>alert(1)</script>"


def test_alias_is_stable_keyed_and_language_dependent():
    assert privacy.alias("C0001", SALT) == privacy.alias("C0001", SALT)
    assert privacy.alias("C0001", SALT) != privacy.alias("C0002", SALT)
    assert privacy.alias("C0001", SALT) != privacy.alias("C0001", b"another-salt-of-enough-length")
    assert privacy.alias("C0001", SALT, "en").startswith("Customer ")
    assert privacy.alias("C0001", SALT, "de").startswith("Kunde ")
    code = privacy.alias("C0001", SALT).split()[1]
    assert len(code) == privacy.CODE_LENGTH and code not in "C0001"


def test_alias_codes_are_unique_even_when_prefixes_collide():
    codes = privacy.alias_codes([f"C{i}" for i in range(300)], SALT, length=3)
    assert len(set(codes.values())) == 300
    lengths = [len(c) for c in codes.values()]
    assert min(lengths) == 3 and max(lengths) > 3  # only colliding customers get longer codes


def test_pseudonymiser_replaces_ids_drops_names_and_leaves_the_input_alone():
    frame = pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["Müller GmbH", EVIL], "cltv": [1.0, 2.0]})
    masked = privacy.Pseudonymiser(True, "de", population=frame["customer_id"], salt=SALT).frame(frame)
    assert "name" not in masked and masked["cltv"].tolist() == [1.0, 2.0]
    assert all(v.startswith("Kunde ") for v in masked["customer_id"])
    assert frame["customer_id"].tolist() == ["C1", "C2"]  # the CRM export keeps the real values
    assert privacy.Pseudonymiser(False).frame(frame) is frame
    indexed = frame.set_index("customer_id")
    assert all(v.startswith("Customer ") for v in privacy.Pseudonymiser(True, salt=SALT).frame(indexed).index)


def test_salt_from_environment_file_or_created_default(tmp_path, monkeypatch):
    monkeypatch.setenv(privacy.SALT_ENV, "x" * 20)
    assert privacy.load_salt() == b"x" * 20
    monkeypatch.delenv(privacy.SALT_ENV)
    target = tmp_path / "salt" / "pseudonym_salt"
    monkeypatch.setenv(privacy.SALT_FILE_ENV, str(target))
    first = privacy.load_salt()
    assert target.exists() and (target.stat().st_mode & 0o777) == 0o600
    assert privacy.load_salt() == first and len(first) >= 32
    monkeypatch.setenv(privacy.SALT_FILE_ENV, str(paths.repo_root() / "salt.txt"))
    with pytest.raises(privacy.PrivacyError, match="inside the repository"):
        privacy.load_salt()


@pytest.mark.parametrize("text", [EVIL, "<img src=x onerror=alert(1)>", "a *b* _c_ [d](e) `f` | $x$ #h"])
def test_safe_text_shows_as_written_in_markdown_and_html(text):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rendered = markdown2html_mistune(f"Client {privacy.safe_text(text)} here")
    assert "<script" not in rendered and "<img" not in rendered and "<em>" not in rendered
    assert "<a " not in rendered and "<code>" not in rendered
    assert privacy.safe_text(None) == "-"
    assert privacy.safe_text("- list") != "- list"


def test_table_html_escapes_cells_columns_and_index_and_says_how_many_rows():
    frame = pd.DataFrame({"name": [EVIL] * 12, EVIL: range(12)}, index=[EVIL] * 12)
    table = privacy.table_html(frame, max_rows=5, index=True)
    assert EVIL not in table and "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert "5 of 12" in table


def test_what_the_libraries_do_by_default():
    """Why the helpers exist: DataFrame HTML escapes, Styler and Markdown do not."""
    frame = pd.DataFrame({"name": [EVIL]})
    assert EVIL not in frame._repr_html_()
    assert EVIL in frame.style.to_html()
    assert EVIL in HTMLExporter().from_notebook_node(_notebook_with(Markdown(f"Client {EVIL}")))[0]


def test_exported_notebook_shows_escaped_names_as_text():
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(_notebook_with(
        Markdown(f"Client {privacy.safe_text(EVIL)}"),
        privacy.show_table(pd.DataFrame({"name": [EVIL]})),
    ))
    assert EVIL not in body
    assert body.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2


def _notebook_with(*objects):
    outputs = []
    for obj in objects:
        data = {}
        if hasattr(obj, "_repr_markdown_"):
            data["text/markdown"] = obj._repr_markdown_()
        if hasattr(obj, "_repr_html_") and obj._repr_html_() is not None:
            data["text/html"] = obj._repr_html_()
        outputs.append(nbformat.v4.new_output("display_data", data=data))
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outputs)])


def test_chart_names_are_aliases_when_pseudonymised_else_names_or_the_id():
    ids, names = ["C1", "C2", "C3"], ["Müller GmbH", "", None]
    assert privacy.Pseudonymiser(False).names(ids, names).tolist() == ["Müller GmbH", "C2", "C3"]
    assert privacy.Pseudonymiser(False).names(ids).tolist() == ids
    pseudonymiser = privacy.Pseudonymiser(True, population=ids, salt=SALT)
    shown = pseudonymiser.names(ids, names).tolist()
    assert shown == [pseudonymiser.alias(c) for c in ids] and all(s.startswith("Customer ") for s in shown)


def test_aliases_are_the_same_in_every_notebook_of_a_month():
    """Notebooks 01-05 each build their Pseudonymiser from the month's customers: same codes everywhere,
    only the word in front follows the notebook's language."""
    month = [f"C{i}" for i in range(50)]
    english = privacy.Pseudonymiser(True, "en", population=month, salt=SALT)
    german = privacy.Pseudonymiser(True, "de", population=list(reversed(month)), salt=SALT)
    assert all(english.alias(c).split()[1] == german.alias(c).split()[1] for c in month)


def test_for_markdown_escapes_the_named_columns_only():
    frame = pd.DataFrame({"cluster_name": [f"mostly {EVIL}"], "action": ["*keep*"]})
    out = privacy.for_markdown(frame, ["cluster_name", "absent"])
    assert EVIL not in out.loc[0, "cluster_name"] and out.loc[0, "action"] == "*keep*"
    assert frame.loc[0, "cluster_name"] == f"mostly {EVIL}"  # the input is left alone


@pytest.mark.parametrize("text", [EVIL, "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))"])
def test_markdown_table_escapes_every_cell_and_column_name(text):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rendered = markdown2html_mistune(markdown_table(pd.DataFrame({text: [text], "n": [1]}), index=False))
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert "<table>" in rendered


def test_analysis_tables_pseudonymise_format_and_escape():
    frame = pd.DataFrame({"rank": [1, 2], "customer_id": ["C1", EVIL], "name": ["Müller GmbH", EVIL],
                          "revenue": [1234.0, -10.0], "share": [0.25, 0.125]})
    plain = AnalysisTables(privacy.Pseudonymiser(False), "EUR").show(
        frame.set_index("rank"), money=["revenue"], percent=["share"], percent_decimals=1,
        rename={"customer_id": "customer"}, index=True).data
    assert EVIL not in plain and "&lt;script&gt;alert(1)&lt;/script&gt;" in plain
    assert "Müller GmbH" in plain and "€1,234" in plain and "-€10" in plain and "12.5%" in plain and ">customer<" in plain
    assert 'class="dataframe report-table"' in plain and ">rank<" in plain
    masked = AnalysisTables(privacy.Pseudonymiser(True, population=frame["customer_id"], salt=SALT)).show(
        frame, max_rows=1).data
    assert "Müller" not in masked and "C1" not in masked and "Customer " in masked and "1 of 2" in masked


def test_report_and_analysis_tables_end_in_the_one_escaping_path(monkeypatch):
    """Every table of every published notebook is privacy.table_html (ReportTables, AnalysisTables,
    show_table); there is no Styler path left."""
    from helpers.reporting import report_tables

    calls = []
    monkeypatch.setattr(report_tables, "show_table", lambda frame, **kw: calls.append(frame) or "shown")
    frame = pd.DataFrame({"customer_id": ["C1"], "cltv": [1.0]})
    pseudonymiser = privacy.Pseudonymiser(False)
    report_tables.ReportTables(pseudonymiser, "en", "EUR").show(frame)
    report_tables.AnalysisTables(pseudonymiser).show(frame)
    assert len(calls) == 2
    assert not hasattr(privacy, "styled")


def test_ignored_columns_of_notebook_00_are_named_as_text():
    from helpers.reporting import overview

    assert overview.ignored_columns_text({"transactions": [], "accounts": []}) == ""
    text = overview.ignored_columns_text({"transactions": [EVIL, "note"], "accounts": []})
    assert text.startswith("Columns outside the data contract were ignored: transactions: ")
    assert EVIL not in text and "note" in text and "accounts" not in text
