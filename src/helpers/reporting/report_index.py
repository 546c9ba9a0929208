"""Key figures of a month and the index of all published months.

``key_figures(month)`` computes a month's figures from its processed artifacts (whatever exists of them),
``write_key_figures(month, folder)`` saves them as ``key_figures.json`` next to the report, and
``build_index(reports_dir)`` writes ``reports/index.html``: every published month, newest first, with its
figures and a link to its report. The page is one self-contained file (inline CSS, no script, nothing
loaded from the network) and everything taken from the data is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from helpers import __version__
from helpers.clv.valuation import likely_lost
from helpers.core import artifacts as processed
from helpers.core import paths
from helpers.core.config import Settings, default_settings
from helpers.features import transaction_queries
from helpers.potential import backtest
from helpers.reporting import i18n
from helpers.reporting.privacy import safe_text

KEY_FIGURES = "key_figures.json"
REPORT = "report.html"
REPORT_NOTEBOOK = "05_report.html"
_MONTH_DIR = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# --------------------------------------------------------------------------------------------------
# key figures
# --------------------------------------------------------------------------------------------------
def model_label(code: str) -> str:
    """'mbgnbd+gamma_gamma' as 'MBG/NBD + Gamma-Gamma'."""
    labels = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "mbgnbd": "MBG/NBD", "gamma_gamma": "Gamma-Gamma",
              "quick": "quick formula", "sbg": "sBG"}
    return " + ".join(labels.get(part, part) for part in str(code).split("+"))


def _counts(frame: pd.DataFrame, column: str) -> dict[str, int]:
    counts = frame[column].astype("object").value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def key_figures(month: str, settings: Settings | None = None) -> dict[str, Any]:
    """The month's key figures from data/processed/<month>/ (sections whose artifact is missing are left
    out; ``available`` lists the artifacts found). Plain JSON types only."""
    settings = settings or default_settings()
    run_info = processed.read_run_info(month)
    figures: dict[str, Any] = {
        "month": month,
        "cutoff": run_info.get("cutoff"),
        "currency": run_info.get("currency") or settings.currency,
        "version": __version__,
        "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
        "available": [name for name in processed.ARTIFACTS if processed.has_artifact(month, name)],
    }
    if processed.has_artifact(month, "customer_summary"):
        summary = processed.read_artifact(
            month, "customer_summary", ["customer_id", "total_revenue", "first_purchase", "last_purchase"]
        )
        figures["customers"] = int(len(summary))
        figures["revenue"] = float(summary["total_revenue"].sum())
        figures["first_purchase"] = str(pd.Timestamp(summary["first_purchase"].min()).date())
        figures["last_purchase"] = str(pd.Timestamp(summary["last_purchase"].max()).date())
    if processed.has_artifact(month, "transactions"):
        activity = transaction_queries.month_activity(processed.artifact_path(month, "transactions"), month)
        figures["revenue_month"] = activity["revenue"]
        figures["active_customers_month"] = activity["customers"]
    if processed.has_artifact(month, "rfm"):
        rfm = processed.read_artifact(month, "rfm", ["monetary", "abc_class", "rfm_segment"])
        total = float(rfm["monetary"].sum())
        is_a = rfm["abc_class"].astype("object") == "A"
        figures["a_customers"] = int(is_a.sum())
        figures["a_customer_share"] = float(is_a.mean()) if len(rfm) else 0.0
        figures["a_revenue_share"] = float(rfm.loc[is_a, "monetary"].sum() / total) if total else 0.0
        figures["abc_classes"] = _counts(rfm, "abc_class")
        figures["rfm_segments"] = _counts(rfm, "rfm_segment")
        by_segment = rfm.groupby(rfm["rfm_segment"].astype("object"))["monetary"].agg(["sum", "size"])
        if total and not by_segment.empty:
            top = by_segment["sum"].idxmax()
            figures["top_segment"] = {
                "segment": str(top),
                "customer_share": float(by_segment.loc[top, "size"] / len(rfm)),
                "revenue_share": float(by_segment.loc[top, "sum"] / total),
            }
    if processed.has_artifact(month, "cltv"):
        cltv = processed.read_artifact(month, "cltv", ["cltv", "p_alive", "cltv_model"])
        figures["total_cltv"] = float(cltv["cltv"].sum())
        figures["mean_cltv"] = float(cltv["cltv"].mean()) if len(cltv) else 0.0
        figures["median_cltv"] = float(cltv["cltv"].median()) if len(cltv) else 0.0
        gone = likely_lost(cltv["p_alive"], settings)
        figures["likely_lost"] = int(gone.sum())
        figures["likely_lost_share"] = float(gone.mean()) if len(cltv) else 0.0
        # most customers' model first (contract clients: sBG; buyers: the purchase model)
        models = cltv["cltv_model"].astype("object").dropna().value_counts().index
        figures["cltv_model"] = " / ".join(model_label(m) for m in models) if len(models) else None
        figures["horizon_months"] = settings.cltv.horizon_months
    if processed.has_artifact(month, "cltv_totals"):
        totals = processed.read_artifact(month, "cltv_totals").iloc[0]
        if np.isfinite(totals.get("total_cltv_low", np.nan)) and np.isfinite(totals.get("total_cltv_high", np.nan)):
            figures["total_cltv_low"] = float(totals["total_cltv_low"])
            figures["total_cltv_high"] = float(totals["total_cltv_high"])
            figures["cltv_interval"] = float(totals["interval"])
        contract_clients = int(totals.get("customers_sbg", 0) or 0)
        if contract_clients:
            figures["contract_clients"] = contract_clients
    if processed.has_artifact(month, "clusters"):
        figures["clusters"] = _counts(processed.read_artifact(month, "clusters", ["cluster_name"]), "cluster_name")
    if processed.has_artifact(month, "customer_segments"):
        present = set(pq.read_schema(processed.artifact_path(month, "customer_segments")).names)
        segments = processed.read_artifact(
            month, "customer_segments",
            [c for c in ("quadrant", "likely_lost", "attention", "service_level", "hours_per_month") if c in present]
        )
        # the four quadrants hold the live clients; with the likely lost they add up to the customers
        live = segments
        if "likely_lost" in segments:
            lost = segments["likely_lost"].astype(bool)
            figures["likely_lost"] = int(lost.sum())
            live = segments[~lost]
        figures["quadrants"] = _counts(live, "quadrant")
        if "service_level" in segments:
            by = "attention" if "attention" in segments else "quadrant"
            pairs = segments[[by, "service_level"]].astype("object").drop_duplicates(by)
            figures["service_levels"] = {str(q): str(s) for q, s in pairs.itertuples(index=False)}
        if "hours_per_month" in segments and "attention" in segments:
            hours = segments.groupby(segments["attention"].astype("object"))["hours_per_month"].sum()
            figures["hours_per_month"] = {str(k): float(v) for k, v in hours.items()}
    if processed.has_artifact(month, "backtest"):
        figures["backtest"] = backtest.backtest_figures(backtest.read_backtest(month))
    return figures


def write_key_figures(month: str, folder: str | Path, settings: Settings | None = None) -> Path:
    """``key_figures(month)`` saved as ``folder/key_figures.json``."""
    target = Path(folder) / KEY_FIGURES
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(key_figures(month, settings), indent=2, ensure_ascii=False), encoding="utf-8")
    return target


def read_key_figures(folder: str | Path) -> dict[str, Any]:
    source = Path(folder) / KEY_FIGURES
    if not source.exists():
        return {}
    try:
        content = json.loads(source.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return content if isinstance(content, dict) else {}


# --------------------------------------------------------------------------------------------------
# key figures in words and as tiles
# --------------------------------------------------------------------------------------------------
def _quadrant_list(quadrants: dict[str, int], labels: dict[str, str], language: str) -> str:
    return i18n.join(
        [f"{safe_text(i18n.label(name, labels))} {i18n.number(count, language)}"
         for name, count in sorted(quadrants.items(), key=lambda item: -item[1])],
        language,
    )


def summary_lines(figures: dict[str, Any], language: str = "en", labels: dict[str, str] | None = None) -> list[str]:
    """The executive summary as short Markdown sentences, one per available figure."""
    labels = labels or {}
    currency = figures.get("currency", "EUR")
    money = lambda value: i18n.money(value, currency, language)  # noqa: E731
    lines = []
    if "customers" in figures:
        lines.append(i18n.t(
            "summary_customers", language,
            customers=i18n.number(figures["customers"], language), revenue=money(figures.get("revenue")),
            first=i18n.date(figures.get("first_purchase"), language),
            last=i18n.date(figures.get("last_purchase"), language),
            month_revenue=money(figures.get("revenue_month")),
            month=i18n.month_name(figures["month"], language),
            active=i18n.number(figures.get("active_customers_month"), language),
        ))
    if "a_customers" in figures:
        lines.append(i18n.t(
            "summary_abc", language, a_customers=i18n.number(figures["a_customers"], language),
            a_customer_share=i18n.percent(figures["a_customer_share"], language),
            a_revenue_share=i18n.percent(figures["a_revenue_share"], language),
        ))
    if "top_segment" in figures:
        top = figures["top_segment"]
        lines.append(i18n.t(
            "summary_top_segment", language, segment=safe_text(i18n.label(top["segment"], labels)),
            customer_share=i18n.percent(top["customer_share"], language),
            revenue_share=i18n.percent(top["revenue_share"], language),
        ))
    if "total_cltv" in figures:
        lines.append(i18n.t(
            "summary_cltv", language, horizon=figures.get("horizon_months", 12), total_cltv=money(figures["total_cltv"]),
            mean_cltv=money(figures["mean_cltv"]), model=safe_text(figures.get("cltv_model") or "-"),
            interval=i18n.t(
                "summary_cltv_interval", language, level=i18n.percent(figures["cltv_interval"], language),
                low=money(figures["total_cltv_low"]), high=money(figures["total_cltv_high"]),
            ) if "total_cltv_low" in figures else "",
        ))
        if figures.get("contract_clients"):
            lines.append(i18n.t(
                "summary_contracts", language, contract_clients=i18n.number(figures["contract_clients"], language),
                customers=i18n.number(figures.get("customers", 0), language),
                buyers=i18n.number(figures.get("customers", 0) - figures["contract_clients"], language),
            ))
        lines.append(i18n.t(
            "summary_likely_lost", language, likely_lost=i18n.number(figures["likely_lost"], language),
            likely_lost_share=i18n.percent(figures["likely_lost_share"], language),
        ))
    if figures.get("quadrants"):
        lines.append(i18n.t("summary_quadrants", language,
                            quadrants=_quadrant_list(figures["quadrants"], labels, language)))
    missing = [i18n.t(key, language) for artifact, key in
               (("rfm", "name_rfm"), ("cltv", "name_cltv"), ("clusters", "name_clusters"),
                ("customer_segments", "name_matrix"))
               if artifact not in figures.get("available", [])]
    if missing:
        lines.append(i18n.t("summary_missing", language, sections=i18n.join(missing, language)))
    return lines


def figure_tiles(figures: dict[str, Any], language: str = "en") -> list[tuple[str, str]]:
    """(label, value) pairs of the headline numbers that the figures hold."""
    currency = figures.get("currency", "EUR")
    tiles = []
    if "customers" in figures:
        tiles.append((i18n.t("kf_customers", language), i18n.number(figures["customers"], language)))
    if "revenue" in figures:
        tiles.append((i18n.t("kf_revenue", language), i18n.money(figures["revenue"], currency, language)))
    if "revenue_month" in figures and figures.get("month"):
        tiles.append((i18n.t("kf_revenue_month", language, month=i18n.month_name(figures["month"], language)),
                      i18n.money(figures["revenue_month"], currency, language)))
    if "a_revenue_share" in figures:
        tiles.append((i18n.t("kf_a_share", language), i18n.percent(figures["a_revenue_share"], language)))
    if "mean_cltv" in figures:
        tiles.append((i18n.t("kf_mean_cltv", language), i18n.money(figures["mean_cltv"], currency, language)))
    if "likely_lost" in figures:
        tiles.append((i18n.t("kf_likely_lost", language), i18n.number(figures["likely_lost"], language)))
    return tiles


def tiles_html(figures: dict[str, Any], language: str = "en") -> str:
    """The headline numbers as a row of tiles (inline styles, so that it looks the same in any page)."""
    cells = "".join(
        '<div style="flex:1 1 150px;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;'
        'background:#f6f8fa">'
        f'<div style="font-size:0.85em;color:#57606a">{html.escape(name)}</div>'
        f'<div style="font-size:1.5em;font-weight:600;color:#1f2328">{html.escape(value)}</div></div>'
        for name, value in figure_tiles(figures, language)
    )
    return f'<div class="key-figures" style="display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 12px">{cells}</div>'


# --------------------------------------------------------------------------------------------------
# the index page
# --------------------------------------------------------------------------------------------------
def published_months(reports_dir: str | Path) -> list[Path]:
    """Folders named YYYY-MM holding report.html or notebooks/, newest first."""
    root = Path(reports_dir)
    if not root.exists():
        return []
    months = [p for p in root.iterdir()
              if p.is_dir() and _MONTH_DIR.match(p.name) and ((p / REPORT).exists() or (p / "notebooks").is_dir())]
    return sorted(months, key=lambda p: p.name, reverse=True)


def _report_link(folder: Path) -> str | None:
    if (folder / REPORT).exists():
        return REPORT
    if (folder / "notebooks" / REPORT_NOTEBOOK).exists():
        return f"notebooks/{REPORT_NOTEBOOK}"
    return None


_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#1f2328;padding:0 1em;line-height:1.45}
h1{font-size:1.7em;margin-bottom:0.2em}
table{border-collapse:collapse;width:100%;margin-top:1em}
th,td{border-bottom:1px solid #d0d7de;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;white-space:nowrap}
a{color:#0969da}
.muted{color:#57606a;font-size:0.9em}
"""


def build_index(reports_dir: str | Path | None = None, language: str = "en") -> Path:
    """Write ``reports_dir/index.html`` listing every published month with its key figures; returns its path."""
    root = Path(reports_dir) if reports_dir is not None else paths.reports_dir()
    root.mkdir(parents=True, exist_ok=True)
    e = html.escape
    head = [i18n.t(key, language) for key in
            ("col_month", "kf_customers", "kf_revenue", "kf_a_share", "kf_mean_cltv", "kf_quadrants", "col_report")]
    rows = []
    for folder in published_months(root):
        figures = read_key_figures(folder)
        currency = str(figures.get("currency", "EUR"))
        link = _report_link(folder)
        month_cell = e(i18n.month_name(folder.name, language))
        if link:
            month_cell = f'<a href="{e(folder.name)}/{e(link)}">{month_cell}</a>'
        quadrants = figures.get("quadrants") if isinstance(figures.get("quadrants"), dict) else {}
        quadrant_cell = "<br>".join(
            f"{e(str(name))}: {e(i18n.number(count, language))}" for name, count in quadrants.items()
        ) or "-"
        steps = sorted((folder / "notebooks").glob("*.html")) if (folder / "notebooks").is_dir() else []
        details = " · ".join(f'<a href="{e(folder.name)}/notebooks/{e(p.name)}">{e(p.stem)}</a>' for p in steps)
        report_cell = (f'<a href="{e(folder.name)}/{e(link)}">{e(i18n.t("index_open", language))}</a>'
                       if link else "-")
        if details:
            report_cell += f'<div class="muted">{e(i18n.t("index_details", language))}: {details}</div>'
        cells = [
            month_cell,
            e(i18n.number(figures.get("customers"), language)),
            e(i18n.money(figures.get("revenue"), currency, language)),
            e(i18n.percent(figures.get("a_revenue_share"), language)),
            e(i18n.money(figures.get("mean_cltv"), currency, language)),
            quadrant_cell,
            report_cell,
        ]
        classes = ["", "num", "num", "num", "num", "", ""]
        rows.append("<tr>" + "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>"
                                     for c, v in zip(classes, cells, strict=True)) + "</tr>")
    title = e(i18n.t("index_title", language))
    if rows:
        table = ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead><tbody>\n"
                 + "\n".join(rows) + "\n</tbody></table>")
    else:
        table = f"<p>{e(i18n.t('index_empty', language))}</p>"
    generated = e(i18n.t("index_generated", language, run_time=i18n.timestamp(None, language)))
    page = (
        f'<!DOCTYPE html>\n<html lang="{e(language)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        f"<p>{e(i18n.t('index_intro', language))}</p>\n{table}\n"
        f'<p class="muted">{generated} Segment workbook {e(__version__)}</p>\n</body>\n</html>\n'
    )
    target = root / "index.html"
    temporary = target.with_suffix(".html.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(target)
    return target
