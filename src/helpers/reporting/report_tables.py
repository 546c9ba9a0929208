"""How a published notebook shows a table: customers pseudonymised when asked, values written for readers,
every cell, column name and index escaped (:func:`helpers.reporting.privacy.table_html`, see
:mod:`helpers.reporting.privacy`). One call per table, so that a notebook states only what a table holds.

:class:`ReportTables` is the stakeholder report's (05: the report's language, translated column names);
:class:`AnalysisTables` the analysis notebooks' (01-04: :func:`helpers.reporting.formatting.format_table`'s
formats and the notebook's own column names). Both end in the same escaping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from helpers.core.language import is_missing
from helpers.reporting import i18n
from helpers.reporting.formatting import format_table
from helpers.reporting.privacy import Pseudonymiser, show_table

COLUMN_KEYS = {
    "customer_id": "col_customer", "name": "col_name", "rfm_segment": "col_segment", "segment": "col_segment",
    "abc_class": "col_class", "customers": "col_customers", "customer_share": "col_customer_share",
    "revenue": "col_revenue", "value": "col_revenue", "revenue_share": "col_revenue_share",
    "value_share": "col_revenue_share", "mean_recency_days": "col_recency", "meaning": "col_meaning",
    "action": "col_action", "cltv": "col_cltv", "cltv_low": "col_cltv_low", "cltv_high": "col_cltv_high", "p_alive": "col_p_alive", "quadrant": "col_quadrant",
    "service_level": "col_service_level", "next_action": "col_next_action", "upsell_score": "col_upsell",
    "growth_score": "col_growth", "cluster_name": "col_cluster", "mean_cltv": "col_mean_cltv",
    "last_month": "col_last_month", "this_month": "col_this_month", "change": "col_change",
    "before": "col_before", "now": "col_now", "table": "col_table", "source_file": "col_file",
    "read": "col_read", "accepted": "col_accepted", "rejected": "col_rejected",
    "revenue_so_far": "col_revenue", "mean_likely_lost": "col_likely_lost_share", "attention": "col_attention",
    "hours_per_month": "col_hours", "hours_total": "col_hours_total", "hours_share": "col_hours_share",
    "value_at_stake": "col_value_at_stake",
}



def localised_table(
    frame: pd.DataFrame,
    language: str = "en",
    currency: str = "EUR",
    money_columns: Iterable[str] = (),
    percent_columns: Iterable[str] = (),
    numbers: Mapping[str, int] | None = None,
    labels: Mapping[str, str] | None = None,
    signed: Iterable[str] = (),
) -> pd.DataFrame:
    """A copy for display: money, percent and number columns written the language's way, names from the
    configuration translated, and the known column names (:data:`COLUMN_KEYS`) in the report's language.
    ``signed`` number columns show a plus sign for increases."""
    out = i18n.translate_frame(frame, labels or {})
    for column in money_columns:
        if column in out:
            out[column] = [i18n.money(v, currency, language) for v in out[column]]
    for column in percent_columns:
        if column in out:
            out[column] = [i18n.percent(v, language) for v in out[column]]
    for column, decimals in (numbers or {}).items():
        if column in out:
            out[column] = [i18n.number(v, language, decimals) for v in out[column]]
    for column in signed:
        if column in out:
            out[column] = [("+" + i18n.number(v, language) if not is_missing(v) and float(v) > 0 else i18n.number(v, language))
                           for v in out[column]]
    return out.rename(columns={c: i18n.t(COLUMN_KEYS[c], language) for c in out.columns if c in COLUMN_KEYS})



@dataclass(frozen=True)
class ReportTables:
    privacy: Pseudonymiser
    language: str
    currency: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def show(
        self,
        frame: pd.DataFrame,
        money: Iterable[str] = (),
        percent: Iterable[str] = (),
        numbers: Mapping[str, int] | None = None,
        signed: Iterable[str] = (),
        max_rows: int | None = 10,
    ):
        """`frame` as an escaped HTML table: `money` columns in the currency, `percent` columns (fractions)
        as percentages, `numbers` with the given decimals, `signed` with a plus sign for increases."""
        shown = localised_table(
            self.privacy.frame(frame), self.language, self.currency, money_columns=money, percent_columns=percent,
            numbers=numbers, labels=self.labels, signed=signed,
        )
        return show_table(shown, max_rows=max_rows, language=self.language)


@dataclass(frozen=True)
class AnalysisTables:
    privacy: Pseudonymiser
    currency: str = ""

    def show(
        self,
        frame: pd.DataFrame,
        money: Iterable[str] = (),
        percent: Iterable[str] = (),
        numbers: Mapping[str, int] | None = None,
        rename: Mapping[str, str] | None = None,
        percent_decimals: int = 0,
        index: bool = False,
        max_rows: int | None = None,
    ):
        """`frame` as an escaped HTML table, customers pseudonymised when asked (ids in a column or the
        index; names dropped): `money` columns in the currency, `percent` columns (fractions) with
        `percent_decimals`, `numbers` with the given decimals, then columns renamed (`rename`, by the
        frame's column names). `index`: show the frame's index (a meaningful one: rank, class, segment)."""
        shown = format_table(self.privacy.frame(frame), self.currency, money=money, percent=percent,
                             numbers=dict(numbers or {}), rename=dict(rename or {}),
                             percent_decimals=percent_decimals)
        return show_table(shown, max_rows=max_rows, index=index)
