"""Funnel maturity: coverage of the stage x kind cells by active services, the score and the heat table."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.core.config import settings_with
from helpers.potential import funnel


def _map(rows):
    return pd.DataFrame(rows, columns=["customer_id", "funnel_stage", "service_kind", "channel", "active"])


def test_coverage_counts_only_active_services_and_keeps_every_customer():
    service_map = _map([
        ("A", "see", "operations", "meta", True),
        ("A", "think", "consulting", "seo", False),  # stopped: no coverage
        ("B", "care", "consulting", "email", True),
        ("B", "care", "consulting", "meta", True),  # two services in one cell count once
    ])
    covered = funnel.coverage(service_map, ["A", "B", "C"])
    assert list(covered.index) == ["A", "B", "C"]
    assert covered.loc["A", "see_operations"] and not covered.loc["A", "think_consulting"]
    assert covered.loc["B"].sum() == 1
    assert not covered.loc["C"].any()  # no services at all: every cell uncovered


def test_active_as_text_and_missing_active_column():
    texts = _map([("A", "see", "operations", "x", "ja"), ("A", "do", "operations", "x", "nein"),
                  ("B", "do", "consulting", "x", None)])
    covered = funnel.coverage(texts)
    assert covered.loc["A", "see_operations"] and not covered.loc["A", "do_operations"]
    assert covered.loc["B", "do_consulting"]  # empty cell: the row says the client buys it
    no_column = texts.drop(columns="active")
    assert funnel.coverage(no_column).loc["A", "do_operations"]


def test_maturity_score_anchors():
    rows = [("full", s, k, "x", True) for s, k in funnel.CELLS]
    rows += [("ops", s, "operations", "x", True) for s in funnel.STAGES]
    rows += [("none", "see", "operations", "x", False)]
    table = funnel.maturity_table(_map(rows), ["full", "ops", "none"])
    assert table.loc["full", "funnel_maturity"] == pytest.approx(100.0)
    assert table.loc["ops", "funnel_maturity"] == pytest.approx(60.0)  # operations weigh 0.6 per stage
    assert table.loc["none", "funnel_maturity"] == 0.0
    assert table.loc["full", "stages_covered"] == 4 and table.loc["ops", "cells_covered"] == 4
    assert table.loc["full", "active_services"] == 8 and table.loc["none", "active_services"] == 0


def test_maturity_weights_from_settings():
    service_map = _map([("A", "see", "consulting", "x", True)])
    settings = settings_with({"potential": {"maturity": {
        "kind_weights": {"operations": 0.0, "consulting": 1.0},
        "stage_weights": {"see": 1.0, "think": 0.0, "do": 0.0, "care": 0.0}}}})
    assert funnel.maturity_table(service_map, ["A"], settings).loc["A", "funnel_maturity"] == pytest.approx(100.0)


def test_without_service_map_everyone_scores_zero():
    table = funnel.maturity_table(None, ["A", "B"])
    assert list(table["funnel_maturity"]) == [0.0, 0.0]


@given(st.lists(st.booleans(), min_size=8, max_size=8), st.integers(0, 7))
def test_maturity_is_monotone_in_coverage(cells, extra):
    covered = pd.DataFrame([cells], columns=list(funnel.CELL_COLUMNS), index=["A"])
    more = covered.copy()
    more.iloc[0, extra] = True
    before = funnel.maturity_score(covered).iloc[0]
    after = funnel.maturity_score(more).iloc[0]
    assert 0.0 <= before <= after <= 100.0


def test_heat_table_by_funnel_type():
    service_map = _map([("R1", "see", "operations", "x", True), ("R2", "think", "operations", "x", True),
                        ("L1", "see", "operations", "x", True)])
    accounts = pd.DataFrame({"customer_id": ["R1", "R2", "L1", "U1"],
                             "funnel_type": ["retail", "retail", "lead_gen", None]})
    covered = funnel.coverage(service_map, accounts["customer_id"])
    heat = funnel.heat_table(covered, accounts)
    assert list(heat.index) == ["retail", "lead_gen", "unknown"]
    assert heat.loc["retail", "see_operations"] == pytest.approx(0.5)
    assert heat.loc["lead_gen", "see_operations"] == pytest.approx(1.0)
    assert heat.loc["retail", "clients"] == 2
    by_type = funnel.maturity_by_funnel_type(funnel.maturity_table(service_map, accounts["customer_id"]), accounts)
    assert by_type.loc["retail", "clients"] == 2


def test_cell_label():
    assert funnel.cell_label("think_consulting") == "Think/consulting"
