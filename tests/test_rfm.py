"""RFM table, rank scores and the segment table in config/rfm_segments.yaml."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.segmentation import rfm


@pytest.fixture(scope="module")
def rules() -> rfm.SegmentRules:
    return rfm.load_segment_rules()  # the real config file


def _summary(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    first = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 100, n), unit="D")
    last = first + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    days = rng.integers(1, 20, n)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "first_purchase": first,
            "last_purchase": last,
            "purchase_days": days,
            "total_revenue": rng.gamma(2.0, 100.0, n).round(2),
        }
    )


# ------------------------------------------------------------------------------------------ table
def test_rfm_table_columns_and_recency():
    summary = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "last_purchase": pd.to_datetime(["2024-06-30 00:00", "2024-06-01 15:30"]),
            "purchase_days": [3, 1],
            "total_revenue": [300.0, 20.0],
        }
    )
    table = rfm.rfm_table(summary, "2024-07-01")
    assert list(table.columns) == ["customer_id", "recency_days", "frequency", "monetary"]
    assert table["recency_days"].tolist() == [1, 30]
    assert table["frequency"].tolist() == [3, 1]
    assert table["monetary"].tolist() == [300.0, 20.0]
    assert rfm.rfm_table(summary)["recency_days"].tolist() == [0, 29]  # default: latest last purchase
    with pytest.raises(ValueError, match="before"):
        rfm.rfm_table(summary, "2024-06-15")


# ------------------------------------------------------------------------------------------ scores
def test_scores_for_seven_customers():
    assert rfm.score_quantiles([10, 20, 30, 40, 50, 60, 70]).tolist() == [1, 2, 3, 3, 4, 5, 5]
    assert rfm.score_quantiles([10, 20, 30, 40, 50, 60, 70], higher_is_better=False).tolist() == [5, 5, 4, 3, 3, 2, 1]


def test_single_customer_scores():
    assert rfm.score_quantiles([42.0]).tolist() == [5]
    assert rfm.score_quantiles([42.0], higher_is_better=False).tolist() == [5]


def test_ties_get_equal_scores():
    scores = rfm.score_quantiles(pd.Series([5, 1, 5, 5, 2, 1]))
    assert scores[0] == scores[2] == scores[3]
    assert scores[1] == scores[5]
    assert scores[1] < scores[4] < scores[0]
    assert rfm.score_quantiles([3, 3, 3, 3]).nunique() == 1


def test_scores_keep_index_and_refuse_nan():
    s = pd.Series([3.0, 1.0], index=["x", "y"])
    assert rfm.score_quantiles(s).index.tolist() == ["x", "y"]
    with pytest.raises(ValueError, match="NaN"):
        rfm.score_quantiles([1.0, np.nan])


def test_scores_are_quintiles_on_a_large_base():
    scores = rfm.score_quantiles(np.arange(1000))
    assert scores.value_counts().sort_index().tolist() == [200] * 5


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60),
    st.booleans(),
)
def test_property_scores_in_range_and_monotone(values, higher_is_better):
    scores = rfm.score_quantiles(values, higher_is_better=higher_is_better).to_numpy()
    assert scores.min() >= 1 and scores.max() <= 5
    v = np.asarray(values)
    for i, j in itertools.combinations(range(len(v)), 2):
        if v[i] == v[j]:
            assert scores[i] == scores[j]
        elif (v[i] > v[j]) == higher_is_better:
            assert scores[i] >= scores[j]
        else:
            assert scores[i] <= scores[j]


# ------------------------------------------------------------------------------------------ segments
def test_real_config_maps_every_code_to_exactly_one_segment(rules):
    assert sorted(rules.code_to_segment) == sorted(rfm.ALL_CODES)
    assert len(rules.code_to_segment) == 125
    for code in rfm.ALL_CODES:
        r, f, m = (int(c) for c in code)
        assert sum(s.matches(r, f, m) for s in rules.segments) == 1, code
    assert set(rules.code_to_segment.values()) == set(rfm.SEGMENT_NAMES)
    assert rules.order == list(rfm.SEGMENT_NAMES)


def test_real_config_follows_the_common_rules(rules):
    lookup = rules.code_to_segment
    assert lookup["555"] == lookup["544"] == lookup["455"] == "Champions"
    assert lookup["111"] == "Lost"
    assert lookup["155"] == "Can't Lose Them"
    assert lookup["511"] == "New Customers"
    assert lookup["411"] == "Promising"
    assert lookup["255"] == "At Risk"
    assert lookup["211"] == "Hibernating"


def test_every_segment_has_english_and_german_texts(rules):
    for lang in ("en", "de"):
        texts = rules.describe(lang)
        assert len(texts) == 11
        assert texts["meaning"].str.len().gt(10).all() and texts["action"].str.len().gt(10).all()
    assert rules.describe("en")["meaning"].tolist() != rules.describe("de")["meaning"].tolist()
    assert rules.describe("en")["codes"].sum() == 125


def _write(tmp_path: Path, content: dict) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def test_gaps_and_overlaps_are_named(tmp_path, rules):
    content = yaml.safe_load(Path(rules.path).read_text(encoding="utf-8"))
    by_name = {s["name"]: s for s in content["segments"]}
    by_name["Lost"]["rules"] = [{"r": [1, 1], "fm": [1, 2]}]  # drops fm 2.5 at r=1 -> gaps
    by_name["Champions"]["rules"] = [{"r": [3, 5], "fm": [4, 5]}]  # overlaps Loyal at r=3
    with pytest.raises(rfm.SegmentRulesError) as err:
        rfm.load_segment_rules(_write(tmp_path, content))
    message = str(err.value)
    assert "map to no segment: 123, 132, 114, 141" in message or "map to no segment" in message
    for code in ("123", "132", "114", "141"):
        assert code in message.split("several")[0]
    assert "several segments" in message and "344 (Champions / Loyal)" in message


def test_malformed_rules_are_refused(tmp_path):
    bad = {"segments": [{"name": "X", "rules": [{"r": [5, 1]}], "meaning": {"en": "a", "de": "b"},
                         "action": {"en": "a", "de": "b"}}]}
    with pytest.raises(rfm.SegmentRulesError, match="low > high"):
        rfm.load_segment_rules(_write(tmp_path, bad))
    bad["segments"][0]["rules"] = [{"x": [1, 5]}]
    with pytest.raises(rfm.SegmentRulesError, match="unknown key"):
        rfm.load_segment_rules(_write(tmp_path, bad))
    bad["segments"][0]["rules"] = [{"r": [1, 5]}]
    del bad["segments"][0]["action"]["de"]
    with pytest.raises(rfm.SegmentRulesError, match="'action'"):
        rfm.load_segment_rules(_write(tmp_path, bad))


def test_single_catch_all_segment_is_valid(tmp_path):
    ok = {"segments": [{"name": "All", "rules": [{}], "meaning": {"en": "a", "de": "b"},
                        "action": {"en": "a", "de": "b"}}]}
    assert set(rfm.load_segment_rules(_write(tmp_path, ok)).code_to_segment.values()) == {"All"}


@pytest.mark.parametrize("n", [1, 7, 500])
def test_assign_segments_on_small_and_large_bases(rules, n):
    summary = _summary(n)
    scored = rfm.assign_segments(rfm.rfm_table(summary, "2024-12-31"), rules)
    for col in ("r_score", "f_score", "m_score"):
        assert scored[col].between(1, 5).all()
    assert scored["rfm_code"].str.fullmatch(r"[1-5]{3}").all()
    assert scored["rfm_segment"].notna().all()
    expected = [rules.code_to_segment[c] for c in scored["rfm_code"]]
    assert scored["rfm_segment"].astype(str).tolist() == expected
    summary_table = rfm.segment_summary(scored, rules)
    assert summary_table["customers"].sum() == n
    assert summary_table["revenue"].sum() == pytest.approx(summary["total_revenue"].sum())


def test_assign_segments_best_and_worst_customer(rules):
    summary = pd.DataFrame(
        {
            "customer_id": [str(i) for i in range(10)],
            "last_purchase": pd.date_range("2024-01-01", periods=10, freq="7D"),
            "purchase_days": range(1, 11),
            "total_revenue": np.arange(1, 11) * 100.0,
        }
    )
    scored = rfm.assign_segments(rfm.rfm_table(summary), rules).set_index("customer_id")
    assert scored.loc["9", "rfm_code"] == "555" and scored.loc["9", "rfm_segment"] == "Champions"
    assert scored.loc["0", "rfm_code"] == "111" and scored.loc["0", "rfm_segment"] == "Lost"
