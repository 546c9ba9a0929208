"""The CRM export: one row per customer with segment, value, potential and what to do next.

:func:`build_export` joins the customer summary with the RFM/ABC table, the CLTV table, the clusters
(optional: another notebook builds them; a missing table gives empty cluster names), the funnel maturity
and the potential scores into :data:`EXPORT_COLUMNS`, one row per customer of the summary, in its order.
:func:`check_no_customer_lost` raises when a customer of the summary is missing from the export, appears
twice, or the export holds a customer the summary does not know.

:func:`write_export` saves it as the artifact ``customer_segments`` (Parquet, in
``data/processed/<name>/<language>/<YYYY-MM>/``) and as ``customer_segments.csv`` (UTF-8 with byte-order mark, so that
Excel shows umlauts right) and ``customer_segments.xlsx`` in :func:`export_folder`: published with the
month's report, or, in a pseudonymised run, kept beside the Parquet file (the export holds the real ids and
names, which a pseudonymised publication must not).

**Formulas (OWASP "CSV Injection").** A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` (also a tab or a carriage return) as a formula: a client called ``=HYPERLINK("http://evil","x")``
would become a live link, ``@SUM(1+1)`` a calculation. So the files never hold a formula:

- CSV: a **text** cell that starts with one of ``= + - @``, a tab, a carriage return, or a single quote
  ``'`` gets one single quote in front (``'=HYPERLINK(...)``, ``'-2+3``), which spreadsheets show as text.
  The rule is exact both ways: to get the value back, strip the one leading ``'`` of a text cell that
  starts with one (:func:`read_csv` does). Number columns are written as numbers: ``-12.5`` stays a
  negative number.
- XLSX: text cells are stored as text (never a formula, ``quotePrefix`` on those that start like one), so
  every id and name reads back exactly as written.
"""

from __future__ import annotations

import codecs
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from helpers.core import artifacts as processed
from helpers.core import duck, paths

EXPORT_COLUMNS: list[str] = [
    "customer_id",
    "name",
    "rfm_segment",
    "abc_class",
    "cltv",
    "cltv_low",
    "cltv_high",
    "purchases_low",
    "purchases_high",
    "p_alive",
    "cluster_name",
    "funnel_maturity",
    "revenue_12m",
    "value_at_stake",
    "upsell_score",
    "growth_score",
    "quadrant",
    "likely_lost",
    "attention",
    "service_level",
    "hours_per_month",
    "next_action",
    "reasons",
    "quadrant_key",
    "attention_key",
]
TEXT_COLUMNS = ("customer_id", "name", "rfm_segment", "abc_class", "cluster_name", "quadrant", "attention",
                "service_level", "next_action", "reasons", "quadrant_key", "attention_key")
FILE_STEM = "customer_segments"
# first characters that make a spreadsheet read a cell as a formula (OWASP), and the quote that neutralises
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


class CustomersLostError(AssertionError):
    """Customers went missing (or were duplicated) between the summary and the export."""


def _by_customer(table: pd.DataFrame | None, columns: list[str], ids: pd.Index | None = None) -> pd.DataFrame:
    """``table`` indexed by customer_id (text) with ``columns`` (missing columns -> empty), each customer
    once; in the order of ``ids`` when given (customers not in ``table`` empty)."""
    if table is None or table.empty or "customer_id" not in table:
        frame = pd.DataFrame(columns=columns, index=pd.Index([], name="customer_id", dtype=str))
        return frame if ids is None else frame.reindex(ids)
    frame = table.assign(customer_id=table["customer_id"].astype(str)).set_index("customer_id")
    # The tables of a month list the summary's customers in its order: then there is nothing to drop
    # or look up, which at a million customers saves seconds.
    if not (ids is not None and frame.index.equals(ids) and ids.is_unique):
        frame = frame[~frame.index.duplicated()]
    frame = frame.reindex(columns=columns)
    return frame if ids is None else frame.reindex(ids)


def _text(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.StringDtype):  # text already: only the missing ones become ""
        return series.fillna("").astype(str)
    return series.astype("object").where(series.notna(), "").astype(str)


def build_export(
    summary: pd.DataFrame,
    potential: pd.DataFrame,
    rfm: pd.DataFrame | None = None,
    cltv: pd.DataFrame | None = None,
    clusters: pd.DataFrame | None = None,
    accounts: pd.DataFrame | None = None,
    maturity: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer of ``summary`` with :data:`EXPORT_COLUMNS`.

    ``potential`` is :attr:`helpers.potential.scoring.PotentialResult.table`; ``maturity`` the table of
    :func:`helpers.potential.funnel.maturity_table` (index or column customer_id). Unknown texts are empty strings,
    unknown numbers empty (NaN)."""
    ids = pd.Index(summary["customer_id"].astype(str), name="customer_id")
    out = pd.DataFrame(index=ids)
    names = _by_customer(accounts, ["name"], ids)["name"]
    out["name"] = _text(names)
    rfm_part = _by_customer(rfm, ["rfm_segment", "abc_class"], ids)
    out["rfm_segment"] = _text(rfm_part["rfm_segment"])
    out["abc_class"] = _text(rfm_part["abc_class"])
    cltv_part = _by_customer(cltv, ["cltv", "cltv_low", "cltv_high", "purchases_low", "purchases_high", "p_alive"], ids)
    for column in ("cltv", "cltv_low", "cltv_high"):
        out[column] = pd.to_numeric(cltv_part[column], errors="coerce").astype("float64").round(2)
    for column in ("purchases_low", "purchases_high"):
        out[column] = pd.to_numeric(cltv_part[column], errors="coerce").astype("float64")
    out["p_alive"] = pd.to_numeric(cltv_part["p_alive"], errors="coerce").astype("float64").round(4)
    out["cluster_name"] = _text(_by_customer(clusters, ["cluster_name"], ids)["cluster_name"])
    if maturity is not None and not maturity.empty:
        frame = maturity.reset_index() if "customer_id" not in maturity else maturity
        values = _by_customer(frame, ["funnel_maturity"], ids)["funnel_maturity"]
        out["funnel_maturity"] = pd.to_numeric(values, errors="coerce").astype("float64").round(1)
    else:
        out["funnel_maturity"] = np.nan
    part = _by_customer(
        potential, ["revenue_12m", "value_at_stake", "upsell_score", "growth_score", "quadrant", "likely_lost",
                    "attention", "service_level", "hours_per_month", "next_action", "reasons", "quadrant_key",
                    "attention_key"], ids
    )
    for column in ("revenue_12m", "value_at_stake"):
        out[column] = pd.to_numeric(part[column], errors="coerce").astype("float64").round(2)
    out["upsell_score"] = pd.to_numeric(part["upsell_score"], errors="coerce").astype("float64").round(1)
    out["growth_score"] = pd.to_numeric(part["growth_score"], errors="coerce").astype("float64").round(1)
    out["hours_per_month"] = pd.to_numeric(part["hours_per_month"], errors="coerce").astype("float64")
    # the one likely-lost rule (clv.valuation.likely_lost) as scored; a customer without a score is not lost
    out["likely_lost"] = part["likely_lost"].astype("boolean").fillna(False).astype(bool)
    for column in ("quadrant", "attention", "service_level", "next_action", "reasons", "quadrant_key",
                   "attention_key"):
        out[column] = _text(part[column])
    out = out.reset_index()[EXPORT_COLUMNS]
    for column in TEXT_COLUMNS:
        out[column] = out[column].astype(str)
    return out


def check_no_customer_lost(summary: pd.DataFrame, export: pd.DataFrame, step: str = "export") -> None:
    """Raise :class:`CustomersLostError` unless the export holds every customer of the summary exactly
    once and no other customer; the message names up to ten of the customers concerned."""
    expected = pd.Index(summary["customer_id"].astype(str))
    got = export["customer_id"].astype(str)
    problems = []
    missing = expected.difference(pd.Index(got))
    if len(missing):
        problems.append(f"{len(missing)} customer(s) of the summary missing: {', '.join(missing[:10])}")
    duplicated = got[got.duplicated()].unique()
    if len(duplicated):
        problems.append(f"{len(duplicated)} customer(s) more than once: {', '.join(duplicated[:10])}")
    extra = pd.Index(got).difference(expected)
    if len(extra):
        problems.append(f"{len(extra)} customer(s) not in the summary: {', '.join(extra[:10])}")
    if problems:
        raise CustomersLostError(
            f"{step}: {len(expected):,} customers in the summary, {len(got):,} rows in the {step}; "
            + "; ".join(problems)
        )


# Excel holds at most 1,048,576 rows, and openpyxl writes a million rows in minutes: above this, the CRM
# import takes the CSV (the same columns) and no workbook is written.
XLSX_MAX_ROWS = 100_000


@dataclass
class ExportFiles:
    parquet: Path
    csv: Path
    xlsx: Path | None
    published: bool = True  # False: a pseudonymised run keeps the CSV and XLSX beside the Parquet file

    def describe(self, customers: int, month: str) -> str:
        """One sentence for the report: what was written where."""
        excel = (
            f" and `{self.xlsx.name}`" if self.xlsx is not None
            else f" (no Excel workbook: {customers:,} rows is more than the {XLSX_MAX_ROWS:,} it is written for)"
        )
        where = (
            f"published with the month's report in `reports/{paths.edition().folder}/{month}/`" if self.published else
            f"kept in `data/processed/{paths.edition().folder}/{month}/`: they hold the real ids and names, so a pseudonymised run does "
            "not publish them"
        )
        return (
            f"**{customers:,} customers** written to `{self.parquet.name}` (for the next steps) and, for the CRM "
            f"and Excel, to `{self.csv.name}`{excel}, {where}."
        )


def export_folder(month: str, pseudonymised: bool = False) -> Path:
    """Where the CSV and XLSX go: the folder the run publishes with the report (:func:`helpers.core.paths.export_dir`),
    or, when the run is pseudonymised, the month's processed files (never published with the report)."""
    return paths.processed_dir(month) if pseudonymised else paths.export_dir(month)


def write_csv(export: pd.DataFrame, path: Path) -> Path:
    """CSV in UTF-8 with byte-order mark (Excel reads umlauts right), comma-separated, decimal point.

    The file is the one pandas' ``to_csv`` writes: numbers in the shortest form that reads back exactly
    (``12.0``, ``0.1``, ``1e-05``), missing numbers and empty texts as empty fields, quotes only around
    texts with a comma, quote or line break; a text with a bare carriage return is quoted too (pandas
    left it bare, which split the row for readers). DuckDB writes it in seconds where pandas takes
    a quarter of a minute at a million rows; columns other than texts and numbers are left to pandas."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(export.columns)
    text = {c for c in columns if pd.api.types.is_string_dtype(export[c])}
    numbers = {c for c in columns if pd.api.types.is_numeric_dtype(export[c]) and not pd.api.types.is_bool_dtype(export[c])}
    if len(text | numbers) < len(columns):  # dates, booleans: DuckDB would write them unlike pandas
        export.assign(**{c: neutralise_formulas(export[c]) for c in text}).to_csv(
            path, index=False, encoding="utf-8-sig", lineterminator="\n")
        return path
    # DuckDB writes a missing value as an empty field but an empty text as "": make the empty texts missing;
    # a text that starts like a formula gets the quote in front (module text)
    starts = ", ".join(f"chr({ord(c)})" for c in (*FORMULA_STARTS, TEXT_MARK))

    def text_cell(column: str) -> str:
        name = _quoted(column)
        return (f"CASE WHEN left({name}, 1) IN ({starts}) THEN chr({ord(TEXT_MARK)}) || {name} "
                f"ELSE NULLIF({name}, '') END AS {name}")

    select = ", ".join(text_cell(c) if c in text else _quoted(c) for c in columns)
    body = path.with_name(path.name + ".body")
    try:
        with duck.connect() as con:
            con.register("export_rows", export)
            con.execute(
                f"COPY (SELECT {select} FROM export_rows) TO '{_sql_text(body.as_posix())}' "
                # COMMENT '': no comment character, else DuckDB quotes every text with a #
                "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NEW_LINE '\n', COMMENT '')"
            )
        with open(path, "wb") as target, open(body, "rb") as source:
            target.write(codecs.BOM_UTF8)
            shutil.copyfileobj(source, target, length=16 * 1024 * 1024)
    finally:
        body.unlink(missing_ok=True)
    return path


def starts_like_formula(texts: pd.Series) -> pd.Series:
    """True where a text starts with a character a spreadsheet reads as a formula (or with the quote mark)."""
    return texts.astype("object").map(lambda v: isinstance(v, str) and v[:1] in (*FORMULA_STARTS, TEXT_MARK))


def neutralise_formulas(texts: pd.Series) -> pd.Series:
    """The texts as the CSV writes them: one ``'`` in front of those that start like a formula."""
    if not pd.api.types.is_string_dtype(texts):
        return texts
    marked = starts_like_formula(texts)
    return texts.where(~marked, TEXT_MARK + texts.astype("object").where(marked, "").astype(str))


def restore_formulas(texts: pd.Series) -> pd.Series:
    """The inverse of :func:`neutralise_formulas`: the one leading ``'`` of a text removed."""
    marked = texts.astype("object").map(lambda v: isinstance(v, str) and v.startswith(TEXT_MARK))
    return texts.where(~marked, texts.astype("object").where(marked, TEXT_MARK).astype(str).str[1:])


def _quoted(name: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def _sql_text(text: str) -> str:
    """Text inside a SQL string literal."""
    return text.replace("'", "''")


def write_xlsx(export: pd.DataFrame, path: Path, sheet: str = "customer_segments") -> Path:
    """An Excel workbook with one sheet, a frozen header row and readable column widths. Texts are stored as
    text: openpyxl would store one that starts with ``=`` as a live formula (module text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    export = export.copy()
    for column in export.columns:
        if pd.api.types.is_string_dtype(export[column]):
            # XML, and so Excel, cannot hold control characters such as \x0b: openpyxl stops the run on them.
            # They become U+FFFD (the replacement character) here; the CSV keeps them as written.
            export[column] = export[column].str.replace(ILLEGAL_CHARACTERS_RE, "\ufffd", regex=True)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        export.to_excel(writer, index=False, sheet_name=sheet)
        worksheet = writer.sheets[sheet]
        worksheet.freeze_panes = "A2"
        for position, column in enumerate(export.columns, start=1):
            if not pd.api.types.is_string_dtype(export[column]):
                continue
            for row in np.flatnonzero(starts_like_formula(export[column]).to_numpy(dtype=bool)):
                cell = worksheet.cell(row=int(row) + 2, column=position)  # row 1 is the header
                cell.data_type = "s"
                cell.quotePrefix = True
        for position, column in enumerate(export.columns, start=1):
            longest = max([len(str(column))] + [len(str(v)) for v in export[column].head(500)])
            letter = worksheet.cell(row=1, column=position).column_letter
            worksheet.column_dimensions[letter].width = min(max(10, longest + 2), 80)
    return path


def read_csv(path: Path) -> pd.DataFrame:
    """Read an export CSV back with the same types (ids and texts as text, the formula quote removed)."""
    text = {c: str for c in TEXT_COLUMNS}
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=text, keep_default_na=False, na_values={
        c: [""] for c in EXPORT_COLUMNS if c not in TEXT_COLUMNS})
    for column in TEXT_COLUMNS:
        frame[column] = restore_formulas(frame[column])
    return frame[EXPORT_COLUMNS]


def read_xlsx(path: Path) -> pd.DataFrame:
    """Read an export workbook back with the same types."""
    frame = pd.read_excel(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False,
                          na_values={c: [""] for c in EXPORT_COLUMNS if c not in TEXT_COLUMNS})
    return frame[EXPORT_COLUMNS]


def write_export(
    export: pd.DataFrame,
    month: str,
    folder: str | Path | None = None,
    xlsx_max_rows: int = XLSX_MAX_ROWS,
    pseudonymised: bool = False,
) -> ExportFiles:
    """Write the artifact ``customer_segments`` for ``month`` and the .csv and (up to ``xlsx_max_rows``
    customers) the .xlsx into ``folder`` (default :func:`export_folder` of ``month`` and ``pseudonymised``)."""
    if list(export.columns) != EXPORT_COLUMNS:
        raise ValueError(f"export columns must be {EXPORT_COLUMNS}, got {list(export.columns)}")
    parquet = processed.write_artifact(export, month, FILE_STEM)
    folder = Path(folder) if folder is not None else export_folder(month, pseudonymised)
    return ExportFiles(
        parquet=parquet,
        csv=write_csv(export, folder / f"{FILE_STEM}.csv"),
        xlsx=write_xlsx(export, folder / f"{FILE_STEM}.xlsx") if len(export) <= xlsx_max_rows else None,
        published=not pseudonymised,
    )
