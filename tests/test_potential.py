"""The potential matrix: components, scores, quadrants, service levels, the CDNOW fallback and reasons."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core import config
from helpers.features import transaction_queries
from helpers.potential import funnel, service_levels, summaries
from helpers.potential import points as potential_points
from helpers.potential import scoring as potential

AS_OF = "2025-12-31"


def _summary(ids, purchase_days=12, last="2025-12-01"):
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "first_purchase": pd.to_datetime(["2024-01-05"] * n),
            "last_purchase": pd.to_datetime([last] * n),
            "purchase_days": [purchase_days] * n,
            "frequency": [float(purchase_days - 1)] * n,
            "total_revenue": [24000.0] * n,
            "total_margin": [9600.0] * n,
        }
    )


def _transactions(revenue_12m: dict):
    rows = []
    for cid, total in revenue_12m.items():
        for m in range(1, 13):
            rows.append((cid, pd.Timestamp(2025, m, 1), total / 12.0))
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def hand_made():
    """Eight clients of one funnel type and size band, two per quadrant a person would name:

    - gap_grow_*: buy one service of eight, spend a tenth of their budget with us, grow +30% -> Develop
    - gap_shrink_*: the same gaps and headroom, but shrinking -15% and fading -> Expand
    - full_grow_*: buy everything, spend their whole budget with us, grow +30% -> Grow with
    - full_shrink_*: buy everything, whole budget, shrinking -> Maintain
    """
    groups = {"gap_grow": (False, True), "gap_shrink": (False, False), "full_grow": (True, True),
              "full_shrink": (True, False)}
    ids, accounts, services, revenue, cltv = [], [], [], {}, []
    for group, (full, growing) in groups.items():
        for i in (1, 2):
            cid = f"{group}_{i}"
            ids.append(cid)
            accounts.append({"customer_id": cid, "name": f"{group.title()} {i} GmbH", "funnel_type": "retail",
                             "employees": 40, "marketing_budget": 100000.0,
                             "yoy_growth": 0.30 if growing else -0.15})
            cells = funnel.CELLS if full else [("see", "operations")]
            services += [{"customer_id": cid, "funnel_stage": s, "service_kind": k, "channel": "google",
                          "active": True} for s, k in cells]
            revenue[cid] = 100000.0 if full else 10000.0
            past = revenue[cid] * 0.4
            next_value = past * (1.3 if growing else 0.6)
            cltv.append({"customer_id": cid, "cltv": next_value, "p_alive": 0.97 if growing else 0.5})
    return potential.PotentialInputs(
        summary=_summary(ids),
        transactions=_transactions(revenue),
        cltv=pd.DataFrame(cltv),
        accounts=pd.DataFrame(accounts),
        service_map=pd.DataFrame(services),
        as_of=AS_OF,
    )


SETTINGS = config.settings_with({"currency": "EUR", "potential": {"min_peers": 1}})


def test_hand_made_clients_land_where_a_person_would_put_them():
    result = potential.score_customers(hand_made(), SETTINGS)
    table = result.table.set_index("customer_id")
    expected = {"gap_grow": "develop", "gap_shrink": "expand", "full_grow": "grow_with", "full_shrink": "maintain"}
    for group, quadrant in expected.items():
        for i in (1, 2):
            assert table.loc[f"{group}_{i}", "quadrant_key"] == quadrant, group
    assert table.loc["gap_grow_1", "quadrant"] == "Develop"
    assert "QBR" in table.loc["gap_grow_1", "service_level"] and "8 h/month" in table.loc["gap_grow_1", "service_level"]
    # the full clients are the big ones (class A by expected value): Maintain keeps them as a quadrant, the
    # attention floor lifts their service level
    assert table.loc["full_shrink_1", "lead_action"] == "Standard care"
    assert table.loc["full_shrink_1", "attention_key"] == "protect"
    assert table.loc["full_shrink_1", "next_action"].startswith("Protect the relationship")
    assert result.components_used["upsell"] == ["whitespace", "budget_headroom", "cltv_headroom", "frequency"]
    assert not result.fallback
    assert result.counts().to_dict() == {"develop": 2, "expand": 2, "grow_with": 2, "maintain": 2, "win_back": 0}


def test_budget_headroom_and_growth_components():
    table = potential.score_customers(hand_made(), SETTINGS).table.set_index("customer_id")
    assert table.loc["gap_grow_1", "budget_headroom"] == pytest.approx(0.9)
    assert table.loc["full_grow_1", "budget_headroom"] == pytest.approx(0.0)
    assert table.loc["gap_grow_1", "points_budget_headroom"] == pytest.approx(90.0)
    # +30% growth on the range -20%..+40% -> 83.3 points
    assert table.loc["gap_grow_1", "points_yoy_growth"] == pytest.approx(50 / 0.6, rel=1e-6)
    assert table.loc["gap_grow_1", "cltv_vs_past"] > 0 > table.loc["gap_shrink_1", "cltv_vs_past"]


def test_reasons_name_the_gap_and_the_headroom():
    result = potential.score_customers(hand_made(), SETTINGS)
    table = result.table.set_index("customer_id")
    reason = table.loc["gap_grow_1", "reasons"]
    assert "whitespace in" in reason and "of peers" in reason
    assert "budget headroom 90% of €100,000" in reason
    assert "growing +30% a year" in reason
    assert "See/operations" not in reason  # the one cell the client has is no gap
    assert "shrinking -15% a year" in table.loc["full_shrink_1", "reasons"]


def test_reason_names_the_missing_cell_all_peers_buy():
    services = [{"customer_id": c, "funnel_stage": "think", "service_kind": "consulting", "active": True}
                for c in ("P1", "P2", "P3")]
    services += [{"customer_id": c, "funnel_stage": "see", "service_kind": "operations", "active": True}
                 for c in ("P1", "P2", "P3", "X")]
    ids = ["P1", "P2", "P3", "X"]
    inputs = potential.PotentialInputs(summary=_summary(ids), transactions=_transactions({c: 1000.0 for c in ids}),
                                       service_map=pd.DataFrame(services), as_of=AS_OF)
    table = potential.score_customers(inputs, SETTINGS).table.set_index("customer_id")
    assert table.loc["X", "whitespace_gaps"][0] == ("think_consulting", 1.0)
    assert "whitespace in Think/consulting (100% of peers)" in table.loc["X", "reasons"]
    assert table.loc["X", "upsell_score"] > table.loc["P1", "upsell_score"]


def test_german_texts():
    table = potential.score_customers(hand_made(), SETTINGS, language="de").table.set_index("customer_id")
    assert table.loc["gap_grow_1", "quadrant"] == "Entwickeln"
    assert "Std./Monat" in table.loc["gap_grow_1", "service_level"]
    assert "Budgetspielraum 90 % von 100.000 €" in table.loc["gap_grow_1", "reasons"]
    assert table.loc["full_shrink_1", "quadrant"] == "Betreuen"


def test_cdnow_like_input_falls_back_to_behaviour_and_says_so():
    rng = np.random.default_rng(3)
    ids = [str(i) for i in range(1, 201)]
    summary = _summary(ids)
    summary["purchase_days"] = rng.integers(1, 10, size=200)
    summary["frequency"] = summary["purchase_days"] - 1.0
    summary["last_purchase"] = pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 360, 200), unit="D")
    summary = summary.drop(columns="total_margin")
    cltv = pd.DataFrame({"customer_id": ids, "cltv": rng.gamma(2.0, 20.0, 200), "p_alive": rng.uniform(0, 1, 200)})
    inputs = potential.PotentialInputs(summary=summary, transactions=_transactions({c: 50.0 for c in ids[:100]}),
                                       cltv=cltv, as_of=AS_OF)
    result = potential.score_customers(inputs, config.settings_with(currency="USD"))
    assert result.fallback
    assert result.components_used == {"upsell": ["cltv_headroom", "frequency"],
                                      "growth": ["cltv_vs_past", "p_alive", "recency"]}
    assert sum(result.weights_used["upsell"].values()) == pytest.approx(1.0)
    assert result.weights_used["upsell"]["cltv_headroom"] == pytest.approx(2 / 3)
    assert "whitespace" in result.notes[0] and "yoy_growth" in result.notes[0]
    assert "cltv_headroom" in result.components_text()
    table = result.table
    assert len(table) == 200 and table["quadrant_key"].notna().all()
    assert table["upsell_score"].between(0, 100).all() and table["growth_score"].between(0, 100).all()
    assert (table["reasons"].str.len() > 0).all()
    summary_table = summaries.quadrant_summary(result, config.settings_with(currency="USD"))
    assert summary_table["customers"].sum() == 200


def test_without_cltv_only_rfm_behaviour_remains():
    ids = ["a", "b", "c"]
    summary = _summary(ids)
    summary["purchase_days"] = [1, 5, 9]
    summary["last_purchase"] = pd.to_datetime(["2025-01-01", "2025-06-01", "2025-12-01"])
    result = potential.score_customers(potential.PotentialInputs(summary=summary, as_of=AS_OF))
    assert result.components_used == {"upsell": ["frequency"], "growth": ["recency"]}
    table = result.table.set_index("customer_id")
    assert table.loc["c", "quadrant_key"] == "develop" and table.loc["a", "quadrant_key"] == "maintain"


def test_likely_lost_get_the_retention_call_and_stay_out_of_the_median():
    inputs = hand_made()
    inputs.cltv.loc[inputs.cltv["customer_id"] == "gap_shrink_1", "p_alive"] = 0.05
    result = potential.score_customers(inputs, SETTINGS)
    table = result.table.set_index("customer_id")
    assert table.loc["gap_shrink_1", "likely_lost"] and table.loc["gap_shrink_1", "quadrant_key"] == "win_back"
    assert table.loc["gap_shrink_1", "quadrant"] == "Win back"
    assert table.loc["gap_shrink_1", "next_action"].startswith("Retention call")
    assert "0.5 h/month" in table.loc["gap_shrink_1", "service_level"]
    assert table.loc["gap_shrink_1", "reasons"].startswith("likely lost: P(alive) 5%")
    live = table[~table["likely_lost"]]
    assert result.thresholds["growth"] == pytest.approx(live["growth_score"].median())
    assert "retention call" in " ".join(result.notes)
    summary = summaries.quadrant_summary(result, SETTINGS).set_index("quadrant_key")
    # the likely lost are not in a quadrant: counts and shares of the four are of the live clients
    assert summary.loc["win_back", "customers"] == 1
    assert summary.loc[list(service_levels.QUADRANT_POSITIONS), "customers"].sum() == len(table) - 1
    assert summary.loc[list(service_levels.QUADRANT_POSITIONS), "share"].sum() == pytest.approx(1.0)
    assert summary["customers"].sum() == len(table)


def test_no_repeat_purchase_p_alive_of_one_is_no_evidence():
    inputs = hand_made()
    inputs.summary.loc[0, "frequency"] = 0.0
    inputs.cltv.loc[0, "p_alive"] = 1.0
    table = potential.score_customers(inputs, SETTINGS).table
    assert np.isnan(table.loc[0, "points_p_alive"])
    assert not np.isnan(table.loc[1, "points_p_alive"])


def test_numeric_thresholds_and_settings_checks():
    result = potential.score_customers(hand_made(), config.settings_with(
        {"potential": {"min_peers": 1, "thresholds": {"upsell": 100, "growth": 0}}}))
    assert result.thresholds == {"upsell": 100.0, "growth": 0.0}
    assert set(result.table["quadrant_key"]) == {"grow_with"}  # nobody reaches 100, everybody 0
    with pytest.raises(config.ConfigError, match="unknown key 'potential.weights.upsell.charm'"):
        config.settings_with({"potential": {"weights": {"upsell": {"charm": 1.0}}}})
    with pytest.raises(config.ConfigError, match="median"):
        config.settings_with({"potential": {"thresholds": {"growth": "mean"}}})
    with pytest.raises(config.ConfigError, match="0-100"):
        config.settings_with({"potential": {"thresholds": {"upsell": 101}}})


def test_yaml_and_defaults_agree():
    settings = config.load_settings()
    shipped = config.read_yaml(config.shipped_settings_file())
    assert settings.as_dict()["potential"] == shipped["potential"]
    assert settings.as_dict()["qualification"] == shipped["qualification"]
    table = service_levels.quadrant_table(settings, "de")
    assert len(table) == 4 and table["quadrant"].str.len().gt(0).all()


def test_peer_groups_fall_back_when_small():
    accounts = pd.DataFrame({"customer_id": list("abcdefg"), "funnel_type": ["retail"] * 6 + ["lead_gen"],
                             "employees": [20, 20, 20, 20, 20, 500, 20]})
    groups = potential_points.peer_groups(pd.Index(list("abcdefg")), accounts,
                                          config.settings_with({"potential": {"min_peers": 3}}).potential)
    assert groups["a"] == "retail / 10-49"
    assert groups["f"] == "retail"  # alone in its band, five others of its funnel type
    assert groups["g"] == "all"


def test_rank_points():
    points = potential_points.rank_points(pd.Series([3.0, 1.0, 2.0, 2.0, np.nan]))
    assert list(points.iloc[:4]) == [100.0, 0.0, 50.0, 50.0] and np.isnan(points.iloc[4])
    assert potential_points.rank_points(pd.Series([7.0])).iloc[0] == 50.0


# ---- monotonicity ---------------------------------------------------------------------------------
points_strategy = st.floats(0, 100, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(points_strategy, min_size=4, max_size=4), min_size=1, max_size=6),
       st.lists(st.floats(0.01, 5), min_size=4, max_size=4), st.integers(0, 3), st.floats(0, 100))
def test_score_is_monotone_in_each_component(rows, weights, component, bump):
    names = ["a", "b", "c", "d"]
    points = pd.DataFrame(rows, columns=names)
    w = dict(zip(names, weights, strict=True))
    before = potential_points.weighted_score(points, w)
    higher = points.copy()
    higher.iloc[0, component] = max(higher.iloc[0, component], bump)
    after = potential_points.weighted_score(higher, w)
    assert after.iloc[0] >= before.iloc[0] - 1e-9
    assert ((0 <= after) & (after <= 100 + 1e-9)).all()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["whitespace", "budget_headroom", "cltv_headroom", "frequency", "yoy_growth",
                        "cltv_vs_past", "p_alive"]),
       st.lists(st.floats(-0.5, 3.0, allow_nan=False), min_size=2, max_size=8), st.floats(0, 2))
def test_points_are_monotone_in_the_raw_value(name, values, bump):
    config_ = service_levels.potential_settings()
    raw = pd.Series(values)
    higher = raw.copy()
    higher.iloc[0] += bump
    assert potential_points.component_points(name, higher, config_).iloc[0] >= (
        potential_points.component_points(name, raw, config_).iloc[0] - 1e-9)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 7), st.floats(0.0, 1.0), st.floats(0, 200000))
def test_end_to_end_scores_are_monotone(client, growth_bump, budget_bump):
    base = hand_made()
    before = potential.score_customers(base, SETTINGS).table
    changed = hand_made()
    changed.accounts.loc[client, "yoy_growth"] += growth_bump
    changed.accounts.loc[client, "marketing_budget"] += budget_bump
    after = potential.score_customers(changed, SETTINGS).table
    assert after.loc[client, "growth_score"] >= before.loc[client, "growth_score"] - 1e-9
    assert after.loc[client, "upsell_score"] >= before.loc[client, "upsell_score"] - 1e-9


def test_dropping_a_service_never_lowers_the_upsell_score():
    base = hand_made()
    before = potential.score_customers(base, SETTINGS).table.set_index("customer_id")
    changed = hand_made()
    sm = changed.service_map
    drop = sm.index[(sm["customer_id"] == "full_grow_1") & (sm["funnel_stage"] == "care")]
    changed.service_map = sm.drop(index=drop)
    after = potential.score_customers(changed, SETTINGS).table.set_index("customer_id")
    assert after.loc["full_grow_1", "whitespace"] > before.loc["full_grow_1", "whitespace"]
    assert after.loc["full_grow_1", "upsell_score"] >= before.loc["full_grow_1", "upsell_score"]


def test_cltv_headroom_counts_only_while_the_customer_is_alive():
    """Two customers with the same gap to strong peers: the one likely gone has less upsell potential."""
    ids = [str(i) for i in range(1, 11)]
    cltv = pd.DataFrame({"customer_id": ids, "cltv": [10.0, 10.0] + [100.0] * 8,
                         "p_alive": [0.95, 0.25] + [0.9] * 8})
    inputs = potential.PotentialInputs(summary=_summary(ids), transactions=_transactions({c: 50.0 for c in ids}),
                                       cltv=cltv, as_of=AS_OF)
    table = potential.score_customers(inputs, config.settings_with(currency="EUR")).table.set_index("customer_id")
    assert table.loc["1", "cltv_headroom"] == pytest.approx(90.0 * 0.95)
    assert table.loc["2", "cltv_headroom"] == pytest.approx(90.0 * 0.25)
    assert table.loc["1", "upsell_score"] > table.loc["2", "upsell_score"]


def _revenue_spec(transactions: pd.DataFrame, ids: pd.Index, as_of) -> pd.Series:
    """Revenue of the last 12 months as written down: the amounts after the day 12 months before, up to
    23:59 of the last day, summed per customer id (as text) with pandas; 0 without any."""
    dates = pd.to_datetime(transactions["date"])
    end = pd.Timestamp(as_of).normalize() if as_of is not None else dates.max().normalize()
    window = transactions[(dates > end - pd.DateOffset(months=12)) & (dates <= end + pd.Timedelta(hours=23, minutes=59))]
    revenue = window.groupby(window["customer_id"].astype(str))["amount"].sum()
    return revenue.reindex(ids, fill_value=0.0).astype("float64")


def test_revenue_of_12_months_from_a_frame_or_a_parquet_file(tmp_path):
    rng = np.random.default_rng(11)
    n = 20_000
    customers = [f"C{i:04d}" for i in range(400)]
    transactions = pd.DataFrame({
        "customer_id": rng.choice([*customers, "not in the summary"], size=n),
        "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 730 * 24 * 60, size=n), unit="min"),
        # cents of all sizes, in an order that makes the sums depend on how they are added up
        "amount": np.round(rng.lognormal(3, 3, size=n) * rng.choice([1, -1, 1, 1], size=n), 2),
        "order_id": [f"O{i}" for i in range(n)],
    })
    transactions.loc[rng.random(n) < 0.01, "amount"] = np.nan
    # the window's edges: the day 12 months before is out, 23:59 of the last day in, 23:59:30 out
    edges = pd.DataFrame({"customer_id": "C0000", "amount": [1000.0, 2000.0, 4000.0, 8000.0, 16000.0],
                          "date": pd.to_datetime(["2024-06-30 12:00:00", "2024-07-01 00:00:00", "2025-06-30 23:59:00",
                                                  "2025-06-30 23:59:30", "2025-07-01 00:00:00"]), "order_id": "edge"})
    transactions = pd.concat([transactions, edges], ignore_index=True)
    path = tmp_path / "transactions.parquet"
    transactions.to_parquet(path, index=False)
    ids = pd.Index([*customers[::-1], "C9998", "C9999"], name="customer_id")  # two without a transaction
    for as_of in ("2025-06-30", "2024-09-15", None):
        expected = _revenue_spec(transactions, ids, as_of)
        for source in (transactions, path, str(path)):
            got = transaction_queries.revenue_12m_by_customer(source, ids, as_of)
            pd.testing.assert_series_equal(got, expected, check_exact=True, check_names=False)
    assert transaction_queries.revenue_12m_by_customer(transactions.iloc[:0], ids, None).eq(0.0).all()
    transactions.iloc[:0].to_parquet(tmp_path / "none.parquet", index=False)
    assert transaction_queries.revenue_12m_by_customer(tmp_path / "none.parquet", ids, None).eq(0.0).all()


def test_scores_from_a_transactions_file_equal_those_from_the_frame(tmp_path):
    inputs = hand_made()
    path = tmp_path / "transactions.parquet"
    inputs.transactions.to_parquet(path, index=False)
    from_frame = potential.score_customers(inputs, SETTINGS).table
    inputs.transactions = path
    pd.testing.assert_frame_equal(potential.score_customers(inputs, SETTINGS).table, from_frame)


def test_top_opportunities_are_the_develop_and_expand_customers_by_money_at_stake():
    rng = np.random.default_rng(4)
    n = 3000
    table = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)],
        "quadrant_key": rng.choice(list(service_levels.QUADRANT_POSITIONS), size=n),
        "likely_lost": rng.random(n) < 0.1,
        "value_at_stake": rng.choice([5.0, 500.0, np.nan], size=n),
        "upsell_score": rng.choice([40.0, 60.0, 75.5, 90.0], size=n),  # many ties, broken by the next keys
        "growth_score": rng.choice([10.0, 55.0, np.nan], size=n),
        "revenue_12m": rng.choice([0.0, 100.0, 2500.0], size=n),
    }, index=pd.RangeIndex(10, 10 + n))
    table["quadrant_key"] = table["quadrant_key"].where(~table["likely_lost"], "win_back")
    result = potential.PotentialResult(table=table)
    spec = table[table["quadrant_key"].isin(["develop", "expand"])]
    # the money at stake first, both quadrants together; ties of it go to the larger upsell score, ...
    spec = spec.sort_values(["value_at_stake", "upsell_score", "growth_score", "revenue_12m"], ascending=False,
                            kind="stable", na_position="last")
    for n_top in (15, 0, len(spec) + 5):
        pd.testing.assert_frame_equal(summaries.top_opportunities(result, n_top), spec.head(n_top))
        pd.testing.assert_frame_equal(summaries.top_opportunities(table, n_top), spec.head(n_top))
    maintain = summaries.top_opportunities(result, 5, quadrants=("maintain",))
    assert set(maintain["quadrant_key"]) == {"maintain"} and not maintain["likely_lost"].any()


# ------------------------------------------------------------------------ lost apart, floor, profiles
def test_the_attention_floor_lifts_live_a_clients_and_says_why():
    """A live client of class A by expected value never gets fewer hours than the floor; its quadrant stays."""
    result = potential.score_customers(hand_made(), SETTINGS)
    table = result.table
    floor = SETTINGS.potential.attention_floor
    is_a = (table["value_class"] == "A") & ~table["likely_lost"]
    assert is_a.any() and (table.loc[is_a, "hours_per_month"] >= floor["hours_per_month"]).all()
    protected = table["attention_key"] == "protect"
    # exactly the A clients of the quadrants with fewer hours, nobody else
    expected = is_a & table["quadrant_key"].isin(floor["lifts"])
    assert protected.equals(expected) and protected.any()
    assert (table.loc[protected, "attention"] == "Protect").all()
    assert table.loc[protected, "reasons"].str.startswith("A client by expected value (the first 80%").all()
    assert set(table.loc[protected, "quadrant_key"]) <= {"grow_with", "maintain"}
    # the value class is the ABC rule on the live clients' expected value (cltv)
    from helpers.segmentation.abc_analysis import abc_classes
    live_value = table["cltv"].where(~table["likely_lost"])
    assert table["value_class"].tolist() == abc_classes(live_value, SETTINGS.abc.cutoffs).tolist()
    hours = summaries.attention_summary(result, SETTINGS).set_index("attention_key")
    assert hours["hours_per_month_total"].sum() == pytest.approx(table["hours_per_month"].sum())
    assert hours.loc["protect", "clients"] == protected.sum()
    german = potential.score_customers(hand_made(), SETTINGS, "de").table
    assert german.loc[protected, "attention"].eq("Absichern").all()
    assert german.loc[protected, "reasons"].str.startswith("A-Kunde nach erwartetem Wert (die ersten 80 %").all()


def test_a_floor_that_would_give_less_is_refused():
    with pytest.raises(config.ConfigError, match="lifts"):
        config.settings_with({"potential": {"attention_floor": {"lifts": ["maintain"]}}})  # grow_with: 3 h < 4 h
    with pytest.raises(config.ConfigError, match="lifts"):
        config.settings_with({"potential": {"attention_floor": {"lifts": ["develop", "grow_with", "maintain"]}}})


def test_likely_lost_is_the_one_rule_and_the_groups_add_up():
    inputs = hand_made()
    inputs.cltv["p_alive"] = [0.97, 0.49, 0.5, 0.1, 0.97, 0.97, 0.3, 0.97]
    result = potential.score_customers(inputs, SETTINGS)
    table = result.table
    from helpers.clv.valuation import likely_lost
    assert table["likely_lost"].tolist() == likely_lost(inputs.cltv["p_alive"], SETTINGS).tolist()
    assert (table.loc[table["likely_lost"], "quadrant_key"] == "win_back").all()
    assert not table.loc[~table["likely_lost"], "quadrant_key"].eq("win_back").any()
    assert result.counts().sum() == len(table) and result.counts()["win_back"] == 3
    listed = summaries.win_back_list(result, 10)
    assert len(listed) == 3 and listed["revenue_12m"].is_monotonic_decreasing
    stricter = config.settings_with({"currency": "EUR", "cltv": {"likely_lost_below": 0.2},
                                     "potential": {"min_peers": 1}})
    assert potential.score_customers(inputs, stricter).counts()["win_back"] == 1


def test_consumer_data_get_retail_advice_unless_told_otherwise():
    inputs = hand_made()
    agency = potential.score_customers(inputs, SETTINGS)
    assert agency.profile == "agency"
    inputs.accounts, inputs.service_map = None, None
    retail = potential.score_customers(inputs, SETTINGS)
    assert retail.profile == "retail"
    assert "account review" not in " ".join(retail.table["service_level"]).lower()
    assert retail.table["hours_per_month"].eq(0).all()
    develop = retail.table[retail.table["quadrant_key"] == "develop"]
    assert develop["next_action"].str.contains("loyalty programme").all()
    forced = config.settings_with({"currency": "EUR", "potential": {"min_peers": 1, "profile": "agency"}})
    assert potential.score_customers(inputs, forced).profile == "agency"
