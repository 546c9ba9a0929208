"""B2B prerequisites and sorters."""

import pandas as pd
import pytest

from helpers.core.config import settings_with
from helpers.potential import qualification as q

SETTINGS = settings_with({
    "qualification": {
        "rules": [{"column": "business_model", "in": ["B2B", "B2B2C"]}, {"column": "employees", "min": 10}],
        "sorters": ["business_model", "industry", "size_band"],
        "size_bands": [10, 50, 250],
    }
})


def _accounts():
    return pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "F"],
            "name": ["Alpha GmbH", "Beta AG", "Gamma KG", "Delta e.K.", "Epsilon SE", "Zeta GmbH"],
            "business_model": ["B2B", "b2b2c", "B2C", "B2B", None, "B2B"],
            "industry": ["SaaS", "SaaS", "Retail", "Manufacturing", "SaaS", "Manufacturing"],
            "employees": [45, 300, 80, 5, 20, None],
        }
    )


def test_size_bands():
    bands = q.size_band([2, 10, 49, 50, 249, 250, None])
    assert list(bands.astype(object).fillna("?")) == ["1-9", "10-49", "10-49", "50-249", "50-249", "250+", "?"]
    assert q.size_band_labels([10, 50, 250]) == ["1-9", "10-49", "50-249", "250+"]


def test_qualify_lists_every_failed_rule():
    result = q.qualify(_accounts(), SETTINGS).set_index("customer_id")
    assert list(result.index[result["qualified"]]) == ["A", "B"]  # B2B2C in any case qualifies
    assert result.loc["C", "failed_rules"] == "business_model in B2B, B2B2C"
    assert result.loc["D", "failed_rules"] == "employees >= 10"
    assert result.loc["E", "failed_rules"] == "business_model in B2B, B2B2C"  # empty value fails
    assert result.loc["F", "failed_rules"] == "employees >= 10"
    listed = q.unqualified(q.qualify(_accounts(), SETTINGS))
    assert list(listed.columns) == ["customer_id", "name", "failed_rules"]
    assert len(listed) == 4
    assert q.failed_rule_counts(q.qualify(_accounts(), SETTINGS)).to_dict() == {
        "business_model in B2B, B2B2C": 2, "employees >= 10": 2}


def test_missing_column_fails_with_a_note():
    settings = settings_with({"qualification": {"rules": [{"column": "region", "in": ["Bayern"]}]}})
    result = q.qualify(_accounts(), settings)
    assert not result["qualified"].any()
    assert result["failed_rules"].iloc[0] == "region in Bayern (column missing)"


def test_not_in_and_max():
    settings = settings_with({"qualification": {"rules": [{"column": "industry", "not_in": ["Retail"]},
                                                          {"column": "employees", "max": 100}]}})
    result = q.qualify(_accounts(), settings).set_index("customer_id")
    assert list(result.index[result["qualified"]]) == ["A", "D", "E"]


def test_cross_table_counts_qualified_accounts_with_totals():
    table = q.cross_table(q.qualify(_accounts(), SETTINGS), "industry", "size_band")
    assert table.loc["SaaS", "10-49"] == 1 and table.loc["SaaS", "250+"] == 1
    assert table.loc["total", "total"] == 2
    assert list(table.columns) == ["10-49", "250+", "total"]  # bands in size order, empty ones left out
    accounts = _accounts()
    accounts["employees"] = [300, 20, 80, 60, 20, 15]
    accounts["business_model"] = "B2B"
    wide = q.cross_table(q.qualify(accounts, SETTINGS), "business_model", "size_band")
    assert list(wide.columns) == ["10-49", "50-249", "250+", "total"]


def test_bad_rules_are_refused():
    with pytest.raises(q.QualificationError, match="exactly one"):
        q.qualify(_accounts(), settings_with({"qualification": {"rules": [{"column": "employees", "min": 1, "max": 5}]}}))
    with pytest.raises(q.QualificationError, match="number"):
        q.qualify(_accounts(), settings_with({"qualification": {"rules": [{"column": "employees", "min": "many"}]}}))
    with pytest.raises(q.QualificationError, match="column"):
        q.qualify(_accounts(), settings_with({"qualification": {"rules": [{"in": ["B2B"]}]}}))
