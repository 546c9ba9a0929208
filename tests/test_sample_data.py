"""The seeded agency data set: determinism, the data contract and the realism downstream methods need."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.core import paths
from helpers.data.contract import FUNNEL_STAGES, FUNNEL_TYPES, SERVICE_KINDS, TABLES
from helpers.data.samples.agency import (
    ACCOUNT_COLUMNS,
    BUSINESS_MODELS,
    CHANNELS,
    SERVICE_LINES,
    SERVICES,
    generate_agency,
    prepare_sample_data,
    write_agency,
)

START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-12-31")


@pytest.fixture(scope="module")
def agency() -> dict[str, pd.DataFrame]:
    return generate_agency(seed=42)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, pd.DataFrame]:
    target = tmp_path_factory.mktemp("agency")
    write_agency(target, seed=42)
    return {t: pd.read_csv(target / f"{t}.csv", dtype={"customer_id": str}) for t in TABLES}


def _bytes(directory) -> dict[str, bytes]:
    return {t: (directory / f"{t}.csv").read_bytes() for t in TABLES}


# --- determinism ----------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_csvs(tmp_path):
    write_agency(tmp_path / "a", seed=7)
    write_agency(tmp_path / "b", seed=7)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_other_seed_gives_other_data(tmp_path):
    write_agency(tmp_path / "a", seed=7)
    write_agency(tmp_path / "b", seed=8)
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    for table in TABLES:
        assert a[table] != b[table]


def test_does_not_depend_on_today(monkeypatch, agency):
    class FrozenTimestamp(pd.Timestamp):
        @classmethod
        def now(cls, tz=None):
            return pd.Timestamp("2031-05-05")

        @classmethod
        def today(cls, tz=None):
            return pd.Timestamp("2031-05-05")

    monkeypatch.setattr(pd, "Timestamp", FrozenTimestamp)
    again = generate_agency(seed=42)
    for table in TABLES:
        pd.testing.assert_frame_equal(again[table], agency[table])


# --- the data contract ----------------------------------------------------------------------------------


def test_written_headers_follow_the_contract(tmp_path):
    write_agency(tmp_path, seed=1, n_clients=40)
    header = {t: (tmp_path / f"{t}.csv").read_text(encoding="utf-8").splitlines()[0] for t in TABLES}
    assert header["transactions"] == "customer_id,date,amount,order_id,quantity,category,cost,currency"
    assert header["accounts"] == ",".join(ACCOUNT_COLUMNS)
    assert header["service_map"].startswith("customer_id,funnel_stage,service_kind,channel,active")


def test_written_values_are_iso_dates_dot_decimals_and_lowercase_booleans(tmp_path):
    write_agency(tmp_path, seed=1, n_clients=40)
    raw = {t: pd.read_csv(tmp_path / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES}
    iso = r"\d{4}-\d{2}-\d{2}"
    assert raw["transactions"]["date"].str.fullmatch(iso).all()
    assert raw["accounts"]["acquired_on"].str.fullmatch(iso).all()
    assert raw["transactions"]["amount"].str.fullmatch(r"-?\d+(\.\d+)?").all()
    assert set(raw["service_map"]["active"]) == {"true", "false"}
    ended = raw["service_map"]["ended_on"]
    assert (ended.str.fullmatch(iso) | (ended == "")).all()


def test_transaction_types_and_values(agency, written):
    tx = agency["transactions"]
    assert pd.api.types.is_datetime64_any_dtype(tx["date"])
    assert tx["amount"].dtype == np.float64 and tx["cost"].dtype == np.float64
    assert (tx["currency"] == "EUR").all()
    assert tx["date"].min() >= START and tx["date"].max() <= END
    assert tx["order_id"].str.fullmatch(r"(INV|CN)-20\d{2}-\d{5}").all()
    assert tx["order_id"].is_unique
    assert set(tx["category"]) <= set(SERVICE_LINES)
    assert (
        tx[["customer_id", "date", "amount", "order_id", "quantity", "category", "cost"]].notna().all().all()
    )
    # invoice numbers carry the invoice year
    invoices = tx[tx["order_id"].str.startswith("INV-")]
    assert (invoices["order_id"].str[4:8].astype(int) == invoices["date"].dt.year).all()
    # the CSV reads back to the same numbers
    np.testing.assert_allclose(written["transactions"]["amount"], tx["amount"])


def test_account_types_and_vocabulary(agency):
    acc = agency["accounts"]
    assert list(acc.columns) == ACCOUNT_COLUMNS
    assert len(acc) == 300
    assert acc["customer_id"].is_unique and acc["name"].is_unique
    assert set(acc["funnel_type"]) == set(FUNNEL_TYPES)
    assert set(acc["business_model"]) == set(BUSINESS_MODELS)
    assert acc["industry"].nunique() >= 8
    assert acc["region"].nunique() >= 10
    assert pd.api.types.is_integer_dtype(acc["employees"]) and (acc["employees"] >= 2).all()
    assert (acc["marketing_budget"] > 0).all()
    assert pd.api.types.is_datetime64_any_dtype(acc["acquired_on"])
    assert acc["acquired_on"].max() <= END
    # names look like German companies
    assert acc["name"].str.contains(r" (?:GmbH|AG|KG|SE|e\.K\.|UG|OHG)(?: |$)").all()
    assert acc["name"].str.contains("[äöüß]").any()


def test_account_realism(agency):
    acc = agency["accounts"]
    # staggered acquisition: some existed before the start, most were won during the period
    before = (acc["acquired_on"] < START).mean()
    assert 0.1 < before < 0.35
    assert acc.loc[acc["acquired_on"] >= START, "acquired_on"].dt.year.nunique() == 3
    # employees roughly lognormal: wide spread, right-skewed
    emp = acc["employees"]
    assert emp.max() / emp.median() > 10 and emp.mean() > emp.median()
    # budget grows with size
    assert np.corrcoef(np.log(emp), np.log(acc["marketing_budget"]))[0, 1] > 0.6
    # growth from shrinking to fast growing
    g = acc["yoy_growth"]
    assert (g < -0.1).mean() > 0.05 and (g > 0.2).mean() > 0.05
    # funnel type follows industry
    assert (acc.loc[acc["industry"].isin(["E-Commerce", "Retail"]), "funnel_type"] == "retail").mean() > 0.75
    assert (acc.loc[acc["industry"] == "Manufacturing", "funnel_type"] == "business_industry").mean() > 0.75
    assert (acc.loc[acc["industry"] == "SaaS", "funnel_type"] == "lead_gen").mean() > 0.75


def test_transaction_ids_are_accounts_and_every_account_is_invoiced(agency):
    tx_ids = set(agency["transactions"]["customer_id"])
    acc_ids = set(agency["accounts"]["customer_id"])
    assert tx_ids <= acc_ids
    assert tx_ids == acc_ids


def test_first_invoice_not_before_acquisition(agency):
    tx, acc = agency["transactions"], agency["accounts"].set_index("customer_id")
    first = tx.groupby("customer_id")["date"].min()
    assert (first >= acc.loc[first.index, "acquired_on"]).all()


def test_service_map_vocabulary(agency):
    sm = agency["service_map"]
    assert set(sm["funnel_stage"]) == set(FUNNEL_STAGES)
    assert set(sm["service_kind"]) == set(SERVICE_KINDS)
    assert set(sm["channel"]) <= set(CHANNELS)
    assert sm["active"].dtype == bool
    assert set(sm["customer_id"]) == set(agency["accounts"]["customer_id"])
    assert not sm.duplicated(["customer_id", "funnel_stage", "service_kind", "channel"]).any()
    assert set(sm["service"]) <= set(SERVICE_LINES)
    # stopped services have an end date, active ones none
    assert sm.loc[~sm["active"], "ended_on"].notna().all()
    assert sm.loc[sm["active"], "ended_on"].isna().all()
    assert (sm["ended_on"].dropna() > sm.loc[sm["ended_on"].notna(), "started_on"]).all()


def test_service_map_has_cross_sell_and_whitespace(agency):
    sm = agency["service_map"]
    per_client = sm.groupby("customer_id").size()
    assert (per_client == 1).mean() > 0.2  # clear gaps
    assert (per_client >= 3).mean() > 0.2  # cross-sold clients
    assert per_client.max() < len(SERVICE_LINES)  # nobody buys everything
    added_later = sm.merge(agency["accounts"][["customer_id", "acquired_on"]], on="customer_id")
    assert (added_later["started_on"] > added_later["acquired_on"]).mean() > 0.2
    assert 0.05 < (~sm["active"]).mean() < 0.8


def test_invoiced_lines_are_in_the_service_map(agency):
    tx = agency["transactions"]
    sm_pairs = set(zip(agency["service_map"]["customer_id"], agency["service_map"]["service"], strict=True))
    tx_pairs = set(zip(tx["customer_id"], tx["category"], strict=True))
    assert tx_pairs <= sm_pairs


# --- realism of the invoices ----------------------------------------------------------------------------


def test_size_of_the_data(agency):
    assert 5_000 <= len(agency["transactions"]) <= 20_000


def test_churn_present(agency):
    tx = agency["transactions"]
    last = tx.groupby("customer_id")["date"].max()
    silent = (last < END - pd.DateOffset(months=6)).mean()
    assert 0.1 < silent < 0.45
    # churned clients grow slower on average
    growth = agency["accounts"].set_index("customer_id")["yoy_growth"]
    churned = last < END - pd.DateOffset(months=6)
    assert growth[churned[churned].index].mean() < growth[churned[~churned].index].mean()
    # and none of their retainers is still active (a consulting framework may stay open without projects)
    sm = agency["service_map"]
    silent_ops = sm["customer_id"].isin(churned[churned].index) & (sm["service_kind"] == "operations")
    assert not sm.loc[silent_ops, "active"].any()


def test_revenue_is_pareto_concentrated(agency):
    revenue = agency["transactions"].groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    top = int(np.ceil(0.2 * len(revenue)))
    share = revenue.iloc[:top].sum() / revenue.sum()
    assert 0.55 < share < 0.85  # measured 0.68 for seed 42


def test_few_credit_notes_reference_earlier_invoices(agency):
    tx = agency["transactions"]
    credits = tx[tx["amount"] < 0]
    assert 5 <= len(credits) and len(credits) / len(tx) < 0.01
    assert credits["order_id"].str.startswith("CN-").all()
    invoices = tx[tx["order_id"].str.startswith("INV-")].set_index("order_id")
    ref = "INV-" + credits["order_id"].str.removeprefix("CN-")
    assert ref.isin(invoices.index).all()
    orig = invoices.loc[ref]
    assert (orig["customer_id"].to_numpy() == credits["customer_id"].to_numpy()).all()
    assert (orig["date"].to_numpy() <= credits["date"].to_numpy()).all()
    assert (-credits["amount"].to_numpy() <= orig["amount"].to_numpy() + 0.005).all()


def test_contribution_margin(agency):
    tx = agency["transactions"]
    pos = tx[tx["amount"] > 0]
    row_margin = 1 - pos["cost"] / pos["amount"]
    assert row_margin.min() >= 0.25 and row_margin.max() <= 0.60
    total = 1 - tx["cost"].sum() / tx["amount"].sum()
    assert 0.3 < total < 0.5
    by_kind = pos.assign(m=row_margin).groupby(pos["quantity"] > 1)["m"].mean()
    assert by_kind[True] > by_kind[False]  # consulting (billed by the hour) earns more per euro


def test_retainers_monthly_and_consulting_lumpy(agency):
    tx = agency["transactions"]
    pos = tx[tx["amount"] > 0]
    consulting = pos["category"].isin([s[0] for s in SERVICES if s[2] == "consulting"])
    ops = pos[~consulting]
    assert (ops["quantity"] == 1).all()
    # at most one retainer invoice per client, line and month
    month = ops["date"].dt.to_period("M").rename("month")
    assert not pd.concat([ops[["customer_id", "category"]], month], axis=1).duplicated().any()
    con = pos[consulting]
    assert len(con) > 100 and (con["quantity"] >= 4).all()
    assert con["amount"].median() > ops["amount"].median()
    assert consulting.mean() < 0.15


def test_retainers_scale_with_client_size(agency):
    tx, acc = agency["transactions"], agency["accounts"].set_index("customer_id")
    fee = tx[tx["quantity"] == 1].groupby("customer_id")["amount"].median()
    budget = acc.loc[fee.index, "marketing_budget"]
    rho = pd.Series(fee.to_numpy()).corr(pd.Series(budget.to_numpy()), method="spearman")
    assert rho > 0.5


def test_other_period_and_size_are_respected():
    data = generate_agency(seed=3, n_clients=60, start="2024-01-01", end="2024-12-31")
    tx = data["transactions"]
    assert len(data["accounts"]) == 60
    assert tx["date"].min() >= pd.Timestamp("2024-01-01") and tx["date"].max() <= pd.Timestamp("2024-12-31")
    assert set(tx["customer_id"]) == set(data["accounts"]["customer_id"])


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError):
        generate_agency(start="2025-01-01", end="2025-02-01")
    with pytest.raises(ValueError):
        generate_agency(n_clients=3)


# --- prepare_sample_data --------------------------------------------------------------------------------


def test_prepare_sample_data_writes_once_and_respects_force(tmp_path):
    dirs = prepare_sample_data(tmp_path)
    assert dirs == {"agency": tmp_path / "agency", "cdnow": tmp_path / "cdnow"}
    for table in TABLES:
        assert (tmp_path / "agency" / f"{table}.csv").is_file()
    cdnow = tmp_path / "cdnow" / "transactions.csv"
    assert sum(1 for _ in cdnow.open(encoding="utf-8")) == 69_659 + 1

    marker = tmp_path / "agency" / "accounts.csv"
    marker.write_text("kept", encoding="utf-8")
    prepare_sample_data(tmp_path)
    assert marker.read_text(encoding="utf-8") == "kept"  # present: skipped
    prepare_sample_data(tmp_path, force=True)
    assert marker.read_text(encoding="utf-8").startswith("customer_id,name,")


def test_prepare_sample_data_defaults_to_the_raw_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    dirs = prepare_sample_data()
    assert dirs["agency"] == tmp_path / "data" / "raw" / "agency"
    assert (dirs["cdnow"] / "transactions.csv").is_file()
