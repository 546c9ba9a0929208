"""Contract clients valued by the sBG retention model: the value is the truncated DERL times the margin, the
months paid have an exact distribution and an interval, and the valuation puts contract clients and buyers
side by side (each by its own model) with one interval for the total."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.clv import contract_value, contracts, retention, valuation
from helpers.clv.models.sbg import ShiftedBetaGeometric
from helpers.core import config
from helpers.data.inputs import InputFiles
from helpers.pipeline import preparation

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]  # Fader and Hardie (2007), regular segment


def _contracts(periods, active, margin) -> pd.DataFrame:
    n = len(periods)
    return pd.DataFrame({
        "customer_id": [f"K{k}" for k in range(n)], "contractual": True, "active": active,
        "periods_completed": periods, "margin_per_period": margin, "start_known": True, "entered": 0,
    })


def test_a_running_contract_is_worth_its_discounted_months_times_its_margin():
    model = ShiftedBetaGeometric().fit_survivors(REGULAR)
    table = _contracts([0, 3, 12, 40, 5], [True, True, True, True, False], [1000.0, 1000.0, 250.0, 80.0, 999.0])
    values = contract_value.contract_values(table, model, horizon_months=12, discount_rate=0.10, level=0.9)
    monthly = 1.1 ** (1 / 12) - 1
    derl = model.derl(monthly, [0, 3, 12, 40], horizon=12, first_payment_discounted=True)
    np.testing.assert_allclose(values.cltv[:4], np.array([1000.0, 1000.0, 250.0, 80.0]) * derl, rtol=1e-12)
    # expected months: the sum of the chances to renew 1, 2, ... 12 more times (the mixture over the
    # parameters' draws moves it a little)
    exact = model.conditional_survival(np.arange(1, 13)[None, :], np.array([0, 3, 12, 40])[:, None]).sum(axis=1)
    np.testing.assert_allclose(values.expected_months[:4], exact, rtol=0.02)
    # the older the contract, the safer: more months expected
    assert np.all(np.diff(values.expected_months[:4]) > 0)
    # an ended contract is worth nothing more and counts as gone
    assert values.cltv[4] == 0 and values.p_alive[4] == 0 and values.months_high[4] == 0
    np.testing.assert_array_equal(values.p_alive[:4], 1.0)
    assert (values.months_low[:4] <= values.expected_months[:4]).all()
    assert (values.months_high[:4] <= 12).all() and (values.months_high[:4] >= values.expected_months[:4]).all()
    assert values.total_variance > 0


def test_the_months_interval_holds_the_level_of_the_exact_distribution():
    model = ShiftedBetaGeometric().fit_survivors(REGULAR)
    table = _contracts([0, 2, 30], [True, True, True], [100.0, 100.0, 100.0])
    values = contract_value.contract_values(table, model, 12, 0.1, level=0.8, draws=0)
    pmf = model.residual_periods_pmf([0, 2, 30], 12)
    for k in range(3):
        low, high = int(values.months_low[k]), int(values.months_high[k])
        assert pmf[k, low : high + 1].sum() >= 0.8 - 1e-12
        # shortest: no range one month shorter holds as much
        assert all(pmf[k, a : a + high - low].sum() < 0.8 for a in range(0, 13 - (high - low) + 1))


def test_a_nearly_homogeneous_churn_keeps_the_uncertainty_of_its_mean_only():
    # every client with the same churn 3% a month: the spread is not identified, the mean churn is
    rng = np.random.default_rng(2)
    lifetimes = rng.geometric(0.03, 3000)
    horizon = 36
    periods = np.minimum(lifetimes - 1, horizon)
    active = lifetimes - 1 >= horizon
    model = ShiftedBetaGeometric().fit_homogeneous(periods, active)
    model.covariance_ = np.array([[1e6, 1e6 - 1.0], [1e6 - 1.0, 1e6]])  # a flat ridge along gamma, delta together
    mean, covariance = contract_value._mean_and_concentration(model)
    assert covariance.shape == (1, 1) and 0 < covariance[0, 0] < 10
    values = contract_value.contract_values(_contracts([5], [True], [100.0]), model, 12, 0.1)
    assert np.isfinite(values.cltv).all() and np.isfinite(values.total_variance)
    assert any("mean churn probability only" in note for note in values.notes)


@pytest.fixture(scope="module")
def agency_month(small_agency_dir):
    files = InputFiles(*(small_agency_dir / f"{name}.csv" for name in ("transactions", "accounts", "service_map")))
    settings = config.load_settings()
    return files, settings


def test_contract_clients_and_buyers_are_valued_side_by_side(agency_month, workbook_root):
    files, settings = agency_month
    prepared = preparation.prepare_month(files, "2025-12", settings)
    table_of_contracts = contracts.run_contract_clients(
        prepared.transactions_file, prepared.intake.service_map, prepared.cutoff, settings
    )
    holding = table_of_contracts["contractual"].astype(bool)
    assert holding.sum() > 0.5 * len(table_of_contracts)  # the agency's clients hold retainers
    table, result = valuation.run_probabilistic(prepared.summary, prepared.calibration, settings, table_of_contracts)
    valuation.check_output(table)
    by_id = table.set_index("customer_id")
    ids = table_of_contracts.loc[holding, "customer_id"].astype(str)
    assert (by_id.loc[ids, "cltv_model"] == "sbg").all()
    assert not (by_id.drop(index=ids)["cltv_model"] == "sbg").any()
    running = table_of_contracts.loc[holding].set_index("customer_id")["active"].astype(bool)
    assert (by_id.loc[running.index[running], "p_alive"] == 1).all()
    assert (by_id.loc[running.index[~running], "cltv"] == 0).all()
    assert result.counts["contract_clients"] == int(holding.sum())
    assert result.retention_model is not None
    low, high = result.total_interval
    assert low < table["cltv"].sum() < high
    totals = valuation.totals(table, result)
    assert totals.loc[0, "customers_sbg"] == int(holding.sum())
    reading = retention.contracts_reading(table_of_contracts, len(table))
    assert f"{int(holding.sum()):,} of the {len(table):,} customers hold a contract" in reading
    assert "contracts" in retention.retention_model_reading(result.retention_model)
    # without contracts (cltv.setting noncontractual) every client is valued by the purchase model
    none = contracts.run_contract_clients(
        prepared.transactions_file, prepared.intake.service_map, prepared.cutoff,
        settings.with_changes({"cltv": {"setting": "noncontractual"}}),
    )
    plain, plain_result = valuation.run_probabilistic(prepared.summary, prepared.calibration, settings, none)
    assert not (plain["cltv_model"] == "sbg").any() and plain_result.retention_model is None


def test_a_handful_of_contract_clients_teaches_no_retention(agency_month, workbook_root):
    """A few buyers of a large base pass the monthly-invoice rule by chance (8 of a million synthetic ones):
    fewer than MIN_CONTRACT_CLIENTS are valued with the other buyers, and the notes say why."""
    files, settings = agency_month
    prepared = preparation.prepare_month(files, "2025-12", settings)
    table_of_contracts = contracts.run_contract_clients(
        prepared.transactions_file, prepared.intake.service_map, prepared.cutoff, settings
    )
    few = table_of_contracts.copy()
    keep = few.index[few["contractual"].astype(bool)][: valuation.MIN_CONTRACT_CLIENTS - 1]
    few.loc[~few.index.isin(keep), "contractual"] = False
    table, result = valuation.run_probabilistic(prepared.summary, prepared.calibration, settings, few)
    assert not (table["cltv_model"] == "sbg").any() and result.retention_model is None
    assert any("too few to learn a retention" in note for note in result.notes)
