"""The backtest of the potential scores: scored at an earlier cut-off with only the data known then,
against what the clients did since (helpers.potential.backtest)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from helpers.core import config
from helpers.data.samples.agency import generate_agency
from helpers.potential import backtest

CUTOFF = "2025-12-31"
SETTINGS = config.settings_with({"currency": "EUR", "cltv": {"model": "bgnbd"}})


def known_growth_history(n: int = 160, seed: int = 3):
    """Clients invoiced monthly from 2023 to 2025, each growing at its own latent yearly rate g (the truth),
    which the accounts state as yoy_growth; some stop buying during 2025 (more of the shrinking ones)."""
    rng = np.random.default_rng(seed)
    growth = rng.uniform(-0.4, 0.6, n)
    base = rng.lognormal(7.0, 0.6, n)
    months = pd.date_range("2023-01-15", "2025-12-15", freq="MS") + pd.Timedelta(days=14)
    stop = np.where(rng.random(n) < 0.25 * (growth < 0), rng.integers(24, 34, n), 99)
    rows = []
    for i in range(n):
        for t, day in enumerate(months):
            if t >= stop[i]:
                break
            amount = base[i] * (1 + growth[i]) ** (t / 12) * rng.lognormal(0, 0.15)
            rows.append((f"K{i:03d}", day, round(amount, 2)))
    transactions = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    accounts = pd.DataFrame({"customer_id": [f"K{i:03d}" for i in range(n)], "yoy_growth": growth,
                             "employees": 50, "funnel_type": "lead_gen", "marketing_budget": 20 * base})
    return transactions, accounts, pd.Series(growth, index=accounts["customer_id"])


def test_the_latent_growth_of_a_known_history_comes_out_clearly_positive():
    transactions, accounts, truth = known_growth_history()
    result = backtest.backtest_potential(transactions, accounts, None, CUTOFF, SETTINGS)
    assert result.available and result.as_of == "2024-12-31" and result.horizon_months == 12
    correlations = backtest.rank_correlations(result).set_index("score")
    assert correlations.loc["growth_score", "spearman"] > 0.4 and correlations.loc["growth_score", "predicts"]
    assert correlations.loc["growth_score", "outcome"] == "revenue_change"
    # without a service map the upsell score is ranked against the revenue gained
    assert correlations.loc["upsell_score", "outcome"] == "revenue_gained"
    outcomes = backtest.quadrant_outcomes(result).set_index("quadrant_key")
    high = outcomes.loc[["develop", "grow_with"], "revenue_after"].sum() / outcomes.loc[["develop", "grow_with"],
                                                                                         "revenue_before"].sum()
    low = outcomes.loc[["expand", "maintain"], "revenue_after"].sum() / outcomes.loc[["expand", "maintain"],
                                                                                      "revenue_before"].sum()
    assert high > low + 0.1
    # the truth itself ranks the realised change (the generator works as described)
    table = result.table.set_index("customer_id")
    from scipy import stats
    assert stats.spearmanr(truth.reindex(table.index), table["revenue_change"])[0] > 0.5


def test_outcomes_are_the_direct_sums_and_no_later_data_reach_the_scores():
    transactions, accounts, _ = known_growth_history(n=60)
    result = backtest.backtest_potential(transactions, accounts, None, CUTOFF, SETTINGS)
    table = result.table.set_index("customer_id")
    dates = transactions["date"]
    before = transactions[(dates > "2023-12-31") & (dates <= "2024-12-31")].groupby("customer_id")["amount"].sum()
    after = transactions[(dates > "2024-12-31") & (dates <= "2025-12-31")].groupby("customer_id")["amount"].sum()
    np.testing.assert_allclose(table["revenue_before"], before.reindex(table.index).fillna(0.0), rtol=1e-9)
    np.testing.assert_allclose(table["revenue_after"], after.reindex(table.index).fillna(0.0), rtol=1e-9)
    assert (table["churned"] == (after.reindex(table.index).fillna(0.0) == 0)).all()
    # change what happened after the earlier cut-off: the scores stay, only the outcomes move
    later = transactions.assign(amount=np.where(dates > "2024-12-31", transactions["amount"] * 3, transactions["amount"]))
    again = backtest.backtest_potential(later, accounts, None, CUTOFF, SETTINGS).table.set_index("customer_id")
    pd.testing.assert_series_equal(again["growth_score"], table["growth_score"])
    pd.testing.assert_series_equal(again["upsell_score"], table["upsell_score"])
    np.testing.assert_allclose(again["revenue_after"], 3 * table["revenue_after"], rtol=1e-9)


def test_new_cells_are_the_services_bought_after_the_earlier_cut_off():
    transactions, accounts, _ = known_growth_history(n=40)
    service_map = pd.DataFrame({
        "customer_id": ["K000", "K000", "K001", "K002"],
        "funnel_stage": ["see", "think", "do", "care"],
        "service_kind": ["operations", "operations", "consulting", "operations"],
        "channel": "google",
        # K000: see since 2023, think new in 2025; K001: ended before the cut-off and bought again in 2025;
        # K002: active then, ended in 2025 (no new cell)
        "started_on": pd.to_datetime(["2023-01-01", "2025-03-01", "2025-02-01", "2023-05-01"]),
        "ended_on": pd.to_datetime([None, None, None, "2025-06-30"]),
        "active": [True, True, True, False],
    })
    then = backtest.service_map_as_of(service_map, pd.Timestamp("2024-12-31"))
    assert then["customer_id"].tolist() == ["K000", "K002"] and then["active"].tolist() == [True, True]
    result = backtest.backtest_potential(transactions, accounts, service_map, CUTOFF, SETTINGS)
    cells = result.table.set_index("customer_id")["new_cells"]
    assert cells["K000"] == 1 and cells["K001"] == 1 and cells["K002"] == 0 and cells.drop(["K000", "K001"]).eq(0).all()
    assert backtest.rank_correlations(result).set_index("score").loc["upsell_score", "outcome"] == "new_cells"


def test_short_history_or_switched_off_says_why():
    transactions, accounts, _ = known_growth_history(n=40)
    short = transactions[transactions["date"] >= "2024-11-01"]
    result = backtest.backtest_potential(short, accounts, None, CUTOFF, SETTINGS)
    assert not result.available and "do not reach back far enough" in result.reason
    assert "No backtest" in backtest.backtest_reading(result, {}, "en")
    assert "Kein Rückblick" in backtest.backtest_reading(result, {}, "de")
    off = backtest.backtest_potential(transactions, accounts, None, CUTOFF, SETTINGS, months=0)
    assert not off.available and "switched off" in off.reason
    assert backtest.backtest_figures(off)["available"] is False


def test_figures_reading_and_artifact_round_trip(workbook_root):
    transactions, accounts, _ = known_growth_history(n=80)
    result = backtest.backtest_potential(transactions, accounts, None, CUTOFF, SETTINGS)
    figures = backtest.backtest_figures(result)
    json.dumps(figures)
    assert set(figures) >= {"as_of", "horizon_months", "spearman_upsell", "spearman_growth", "quadrants"}
    assert set(figures["quadrants"]) <= {"develop", "expand", "grow_with", "maintain", "win_back"}
    assert sum(q["clients"] for q in figures["quadrants"].values()) == len(result.table)
    names = {"develop": "Develop", "maintain": "Maintain"}
    english = backtest.backtest_reading(result, names, "en")
    assert english.startswith("Backtest: scored as of") and "Develop" in english and "rank correlation" in english
    german = backtest.backtest_reading(result, {"develop": "Entwickeln"}, "de")
    assert "Rangkorrelation" in german and "Entwickeln" in german and "rank" not in german
    backtest.write_backtest(result, "2025-12")
    back = backtest.read_backtest("2025-12")
    assert back.available and back.as_of == result.as_of and backtest.backtest_figures(back) == figures
    backtest.write_backtest(backtest.BacktestResult("", 0, False, "off"), "2025-12")
    assert not backtest.read_backtest("2025-12").available


def test_the_agency_sample_growth_score_predicts_the_revenue_change():
    tables = generate_agency()
    result = backtest.backtest_potential(tables["transactions"], tables["accounts"], tables["service_map"], CUTOFF,
                                         config.load_settings(), model="mbgnbd")
    correlations = backtest.rank_correlations(result).set_index("score")
    assert correlations.loc["growth_score", "spearman"] > 0.1 and correlations.loc["growth_score", "p_value"] < 0.05
    outcomes = backtest.quadrant_outcomes(result).set_index("quadrant_key")
    assert outcomes.loc["develop", "revenue_growth"] > outcomes.loc["maintain", "revenue_growth"]
    assert outcomes.loc["win_back", "churn"] > 0.5 > outcomes.loc["develop", "churn"]
