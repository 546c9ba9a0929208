"""RFM and ABC report helpers: the tables behind the charts, the rfm artifact, and the charts themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from helpers.core.config import load_settings, settings_with
from helpers.reporting.formatting import format_table, markdown_table, money_text, percent_text
from helpers.reporting.plots import segments as sc
from helpers.segmentation import abc_analysis, rfm


def _summary(margin: bool = True) -> pd.DataFrame:
    """Ten customers; revenue 500, 200, 100, 60, 40, 30, 30, 20, 10, 10 (total 1000)."""
    revenue = np.array([500, 200, 100, 60, 40, 30, 30, 20, 10, 10], dtype="float64")
    last = pd.to_datetime(
        ["2025-12-30", "2025-12-01", "2025-06-30", "2025-12-31", "2024-01-15", "2025-11-11", "2025-03-01",
         "2025-12-20", "2023-05-05", "2025-10-10"]
    )
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:02d}" for i in range(10)],
            "first_purchase": pd.Timestamp("2023-01-01"),
            "last_purchase": last,
            "purchase_days": [40, 20, 12, 9, 2, 5, 5, 3, 1, 2],
            "total_revenue": revenue,
            # customer 3 earns no margin: it is C by margin although B by revenue
            "total_margin": (revenue * 0.4 * np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1])) if margin else np.nan,
        }
    )


@pytest.fixture
def rules():
    return rfm.load_segment_rules()


@pytest.fixture
def scored(rules):
    return rfm.segment_customers(_summary(), "2025-12-31", rules)


# ---------------------------------------------------------------------------------------------- settings
def test_abc_cutoffs_default_and_checks():
    assert settings_with().abc.cutoffs == (0.80, 0.95)
    assert settings_with({"abc": {"cutoffs": [0.7, 0.9]}}).abc.cutoffs == (0.7, 0.9)
    for bad in ([0.9, 0.8], [0.8], [0, 0.9], [0.8, 1.2]):
        with pytest.raises(ValueError, match="abc.cutoffs"):
            settings_with({"abc": {"cutoffs": bad}})


def test_segment_rules_path_is_relative_to_the_settings_file_that_names_it(tmp_path):
    """A file the user's settings do not name is the shipped one (a minimal settings file works anywhere)."""
    from helpers.core import paths

    (tmp_path / "settings.yaml").write_text("currency: EUR\n", encoding="utf-8")
    shipped = paths.config_dir() / "rfm_segments.yaml"
    assert rfm.segment_rules_path(load_settings(tmp_path / "settings.yaml")) == shipped
    (tmp_path / "settings.yaml").write_text("rfm:\n  segments_file: mine.yaml\n", encoding="utf-8")
    assert rfm.segment_rules_path(load_settings(tmp_path / "settings.yaml")) == tmp_path / "mine.yaml"
    assert rfm.segment_rules_path(settings_with({"rfm": {"segments_file": "/abs/x.yaml"}})) == Path("/abs/x.yaml")


def test_margin_known():
    assert abc_analysis.margin_known(_summary())
    assert not abc_analysis.margin_known(_summary(margin=False))
    assert not abc_analysis.margin_known(_summary().drop(columns="total_margin"))


# ---------------------------------------------------------------------------------------------- RFM
def test_score_customers_measures_recency_at_the_cutoff(scored):
    assert scored["recency_days"].tolist()[:4] == [1, 30, 184, 0]
    assert scored["frequency"].tolist() == _summary()["purchase_days"].tolist()
    assert scored["rfm_segment"].notna().all()
    # the most recent and most frequent big spender is a Champion
    assert scored.loc[0, "rfm_code"] == "555" and scored.loc[0, "rfm_segment"] == "Champions"


def test_segment_reading_names_the_segment_with_the_largest_revenue_share():
    table = pd.DataFrame(
        {
            "rfm_segment": ["Champions", "Lost", "Loyal"],
            "customers": [2, 6, 0],
            "customer_share": [0.25, 0.75, 0.0],
            "revenue_share": [0.7, 0.3, 0.0],
        }
    )
    assert rfm.segment_reading(table) == "Champions: 25% of customers bring 70% of revenue"
    assert rfm.segment_reading(table.assign(customers=0)) == "No customers to segment."


def test_rf_grid_counts_and_means(scored):
    mean, count = rfm.rf_grid(scored)
    assert list(mean.index) == [5, 4, 3, 2, 1] and list(mean.columns) == [1, 2, 3, 4, 5]
    assert count.to_numpy().sum() == len(scored)
    for (r, f), group in scored.groupby(["r_score", "f_score"]):
        assert count.loc[r, f] == len(group)
        assert mean.loc[r, f] == pytest.approx(group["monetary"].mean())
    assert np.isnan(mean.to_numpy()[count.to_numpy() == 0]).all()


def test_rfm_charts_are_figures_with_their_reading(scored, rules):
    segments = rfm.segment_summary(scored, rules)
    figure = sc.segment_share_chart(segments)
    assert isinstance(figure, Figure)
    assert rfm.segment_reading(segments) in figure.axes[0].get_title(loc="left")
    heat = sc.rf_heatmap_chart(rfm.rf_grid(scored), "EUR")
    assert "highest mean revenue in cell R" in heat.axes[0].get_title(loc="left")
    assert "€" in heat.axes[0].get_title(loc="left")


# ---------------------------------------------------------------------------------------------- ABC
def test_abc_classes_by_dimension_with_and_without_margin():
    classes = abc_analysis.abc_classes_by_dimension(_summary(), (0.80, 0.95))
    assert classes["abc_revenue"].tolist() == ["A", "A", "A", "B", "B", "B", "B", "C", "C", "C"]
    assert classes.loc[3, "abc_margin"] == "C"  # no margin
    no_cost = abc_analysis.abc_classes_by_dimension(_summary(margin=False), (0.80, 0.95))
    assert "abc_margin" not in no_cost


def test_abc_overview_adds_up():
    summary = _summary()
    classes = abc_analysis.abc_classes_by_dimension(summary, (0.80, 0.95))
    overview = abc_analysis.abc_overview(summary, classes)
    assert overview["customers"].sum() == 10
    assert overview.loc["A", "revenue"] == 800.0 and overview.loc["A", "revenue_share"] == pytest.approx(0.8)
    assert overview["customer_share"].sum() == pytest.approx(1.0)
    assert overview["margin"].sum() == pytest.approx(summary["total_margin"].sum())
    assert overview["margin_share"].sum() == pytest.approx(1.0)
    assert abc_analysis.abc_reading(overview) == "A customers: 30% of customers, 80% of revenue"
    assert "margin" not in abc_analysis.abc_overview(_summary(margin=False), abc_analysis.abc_classes_by_dimension(
        _summary(margin=False), (0.8, 0.95)))


def test_pareto_curve_runs_from_the_largest_customer():
    curve = abc_analysis.pareto_curve([10.0, 50.0, 40.0])
    np.testing.assert_allclose(curve["customer_share"], [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(curve["value_share"], [0, 0.5, 0.9, 1.0])


def test_pareto_chart_shows_gini_and_a_reading():
    summary = _summary()
    classes = abc_analysis.abc_classes_by_dimension(summary, (0.80, 0.95))
    figure = sc.pareto_chart(abc_analysis.pareto_curves(summary, classes), abc_analysis.abc_overview(summary, classes))
    axis = figure.axes[0]
    assert "A customers: 30% of customers, 80% of revenue" in axis.get_title(loc="left")
    labels = [t.get_text() for t in axis.get_legend().get_texts()]
    assert any(label.startswith("revenue (Gini 0.") for label in labels)
    assert any(label.startswith("contribution margin (Gini") for label in labels)


def test_a_customers_lists_only_a_customers_largest_first_with_names(scored):
    summary = _summary()
    classes = abc_analysis.abc_classes_by_dimension(summary, (0.80, 0.95))
    accounts = pd.DataFrame({"customer_id": ["C00", "C01"], "name": ["Alpha GmbH", "Beta KG"]})
    table = abc_analysis.a_customers(summary, classes, accounts, scored, top=2)
    assert table["customer_id"].tolist() == ["C00", "C01"]
    assert table["name"].tolist() == ["Alpha GmbH", "Beta KG"]
    assert table["rank"].tolist() == [1, 2]
    np.testing.assert_allclose(table["cumulative_share"], [0.5, 0.7])
    assert table["rfm_segment"].iloc[0] == "Champions"
    full = abc_analysis.a_customers(summary, classes)
    assert len(full) == 3 and "name" not in full and "rfm_segment" not in full


def test_class_shift_counts_every_customer_once():
    classes = abc_analysis.abc_classes_by_dimension(_summary(), (0.80, 0.95))
    shift = abc_analysis.class_shift(classes)
    assert shift.to_numpy().sum() == 10
    assert shift.loc["B", "C"] == 1  # customer 3
    assert abc_analysis.class_shift(classes.drop(columns="abc_margin")).empty


def test_segments_by_class_and_rfm_output(scored):
    classes = abc_analysis.abc_classes_by_dimension(_summary(), (0.80, 0.95))
    crosstab = abc_analysis.segments_by_class(scored, classes["abc_revenue"])
    assert crosstab["total"].sum() == 10
    assert crosstab[["A", "B", "C"]].sum().tolist() == [3, 4, 3]
    assert (crosstab["total"] > 0).all()
    out = rfm.rfm_output(scored, classes["abc_revenue"])
    assert list(out.columns) == rfm.RFM_COLUMNS
    assert len(out) == 10 and out["customer_id"].is_unique
    assert out["abc_class"].tolist() == classes["abc_revenue"].tolist()
    assert out["rfm_segment"].map(type).eq(str).all()


def test_chosen_abc_class_follows_the_basis():
    classes = abc_analysis.abc_classes_by_dimension(_summary(), (0.80, 0.95))
    values, note = abc_analysis.chosen_abc_class(classes, settings_with().abc)
    assert values.tolist() == classes["abc_revenue"].tolist() and "by revenue" in note
    by_margin = settings_with({"abc": {"basis": "margin"}}).abc
    values, note = abc_analysis.chosen_abc_class(classes, by_margin)
    assert values[3] == "C" and "margin" in note
    values, note = abc_analysis.chosen_abc_class(classes.drop(columns="abc_margin"), by_margin)
    assert values[3] == "B" and "cost is unknown" in note
    with pytest.raises(ValueError, match="abc.basis"):
        settings_with({"abc": {"basis": "profit"}})


# ---------------------------------------------------------------------------------------------- formatting
def test_report_tables_format_numbers_for_reading():
    assert money_text(1234567.8, "EUR") == "€1,234,568"
    assert money_text(float("nan"), "EUR") == "-"
    assert percent_text(0.184) == "18%"
    table = pd.DataFrame({"revenue": [1000.0], "share": [0.5], "n": [1234.5], "x": ["a"]})
    out = format_table(table, "EUR", money=["revenue"], percent=["share"], numbers={"n": 1}, rename={"x": "y"})
    assert out.iloc[0].tolist() == ["€1,000", "50%", "1,234.5", "a"]
    assert list(out.columns) == ["revenue", "share", "n", "y"]
    assert format_table(table, percent=["share"], percent_decimals=1).iloc[0]["share"] == "50.0%"
    md = markdown_table(pd.DataFrame({"a": ["x|y"], "b": [1]}), index=False)
    assert md.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |"]
