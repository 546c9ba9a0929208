"""Key figures of a month, in numbers, words and tiles.

``key_figures(month)`` computes a month's figures from its processed artifacts (whatever exists of them) and
``write_key_figures(month, folder)`` saves them as ``key_figures.json`` next to the report, where the index of
all reports (helpers.reporting.index_page) reads them. Names of groups are stored by key, so that any page
can name them in its own language.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from helpers import __version__
from helpers.clv.valuation import likely_lost
from helpers.core import artifacts as processed
from helpers.core.config import Settings, default_settings
from helpers.features import transaction_queries
from helpers.potential import backtest, service_levels
from helpers.reporting import i18n
from helpers.reporting.privacy import safe_text

KEY_FIGURES = "key_figures.json"
REPORT = "report.html"


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
            [c for c in ("quadrant", "quadrant_key", "likely_lost", "attention", "service_level", "hours_per_month")
             if c in present]
        )
        # the four quadrants hold the live clients; with the likely lost they add up to the customers
        live = segments
        if "likely_lost" in segments:
            lost = segments["likely_lost"].astype(bool)
            figures["likely_lost"] = int(lost.sum())
            live = segments[~lost]
        figures["quadrants"] = _counts(live, "quadrant")
        if "quadrant_key" in segments:
            figures["groups"] = _counts(segments, "quadrant_key")
            accounts = processed.read_artifact(month, "accounts") if processed.has_artifact(month, "accounts") else None
            figures["profile"] = service_levels.advice_profile(settings, accounts)
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


def group_counts(figures: dict[str, Any], settings: Settings | None, language: str) -> list[tuple[str, int]]:
    """(name, customers) of every group of the potential matrix (the four quadrants' live clients, then the
    win-back group), in the groups' order and named in ``language``."""
    counts = figures.get("groups")
    if not isinstance(counts, dict):
        return []
    profile = figures.get("profile") if figures.get("profile") in service_levels.PROFILES else "agency"
    names = service_levels.group_names(settings, language, profile)
    return [(names.get(key, key), int(counts[key])) for key in service_levels.GROUP_ORDER if key in counts]


def summary_lines(figures: dict[str, Any], language: str = "en", labels: dict[str, str] | None = None,
                  settings: Settings | None = None) -> list[str]:
    """The executive summary as short Markdown sentences, one per available figure (no model names: those
    are in "About this report")."""
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
            mean_cltv=money(figures["mean_cltv"]),
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
    groups = group_counts(figures, settings, language)
    if groups:
        lines.append(i18n.t("summary_quadrants", language, quadrants=i18n.join(
            [f"{safe_text(name)} {i18n.number(count, language)}" for name, count in groups], language)))
    elif figures.get("quadrants"):
        lines.append(i18n.t("summary_quadrants", language,
                            quadrants=_quadrant_list(figures["quadrants"], labels, language)))
    missing = [i18n.t(key, language) for artifact, key in
               (("rfm", "name_rfm"), ("cltv", "name_cltv"), ("clusters", "name_clusters"),
                ("customer_segments", "name_matrix"))
               if artifact not in figures.get("available", [])]
    if missing:
        lines.append(i18n.t("summary_missing", language, sections=i18n.join(missing, language)))
    return lines


def period_text(figures: dict[str, Any]) -> str:
    """The years the data cover: "2023–2025", or "2025" for one year."""
    first, last = figures.get("first_purchase"), figures.get("last_purchase")
    if not first or not last:
        return ""
    start, end = str(first)[:4], str(last)[:4]
    return start if start == end else f"{start}–{end}"


def figure_tiles(figures: dict[str, Any], language: str = "en") -> list[tuple[str, str, str]]:
    """(label, value, note) of the headline numbers that the figures hold, each label with its period."""
    currency = figures.get("currency", "EUR")
    money = lambda value: i18n.money(value, currency, language)  # noqa: E731
    period = period_text(figures)
    tiles = []
    if "customers" in figures:
        tiles.append((i18n.t("kf_customers_period", language, period=period), i18n.number(figures["customers"], language),
                      ""))
    if "revenue" in figures:
        tiles.append((i18n.t("kf_revenue_period", language, period=period), money(figures["revenue"]), ""))
    if "revenue_month" in figures and figures.get("month"):
        tiles.append((i18n.t("kf_revenue_month", language, month=i18n.month_name(figures["month"], language)),
                      money(figures["revenue_month"]),
                      i18n.t("kf_revenue_month_note", language,
                             active=i18n.number(figures.get("active_customers_month"), language))))
    if "a_revenue_share" in figures:
        tiles.append((i18n.t("kf_a_share_period", language, period=period),
                      i18n.percent(figures["a_revenue_share"], language),
                      i18n.t("kf_a_share_note", language, a_customers=i18n.number(figures.get("a_customers"), language))))
    if "total_cltv" in figures:
        tiles.append((i18n.t("kf_expected_value", language, horizon=figures.get("horizon_months", 12)),
                      money(figures["total_cltv"]),
                      i18n.t("kf_expected_value_note", language, mean=money(figures.get("mean_cltv")))))
    if "likely_lost" in figures:
        tiles.append((i18n.t("kf_likely_lost", language), i18n.number(figures["likely_lost"], language),
                      i18n.t("kf_likely_lost_note", language)))
    return tiles


def tiles_html(figures: dict[str, Any], language: str = "en") -> str:
    """The headline numbers as a row of tiles (inline styles, so that it looks the same in any page)."""
    cells = "".join(
        '<div style="flex:1 1 150px;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;'
        'background:#f6f8fa">'
        f'<div style="font-size:0.85em;color:#57606a">{html.escape(name)}</div>'
        f'<div style="font-size:1.5em;font-weight:600;color:#1f2328">{html.escape(value)}</div>'
        + (f'<div style="font-size:0.8em;color:#57606a">{html.escape(note)}</div>' if note else "")
        + "</div>"
        for name, value, note in figure_tiles(figures, language)
    )
    return f'<div class="key-figures" style="display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 12px">{cells}</div>'
