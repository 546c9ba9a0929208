"""Contract clients from the data, their retention by start cohort and the sBG's holdout check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.clv import contracts, retention
from helpers.core import config
from helpers.core.errors import UsageError
from helpers.data.samples import agency, cdnow

CUTOFF = pd.Timestamp("2025-12-31")


def _monthly(customer, first, last, amount, cost=np.nan, day=3):
    months = pd.period_range(first, last, freq="M")
    return pd.DataFrame({
        "customer_id": customer, "date": [m.to_timestamp() + pd.Timedelta(days=day - 1) for m in months],
        "amount": float(amount), "cost": cost,
    })


@pytest.fixture(scope="module")
def small():
    """Hand-made clients, each with a known answer (see the test)."""
    rng = np.random.default_rng(2)
    heavy_days = pd.date_range("2024-01-01", "2025-12-31", freq="9D")
    frames = [
        _monthly("R1", "2023-06", "2025-12", 1200, cost=700),  # a retainer, running
        pd.DataFrame({"customer_id": ["R1"], "date": [pd.Timestamp("2025-10-20")], "amount": [-1200.0],
                      "cost": [-700.0]}),  # a credit note: October earns nothing
        _monthly("R2", "2024-01", "2025-06", 800),  # ended in June 2025 (no cost: the margin rate)
        _monthly("R3", "2024-03", "2025-11", 1000, cost=500),  # December's invoice is missing so far
        pd.DataFrame({"customer_id": ["E"], "date": [pd.Timestamp("2024-05-17")], "amount": [90.0], "cost": [50.0]}),
        pd.DataFrame({"customer_id": "H", "date": heavy_days,  # a heavy buyer: every month, amounts vary
                      "amount": np.round(rng.gamma(2.0, 40.0, len(heavy_days)), 2), "cost": np.nan}),
        _monthly("S", "2023-01", "2025-12", 2000, cost=1500, day=10),  # a retainer in the map since before the data
        _monthly("D", "2023-01", "2025-03", 900, cost=600),  # a dated retainer, begun 2022, ended March 2025
        pd.DataFrame({"customer_id": ["P", "P"], "date": pd.to_datetime(["2023-02-01", "2025-02-01"]),
                      "amount": [5000.0, 4000.0], "cost": [2000.0, 2000.0]}),  # projects only
    ]
    transactions = pd.concat(frames, ignore_index=True)
    service_map = pd.DataFrame({
        "customer_id": ["S", "D", "P"],
        "funnel_stage": ["think", "do", "see"],
        "service_kind": ["operations", "operations", "consulting"],
        "active": [True, False, False],
        "started_on": pd.to_datetime([None, "2022-05-10", "2023-01-15"]),
        "ended_on": pd.to_datetime([None, "2025-03-10", "2025-03-01"]),
    })
    return transactions, service_map


def test_each_client_is_decided_by_its_evidence(small):
    transactions, service_map = small
    table = contracts.contract_clients(transactions, service_map, CUTOFF).set_index("customer_id")
    assert list(table.columns) == contracts.COLUMNS[1:]
    assert table["why"].to_dict() == {"D": "service_map", "E": "none", "H": "none", "P": "none",
                                      "R1": "monthly_invoices", "R2": "monthly_invoices", "R3": "monthly_invoices",
                                      "S": "service_map"}
    assert table["contractual"].sum() == 5 and table.loc["E", "reason"] == contracts.WHY["none"]
    r1, r2, r3, s, d = (table.loc[c] for c in ("R1", "R2", "R3", "S", "D"))
    # R1: June 2023 to the cutoff, 31 months (30 renewals); its start lies inside the data (January 2023)
    assert r1["start_month"] == pd.Timestamp("2023-06-01") and r1["active"] and r1["months"] == 31
    assert r1["periods_completed"] == 30 and r1["start_known"] and r1["entered"] == 0
    assert r1["margin_per_period"] == pytest.approx(11 * 500 / 12)  # the last 12 months, October credited
    # R2: no invoice since June 2025, more than the 2-month gap
    assert not r2["active"] and r2["end_month"] == pd.Timestamp("2025-06-01") and r2["ended_by"] == "invoice_gap"
    assert r2["months"] == 18 and r2["margin_per_period"] == pytest.approx(800 * 0.4)  # no cost: cltv.margin
    # R3: one month without an invoice is within the gap
    assert r3["active"] and pd.isna(r3["end_month"]) and r3["months"] == 22
    assert r3["margin_per_period"] == pytest.approx(11 * 500 / 12)  # December counts, with nothing invoiced
    # S: the map says it runs; its invoices begin with the data, so its start is unknown
    assert s["active"] and s["start_month"] == pd.Timestamp("2023-01-01") and not s["start_known"]
    # D: begun May 2022 (8 renewals before the data), ended_on 10 March 2025: March was its last month
    assert not d["active"] and d["ended_by"] == "service_map" and d["end_month"] == pd.Timestamp("2025-03-01")
    assert d["start_known"] and d["entered"] == 8 and d["months"] == 35 and d["periods_completed"] == 34
    # the others carry no contract
    assert table.loc[["E", "H", "P"], ["start_month", "active", "months"]].isna().all().all()


def test_the_gap_and_the_cutoff_decide_when_a_contract_ended(small):
    transactions, service_map = small
    one_month = contracts.contract_clients(transactions, service_map, CUTOFF, gap_months=1).set_index("customer_id")
    assert not one_month.loc["R3", "active"] and one_month.loc["R3", "end_month"] == pd.Timestamp("2025-11-01")
    june = contracts.contract_clients(transactions, service_map, "2025-06-30").set_index("customer_id")
    assert june.loc["R2", "active"] and june.loc["R1", "months"] == 25
    assert june.loc["D", "why"] == "service_map" and not june.loc["D", "active"]  # ended_on 2025-03-10
    march = contracts.contract_clients(transactions, service_map, "2025-03-05").set_index("customer_id")
    assert march.loc["D", "active"]  # its ended_on lies after this cutoff


def test_the_setting_overrides_the_evidence(small):
    transactions, service_map = small
    every = contracts.contract_clients(transactions, service_map, CUTOFF, setting="contractual").set_index("customer_id")
    assert every["contractual"].all()
    assert every.loc[["E", "H", "P"], "why"].eq("setting").all() and every.loc["S", "why"] == "service_map"
    assert every.loc["E", "start_month"] == pd.Timestamp("2024-05-01") and not every.loc["E", "active"]
    none = contracts.contract_clients(transactions, service_map, CUTOFF, setting="noncontractual")
    assert not none["contractual"].any() and none["why"].eq("noncontractual").all()
    settings = config.settings_with({"cltv": {"setting": "noncontractual"}})
    assert not contracts.run_contract_clients(transactions, service_map, CUTOFF, settings)["contractual"].any()
    with pytest.raises(UsageError, match="cltv.setting is 'sometimes'"):
        contracts.contract_clients(transactions, service_map, CUTOFF, setting="sometimes")


def test_a_parquet_file_gives_the_same_answer(small, tmp_path):
    transactions, service_map = small
    path = tmp_path / "transactions.parquet"
    transactions.to_parquet(path)
    pd.testing.assert_frame_equal(contracts.contract_clients(path, service_map, CUTOFF),
                                  contracts.contract_clients(transactions, service_map, CUTOFF))
    with pytest.raises(FileNotFoundError):
        contracts.contract_clients(tmp_path / "missing.parquet", service_map, CUTOFF)
    with pytest.raises(UsageError, match="no transactions up to the cutoff"):
        contracts.contract_clients(transactions, service_map, "2020-01-31")


def test_cdnow_buyers_hold_no_contract():
    buyers = cdnow.read_cdnow("master")
    table = contracts.contract_clients(buyers, None)
    assert len(table) == 23_570 and not table["contractual"].any()


@pytest.fixture(scope="module")
def sample():
    tables = agency.generate_agency()
    return tables["transactions"], tables["service_map"]


def _truth(service_map: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """From the generator's own dates: who had a retainer by the cutoff, and whether one still ran."""
    ops = service_map[(service_map["service_kind"] == "operations") & (service_map["started_on"] <= cutoff)]
    running = ops["ended_on"].isna() | (ops["ended_on"] > cutoff)
    return pd.DataFrame({"running": running.groupby(ops["customer_id"]).any(),
                         "last_end": ops["ended_on"].groupby(ops["customer_id"]).max()})


@pytest.mark.parametrize("cutoff", ["2025-12-31", "2025-06-30"])
def test_the_agency_retainer_clients_are_the_contract_clients(sample, cutoff):
    transactions, service_map = sample
    day = pd.Timestamp(cutoff)
    truth = _truth(service_map, day)
    seen = set(transactions.loc[transactions["date"] <= day, "customer_id"])
    table = contracts.contract_clients(transactions, service_map, day).set_index("customer_id")
    assert set(table.index[table["contractual"]]) == set(truth.index) & seen
    held = table[table["contractual"]]
    assert (held["active"] == truth.loc[held.index, "running"]).all()
    ended = held[~held["active"].astype(bool)]
    last_paid = (truth.loc[ended.index, "last_end"] - pd.Timedelta(days=1)).dt.to_period("M").dt.to_timestamp()
    assert (ended["end_month"] == last_paid).all() and len(ended) > 20
    # the margin per period, recomputed in pandas: mean monthly (amount - cost) over the last up to 12 months
    month = transactions["date"].dt.to_period("M")
    margin = (transactions["amount"] - transactions["cost"]).groupby([transactions["customer_id"], month]).sum()
    data_start = transactions["date"].min().to_period("M")
    for customer in held.index[::25]:
        row = held.loc[customer]
        stop = (row["end_month"] if pd.notna(row["end_month"]) else day).to_period("M")
        first = max(stop - 11, row["start_month"].to_period("M"), data_start)
        window = pd.period_range(first, stop, freq="M")
        expected = margin.get(customer, pd.Series(dtype=float)).reindex(window, fill_value=0.0).mean()
        assert row["margin_per_period"] == pytest.approx(expected, rel=1e-9)


def test_without_the_service_maps_dates_the_invoices_date_the_ends(sample):
    # the intake keeps the contract columns of the service map only (no started_on / ended_on)
    transactions, service_map = sample
    undated = service_map[["customer_id", "funnel_stage", "service_kind", "channel", "active"]]
    truth = _truth(service_map, CUTOFF)
    table = contracts.contract_clients(transactions, undated, CUTOFF).set_index("customer_id")
    held = table[table["contractual"]]
    assert set(held.index) == set(truth.index)
    differ = held.index[held["active"] != truth.loc[held.index, "running"]]
    # only contracts that ended within the gap before the cutoff still look like running ones
    assert (truth.loc[differ, "last_end"] > CUTOFF - pd.DateOffset(months=2)).all() and len(differ) <= 5
    # a contract whose first invoice is in the data's first month may be older: its start is unknown
    assert (~held["start_known"] == (held["start_month"] == pd.Timestamp("2023-01-01"))).all()


def test_without_a_service_map_regular_invoices_find_retainers_only(sample):
    transactions, service_map = sample
    truth = _truth(service_map, CUTOFF)
    table = contracts.contract_clients(transactions, None, CUTOFF)
    found = set(table.loc[table["contractual"], "customer_id"])
    assert found <= set(truth.index) and len(found) > 0.7 * len(truth)
    assert (table.loc[table["contractual"], "why"] == "monthly_invoices").all()


def _retainers_from_sbg(gamma: float, delta: float, clients: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly retainers whose lifetimes follow the sBG (theta ~ Beta(gamma, delta), months paid geometric), begun
    2019-2025; the data hold the invoices of 2021-2025, the service map every contract's dates."""
    rng = np.random.default_rng(seed)
    first_seen, last_seen = 2021 * 12, 2025 * 12 + 11  # month numbers (year * 12 + month - 1)
    start = 2019 * 12 + rng.integers(0, 83, size=clients)
    last = start + rng.geometric(rng.beta(gamma, delta, size=clients)) - 1  # the last month paid
    seen = last >= first_seen  # a contract ended before the data is never seen
    start, last = start[seen], last[seen]
    ids = np.array([f"K{k}" for k in range(len(start))])
    lo, hi = np.maximum(start, first_seen), np.minimum(last, last_seen)
    counts = hi - lo + 1
    months = np.repeat(lo, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)

    def days(numbers, day=1):
        return pd.to_datetime({"year": numbers // 12, "month": numbers % 12 + 1, "day": day})

    transactions = pd.DataFrame({"customer_id": np.repeat(ids, counts), "date": days(months, 3),
                                 "amount": 1000.0, "cost": 600.0})
    ended_on = days(np.minimum(last, last_seen) + 1).where(last < last_seen)  # the day after the last month paid
    service_map = pd.DataFrame({"customer_id": ids, "funnel_stage": "think", "service_kind": "operations",
                                "active": ended_on.isna().to_numpy(), "started_on": days(start).to_numpy(),
                                "ended_on": ended_on.to_numpy()})
    return transactions, service_map


def test_the_retention_fit_recovers_the_sbg_behind_the_contracts():
    gamma, delta = 0.7, 4.0
    transactions, service_map = _retainers_from_sbg(gamma, delta, 4000, seed=5)
    table = contracts.contract_clients(transactions, service_map, CUTOFF)
    assert table["contractual"].all() and (table["entered"] > 0).any()  # contracts older than the data
    model = retention.fit_retention(table)
    se = np.sqrt(np.diag(model.covariance_))
    for k, (name, truth) in enumerate((("gamma", gamma), ("delta", delta))):
        assert abs(np.log(model.params_[name] / truth)) < 3 * se[k], (model.params_, se)
    assert model.notes_[0].startswith("sBG fitted on")
    assert model.derl(0.008, [0, 24], horizon=12).tolist() == sorted(model.derl(0.008, [0, 24], horizon=12))


def test_cohort_retention_sees_each_cohort_only_as_far_as_the_data():
    frame = pd.DataFrame({
        "customer_id": list("abcdefg"),
        "contractual": [True] * 6 + [False],
        "start_known": [True, True, True, True, True, False, pd.NA],
        "entered": [0, 0, 0, 0, 0, 0, pd.NA],
        "start_month": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-06-01", "2025-11-01",
                                       "2023-01-01", None]),
        "months": [24, 5, 1, 19, 2, 36, pd.NA],
        "periods_completed": [23, 4, 0, 18, 1, 35, pd.NA],
        "active": [True, False, False, True, True, True, pd.NA],
    })
    table = retention.cohort_retention(frame, by="year", cutoff=CUTOFF)
    assert list(table.index) == ["2024", "2025"]  # f: start unknown; g: no contract
    row = table.loc["2024"]
    assert (row[0], row[1], row[4], row[5], row[18]) == (4, 3, 3, 2, 2) and pd.isna(row[19])
    assert (table.loc["2025", 0], table.loc["2025", 1]) == (1, 1) and pd.isna(table.loc["2025", 2])
    quarters = retention.cohort_retention(frame, by="quarter", cutoff=CUTOFF)
    assert list(quarters.index) == ["2024Q1", "2024Q2", "2025Q4"] and quarters.loc["2024Q1", 0] == 3
    assert retention.cohort_retention(frame, by="year").equals(table)  # the cutoff read from the contracts
    model = retention.ShiftedBetaGeometric.from_params({"gamma": 0.7, "delta": 3.0})
    projected = retention.projected_cohort_retention(table, model)
    assert projected.notna().all().all()
    np.testing.assert_allclose(projected.loc["2024"], 4 * model.survival(np.arange(table.shape[1], dtype=float)))
    with pytest.raises(UsageError, match="cohorts are by"):
        retention.cohort_retention(frame, by="week")


def test_the_holdout_check_on_the_agency(sample):
    transactions, service_map = sample
    undated = service_map[["customer_id", "funnel_stage", "service_kind", "channel", "active"]]
    check = retention.retention_holdout(transactions, undated, CUTOFF, holdout_months=12)
    assert check.calibration_end == pd.Timestamp("2024-12-31")
    assert list(check.by_month["holdout_month"]) == list(range(1, 13))
    assert (np.diff(check.by_month["actual"]) <= 0).all() and (np.diff(check.by_month["projected"]) < 0).all()
    # the calibration knew the clients running at its end only: counted again from the data up to then
    calibration = contracts.contract_clients(transactions, undated, "2024-12-31")
    running = calibration[calibration["contractual"] & calibration["active"].fillna(False).astype(bool)
                          & calibration["start_known"].fillna(False).astype(bool)]
    assert check.by_cohort["running_at_calibration_end"].sum() == len(running)
    final = contracts.contract_clients(transactions, undated, CUTOFF).set_index("customer_id")
    still = final.loc[running["customer_id"]]
    same_contract = still["start_month"] <= pd.Timestamp("2024-12-01")  # not a new one after a gap
    assert check.by_month["actual"].iloc[-1] == int((still["active"].astype(bool) & same_contract).sum())
    # measured: 92 expected to run after 12 months, 92 did
    assert abs(check.total_error_pct) < 0.10
    assert "contracts running on 2024-12-31" in retention.retention_holdout_reading(check)
