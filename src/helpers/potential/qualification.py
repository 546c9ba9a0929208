"""B2B prerequisites and sorters (seed 001): which accounts qualify, and how to group the qualified ones.

**Prerequisites** must all hold for an account to qualify. Each rule names a column of the accounts and
one test (settings ``qualification.rules``)::

    - {column: business_model, in: [B2B, B2B2C]}      # value is one of the list (case-insensitive)
    - {column: employees, min: 10}                    # value >= min (numbers)
    - {column: industry, not_in: [Education]}         # value is none of the list
    - {column: marketing_budget, max: 1000000}        # value <= max

An empty value fails its rule (it cannot be shown to hold), and so does a column the accounts lack.
:func:`qualify` keeps, per account, every failed rule as text (``failed_rules``), so that an unqualified
account can be fixed at the source or the rule revisited.

**Sorters** group the qualified accounts: any account column, plus ``size_band`` (derived from
``employees`` with the edges ``qualification.size_bands``, default 10, 50, 250: the EU micro / small /
medium / large firms). :func:`cross_table` counts qualified accounts by two sorters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.config import Settings, default_settings
from helpers.core.errors import WorkbookError

DEFAULT_SIZE_BANDS: tuple[int, ...] = (10, 50, 250)
RULE_TESTS = ("in", "not_in", "min", "max")


class QualificationError(WorkbookError, ValueError):
    """A rule in the settings that cannot be used; the message names the rule."""


def size_band_labels(edges: Sequence[float] = DEFAULT_SIZE_BANDS) -> list[str]:
    """Labels of the bands cut at ``edges``: (10, 50, 250) -> ['1-9', '10-49', '50-249', '250+']."""
    edges = [int(e) for e in edges]
    labels = [f"1-{edges[0] - 1}"] if edges else ["all"]
    labels += [f"{a}-{b - 1}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    if edges:
        labels.append(f"{edges[-1]}+")
    return labels


def size_band(employees: Any, edges: Sequence[float] = DEFAULT_SIZE_BANDS) -> pd.Series:
    """Employee size band per account as an ordered categorical; unknown employees -> missing."""
    values = pd.to_numeric(pd.Series(employees), errors="coerce").astype("float64")
    edges = sorted(float(e) for e in edges)
    if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
        raise QualificationError(f"size band edges must increase strictly, got {edges}")
    labels = size_band_labels([int(e) for e in edges])
    codes = np.searchsorted(np.asarray(edges), values.to_numpy(), side="right")
    cat = pd.Categorical.from_codes(
        np.where(values.isna().to_numpy(), -1, codes), categories=labels, ordered=True
    )
    return pd.Series(cat, index=values.index, name="size_band")


def _rules(rules: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    checked = []
    for position, rule in enumerate(rules or [], start=1):
        if not isinstance(rule, Mapping) or "column" not in rule:
            raise QualificationError(f"qualification rule {position} needs a 'column': {rule!r}")
        tests = [t for t in RULE_TESTS if t in rule]
        if len(tests) != 1:
            raise QualificationError(
                f"qualification rule {position} ({rule.get('column')}) needs exactly one of "
                f"{', '.join(RULE_TESTS)}: {rule!r}"
            )
        test = tests[0]
        value = rule[test]
        if test in ("in", "not_in"):
            if isinstance(value, str) or not isinstance(value, Sequence):
                value = [value]
            value = [str(v).strip().lower() for v in value]
        else:
            try:
                value = float(value)
            except (TypeError, ValueError) as exc:
                raise QualificationError(f"qualification rule {position}: {test} must be a number") from exc
        checked.append({"column": str(rule["column"]), "test": test, "value": value, "raw": rule[test]})
    return checked


def describe_rule(rule: Mapping[str, Any]) -> str:
    """A rule as text: 'business_model in B2B, B2B2C', 'employees >= 10'."""
    (checked,) = _rules([rule])
    raw = checked["raw"]
    if checked["test"] in ("in", "not_in"):
        items = raw if isinstance(raw, Sequence) and not isinstance(raw, str) else [raw]
        word = "in" if checked["test"] == "in" else "not in"
        return f"{checked['column']} {word} {', '.join(str(v) for v in items)}"
    sign = ">=" if checked["test"] == "min" else "<="
    return f"{checked['column']} {sign} {checked['value']:g}"


def rule_holds(accounts: pd.DataFrame, rule: Mapping[str, Any]) -> pd.Series:
    """True where the rule holds; an empty value or a missing column fails."""
    (checked,) = _rules([rule])
    column = checked["column"]
    if column not in accounts:
        return pd.Series(False, index=accounts.index)
    values = accounts[column]
    if checked["test"] in ("in", "not_in"):
        text = values.astype("string").str.strip().str.lower()
        inside = text.isin(checked["value"]).fillna(False).astype(bool)
        holds = inside if checked["test"] == "in" else ~inside
        return holds & text.notna().to_numpy()
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    holds = numbers >= checked["value"] if checked["test"] == "min" else numbers <= checked["value"]
    return holds.fillna(False).astype(bool)


def with_sorters(accounts: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """The accounts with ``size_band`` added (from ``employees``, edges from settings)."""
    config = (settings or default_settings()).qualification
    out = accounts.copy()
    employees = out["employees"] if "employees" in out else pd.Series(np.nan, index=out.index)
    bands = size_band(employees.to_numpy(), config.size_bands)
    out["size_band"] = pd.Series(bands.array, index=out.index)  # keeps the ordered categories
    return out


def qualify(accounts: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """The accounts with the sorters, ``qualified`` (every rule holds) and ``failed_rules`` (the failed
    rules as text joined by '; ', empty for qualified accounts)."""
    rules = (settings or default_settings()).qualification.rules
    out = with_sorters(accounts, settings)
    failed = pd.Series([[] for _ in range(len(out))], index=out.index, dtype=object)
    for rule in rules:
        holds = rule_holds(out, rule)
        text = describe_rule(rule)
        if rule["column"] not in out:
            text += " (column missing)"
        for i in out.index[~holds.to_numpy()]:
            failed[i] = failed[i] + [text]
    out["qualified"] = failed.map(len).eq(0).to_numpy()
    out["failed_rules"] = failed.map("; ".join).to_numpy()
    return out


def rules_text(settings: Settings | None = None) -> list[str]:
    """The configured prerequisites as text, in order."""
    return [describe_rule(r) for r in (settings or default_settings()).qualification.rules]


def cross_table(qualified: pd.DataFrame, rows: str, columns: str, total: bool = True) -> pd.DataFrame:
    """Qualified accounts counted by two sorters (rows x columns), with totals.

    Empty sorter values count as "unknown"; an ordered categorical (size band) keeps its order; rows and
    columns without any account are left out."""
    frame = qualified[qualified["qualified"]] if "qualified" in qualified else qualified
    for name in (rows, columns):
        if name not in frame:
            raise KeyError(f"sorter {name!r} is not a column of the accounts")

    def prepared(series: pd.Series) -> pd.Series:
        if isinstance(series.dtype, pd.CategoricalDtype):
            cats = [str(c) for c in series.cat.categories]
            text = series.astype("object").where(series.notna(), "unknown").astype(str)
            order = cats + (["unknown"] if (text == "unknown").any() else [])
            return pd.Series(pd.Categorical(text, categories=order, ordered=True), index=series.index)
        return series.astype("object").where(series.notna(), "unknown").astype(str)

    table = pd.crosstab(
        prepared(frame[rows]), prepared(frame[columns]), margins=total, margins_name="total", dropna=False
    )
    # empty bands / groups (e.g. the size band that a rule excludes) are left out
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    table.index.name = rows
    table.columns.name = columns
    return table


def unqualified(qualified: pd.DataFrame, columns: Sequence[str] = ("customer_id", "name")) -> pd.DataFrame:
    """The accounts that do not qualify, with the failed rules."""
    keep = [c for c in columns if c in qualified] + ["failed_rules"]
    return qualified.loc[~qualified["qualified"], keep].reset_index(drop=True)


def failed_rule_counts(qualified: pd.DataFrame) -> pd.Series:
    """How many accounts fail each rule (an account can fail several)."""
    failed = qualified.loc[~qualified["qualified"], "failed_rules"].str.split("; ").explode()
    return failed.value_counts().rename("accounts")
