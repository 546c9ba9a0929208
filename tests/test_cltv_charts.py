"""CLTV for the report: model checks (holdout, tracking, period transactions), quick formula, outputs, and
the charts that draw them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.special import hyp2f1

from helpers.clv import diagnostics, quick, valuation
from helpers.clv.models.base import NotFittedError
from helpers.clv.models.beta_geo import BetaGeo, ModifiedBetaGeo
from helpers.clv.models.pareto import ParetoNBD
from helpers.core.config import settings_with
from helpers.data.samples.cdnow import read_cdnow
from helpers.features.summary import calibration_holdout_summary, customer_summary
from helpers.reporting.formatting import money_text
from helpers.reporting.plots import cltv as plots

BGNBD = BetaGeo.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
MBGNBD = ModifiedBetaGeo.from_params({"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0})
PARETO = ParetoNBD.from_params({"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67})
SETTINGS = settings_with({"currency": "EUR", "summary": {"unit_days": 7},
                          "cltv": {"horizon_months": 12, "discount_rate": 0.1, "margin": 0.4, "model": "auto"}})


def _labels(title: str, legend_entries: int) -> dict:
    """The texts a chart is given (the caller's, in the report's language)."""
    return {"title": title, "xlabel": "x label", "ylabel": "y label",
            "legend": [f"entry {k}" for k in range(legend_entries)]}


def _transactions() -> pd.DataFrame:
    rows = [
        # A: first 2024-01-01; repeats 01-15 (two rows, one day), 03-01, 08-01 (holdout); 09-01 refund only
        ("A", "2024-01-01", 100.0), ("A", "2024-01-15", 50.0), ("A", "2024-01-15", 20.0), ("A", "2024-03-01", 80.0),
        ("A", "2024-08-01", 60.0), ("A", "2024-09-01", -30.0),
        # B: first 2024-01-10, repeat 2024-06-30 (last calibration day), 2024-12-31 (last day)
        ("B", "2024-01-10", 40.0), ("B", "2024-06-30", 45.0), ("B", "2024-12-31", 10.0),
        # C: one purchase only in the calibration window
        ("C", "2024-03-03", 500.0),
        # D: first purchase in the holdout window: not in the calibration cohort
        ("D", "2024-08-08", 70.0), ("D", "2024-09-09", 70.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


# ---------------------------------------------------------------------------------------------- model additions
def test_unconditional_expected_purchases_matches_the_bgnbd_formula():
    r, alpha, a, b = (BGNBD.params_[k] for k in ("r", "alpha", "a", "b"))
    t = np.array([1.0, 39.0, 78.0])
    closed = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    np.testing.assert_allclose(BGNBD.unconditional_expected_purchases(t), closed, rtol=1e-10)
    np.testing.assert_array_equal(BGNBD.unconditional_expected_purchases([0.0, -3.0]), [0.0, 0.0])
    # repeated ages give repeated values; expectation grows with age
    values = PARETO.unconditional_expected_purchases([10.0, 5.0, 10.0, 20.0])
    assert values[0] == values[2] and values[1] < values[0] < values[3]


@pytest.mark.parametrize("fit", [BGNBD, MBGNBD, PARETO], ids=lambda f: f.name)
def test_simulation_mean_matches_the_model_expectation(fit):
    T = np.array([10.0, 39.0, 78.0])
    draws = fit.simulate_repeat_purchases(T, draws=200_000, seed=1)
    assert draws.shape == (200_000, 3)
    assert (draws >= 0).all() and np.all(draws == np.round(draws))
    expected = fit.unconditional_expected_purchases(T)
    np.testing.assert_allclose(draws.mean(axis=0), expected, rtol=0.03)


@pytest.mark.parametrize("fit", [BGNBD, MBGNBD, PARETO], ids=lambda f: f.name)
def test_simulated_counts_match_the_exact_distribution(fit):
    """The simulation (the model's story told forward) and the closed-form / integrated distribution that
    period_transactions uses agree: the share of draws per count is within sampling error of it."""
    T = np.array([5.0, 39.0, 78.0])
    draws = fit.simulate_repeat_purchases(T, draws=200_000, seed=2)
    probabilities = fit.repeat_purchase_probabilities(T, 4)
    shares = np.stack([np.bincount(np.minimum(draws[:, i].astype("int64"), 4), minlength=5) / len(draws)
                       for i in range(len(T))])
    standard_error = np.sqrt(probabilities * (1 - probabilities) / len(draws))
    assert (np.abs(shares - probabilities) <= 5 * standard_error + 1e-12).all()


def test_simulation_is_reproducible_and_refuses_a_model_without_parameters():
    a = BGNBD.simulate_repeat_purchases([5.0, 6.0], draws=3, seed=7)
    np.testing.assert_array_equal(a, BGNBD.simulate_repeat_purchases([5.0, 6.0], draws=3, seed=7))
    # a model is a class now, so there is no unknown one to refuse; one without parameters is refused
    with pytest.raises(NotFittedError, match="call fit"):
        BetaGeo().simulate_repeat_purchases([1.0])


# ---------------------------------------------------------------------------------------------- tracking
def test_repeat_purchase_days_merge_same_day_rows_and_skip_first_and_refund_days():
    days = diagnostics.repeat_purchase_days(_transactions())
    got = sorted(zip(days["customer_id"], days["day"].dt.strftime("%Y-%m-%d"), strict=True))
    assert got == [("A", "2024-01-15"), ("A", "2024-03-01"), ("A", "2024-08-01"), ("B", "2024-06-30"),
                   ("B", "2024-12-31"), ("D", "2024-09-09")]
    limited = diagnostics.repeat_purchase_days(_transactions(), customers=["A", "B"], end="2024-06-30")
    assert len(limited) == 3


def _repeat_days_per_day_in_pandas(tx: pd.DataFrame, customers, end) -> pd.Series:
    days = diagnostics.repeat_purchase_days(tx, customers=customers, end=end)
    return days.groupby("day").size()


def _random_transactions(seed: int = 4, customers: int = 300, rows: int = 4000) -> pd.DataFrame:
    """Transactions with same-day rows, refunds (some days refund-only) and integer-like ids."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "customer_id": rng.integers(0, customers, rows).astype(str),
        "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, rows), unit="D")
        + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
        "amount": np.round(rng.normal(50, 40, rows), 2),
    })
    return frame


@pytest.mark.parametrize("source", ["frame", "parquet"])
def test_duckdb_repeat_purchases_per_day_equal_the_pandas_definition(tmp_path, source):
    tx = _random_transactions()
    customers = [str(c) for c in range(0, 300, 2)]  # half of the customers, as the calibration cohort
    end = "2024-06-15"
    expected = _repeat_days_per_day_in_pandas(tx, customers, end)
    given = {"frame": tx, "parquet": tmp_path / "tx.parquet"}[source]
    if source == "parquet":
        tx.to_parquet(given, index=False)
    counted = diagnostics.repeat_purchases_per_day(given, customers, end)
    assert list(counted.columns) == ["day", "repeat_purchases"]
    assert counted["day"].is_monotonic_increasing and (counted["repeat_purchases"] > 0).all()
    np.testing.assert_array_equal(counted["day"].to_numpy().astype("datetime64[D]"),
                                  expected.index.to_numpy().astype("datetime64[D]"))
    np.testing.assert_array_equal(counted["repeat_purchases"].to_numpy(), expected.to_numpy())
    # the small hand-made log: A (two rows on 01-15, a refund-only day), B, C (one purchase), D (outside)
    small = diagnostics.repeat_purchases_per_day(_transactions(), ["A", "B", "C"], "2024-12-31")
    assert dict(zip(small["day"].dt.strftime("%Y-%m-%d"), small["repeat_purchases"], strict=True)) == {
        "2024-01-15": 1, "2024-03-01": 1, "2024-06-30": 1, "2024-08-01": 1, "2024-12-31": 1,
    }


def test_cumulative_tracking_reads_a_file_as_it_reads_a_frame(tmp_path):
    tx = _random_transactions(seed=9)
    holdout = calibration_holdout_summary(tx, "2024-04-30", "2024-07-18")
    path = tmp_path / "transactions.parquet"
    tx.to_parquet(path, index=False)
    from_frame = diagnostics.cumulative_tracking(tx, holdout, BGNBD, "2024-04-30", "2024-07-18")
    from_file = diagnostics.cumulative_tracking(path, holdout, BGNBD, "2024-04-30", "2024-07-18")
    pd.testing.assert_frame_equal(from_frame, from_file)
    # actual = the pandas repeat purchase days up to each period end
    days = diagnostics.repeat_purchase_days(tx, holdout["customer_id"], "2024-07-18")["day"].to_numpy()
    np.testing.assert_array_equal(
        from_file["actual"], np.searchsorted(np.sort(days), from_file["period_end"].to_numpy(), side="right")
    )
    at_end = from_file["actual"].iloc[-1]
    assert at_end == (holdout["frequency"] + holdout["frequency_holdout"]).sum()
    with pytest.raises(ValueError, match="parquet file"):
        diagnostics.cumulative_tracking(tmp_path / "transactions.csv", holdout, BGNBD, "2024-04-30", "2024-07-18")


def test_cumulative_tracking_adds_up_to_the_summary():
    tx = _transactions()
    holdout = calibration_holdout_summary(tx, "2024-06-30", "2024-12-31")
    tracking = diagnostics.cumulative_tracking(tx, holdout, BGNBD, "2024-06-30", "2024-12-31", unit_days=7)
    # the cohort is A, B, C (D arrived in the holdout window)
    assert sorted(holdout["customer_id"]) == ["A", "B", "C"]
    # a period ends exactly on the calibration end, the last one on the end date
    at_cal = tracking[tracking["period_end"] == pd.Timestamp("2024-06-30")]
    assert len(at_cal) == 1 and not at_cal["in_holdout"].iloc[0]
    assert tracking["period_end"].iloc[-1] == pd.Timestamp("2024-12-31")
    assert tracking["period_end"].iloc[0] >= pd.Timestamp("2024-01-01")
    # actual: calibration repeats up to the calibration end, calibration + holdout purchases at the end
    assert at_cal["actual"].iloc[0] == holdout["frequency"].sum() == 3
    assert tracking["actual"].iloc[-1] == (holdout["frequency"] + holdout["frequency_holdout"]).sum() == 5
    assert tracking["actual"].is_monotonic_increasing and tracking["expected"].is_monotonic_increasing
    # expected: sum of E[X(T_cal)] over the cohort at the calibration end
    assert at_cal["expected"].iloc[0] == pytest.approx(BGNBD.unconditional_expected_purchases(holdout["T"]).sum())
    total_end = BGNBD.unconditional_expected_purchases(holdout["T"] + holdout["duration_holdout"]).sum()
    assert tracking["expected"].iloc[-1] == pytest.approx(total_end)
    # mid-period steps are one week apart
    steps = tracking["period_end"].diff().dt.days.iloc[1:-1]
    assert (steps == 7).all()
    reading = diagnostics.tracking_reading(tracking)
    assert "2 happened" in reading
    assert isinstance(plots.tracking_chart(tracking, **_labels("Repeat purchases over time\n" + reading, 3)), Figure)


# ---------------------------------------------------------------------------------------------- CDNOW checks
@pytest.fixture(scope="module")
def cdnow():
    tx = read_cdnow("sample")
    summary = customer_summary(tx, "1998-06-30")
    holdout = calibration_holdout_summary(tx, "1997-09-30", "1998-06-30")
    return tx, summary, holdout


def test_calibration_vs_holdout_table(cdnow):
    _, _, holdout = cdnow
    table = diagnostics.calibration_vs_holdout(holdout, BGNBD, max_frequency=7)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["customers"].sum() == len(holdout) == 2357
    zero = holdout[holdout["frequency"] == 0]
    assert table.loc["0", "customers"] == len(zero)
    assert table.loc["0", "actual"] == pytest.approx(zero["frequency_holdout"].mean())
    predicted = BGNBD.expected_purchases(39.0, holdout["frequency"], holdout["recency"], holdout["T"])
    total = (table["predicted"] * table["customers"]).sum()
    assert total == pytest.approx(predicted.sum())
    actual_total = (table["actual"] * table["customers"]).sum()
    assert actual_total == holdout["frequency_holdout"].sum()
    # the published parameters predict the holdout purchases of the sample to within 15%
    assert abs(total / actual_total - 1) < 0.15
    title = "Holdout check: predicted vs actual purchases per customer\n" + diagnostics.holdout_reading(table)
    figure = plots.calibration_vs_holdout_chart(table, **_labels(title, 2))
    assert "holdout purchases" in figure.axes[0].get_title(loc="left")


def test_period_transactions_counts_every_customer(cdnow):
    _, summary, _ = cdnow
    table = diagnostics.period_transactions(summary, BGNBD, max_frequency=7)
    assert table["actual"].sum() == len(summary)
    assert table["model"].sum() == pytest.approx(len(summary), rel=1e-12)
    assert table.loc["0", "actual"] == int((summary["frequency"] == 0).sum())
    assert table.loc["7+", "actual"] == int((summary["frequency"] >= 7).sum())
    # the model column is each customer's own distribution summed (computed once per distinct T)
    per_customer = BGNBD.repeat_purchase_probabilities(summary["T"].to_numpy(), 7).sum(axis=0)
    np.testing.assert_allclose(table["model"].to_numpy(), per_customer, rtol=1e-12)
    # and what the simulation of the whole base (lifetimes' way) scatters around
    simulated = BGNBD.simulate_repeat_purchases(summary["T"].to_numpy(), draws=200, seed=0)
    counts = np.stack([np.bincount(np.minimum(row.astype("int64"), 7), minlength=8) for row in simulated])
    assert (np.abs(counts.mean(axis=0) - table["model"].to_numpy()) <= 5 * counts.std(axis=0) / np.sqrt(200) + 1).all()
    title = "Customers by number of repeat purchases\n" + diagnostics.period_transactions_reading(table)
    figure = plots.period_transactions_chart(table, **_labels(title, 2))
    assert "never came back" in figure.axes[0].get_title(loc="left")


def test_frequency_cap():
    assert diagnostics.frequency_cap(np.zeros(100)) == 7
    assert diagnostics.frequency_cap(np.arange(100)) == 20
    assert diagnostics.frequency_cap(np.arange(15)) == 12
    assert diagnostics.frequency_cap([]) == 7


def test_run_probabilistic_end_to_end_on_cdnow(cdnow, capsys):
    _, summary, holdout = cdnow
    table, result = valuation.run_probabilistic(summary, holdout, SETTINGS)
    assert capsys.readouterr().out == ""  # fitting noise is silenced
    out = valuation.check_output(table)
    assert list(out.columns) == valuation.OUTPUT_COLUMNS and len(out) == len(summary)
    holdout_view = diagnostics.holdout_table(result.holdout_metrics, result.model_name)
    assert set(holdout_view.index) == {"BG/NBD", "Pareto/NBD", "MBG/NBD"}
    assert (holdout_view["status"] == "used").sum() == 1
    assert holdout_view.loc[result.purchase_model.label, "status"] == "used"
    cases = valuation.special_cases(result)
    assert cases.loc["customers valued", "customers"] == len(summary)
    assert cases.loc[valuation.COUNT_LABELS["no_repeat_purchase"], "customers"] == int((summary["frequency"] == 0).sum())
    fit = diagnostics.calibration_fit(holdout, result.model_name)
    assert fit is not None and fit.name == result.model_name
    # the result carries the calibration fit of its holdout check: reused, and the same as fitting again
    reused = result.calibration_fit(holdout)
    assert reused is result.calibration_fits[result.model_name]
    assert reused.params_ == pytest.approx(fit.params_, rel=1e-12)
    assert result.calibration_fit(None) is None
    top = valuation.top_customers(table, summary, top=5)
    assert len(top) == 5 and top["cltv"].is_monotonic_decreasing
    assert top["cltv"].iloc[0] == table["cltv"].max()
    assert isinstance(plots.cltv_distribution_chart(table, **_labels("Expected value per customer", 1)), Figure)


# ---------------------------------------------------------------------------------------------- small tables
def test_holdout_table_states_each_model():
    metrics = pd.DataFrame(
        {
            "converged": [True, True, False],
            "mae": [0.5, np.nan, np.nan],
            "rmse": [1.0, np.nan, np.nan],
            "predicted_total": [90.0, np.nan, np.nan],
            "actual_total": [100.0, 100.0, np.nan],
            "total_error_pct": [-10.0, np.nan, np.nan],
        },
        index=pd.Index(["bgnbd", "pareto", "mbgnbd"], name="model"),
    )
    table = diagnostics.holdout_table(metrics, "bgnbd")
    assert table["status"].tolist() == ["used", "fitted, predictions not computable", "did not converge"]
    assert table.loc["BG/NBD", "error of the total"] == pytest.approx(-0.10)
    assert diagnostics.holdout_table(pd.DataFrame(), "bgnbd").empty


def test_quick_formula_numbers_follow_the_formula():
    summary = customer_summary(_transactions().assign(cost=np.nan), "2024-12-31")
    table, n = quick.quick_formula(summary, SETTINGS, money_text)
    d, churn = n["discount_rate"], n["churn"]
    assert n["margin"] == pytest.approx(0.4)  # no costs: the configured margin
    assert n["cltv_lifetime"] == pytest.approx(n["revenue"] * 0.4 * (1 + d) / (d + churn))
    assert n["cltv_horizon"] == pytest.approx(n["revenue"] * 0.4)  # one year: the current year undiscounted
    assert n["lifetime_years"] == pytest.approx(1 / churn)
    assert "assumed" in table.loc["Margin", "how"]
    assert table.loc["CLTV over the next 12 months", "value"].startswith("€")


def test_value_concentration_and_check_output():
    assert valuation.value_concentration([10.0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == 1.0
    assert valuation.value_concentration(np.ones(20)) == pytest.approx(0.1)
    assert valuation.value_concentration([]) == 0.0
    good = pd.DataFrame({c: [1.0] for c in valuation.OUTPUT_COLUMNS}).assign(customer_id="x", cltv_model="quick", extra=1)
    assert list(valuation.check_output(good).columns) == valuation.OUTPUT_COLUMNS
    for bad in (np.nan, np.inf, -1.0):
        with pytest.raises(ValueError, match="cltv"):
            valuation.check_output(good.assign(cltv=bad))


# ---------------------------------------------------------------------------------------------- charts
def test_charts_draw_the_given_texts_on_their_own_figure_or_the_given_axis(cdnow):
    """A chart only draws: title, axis labels and legend are the caller's (no English left to relabel),
    and with ``ax`` it draws there and returns that axis's figure."""
    import matplotlib.pyplot as plt

    _, summary, holdout = cdnow
    tx = _transactions()
    small = calibration_holdout_summary(tx, "2024-06-30", "2024-12-31")
    tables = [
        (plots.calibration_vs_holdout_chart, diagnostics.calibration_vs_holdout(holdout, BGNBD), 2),
        (plots.tracking_chart, diagnostics.cumulative_tracking(tx, small, BGNBD, "2024-06-30", "2024-12-31"), 3),
        (plots.period_transactions_chart, diagnostics.period_transactions(summary, BGNBD), 2),
        (plots.cltv_distribution_chart, pd.DataFrame({"cltv": np.linspace(0.0, 500.0, 101)}), 1),
    ]
    for chart, table, entries in tables:
        texts = _labels("Titel\nwas er zeigt", entries)
        axis = chart(table, **texts).axes[0]
        assert axis.get_title(loc="left") == texts["title"]
        assert (axis.get_xlabel(), axis.get_ylabel()) == ("x label", "y label")
        assert [t.get_text() for t in axis.get_legend().get_texts()] == texts["legend"]
        figure, (left, right) = plt.subplots(1, 2)
        plt.close(figure)
        assert chart(table, ax=right, **texts) is figure
        assert right.get_title(loc="left") == texts["title"] and not left.has_data()
