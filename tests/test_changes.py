"""What changed since last month: transitions, new and gone customers, movers, opportunities."""

import json

import matplotlib
import numpy as np
import pandas as pd

from helpers.core import artifacts as processed
from helpers.core import config, paths
from helpers.reporting import changes, report_matrix
from helpers.reporting.plots import matrix as matrix_charts

matplotlib.use("Agg")


def _segments(rows):
    return pd.DataFrame(rows, columns=["customer_id", "quadrant", "rfm_segment", "upsell_score", "growth_score",
                                       "cltv", "next_action"])


BEFORE = _segments([
    ("C1", "Stars", "Champions", 0.9, 0.9, 500.0, "QBR"),
    ("C2", "Stars", "Loyal", 0.8, 0.7, 400.0, "QBR"),
    ("C3", "Develop", "Loyal", 0.7, 0.2, 300.0, "Offer"),
    ("C4", "Maintain", "Lost", 0.1, 0.1, 10.0, "None"),
])
NOW = _segments([
    ("C1", "Stars", "Champions", 0.9, 0.9, 510.0, "QBR"),
    ("C2", "Develop", "At Risk", 0.8, 0.3, 350.0, "Call"),
    ("C3", "Develop", "At Risk", 0.7, 0.2, 280.0, "Call"),
    ("C5", "Maintain", "New Customers", 0.2, 0.3, 50.0, "Onboard"),
])


def test_movements_and_counts():
    counts = changes.movement_counts(NOW, BEFORE, "quadrant")
    assert counts == {"stayed": 2, "moved": 1, "new": 1, "gone": 1, "total": 5}


def test_transition_table_has_new_and_gone_and_adds_up():
    table = changes.transition_table(NOW, BEFORE, "quadrant", order=["Stars", "Develop", "Maintain"])
    assert list(table.index) == ["Stars", "Develop", "Maintain", "new"]
    assert list(table.columns) == ["Stars", "Develop", "Maintain", "gone"]
    assert table.loc["Stars", "Develop"] == 1 and table.loc["Stars", "Stars"] == 1
    assert table.loc["new", "Maintain"] == 1 and table.loc["Maintain", "gone"] == 1
    assert table.to_numpy().sum() == 5
    german = changes.transition_table(NOW, BEFORE, "quadrant", language="de")
    assert "neu" in german.index and "weggefallen" in german.columns


def test_movers_into_at_risk_and_out_of_the_top_quadrant():
    at_risk = changes.moved_into(NOW, BEFORE, "rfm_segment", "At Risk")
    assert at_risk["customer_id"].tolist() == ["C2", "C3"]  # largest CLTV first
    assert at_risk["before"].tolist() == ["Loyal", "Loyal"]
    assert changes.top_quadrant(NOW) == "Stars"
    left = changes.moved_out_of(NOW, BEFORE, "quadrant", "Stars")
    assert left[["customer_id", "now"]].values.tolist() == [["C2", "Develop"]]


def test_largest_opportunities_have_their_next_action():
    top = changes.largest_opportunities(NOW, top=2)
    assert top["customer_id"].tolist() == ["C1", "C2"] and "next_action" in top


def test_counts_table_with_last_month_and_group_columns():
    table = changes.counts_table(NOW.assign(level=NOW["quadrant"].str[0]), BEFORE, "quadrant", first=("level",),
                                 mean=("cltv",))
    row = table.set_index("quadrant").loc["Develop"]
    assert (row["this_month"], row["last_month"], row["change"], row["level"]) == (2, 1, 1, "D")
    assert row["mean_cltv"] == 315.0
    assert changes.counts_table(NOW, None, "quadrant").columns.tolist() == ["quadrant", "this_month"]


def test_charts_have_a_reading_and_sample_large_populations():
    table = changes.transition_table(NOW, BEFORE, "quadrant")
    counts = changes.movement_counts(NOW, BEFORE, "quadrant")
    figure = changes.transition_chart(table, "Movements", changes.transition_reading(counts, "quadrant"))
    assert "1 of 5 customers changed quadrant" in figure.axes[0].get_title(loc="left")
    big = pd.DataFrame({"customer_id": [f"C{i}" for i in range(5000)], "quadrant_key": ["develop", "maintain"] * 2500,
                        "upsell_score": np.linspace(0, 100, 5000), "growth_score": np.linspace(0, 100, 5000),
                        "likely_lost": [False] * 5000, "revenue_12m": np.arange(5000.0)})
    view = report_matrix.report_matrix_view(big, config.load_settings(), "de", moved={"C1"}, currency="EUR")
    chart = matrix_charts.matrix_chart(view)
    drawn = sum(len(c.get_offsets()) for c in chart.axes[0].collections)
    title = chart.axes[0].get_title(loc="left")
    assert drawn <= 3001 + 1 and "3.000 von 5.000 Kunden gezeichnet" in title and "in €" in title


def _prepare(root, month, frame, artifact="customer_segments", published=True):
    processed.write_artifact(frame, month, artifact)
    folder = paths.published_processed_dir(month)
    (folder / "run_info.json").write_text(json.dumps({"month": month}))
    if published:
        processed.mark_published(folder, {"run": "test"})


def test_only_published_months_are_compared_with(workbook_root):
    """A month prepared by hand (or half-built by a killed run) is never "last month"."""
    _prepare(workbook_root, "2025-10", BEFORE)
    _prepare(workbook_root, "2025-11", BEFORE.head(1), published=False)
    _prepare(workbook_root, "2025-12", NOW, published=False)
    assert changes.compare("2025-12").previous_month == "2025-10"


def test_compare_uses_the_newest_earlier_month_or_says_first_month(workbook_root):
    _prepare(workbook_root, "2025-10", BEFORE)
    first = changes.compare("2025-10")
    assert not first.available and "First month: no comparison yet" in changes.describe(first)
    _prepare(workbook_root, "2025-12", NOW)
    _prepare(workbook_root, "2020-01", BEFORE)  # too far back to be "last month"
    comparison = changes.compare("2025-12")
    assert comparison.available and comparison.previous_month == "2025-10" and comparison.column == "quadrant"
    assert "Compared with October 2025" in changes.describe(comparison)
    assert changes.moved_ids(comparison) == {"C2"}
    assert changes.previous_month("2025-10") is None


def test_compare_falls_back_to_rfm_and_ignores_another_data_set(workbook_root):
    _prepare(workbook_root, "2025-11", BEFORE[["customer_id", "rfm_segment"]], "rfm")
    _prepare(workbook_root, "2025-12", NOW[["customer_id", "rfm_segment"]], "rfm")
    comparison = changes.compare("2025-12")
    assert comparison.column == "rfm_segment" and comparison.available
    _prepare(workbook_root, "2025-11", BEFORE.assign(customer_id=["X1", "X2", "X3", "X4"])[["customer_id", "rfm_segment"]],
             "rfm")
    assert not changes.compare("2025-12").available
    assert changes.compare("2024-01").current is None


def test_likely_lost_customers_are_no_opportunity_and_groups_show_their_common_value():
    frame = NOW.assign(p_alive=[0.9, 0.1, 0.8, 0.7])
    assert "C2" not in changes.largest_opportunities(frame)["customer_id"].tolist()
    mixed = NOW.assign(level=["QBR", "Call", "Review", "Review"], quadrant=["A", "B", "B", "B"])
    mixed.loc[1, "level"] = "Lost"
    table = changes.counts_table(mixed, None, "quadrant", first=("level",)).set_index("quadrant")
    assert table.loc["B", "level"] == "Review"


def test_the_top_quadrant_is_develop_by_its_key_whatever_the_scores():
    """A review found CDNOW's report calling Expand the top quadrant (its scores ranked higher): with quadrant
    keys the top quadrant is the one keyed develop."""
    frame = pd.DataFrame({"customer_id": ["a", "b"], "quadrant": ["Entwickeln", "Ausbauen"],
                          "quadrant_key": ["develop", "expand"], "upsell_score": [10.0, 90.0],
                          "growth_score": [10.0, 90.0]})
    assert changes.top_quadrant(frame) == "Entwickeln"
    assert changes.top_quadrant(frame.drop(columns="quadrant_key")) == "Ausbauen"
