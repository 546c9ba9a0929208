"""The reasons sentence of the potential matrix, built for a whole table at once, against its rule applied
one row at a time with describe_component (the one place that words each phrase)."""

import numpy as np
import pandas as pd
import pytest

from helpers.potential import funnel, points, reasons

# values at the edges of the roundings and branches of the phrases: halves of a percent or a euro,
# a rise of exactly 2x (13x reads "13x"), no past, shrinking by less than half a percent
EDGES = {
    "p_alive": [0.0, 0.005, 0.015, 0.125, 0.195, 0.5, 0.994, 0.995, 1.0],
    "budget_headroom": [0.0, 0.005, 0.125, 0.5, 0.9, 1.0],
    "marketing_budget": [0.5, 1.5, 2.5, 1234.5, 100000.0, np.nan],
    "cltv_headroom": [0.0, 0.5, 1.5, 2.5, -0.4, 1234.5, 999999.5],
    "frequency": [0.0, 1.0, 1.5, 2.0, 11.0],
    "recency": [0.0, 1.0, 30.0, 45.5],
    "yoy_growth": [0.0, -0.0, 0.004, 0.005, -0.004, -0.005, 0.0049999, 0.125, 0.3, -0.15],
    "value_past_12m": [0.0, -5.0, 50.0, 100.0],
    "value_next_12m": [0.0, 0.4, 100.5, 150.0, 299.99, 300.0, -1.0],
}
# and anywhere in these ranges
SPREADS = {
    "p_alive": (0.0, 1.0), "budget_headroom": (0.0, 1.0), "marketing_budget": (0.0, 500000.0),
    "cltv_headroom": (0.0, 5000.0), "frequency": (0.0, 40.0), "recency": (0.0, 400.0), "yoy_growth": (-0.3, 0.5),
    "value_past_12m": (0.0, 1000.0), "value_next_12m": (0.0, 3000.0),
}
POINTS = [0.0, 12.5, 25.0, 49.99, 50.0, 50.0, 75.0, 100.0, np.nan]


def _pick(rng, choices, n, spread=None):
    values = rng.choice(np.asarray(choices, dtype="float64"), size=n)
    if spread is not None:  # half edge values, half anything in the range
        values = np.where(rng.random(n) < 0.5, values, rng.uniform(*spread, size=n))
    return values


def scored_table(seed: int, n: int = 2500) -> pd.DataFrame:
    """A table as score_customers leaves it for the reasons, with random points (many ties, missing ones),
    high and low axes, likely lost customers and raw values at the edges of the phrases' roundings."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({name: _pick(rng, values, n, SPREADS[name]) for name, values in EDGES.items()})
    table.loc[rng.random(n) < 0.1, "p_alive"] = np.nan
    table["likely_lost"] = table["p_alive"].notna() & (table["p_alive"] < 0.2)
    cells = np.array(funnel.CELL_COLUMNS)
    shares = [1.0, 2 / 3, 0.5, 0.335, 0.125, 0.005]
    table["whitespace_gaps"] = [
        [(str(cell), float(rng.choice(shares))) for cell in rng.choice(cells, size=rng.integers(0, 4), replace=False)]
        for _ in range(n)
    ]
    for axis in points.AXES:
        for name in points.COMPONENTS[axis]:
            table[f"points_{name}"] = _pick(rng, POINTS, n, (0.0, 100.0))
        table[f"{axis}_high"] = rng.random(n) < 0.5
    table.loc[table["p_alive"].isna(), "points_p_alive"] = np.nan
    return table


def random_weights(seed: int) -> dict[str, dict[str, float]]:
    """Per axis a few of the components with weights that often tie, re-normalised like score_customers."""
    rng = np.random.default_rng(seed)
    weights = {}
    for axis in points.AXES:
        names = [n for n in points.COMPONENTS[axis] if rng.random() < 0.8] or [points.COMPONENTS[axis][0]]
        raw = {n: float(rng.choice([1.0, 1.0, 2.0, 3.0])) for n in names}
        weights[axis] = {n: w / sum(raw.values()) for n, w in raw.items()}
    return weights


def reasons_row_by_row(table, weights_used, currency, language, quantile, per_axis) -> list[str]:
    """The rule for the reasons, one row at a time: for the likely lost the P(alive) phrase first; per axis
    the candidates with points >= 50 (high axis) or < 50 (low axis), leaving out missing points and, for
    the likely lost, P(alive); strongest first (weight x points, or weight x (100 - points)), ties in
    the order of the weights; the first ``per_axis`` on a high axis, one on a low axis."""
    sentences = []
    for row in table.to_dict("records"):
        lost = bool(row.get("likely_lost"))
        phrases = [reasons.describe_component("p_alive", row, False, currency, language, quantile)] if lost else []
        for axis in points.AXES:
            high = bool(row[f"{axis}_high"])
            candidates = []
            for name, w in weights_used[axis].items():
                p = row[f"points_{name}"]
                if np.isnan(p) or (lost and name == "p_alive"):
                    continue
                if (high and p >= 50) or (not high and p < 50):
                    candidates.append((w * p if high else w * (100.0 - p), name))
            candidates.sort(key=lambda c: -c[0])
            phrases += [reasons.describe_component(name, row, high, currency, language, quantile)
                        for _, name in candidates[: per_axis if high else 1]]
        sentences.append("; ".join(phrases))
    return sentences


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reasons_match_describe_component_row_by_row(language, seed):
    table = scored_table(seed)
    weights = random_weights(seed)
    per_axis = [2, 1, 3][seed - 1]
    currency = ["EUR", "CHF", "USD"][seed - 1]
    expected = reasons_row_by_row(table, weights, currency, language, 0.75, per_axis)
    got = reasons.reason_sentences(table, weights, currency, language, 0.75, per_axis)
    assert list(got) == expected


def test_reasons_with_every_component_and_no_phrase_at_all():
    table = scored_table(7, n=400)
    weights = {axis: {n: 1 / len(points.COMPONENTS[axis]) for n in points.COMPONENTS[axis]}
               for axis in points.AXES}
    for per_axis in (0, 4):
        expected = reasons_row_by_row(table, weights, "EUR", "de", 0.8, per_axis)
        assert list(reasons.reason_sentences(table, weights, "EUR", "de", 0.8, per_axis)) == expected
    nothing = {axis: {} for axis in points.AXES}
    table["likely_lost"] = False
    assert set(reasons.reason_sentences(table, nothing, "EUR", "en", 0.75, 2)) == {""}


def test_each_distinct_phrase_is_worded_once(monkeypatch):
    calls = []
    describe = reasons.describe_component
    monkeypatch.setattr(reasons, "describe_component", lambda *a, **k: calls.append(a[0]) or describe(*a, **k))
    table = pd.DataFrame({"recency": np.tile([1.0, 2.0, 3.0, 2.4], 5000)})
    codes, texts = reasons.distinct_phrases("recency", table, np.arange(len(table)), np.zeros(len(table), bool),
                                              "EUR", "en")
    assert len(calls) == 3 and sorted(texts) == [f"last purchase {d} days ago" for d in (1, 2, 3)]
    assert list(texts[codes[:4]]) == ["last purchase 1 days ago", "last purchase 2 days ago",
                                      "last purchase 3 days ago", "last purchase 2 days ago"]


def test_a_phrase_reading_an_undeclared_column_fails_loudly(monkeypatch):
    # if describe_component starts to read a column PHRASE_INPUTS does not list, rows that differ in it
    # must not share a phrase: it raises instead
    monkeypatch.setitem(reasons.PHRASE_INPUTS, "p_alive", ("p_alive",))
    table = pd.DataFrame({"p_alive": [0.1, 0.1], "likely_lost": [True, False]})
    with pytest.raises(KeyError, match="likely_lost"):
        reasons.distinct_phrases("p_alive", table, np.arange(2), np.zeros(2, bool), "EUR", "en")
