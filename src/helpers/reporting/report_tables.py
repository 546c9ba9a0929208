"""How the stakeholder report shows a table: customers pseudonymised when asked, values and names in the
report's language, every cell escaped (see :mod:`helpers.reporting.privacy`). One call per table, so that
notebook 05 states only what a table holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from helpers.reporting import i18n
from helpers.reporting.privacy import Pseudonymiser, show_table


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
        shown = i18n.format_table(
            self.privacy.frame(frame), self.language, self.currency, money_columns=money, percent_columns=percent,
            numbers=numbers, labels=self.labels, signed=signed,
        )
        return show_table(shown, max_rows=max_rows, language=self.language)
