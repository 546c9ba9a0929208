"""Quick and probabilistic CLTV."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from helpers.clv import quick, valuation
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models import robust_fit
from helpers.clv.models.beta_geo import BetaGeo
from helpers.clv.models.robust_fit import PURCHASE_MODELS
from helpers.core import config
from helpers.data.samples.cdnow import read_cdnow


def _summary(tx: pd.DataFrame, end: str) -> pd.DataFrame:
    """The summary contract built with lifetimes (reference) plus the by-hand columns."""
    tx = tx[tx["date"] <= end]
    s = summary_data_from_transaction_data(
        tx, "customer_id", "date", monetary_value_col="amount", observation_period_end=end, freq="D",
        freq_multiplier=7,
    )
    daily = tx.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    g = daily.groupby("customer_id")
    s["first_purchase"] = g["date"].min()
    s["last_purchase"] = g["date"].max()
    s["purchase_days"] = g.size()
    s["total_revenue"] = g["amount"].sum()
    s["total_margin"] = np.nan
    return s.rename_axis("customer_id").reset_index()


@pytest.fixture(scope="module")
def cdnow():
    tx = read_cdnow("sample")
    summary = _summary(tx, "1998-06-30")
    holdout = calibration_and_holdout_data(
        tx, "customer_id", "date", calibration_period_end="1997-09-30", observation_period_end="1998-06-30",
        freq="D", freq_multiplier=7, monetary_value_col="amount",
    ).reset_index()
    return summary, holdout


@pytest.fixture(scope="module")
def auto_run(cdnow):
    summary, holdout = cdnow
    return valuation.probabilistic_cltv(summary, holdout, model="auto", horizon_months=12, discount_rate=0.1)


# ------------------------------------------------------------------------------------------ quick formula
def test_quick_cltv_formula():
    assert quick.quick_cltv(1000.0, 0.3, 0.2) == pytest.approx(1500.0)  # 1000 x 0.3 x 1/0.2
    assert quick.quick_cltv(1000.0, 0.3, 0.2, discount_rate=0.1) == pytest.approx(300 * 1.1 / (1.1 - 0.8))
    assert quick.quick_cltv(1000.0, 0.3, 0.2, horizon_periods=1) == pytest.approx(300.0)
    assert quick.quick_cltv(1000.0, 0.3, 0.2, horizon_periods=2) == pytest.approx(300.0 + 240.0)
    assert quick.quick_cltv(1000.0, 0.3, 0.2, horizon_periods=500) == pytest.approx(1500.0)
    np.testing.assert_allclose(quick.quick_cltv(np.array([100.0, 200.0]), 0.5, np.array([0.5, 1.0])), [100.0, 100.0])
    for churn in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="churn"):
            quick.quick_cltv(100.0, 0.3, churn)


def test_quick_cltv_from_summary_by_hand():
    summary = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "first_purchase": pd.to_datetime(["2022-01-01", "2022-06-01", "2023-01-01", "2024-09-01"]),
            "last_purchase": pd.to_datetime(["2024-11-01", "2023-03-01", "2024-12-01", "2024-09-01"]),
            "total_revenue": [3000.0, 500.0, 800.0, 100.0],
            "total_margin": [900.0, np.nan, 400.0, np.nan],
        }
    )
    out = quick.quick_cltv_from_summary(summary, margin=0.2, analysis_date="2025-01-01")
    # eligible (first purchase before 2024-01-01): a, b, c; churned (no purchase since): b -> 1/3
    assert out["churn_rate"].iloc[0] == pytest.approx(1 / 3)
    assert "3 customers" in out.attrs["churn_note"]
    np.testing.assert_allclose(out["margin_rate"], [0.3, 0.2, 0.5, 0.2])
    tenure_a = (pd.Timestamp("2025-01-01") - pd.Timestamp("2022-01-01")).days / 365.25
    assert out["avg_revenue_per_period"].iloc[0] == pytest.approx(3000 / tenure_a)
    assert out["avg_revenue_per_period"].iloc[3] == pytest.approx(100.0)  # younger than a year: not scaled up
    np.testing.assert_allclose(out["cltv_quick"], out["avg_revenue_per_period"] * out["margin_rate"] * 3)


def test_churn_default_when_data_is_shorter_than_a_period():
    summary = pd.DataFrame(
        {"first_purchase": pd.to_datetime(["2024-10-01"]), "last_purchase": pd.to_datetime(["2024-11-01"])}
    )
    rate, note = quick.estimate_churn_rate(summary, analysis_date="2025-01-01")
    assert rate == quick.DEFAULT_CHURN and "default" in note


# ------------------------------------------------------------------------------------------ probabilistic
def test_auto_selects_by_holdout_rmse_and_reports(auto_run):
    table, result = auto_run
    metrics = result.holdout_metrics
    assert set(metrics.index) == set(PURCHASE_MODELS) and metrics["converged"].all()
    assert result.model_name == metrics["rmse"].astype(float).idxmin()
    assert "lowest holdout RMSE" in result.reason
    assert (metrics["actual_total"] == 1882).all()
    assert metrics.loc["bgnbd", "log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    for col in ("mae", "rmse", "predicted_total", "total_error_pct"):
        assert np.isfinite(metrics[col].astype(float)).all()
    assert result.spend_model is not None and result.spend_model.n_customers_ == 1139  # repeat buyers, all data


def test_output_columns_and_invariants(auto_run, cdnow):
    table, result = auto_run
    assert list(table.columns) == valuation.OUTPUT_COLUMNS
    assert len(table) == len(cdnow[0]) == 2357
    numeric = table[["expected_purchases", "p_alive", "expected_avg_spend", "cltv", "cltv_quick"]]
    assert np.isfinite(numeric.to_numpy(dtype=float)).all()
    assert (table["cltv"] >= 0).all() and (table["cltv_quick"] >= 0).all()
    assert table["p_alive"].between(0, 1).all()
    assert (table["cltv_model"] == f"{result.model_name}+gamma_gamma").all()
    counts = result.counts
    assert counts["no_repeat_purchase"] == int((cdnow[0]["frequency"] == 0).sum())
    assert counts["gamma_gamma_failed"] == counts["nonfinite_replaced"] == counts["negative_clipped"] == 0
    mean = result.spend_model.population_mean()
    no_repeat = cdnow[0]["frequency"].to_numpy() == 0
    np.testing.assert_allclose(table.loc[no_repeat, "expected_avg_spend"], mean)


def test_fixed_model_equals_manual_computation(cdnow):
    summary, _ = cdnow
    table, result = valuation.probabilistic_cltv(
        summary, model="bgnbd", horizon_months=6, discount_rate=0.05, margin=0.4
    )
    assert result.model_name == "bgnbd" and "requested" in result.reason
    assert result.holdout_metrics.empty
    x, r, T, m = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    fit = BetaGeo().fit(x, r, T)
    gg = robust_fit.fit_gamma_gamma(x, m)
    spend = gg.expected_average_spend(x, m)
    expected = valuation.discounted_cltv(fit, x, r, T, spend, horizon_months=6, discount_rate=0.05, margin=0.4)
    np.testing.assert_allclose(table["cltv"], expected, rtol=1e-6)
    np.testing.assert_allclose(table["expected_purchases"], fit.expected_purchases(6 * 30.4375 / 7, x, r, T))


def test_gamma_gamma_failure_uses_quick_cltv(cdnow, monkeypatch):
    summary, _ = cdnow

    def fail(*args, **kwargs):
        raise ConvergenceError("Gamma-Gamma did not converge (mock).")

    monkeypatch.setattr(robust_fit, "fit_gamma_gamma", fail)
    table, result = valuation.probabilistic_cltv(summary, model="bgnbd")
    assert result.spend_model is None
    assert result.counts["gamma_gamma_failed"] == len(summary)
    assert (table["cltv_model"] == "quick").all()
    np.testing.assert_allclose(table["cltv"], table["cltv_quick"])
    assert any("Gamma-Gamma failed" in n for n in result.notes)


def test_special_cases_are_counted_and_clipped():
    rng = np.random.default_rng(3)
    n = 300
    freq = rng.poisson(1.5, n).astype(float)
    T = rng.uniform(20, 60, n).round(2)
    rec = np.where(freq > 0, (T * rng.uniform(0.1, 1.0, n)).round(2), 0.0)
    mon = np.where(freq > 0, rng.gamma(4.0, 10.0, n).round(2), 0.0)
    mon[np.flatnonzero(freq > 0)[:3]] = [0.0, -10.0, 0.0]  # refunds: zero or negative repeat spend
    first = pd.Timestamp("2023-01-01") + pd.to_timedelta(((60 - T) * 7).round(), unit="D")
    summary = pd.DataFrame(
        {
            "customer_id": [f"k{i}" for i in range(n)],
            "first_purchase": first,
            "last_purchase": first + pd.to_timedelta((rec * 7).round(), unit="D"),
            "purchase_days": freq + 1,
            "frequency": freq,
            "recency": rec,
            "T": T,
            "monetary_value": mon,
            "total_revenue": mon * freq + 50.0,
            "total_margin": np.where(np.arange(n) < 5, -20.0, np.nan),  # five loss-making customers
        }
    )
    table, result = valuation.probabilistic_cltv(summary, model="bgnbd", margin=0.3)
    assert result.counts["nonpositive_monetary"] == 3
    assert result.counts["no_repeat_purchase"] == int((freq == 0).sum())
    assert result.counts["negative_clipped"] == 5
    assert (table["cltv"].iloc[:5] == 0).all()
    assert np.isfinite(table[["cltv", "cltv_quick", "expected_avg_spend"]].to_numpy(dtype=float)).all()
    assert (table["cltv"] >= 0).all()
    refunds = np.flatnonzero(freq > 0)[:3]
    assert (table["expected_avg_spend"].iloc[refunds] > 0).all()
    assert result.spend_model is not None and "3 with zero/negative spend" in result.spend_model.notes_[0]


def test_unknown_model_is_refused(cdnow):
    with pytest.raises(ValueError, match="model must be"):
        valuation.probabilistic_cltv(cdnow[0], model="bgbb")


def test_auto_leaves_pareto_out_above_the_size_limit_and_says_so(cdnow):
    summary, holdout = cdnow
    table, result = valuation.probabilistic_cltv(summary, holdout, model="auto", pareto_max_customers=1000)
    assert "pareto" not in result.holdout_metrics.index and result.model_name != "pareto"
    assert any("Pareto/NBD left out" in note and f"{len(summary):,}" in note for note in result.notes)
    assert len(table) == len(summary) and np.isfinite(table["cltv"]).all()


# ------------------------------------------------------------------------------------------ likely lost
def test_likely_lost_is_p_alive_below_the_one_setting():
    """One rule for "likely lost", defined once: P(alive) below cltv.likely_lost_below (0.5: even odds)."""
    assert config.load_settings().cltv.likely_lost_below == 0.5
    p_alive = pd.Series([0.0, 0.2, 0.4999, 0.5, 0.7, 1.0, np.nan])
    np.testing.assert_array_equal(valuation.likely_lost(p_alive), [True, True, True, False, False, False, False])
    np.testing.assert_array_equal(valuation.likely_lost(p_alive), (p_alive < 0.5).to_numpy())
    assert valuation.likely_lost([]).shape == (0,)
    stricter = replace(config.load_settings(), cltv=replace(config.load_settings().cltv, likely_lost_below=0.2))
    np.testing.assert_array_equal(valuation.likely_lost(p_alive, stricter), [True, False, False, False, False, False, False])


def test_likely_lost_counts_customers_of_the_run(auto_run):
    table, _ = auto_run
    gone = valuation.likely_lost(table["p_alive"])
    assert gone.dtype == bool and len(gone) == len(table)
    assert 0 < gone.sum() < len(table)
    assert (table.loc[gone, "p_alive"] < 0.5).all() and (table.loc[~gone, "p_alive"] >= 0.5).all()
