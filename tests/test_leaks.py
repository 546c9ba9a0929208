"""Nothing leaks (issue 11): hostile customer names and ids through the whole monthly run.

A client called ``<script>alert(1)</script>`` or ``<img src=x onerror=alert(1)>`` shows as text in every
published HTML and notebook, never as markup; ``=HYPERLINK(...)`` and ``@SUM(1+1)`` never become formulas in
the CRM export; and a pseudonymised run publishes no real name or id anywhere. Two runs of the small agency
data set (one plain, one pseudonymised in German), each scanning every file the month publishes.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import openpyxl
import pandas as pd
import pytest

from helpers.core import paths
from helpers.pipeline import runner
from helpers.reporting import crm_export, privacy

MONTH = "2025-12"
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
# hostile ids (the largest customers, so they reach every top table) and names
HOSTILE = [SCRIPT, '=HYPERLINK("http://evil","x")', IMAGE, "@SUM(1+1)", "+cmd|calc", "-2+3"]
HOSTILE_INDUSTRY = "<img src=x onerror=alert('industry')>"  # shown (escaped) even when pseudonymised
RAW_MARKUP = (SCRIPT, "<img src=x")
ANALYSES = ("01", "02", "03", "04", "05")
ALIAS = re.compile(r"\b(Customer|Kunde) [0-9A-F]{6,}\b")


# --------------------------------------------------------------------------------------------------
# what the notebooks say (fast)
# --------------------------------------------------------------------------------------------------
def _notebooks() -> list[Path]:
    return [p for p in runner.list_notebooks() if p.name[:2] in ANALYSES]


@pytest.mark.parametrize("notebook", _notebooks(), ids=lambda p: p.stem)
def test_every_notebook_from_01_declares_pseudonymise_off_by_default(notebook):
    """The runner passes `pseudonymise` to each notebook that declares it (runner.notebook_parameters)."""
    cell = next(c for c in nbformat.read(notebook, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    assert re.search(r"^pseudonymise = False\b", cell.source, flags=re.MULTILINE), notebook.name
    assert "pseudonymise" in runner.notebook_parameters(notebook)


@pytest.mark.parametrize("notebook", _notebooks(), ids=lambda p: p.stem)
def test_notebooks_show_tables_only_through_the_one_escaping_path(notebook):
    """No Styler, no Markdown table, no bare formatted frame: every table is privacy.table_html (through
    AnalysisTables / ReportTables), which escapes and pseudonymises. The run below checks the outputs."""
    code = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    for forbidden in ("styled(", ".style", "markdown_table(", "format_table(", "to_html(", "Styler"):
        assert forbidden not in code, f"{notebook.name}: {forbidden}"
    if "matrix_view.matrix_view(" in code:  # the chart names the largest customers: aliases when pseudonymised
        assert "labels=privacy.names(" in code, notebook.name


# --------------------------------------------------------------------------------------------------
# the whole run (slow)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_data(small_agency_dir, tmp_path_factory) -> Path:
    """The small agency data set with hostile ids for the six largest customers, hostile names for half of
    the accounts and a hostile industry for every other account."""
    target = tmp_path_factory.mktemp("hostile-agency")
    tables = {name: pd.read_csv(small_agency_dir / f"{name}.csv", dtype=str, keep_default_na=False)
              for name in ("transactions", "accounts", "service_map")}
    revenue = tables["transactions"].assign(amount=lambda t: t["amount"].astype(float)).groupby(
        "customer_id")["amount"].sum().sort_values(ascending=False)
    new_ids = dict(zip(revenue.index[: len(HOSTILE)], HOSTILE, strict=True))
    for table in tables.values():
        table["customer_id"] = table["customer_id"].replace(new_ids)
    accounts = tables["accounts"]
    accounts["name"] = [HOSTILE[i % len(HOSTILE)] if i % 2 == 0 else name for i, name in enumerate(accounts["name"])]
    accounts["industry"] = [HOSTILE_INDUSTRY if i % 2 else v for i, v in enumerate(accounts["industry"])]
    for name, table in tables.items():
        table.to_csv(target / f"{name}.csv", index=False)
    return target


def _run(data: Path, pseudonymise: bool, language: str) -> Path:
    parameters = {
        "month": MONTH, "dataset": "agency", "config_path": "", "engine": "duckdb",
        "transactions_path": str(data / "transactions.csv"), "accounts_path": str(data / "accounts.csv"),
        "service_map_path": str(data / "service_map.csv"), "language": language, "pseudonymise": pseudonymise,
    }
    result = runner.run_notebooks(MONTH, parameters, log=lambda message: None)
    return result.report_dir


def _published_files(report: Path) -> list[Path]:
    """Everything a run publishes: the month's folder and the index of months."""
    files = [p for p in report.rglob("*") if p.is_file()]
    return [*files, paths.reports_dir() / "index.html"]


def _rendered_text(path: Path) -> list[str]:
    """What a browser or notebook viewer renders as markup: an HTML, Markdown or JSON file whole; of an
    executed notebook its markdown cells and every output except plain text and images (plain text is
    shown as text)."""
    if path.suffix != ".ipynb":
        return [path.read_text(encoding="utf-8")]
    notebook = nbformat.read(path, as_version=4)
    parts = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts += [str(v) for mime, v in output.get("data", {}).items()
                      if mime != "text/plain" and not mime.startswith("image/")]
    return parts


def _readable_text(path: Path) -> str:
    """All text of a published file as a reader sees it (references resolved), without embedded images."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path).active
        return "\n".join(str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value is not None)
    if path.suffix == ".ipynb":
        notebook = nbformat.read(path, as_version=4)
        parts = [c.source for c in notebook.cells]
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                parts.append(str(output.get("text", "")))
                parts += [str(v) for mime, v in output.get("data", {}).items() if not mime.startswith("image/")]
        text = "\n".join(parts)
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
    text = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", text)
    return html.unescape(text)


def _assert_no_raw_markup(report: Path) -> None:
    scanned = 0
    for path in _published_files(report):
        if path.suffix not in (".html", ".md", ".json", ".ipynb"):
            continue  # the CSV and XLSX hold the names as written, as data (checked below)
        scanned += 1
        for part in _rendered_text(path):
            for markup in RAW_MARKUP:
                assert markup not in part, f"{path.relative_to(report.parent)} shows {markup!r} unescaped"
    assert scanned >= 10


@pytest.mark.slow
def test_hostile_names_show_as_text_everywhere_and_never_become_formulas(workbook_root, hostile_data):
    report = _run(hostile_data, pseudonymise=False, language="en")
    _assert_no_raw_markup(report)
    # they are shown, escaped: the names reach the tables
    assert html.escape(SCRIPT, quote=False) in (report / "notebooks" / "04_potential_matrix.html").read_text()
    # every table of notebooks 01-05 came through privacy.table_html
    for executed in sorted((report / "executed").glob("*.ipynb")):
        if executed.name[:2] not in ANALYSES:
            continue
        for part in _rendered_text(executed):
            if "<table" in part:
                assert 'class="dataframe report-table"' in part, f"{executed.name}: a table not shown by table_html"
    # the CRM export: no formula anywhere, and every id and name comes back as written
    accounts = pd.read_csv(hostile_data / "accounts.csv", dtype=str, keep_default_na=False)
    names = dict(zip(accounts["customer_id"], accounts["name"], strict=True))
    csv = crm_export.read_csv(report / "customer_segments.csv")
    xlsx = crm_export.read_xlsx(report / "customer_segments.xlsx")
    for export in (csv, xlsx):
        assert set(HOSTILE) <= set(export["customer_id"])
        assert export["name"].tolist() == [names.get(c, "") for c in export["customer_id"]]
    raw = pd.read_csv(report / "customer_segments.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    for column in crm_export.TEXT_COLUMNS:
        risky = raw[column].str[:1].isin(["=", "+", "-", "@", "\t", "\r"])
        assert not risky.any(), f"{column}: {raw.loc[risky, column].tolist()[:3]} would run as formulas"
    quoted = [c for c in HOSTILE if c[:1] in "=+-@"]
    assert sorted(raw.loc[raw["customer_id"].str[1:].isin(quoted), "customer_id"]) == sorted("'" + c for c in quoted)
    sheet = openpyxl.load_workbook(report / "customer_segments.xlsx").active
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]


@pytest.mark.slow
def test_a_pseudonymised_run_publishes_no_real_name_or_id(workbook_root, hostile_data, monkeypatch):
    monkeypatch.setenv(privacy.SALT_ENV, "a-fixed-salt-for-the-leak-test-0123456789")
    report = _run(hostile_data, pseudonymise=True, language="de")
    _assert_no_raw_markup(report)
    accounts = pd.read_csv(hostile_data / "accounts.csv", dtype=str, keep_default_na=False)
    ids = set(pd.read_csv(hostile_data / "transactions.csv", dtype=str)["customer_id"]) | set(accounts["customer_id"])
    names = {n for n in accounts["name"] if n.strip()}
    found = []
    for path in _published_files(report):
        if path.suffix == ".lock":
            continue
        text = _readable_text(path)
        found += [(path.name, n) for n in names if n in text]
        found += [(path.name, c) for c in ids
                  if re.search(rf"(?<![A-Za-z0-9]){re.escape(c)}(?![A-Za-z0-9])", text)]
    assert not found, f"real names or ids published: {sorted(found)[:10]}"
    # the tables still show the customers, by alias, in every notebook that lists customers
    for page in ("01_rfm_abc", "02_cltv", "03_clustering", "04_potential_matrix"):
        assert ALIAS.search((report / "notebooks" / f"{page}.html").read_text(encoding="utf-8")), page
    assert ALIAS.search((report / "report.html").read_text(encoding="utf-8"))
    # the CRM export keeps the real values and stays with the processed files, out of the publication
    assert not list(report.glob("customer_segments.*"))
    kept = paths.published_processed_dir(MONTH)
    assert set(crm_export.read_csv(kept / "customer_segments.csv")["customer_id"]) >= set(HOSTILE)
    assert (kept / "customer_segments.xlsx").exists()
    assert json.loads((report / "key_figures.json").read_text(encoding="utf-8"))["month"] == MONTH
