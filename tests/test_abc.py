"""ABC classes, Lorenz curve and Gini."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.segmentation.abc_analysis import abc_classes, abc_summary, gini, lorenz_curve


def test_hand_example_crossing_customer_goes_to_earlier_class():
    values = pd.Series([10.0, 50.0, 40.0], index=["c", "a", "b"])
    # a: 0% -> 50% (A); b: 50% -> 90%, crosses 80% -> A; c: starts at 90% < 95% -> B
    assert abc_classes(values).to_dict() == {"c": "B", "a": "A", "b": "A"}


def test_hand_example_ten_customers():
    values = pd.Series([500, 200, 100, 60, 40, 30, 30, 20, 10, 10], dtype="float64")  # total 1000
    classes = abc_classes(values)
    # shares before: 0, .5, .7 (A) | .8, .86, .90 (B) | .93, .93 ties (B: both start where the first starts)
    # | .99 (C) ...
    assert classes.tolist() == ["A", "A", "A", "B", "B", "B", "B", "C", "C", "C"]


def test_exact_cutoff_goes_to_the_next_class():
    values = pd.Series([80.0, 15.0, 5.0])
    assert abc_classes(values).tolist() == ["A", "B", "C"]


def test_ties_get_the_same_class_regardless_of_order():
    values = pd.Series([70.0, 10.0, 10.0, 10.0])
    assert abc_classes(values).tolist() == ["A", "A", "A", "A"]
    assert abc_classes(values[::-1]).sort_index().tolist() == ["A", "A", "A", "A"]


def test_non_positive_and_missing_values_are_c():
    values = pd.Series([100.0, 0.0, -20.0, np.nan])
    assert abc_classes(values).tolist() == ["A", "C", "C", "C"]
    assert abc_classes(pd.Series([0.0, -1.0])).tolist() == ["C", "C"]
    assert abc_classes(pd.Series([], dtype="float64")).empty


def test_cutoffs_are_checked():
    with pytest.raises(ValueError):
        abc_classes(pd.Series([1.0]), cutoffs=(0.95, 0.8))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-100, max_value=1e5, allow_nan=False), min_size=1, max_size=80))
def test_property_classes_are_monotone_and_a_covers_80_percent(values):
    s = pd.Series(values)
    classes = abc_classes(s)
    rank = classes.map({"A": 0, "B": 1, "C": 2})
    order = s.sort_values(ascending=False, kind="mergesort").index
    assert rank[order].is_monotonic_increasing
    positive = s[s > 0].sum()
    if positive > 0:
        assert s[classes == "A"].sum() >= 0.8 * positive - 1e-6 * positive
        assert (s[classes != "C"].sum()) >= 0.95 * positive - 1e-6 * positive
        assert classes[s.idxmax()] == "A"


def test_lorenz_curve_and_gini_extremes():
    equal = [5.0] * 10
    curve = lorenz_curve(equal)
    assert curve.iloc[0].tolist() == [0.0, 0.0] and curve.iloc[-1].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(curve["value_share"], curve["customer_share"])
    assert gini(equal) == pytest.approx(0.0, abs=1e-12)
    one_has_all = [0.0] * 999 + [100.0]
    assert gini(one_has_all) == pytest.approx(0.999)
    assert gini([1.0, 3.0]) == pytest.approx(0.25)  # (|1-3| * 2) / (2 * 2^2 * mean 2)
    assert gini([]) == 0.0
    assert gini([0.0, 0.0]) == 0.0


def test_abc_summary_for_revenue_and_margin():
    df = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "total_revenue": [500.0, 300.0, 100.0, 50.0, 40.0, 10.0],
            "total_margin": [100.0, 150.0, np.nan, 20.0, -30.0, 5.0],
        }
    )
    rev = abc_summary(df, "total_revenue").set_index("abc_class")
    assert rev.index.tolist() == ["A", "B", "C"]
    assert rev["customers"].tolist() == [2, 2, 2]  # shares before: a 0, b .5 (A) | c .8, d .9 (B) | e .95, f .99 (C)
    assert rev["value"].sum() == pytest.approx(1000.0)
    assert rev["value_share"].sum() == pytest.approx(1.0) and rev["customer_share"].sum() == pytest.approx(1.0)
    assert rev.loc["A", "value"] == 800.0
    margin = abc_summary(df, "total_margin").set_index("abc_class")
    # positive margin total 275: b 150 (A), a 100 (A: starts at 54.5%), d 20 (starts at 90.9% -> B), f 5 (C)
    assert margin.loc["A", "customers"] == 2 and margin.loc["A", "value"] == 250.0
    assert margin.loc["B", "customers"] == 1
    assert margin.loc["C", "customers"] == 3  # f, the unknown margin and the loss-making customer
    assert margin.loc["C", "value"] == pytest.approx(5.0 - 30.0)


def test_abc_summary_keeps_empty_classes():
    table = abc_summary(pd.DataFrame({"v": [100.0]}), "v")
    assert table["abc_class"].tolist() == ["A", "B", "C"]
    assert table["customers"].tolist() == [1, 0, 0]
