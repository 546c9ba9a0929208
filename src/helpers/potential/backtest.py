"""Do the potential scores predict anything? A backtest on the month's own history.

At an earlier cut-off (``potential.backtest_months`` before the month's cut-off, default 12) every customer
seen by then is scored with only the data up to it - customer summary, contract clients, purchase model and
CLTV, the service map as it stood then - by the same :func:`~helpers.potential.scoring.score_customers`.
Then the months since show what happened:

- **revenue change**: net revenue in the window after the cut-off minus the same number of months before it;
- **new cells**: funnel cells (stage x kind) covered by an active service at the month's cut-off but not at
  the earlier one - the cross-sell that actually happened;
- **churned**: no purchase in the window after the cut-off.

The outcomes are shown per group (the four quadrants, the win-back group), and each axis is rank-correlated
(Spearman) with its outcome on the then-live clients: the upsell score with the new cells (with a service
map) or with the revenue gained (positive part of the change; without one), the growth score with the revenue
change; each component's points too, so that a component that does not predict is named.

Accounts are a snapshot of today: their firmographics (employees, budget, yoy growth) are not historised, so
the backtest uses today's values - said in the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from helpers.clv import contracts, valuation
from helpers.core import artifacts, duck, periods
from helpers.core.config import Settings
from helpers.core.language import check_language
from helpers.core.language import date as format_date
from helpers.features.summary import customer_summary
from helpers.potential import funnel
from helpers.potential.points import AXES, COMPONENTS
from helpers.potential.scoring import PotentialInputs, score_customers
from helpers.potential.service_levels import GROUP_ORDER, QUADRANT_POSITIONS

#: Fewer then-live clients than this say nothing about ranks.
MIN_CLIENTS = 20
#: |rho| below this: the score (or component) does not predict its outcome.
PREDICTS_FROM = 0.1
TABLE_COLUMNS = ["customer_id", "quadrant_key", "likely_lost", "upsell_score", "growth_score", "revenue_before",
                 "revenue_after", "revenue_change", "revenue_gained", "new_cells", "churned"]


@dataclass
class BacktestResult:
    """The scores at ``as_of`` and what the customers did in the ``horizon_months`` after it."""

    as_of: str
    horizon_months: int
    available: bool
    reason: str = ""
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TABLE_COLUMNS))
    points: pd.DataFrame = field(default_factory=pd.DataFrame)  # points_<component> per row of table
    has_service_map: bool = False
    notes: list[str] = field(default_factory=list)


def purchase_model_of(cltv: pd.DataFrame | None, default: str = "auto") -> str:
    """The purchase model the month chose (cltv.parquet's ``cltv_model``, e.g. ``pareto+gamma_gamma``): the
    backtest refits that model instead of comparing all three again (it has no holdout window of its own)."""
    if cltv is None or "cltv_model" not in cltv:
        return default
    codes = cltv["cltv_model"].astype("object").dropna().astype(str).str.split("+").str[0]
    codes = codes[codes.isin(["bgnbd", "pareto", "mbgnbd"])]
    return str(codes.value_counts().index[0]) if len(codes) else default


def service_map_as_of(service_map: pd.DataFrame | None, day: pd.Timestamp) -> pd.DataFrame | None:
    """The service map as it stood on ``day``: services started later do not exist yet; a service is active
    when it had started and not yet ended (``ended_on`` empty or after ``day``)."""
    if service_map is None or service_map.empty or "started_on" not in service_map:
        return service_map
    started = pd.to_datetime(service_map["started_on"], errors="coerce")
    ended = pd.to_datetime(service_map["ended_on"], errors="coerce") if "ended_on" in service_map else None
    frame = service_map[(started.isna() | (started <= day)).to_numpy()].copy()
    if ended is not None:
        frame["active"] = (ended.reindex(frame.index).isna() | (ended.reindex(frame.index) > day)).to_numpy()
    return frame


def _window_revenue(transactions: Any, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Net revenue and purchase days per customer with start < date <= end."""
    with duck.connect() as con:
        if isinstance(transactions, pd.DataFrame):
            con.register("backtest_input", transactions[["customer_id", "date", "amount"]])
            source = "backtest_input"
        else:
            source = duck.parquet(transactions)
        return con.sql(
            f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, sum(amount) AS revenue, "
            f"count(DISTINCT CASE WHEN amount > 0 THEN CAST(date AS DATE) END) AS purchase_days FROM {source} "
            "WHERE date > $start AND date <= $end GROUP BY 1",
            params={"start": start.to_pydatetime(), "end": end.to_pydatetime()},
        ).df().set_index("customer_id")


def backtest_potential(
    transactions: Any,
    accounts: pd.DataFrame | None,
    service_map: pd.DataFrame | None,
    cutoff: Any,
    settings: Settings,
    months: int | None = None,
    model: str | None = None,
    max_customers: int = 100_000,
    seed: int = 0,
) -> BacktestResult:
    """Score the customers at the cut-off ``months`` (default ``potential.backtest_months``) before ``cutoff``
    with only the data up to it, and measure what they did since. ``transactions``: the month's accepted
    transactions (a DataFrame or the Parquet file); ``model``: the purchase model to refit (default: the
    setting; notebook 04 passes the month's choice, :func:`purchase_model_of`). Above ``max_customers``
    customers a seeded sample is scored (ranks need no more). Never raises for short data: ``available`` is
    False with the reason."""
    months = settings.potential.backtest_months if months is None else int(months)
    cutoff = pd.Timestamp(cutoff).normalize()
    if months <= 0:
        return BacktestResult("", 0, False, "the backtest is switched off (potential.backtest_months: 0)")
    as_of = periods.month_end(periods.shift_month(cutoff.strftime("%Y-%m"), -months))
    result = BacktestResult(as_of.date().isoformat(), months, False)
    summary = customer_summary(transactions, as_of, settings.summary.unit_days)
    history_days = (as_of - pd.Timestamp(summary["first_purchase"].min())).days if len(summary) else 0
    if len(summary) < MIN_CLIENTS or history_days < 90:
        result.reason = (f"the data do not reach back far enough: {len(summary):,} customers with "
                         f"{max(history_days, 0)} days of history by {result.as_of}")
        return result
    if len(summary) > max_customers:
        summary = summary.sample(max_customers, random_state=seed).sort_index().reset_index(drop=True)
        result.notes.append(f"{max_customers:,} customers sampled (seed {seed}) for the backtest.")
    then_map = service_map_as_of(service_map, as_of)
    chosen = model or settings.cltv.model
    fitted_settings = replace(settings, cltv=replace(settings.cltv, model=chosen))
    contract_table = contracts.run_contract_clients(transactions, then_map, as_of, settings)
    try:
        cltv, _ = valuation.run_probabilistic(summary, None, fitted_settings, contract_table)
    except Exception as error:  # a model that does not fit on the shorter history: say so, do not stop the month
        result.reason = f"the purchase model ({chosen}) could not be fitted at {result.as_of}: {error}"
        return result
    scored = score_customers(
        PotentialInputs(summary=summary, transactions=transactions, cltv=cltv, accounts=accounts,
                        service_map=then_map, as_of=as_of),
        settings,
    ).table
    ids = pd.Index(scored["customer_id"].astype(str), name="customer_id")
    before = _window_revenue(transactions, periods.month_end(periods.shift_month(result.as_of[:7], -months)), as_of)
    after = _window_revenue(transactions, as_of, cutoff)
    table = scored[["customer_id", "quadrant_key", "likely_lost", "upsell_score", "growth_score"]].copy()
    table["revenue_before"] = before["revenue"].reindex(ids).fillna(0.0).to_numpy()
    table["revenue_after"] = after["revenue"].reindex(ids).fillna(0.0).to_numpy()
    table["revenue_change"] = table["revenue_after"] - table["revenue_before"]
    table["revenue_gained"] = table["revenue_change"].clip(lower=0.0)
    result.has_service_map = then_map is not None and not then_map.empty
    if result.has_service_map:
        new = funnel.coverage(service_map, ids) & ~funnel.coverage(then_map, ids)
        table["new_cells"] = new.sum(axis=1).to_numpy().astype("int64")
    else:
        table["new_cells"] = np.nan
    table["churned"] = (after["purchase_days"].reindex(ids).fillna(0) == 0).to_numpy()
    result.table = table[TABLE_COLUMNS].reset_index(drop=True)
    result.points = scored[[c for c in scored.columns if c.startswith("points_")]].reset_index(drop=True)
    result.available = True
    if accounts is not None and not accounts.empty:
        result.notes.append("Account data are today's (not historised): the backtest uses today's firmographics.")
    return result


# --------------------------------------------------------------------------------------------------
# what the backtest shows
# --------------------------------------------------------------------------------------------------
def _outcome(result: BacktestResult, axis: str) -> str:
    return "new_cells" if axis == "upsell" and result.has_service_map else (
        "revenue_gained" if axis == "upsell" else "revenue_change")


def _spearman(x: pd.Series, y: pd.Series) -> tuple[float | None, float | None, int]:
    ok = x.notna() & y.notna()
    n = int(ok.sum())
    if n < MIN_CLIENTS or x[ok].nunique() < 2 or y[ok].nunique() < 2:
        return None, None, n
    rho, p = stats.spearmanr(x[ok], y[ok])
    return float(rho), float(p), n


def rank_correlations(result: BacktestResult) -> pd.DataFrame:
    """Per axis and per component of it (live clients at the earlier cut-off): the outcome it is ranked
    against, Spearman's rho, its p-value, n, and whether it predicts (rho >= 0.1 and p < 0.05)."""
    live = ~result.table["likely_lost"].astype(bool)
    rows = []
    for axis in AXES:
        outcome = _outcome(result, axis)
        y = result.table.loc[live, outcome]
        candidates = [(axis, f"{axis}_score", result.table[f"{axis}_score"])]
        candidates += [(axis, name, result.points[f"points_{name}"]) for name in COMPONENTS[axis]
                       if f"points_{name}" in result.points and result.points[f"points_{name}"].notna().any()]
        for axis_name, name, values in candidates:
            rho, p, n = _spearman(values[live], y)
            rows.append({"axis": axis_name, "score": name, "outcome": outcome, "spearman": rho, "p_value": p, "n": n,
                         "predicts": bool(rho is not None and rho >= PREDICTS_FROM and p < 0.05)})
    return pd.DataFrame(rows)


def quadrant_outcomes(result: BacktestResult) -> pd.DataFrame:
    """Per group scored at the earlier cut-off (the four quadrants, then the win-back group): clients, revenue
    before and after, the group's revenue growth (sum after / sum before - 1), mean new cells and the share
    that churned."""
    grouped = result.table.groupby("quadrant_key")
    out = pd.DataFrame({
        "clients": grouped.size(),
        "revenue_before": grouped["revenue_before"].sum(),
        "revenue_after": grouped["revenue_after"].sum(),
        "new_cells": grouped["new_cells"].mean(),
        "churn": grouped["churned"].mean(),
    }).reindex(list(GROUP_ORDER))
    out["clients"] = out["clients"].fillna(0).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["revenue_growth"] = np.where(out["revenue_before"] > 0, out["revenue_after"] / out["revenue_before"] - 1.0,
                                         np.nan)
    out.index.name = "quadrant_key"
    return out[out["clients"] > 0].reset_index()


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return float(value) if isinstance(value, float | np.floating) else int(value) if isinstance(value, np.integer) else value


def backtest_figures(result: BacktestResult) -> dict[str, Any]:
    """``key_figures.json``'s ``backtest``: as_of, horizon, Spearman per axis, the outcomes per group."""
    if not result.available:
        return {"as_of": result.as_of or None, "horizon_months": result.horizon_months, "available": False,
                "reason": result.reason}
    correlations = rank_correlations(result).set_index("score")
    outcomes = quadrant_outcomes(result).set_index("quadrant_key")
    return {
        "as_of": result.as_of, "horizon_months": result.horizon_months, "available": True,
        "spearman_upsell": _plain(correlations.loc["upsell_score", "spearman"]),
        "upsell_outcome": correlations.loc["upsell_score", "outcome"],
        "spearman_growth": _plain(correlations.loc["growth_score", "spearman"]),
        "growth_outcome": correlations.loc["growth_score", "outcome"],
        "quadrants": {key: {"clients": _plain(row["clients"]), "revenue_growth": _plain(row["revenue_growth"]),
                            "new_cells": _plain(row["new_cells"]), "churn": _plain(row["churn"])}
                      for key, row in outcomes.iterrows()},
    }


def _pct(value: float, language: str, signed: bool = True) -> str:
    text = f"{100.0 * value:+.0f}" if signed else f"{100.0 * value:.0f}"
    text = text.replace("-", "−") if language == "de" else text
    return f"{text} %" if language == "de" else f"{text}%"


def _rho(value: float, language: str) -> str:
    text = f"{value:.2f}"
    return text.replace(".", ",").replace("-", "−") if language == "de" else text


COMPONENT_WORDS = {
    "en": {"whitespace": "whitespace", "budget_headroom": "budget headroom", "cltv_headroom": "CLTV headroom",
           "frequency": "purchase frequency", "yoy_growth": "the client's own growth",
           "cltv_vs_past": "expected against past value", "p_alive": "P(alive)", "recency": "recency"},
    "de": {"whitespace": "Leistungslücken", "budget_headroom": "Budgetspielraum", "cltv_headroom": "CLTV-Abstand",
           "frequency": "Kaufhäufigkeit", "yoy_growth": "das eigene Wachstum des Kunden",
           "cltv_vs_past": "erwarteter gegen vergangenen Wert", "p_alive": "P(aktiv)", "recency": "Aktualität"},
}


def backtest_reading(result: BacktestResult, quadrant_names: dict[str, str], language: str = "en") -> str:
    """The backtest in plain words, in English or German: how each quadrant's revenue developed since the
    earlier cut-off, how well each axis ranked its outcome, and which components did not predict."""
    check_language(language)
    de = language == "de"
    if not result.available:
        return (f"Kein Rückblick möglich: {result.reason}." if de else f"No backtest: {result.reason}.")
    outcomes = quadrant_outcomes(result).set_index("quadrant_key")
    live = [key for key in QUADRANT_POSITIONS if key in outcomes.index and np.isfinite(outcomes.loc[key, "revenue_growth"])]
    parts = [f"{quadrant_names.get(key, key)} {_pct(outcomes.loc[key, 'revenue_growth'], language)}" for key in live]
    correlations = rank_correlations(result).set_index("score")
    months = result.horizon_months
    if de:
        text = (f"Rückblick: Die Kunden, wie sie am {format_date(result.as_of, language)} eingestuft worden wären, entwickelten ihren Umsatz "
                f"in den {months} Monaten danach so: " + ", ".join(parts) + ".")
    else:
        text = (f"Backtest: scored as of {format_date(result.as_of, language)}, the clients' revenue in the {months} months since changed by: "
                + ", ".join(parts) + ".")
    for axis in AXES:
        row = correlations.loc[f"{axis}_score"]
        if row["spearman"] is None or not np.isfinite(row["spearman"]):
            continue
        verdict = ("sagt voraus" if row["predicts"] else "sagt nichts voraus") if de else (
            "predictive" if row["predicts"] else "not predictive")
        target = {"new_cells": ("die neu gekauften Leistungen", "new services bought"),
                  "revenue_gained": ("den Umsatzzuwachs", "revenue gained"),
                  "revenue_change": ("die Umsatzänderung", "revenue change")}[row["outcome"]]
        axis_word = {"upsell": ("Upselling-Potenzial", "upsell score"), "growth": ("Wachstumspotenzial", "growth score")}[axis]
        text += (f" Das {axis_word[0]} ordnete {target[0]} mit einer Rangkorrelation von {_rho(row['spearman'], language)} "
                 f"({verdict})." if de else
                 f" The {axis_word[1]} ranked the {target[1]} with a rank correlation of {_rho(row['spearman'], language)} "
                 f"({verdict}).")
    weak = [COMPONENT_WORDS[language][name] for name, row in correlations.iterrows()
            if name in COMPONENT_WORDS[language] and row["spearman"] is not None and not row["predicts"]]
    if weak:
        text += (" Für sich allein ohne Vorhersagekraft: " + ", ".join(weak) + "." if de
                 else " Not predictive on its own: " + ", ".join(weak) + ".")
    return text


# --------------------------------------------------------------------------------------------------
# the artifact: notebook 04 writes it, the report and the key figures read it
# --------------------------------------------------------------------------------------------------
def write_backtest(result: BacktestResult, month: str) -> Any:
    """The ``backtest`` artifact of ``month``: the per-customer table and points with the cut-off, horizon and
    whether a service map was there (a missing backtest removes a stale file)."""
    target = artifacts.artifact_path(month, "backtest")
    if not result.available:
        target.unlink(missing_ok=True)
        return None
    frame = pd.concat([result.table, result.points], axis=1).assign(
        as_of=result.as_of, horizon_months=result.horizon_months, has_service_map=result.has_service_map)
    return artifacts.write_artifact(frame, month, "backtest")


def read_backtest(month: str) -> BacktestResult:
    """The month's backtest as notebook 04 wrote it (``available`` False when there is none)."""
    if not artifacts.has_artifact(month, "backtest"):
        return BacktestResult("", 0, False, "notebook 04 wrote no backtest for this month")
    frame = artifacts.read_artifact(month, "backtest")
    first = frame.iloc[0] if len(frame) else None
    return BacktestResult(
        as_of=str(first["as_of"]) if first is not None else "", horizon_months=int(first["horizon_months"]) if first is not None else 0,
        available=first is not None, table=frame[TABLE_COLUMNS].reset_index(drop=True),
        points=frame[[c for c in frame.columns if c.startswith("points_")]].reset_index(drop=True),
        has_service_map=bool(first["has_service_map"]) if first is not None else False,
    )
