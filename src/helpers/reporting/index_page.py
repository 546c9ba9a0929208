"""The index of every published report: ``reports/index.html``.

One section per data set, each month a row with its key figures and its reports in every language it was
published in (``reports/<name>/<language>/<YYYY-MM>/``, see helpers.core.paths). The page is written in one
language throughout: figures are formatted in it and the quadrant names come from their keys, whichever
language a month's own report is in. One self-contained file (inline CSS, no script, nothing loaded from the
network); everything taken from the data is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import __version__
from helpers.core import paths, periods
from helpers.core.config import Settings
from helpers.reporting import i18n
from helpers.reporting.report_index import REPORT, group_counts, read_key_figures

REPORT_NOTEBOOK = "05_report.html"
INDEX = "index.html"
#: language switchers name each language in itself
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}


@dataclass
class PublishedMonth:
    """One month of one data set, with its folder per language."""

    name: str
    month: str
    folders: dict[str, Path] = field(default_factory=dict)

    def figures(self, language: str) -> dict[str, Any]:
        """The key figures of the report in ``language``, else of any other language's."""
        for code in [language, *sorted(self.folders)]:
            if code in self.folders:
                figures = read_key_figures(self.folders[code])
                if figures:
                    return figures
        return {}


def _is_published(folder: Path) -> bool:
    return folder.is_dir() and periods.is_month(folder.name) and (
        (folder / REPORT).exists() or (folder / "notebooks").is_dir())


def published_months(reports_dir: str | Path) -> dict[str, list[PublishedMonth]]:
    """Data set name -> its published months, newest first (names in alphabetical order)."""
    root = Path(reports_dir)
    found: dict[tuple[str, str], PublishedMonth] = {}
    for folder in sorted(root.glob("*/*/*")) if root.is_dir() else []:
        name, language = folder.parent.parent.name, folder.parent.name
        if name.startswith(".") or language not in paths.LANGUAGES or not _is_published(folder):
            continue
        entry = found.setdefault((name, folder.name), PublishedMonth(name, folder.name))
        entry.folders[language] = folder
    grouped: dict[str, list[PublishedMonth]] = {}
    for (name, _), entry in sorted(found.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True):
        grouped.setdefault(name, []).append(entry)
    return dict(sorted(grouped.items()))


def report_link(folder: Path) -> str | None:
    if (folder / REPORT).exists():
        return REPORT
    if (folder / "notebooks" / REPORT_NOTEBOOK).exists():
        return f"notebooks/{REPORT_NOTEBOOK}"
    return None


_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#1f2328;padding:0 1em;line-height:1.45}
h1{font-size:1.7em;margin-bottom:0.2em}
h2{font-size:1.3em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin-top:0.6em}
th,td{border-bottom:1px solid #d0d7de;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;white-space:nowrap}
a{color:#0969da}
.muted{color:#57606a;font-size:0.9em}
"""


def _month_row(entry: PublishedMonth, settings: Settings | None, language: str) -> str:
    e = html.escape
    figures = entry.figures(language)
    currency = str(figures.get("currency", "EUR"))
    month_cell = e(i18n.month_name(entry.month, language))
    reports = []
    for code in sorted(entry.folders, key=lambda c: (c != language, c)):
        folder = entry.folders[code]
        relative = folder.relative_to(folder.parents[2]).as_posix()
        link = report_link(folder)
        text = e(LANGUAGE_NAMES.get(code, code))
        reports.append(f'<a href="{e(relative)}/{e(link)}" hreflang="{e(code)}" lang="{e(code)}">{text}</a>'
                       if link else text)
    report_cell = " · ".join(reports) or "-"
    own = entry.folders.get(language) or next(iter(entry.folders.values()))
    steps = sorted((own / "notebooks").glob("*.html")) if (own / "notebooks").is_dir() else []
    if steps:
        relative = own.relative_to(own.parents[2]).as_posix()
        details = " · ".join(f'<a href="{e(relative)}/notebooks/{e(p.name)}">{e(p.stem[:2])}</a>' for p in steps)
        report_cell += f'<div class="muted">{e(i18n.t("index_details", language))}: {details}</div>'
    groups = "<br>".join(f"{e(name)}: {e(i18n.number(count, language))}"
                         for name, count in group_counts(figures, settings, language)) or "-"
    cells = [
        ("", month_cell),
        ("num", e(i18n.number(figures.get("customers"), language))),
        ("num", e(i18n.money(figures.get("revenue"), currency, language))),
        ("num", e(i18n.percent(figures.get("a_revenue_share"), language))),
        ("num", e(i18n.money(figures.get("total_cltv"), currency, language))),
        ("", groups),
        ("", report_cell),
    ]
    return "<tr>" + "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>" for c, v in cells) + "</tr>"


def index_html(reports_dir: str | Path, language: str = "en", settings: Settings | None = None) -> str:
    e = html.escape
    horizon = settings.cltv.horizon_months if settings is not None else 12
    head = [i18n.t("col_month", language), i18n.t("kf_customers", language), i18n.t("kf_revenue", language),
            i18n.t("kf_a_share", language), i18n.t("kf_expected_value", language, horizon=horizon),
            i18n.t("kf_quadrants", language), i18n.t("col_report", language)]
    sections = []
    for name, months in published_months(reports_dir).items():
        rows = "\n".join(_month_row(entry, settings, language) for entry in months)
        sections.append(
            f"<h2>{e(i18n.t('index_dataset', language, name=name))}</h2>\n"
            "<table><thead><tr>" + "".join(f"<th>{e(h[:1].upper() + h[1:])}</th>" for h in head) + "</tr></thead><tbody>\n"
            + rows + "\n</tbody></table>"
        )
    body = "\n".join(sections) or f"<p>{e(i18n.t('index_empty', language))}</p>"
    title = e(i18n.t("index_title", language))
    generated = e(i18n.t("index_generated", language, run_time=i18n.timestamp(None, language)))
    return (
        f'<!DOCTYPE html>\n<html lang="{e(language)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        f"<p>{e(i18n.t('index_intro', language))}</p>\n{body}\n"
        f'<p class="muted">{generated} {e(i18n.t("index_version", language, version=__version__))}</p>\n'
        "</body>\n</html>\n"
    )


def build_index(reports_dir: str | Path | None = None, language: str = "en", settings: Settings | None = None) -> Path:
    """Write ``reports_dir/index.html`` (every data set's published months, in ``language``); returns its path."""
    root = Path(reports_dir) if reports_dir is not None else paths.reports_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / INDEX
    temporary = target.with_suffix(".html.tmp")
    temporary.write_text(index_html(root, language, settings), encoding="utf-8")
    temporary.replace(target)
    return target
