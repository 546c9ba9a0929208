"""Every month of both bundled data sets builds through the helpers: intake and summary, the purchase and
spend models, the CLTV, the RFM segments, the clusters and the potential matrix (issue 11: a customer first
seen on the cut-off day, T = 0, stopped four months of the agency sample).

The notebooks are not executed here (that is the end-to-end backfill in test_pipeline); each month calls
the helpers the notebooks call, in their order, on the bundled data at full size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.clv import contracts, valuation
from helpers.core import config
from helpers.data.inputs import InputFiles
from helpers.pipeline import preparation
from helpers.potential import scoring
from helpers.segmentation import clustering, rfm


@pytest.fixture(scope="module")
def bundled_inputs(tmp_path_factory):
    """The bundled data sets as `workbook sample-data` writes them (full size), once per module."""
    from helpers.data.samples.agency import prepare_sample_data

    raw = tmp_path_factory.mktemp("bundled")
    folders = prepare_sample_data(raw)

    def inputs(dataset: str) -> tuple[InputFiles, pd.DataFrame]:
        folder = folders[dataset]
        optional = {name: folder / f"{name}.csv" for name in ("accounts", "service_map")}
        files = InputFiles(
            folder / "transactions.csv", *(path if path.exists() else None for path in optional.values())
        )
        return files, pd.read_csv(folder / "transactions.csv", usecols=["date"])

    return inputs


def _months(transactions: pd.DataFrame) -> list[str]:
    """Every month from the first month's end that has a customer with some history to the last month."""
    dates = pd.to_datetime(transactions["date"])
    first, last = dates.min().to_period("M"), dates.max().to_period("M")
    return [str(p) for p in pd.period_range(first + 1, last, freq="M")]


def _build_month(files: InputFiles, month: str, settings: config.Settings) -> dict:
    prepared = preparation.prepare_month(files, month, settings)
    summary = prepared.summary
    rules = rfm.load_segment_rules(rfm.segment_rules_path(settings))
    scored = rfm.segment_customers(summary, prepared.cutoff, rules)
    rfm_table = rfm.rfm_output(scored, "abc_revenue" if "abc_revenue" in scored else None)
    contract_table = contracts.run_contract_clients(
        prepared.transactions_file, prepared.intake.service_map, prepared.cutoff, settings
    )
    cltv, result = valuation.run_probabilistic(summary, prepared.calibration, settings, contract_table)
    valuation.check_output(cltv)
    clusters = clustering.cluster_customers(rfm_table, cltv, prepared.intake.accounts, settings=settings)
    potential = scoring.score_customers(
        scoring.PotentialInputs(
            summary=summary, transactions=prepared.transactions_file, cltv=cltv,
            accounts=prepared.intake.accounts, service_map=prepared.intake.service_map, as_of=prepared.cutoff,
        ),
        settings,
    )
    return {
        "customers": len(summary), "new_on_cutoff": int((summary["T"] == 0).sum()), "model": result.model_name,
        "contract_clients": result.counts["contract_clients"], "total_interval": result.total_interval,
        "cltv": cltv, "clusters": clusters.assignments, "potential": potential.table,
    }


@pytest.mark.parametrize("dataset", ["agency", "cdnow"])
def test_every_month_of_the_bundled_data_builds(dataset, workbook_root, bundled_inputs):
    files, transactions = bundled_inputs(dataset)
    # "auto" compares all three purchase models every month (Pareto/NBD's fast fitter)
    settings = config.load_settings()
    months = _months(transactions)
    built = {}
    for month in months:
        built[month] = _build_month(files, month, settings)
        outcome = built[month]
        assert len(outcome["cltv"]) == outcome["customers"] == len(outcome["potential"]) == len(outcome["clusters"])
        assert np.isfinite(outcome["cltv"][["cltv", "p_alive", "expected_purchases"]].to_numpy()).all(), month
        assert outcome["potential"][["upsell_score", "growth_score"]].notna().all().all(), month
        low, high = outcome["total_interval"]
        assert low <= outcome["cltv"]["cltv"].sum() <= high, month
        assert (outcome["cltv"]["purchases_low"] <= outcome["cltv"]["purchases_high"]).all(), month
        # the likely lost are apart from the quadrants, with the one rule, and every client is in one group
        scored = outcome["potential"]
        assert (scored["likely_lost"] == valuation.likely_lost(scored["p_alive"], settings)).all(), month
        assert scored["quadrant_key"].eq("win_back").equals(scored["likely_lost"]), month
        # clusters worth acting on: none under 5% of the customers
        shares = outcome["clusters"]["cluster"].value_counts(normalize=True)
        assert shares.min() >= settings.clustering.min_cluster_share - 1e-9 or outcome["customers"] < 60, month
    if dataset == "agency":  # issue 13: more than the two groups the silhouette alone picks
        assert 3 <= built[months[-1]]["clusters"]["cluster"].nunique() <= 8
    contract_months = [m for m, o in built.items() if o["contract_clients"]]
    if dataset == "agency":  # retainer clients valued by the retention model once a contract has ended
        assert len(contract_months) > 0.8 * len(months), contract_months
    else:  # CD buyers hold no contracts: at most one who bought the same each month for half a year
        assert all(o["contract_clients"] <= 2 for o in built.values()), contract_months
    # the months that used to fail hold customers first seen on the cut-off day, valued like new customers
    with_new = [m for m, o in built.items() if o["new_on_cutoff"]]
    assert with_new, "the bundled data should hold at least one month with a customer first seen on its last day"
    for month in with_new:
        cltv = built[month]["cltv"].set_index("customer_id")
        summary = preparation.processed.read_artifact(month, "customer_summary").set_index("customer_id")
        new = summary.index[summary["T"] == 0]
        assert (cltv.loc[new, "cltv"] > 0).all(), month
        assert cltv.loc[new, "p_alive"].between(0, 1).all(), month
