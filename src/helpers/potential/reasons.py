"""The reasons of the potential matrix: per customer a short sentence, in English or German, naming for each
axis the components that lift it most (high axis) or hold it down most (low axis); whitespace names the
missing stage/kind cells that most peers buy, and a likely lost customer's sentence starts with P(alive).

:func:`describe_component` writes one component's phrase for one customer. :func:`reason_sentences`
writes the sentences of a whole scored table, calling it once per distinct phrase rather than once per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.core.language import money
from helpers.potential import funnel
from helpers.potential.points import AXES


def _pct(value: float, signed: bool = False, language: str = "en") -> str:
    text = f"{100.0 * value:+.0f}" if signed else f"{100.0 * value:.0f}"
    return f"{text} %" if language == "de" else f"{text}%"


def describe_component(name: str, row: Mapping[str, Any], high: bool, currency: str, language: str,
                       quantile: float = 0.75, max_gaps: int = 2) -> str:
    """A short phrase for one component of one customer (``row`` from the scored table)."""
    de = language == "de"
    if name == "whitespace":
        gaps = list(row.get("whitespace_gaps") or [])[:max_gaps]
        if high and gaps:
            cells = ", ".join(
                f"{funnel.cell_label(c)} ({_pct(a, language=language)}" + (" der Vergleichskunden)" if de else " of peers)")
                for c, a in gaps
            )
            return ("Lücken in " if de else "whitespace in ") + cells
        return "kauft das meiste, was Vergleichskunden kaufen" if de else "buys most of what peers buy"
    if name == "budget_headroom":
        share, budget = float(row["budget_headroom"]), float(row["marketing_budget"])
        if high:
            return (f"Budgetspielraum {_pct(share, language=language)} von {money(budget, currency, language)}" if de
                    else f"budget headroom {_pct(share)} of {money(budget, currency, language)}")
        return (f"Budget weitgehend bei uns ({_pct(share, language=language)} frei)" if de
                else f"budget mostly spent with us ({_pct(share)} left)")
    if name == "cltv_headroom":
        top = _pct(1.0 - quantile, language=language)
        if high:
            gap = money(float(row["cltv_headroom"]), currency, language)
            return (f"CLTV {gap} unter den besten {top} der Vergleichskunden" if de
                    else f"CLTV {gap} below the top {top} of peers")
        return (f"CLTV bereits unter den besten {top} der Vergleichskunden" if de
                else f"CLTV already among the top {top} of peers")
    if name == "frequency":
        n = int(row["frequency"])
        if de:
            return f"{n} Kauftage" if high else f"nur {n} Kauftag{'e' if n != 1 else ''}"
        return f"{n} purchase days" if high else f"only {n} purchase day{'s' if n != 1 else ''}"
    if name == "yoy_growth":
        g = float(row["yoy_growth"])
        if round(100.0 * g) == 0:
            return "stagniert (±0 % p. a.)" if de else "flat (±0% a year)"
        only = "" if high or g < 0 else ("nur " if de else "only ")
        if de:
            return f"{'wächst ' + only if g >= 0 else 'schrumpft '}{_pct(g, signed=True, language=language)} p. a."
        return f"{'growing ' + only if g >= 0 else 'shrinking '}{_pct(g, signed=True)} a year"
    if name == "cltv_vs_past":
        nxt, past = float(row["value_next_12m"]), float(row["value_past_12m"])
        if past <= 0:
            if nxt > 0:
                return (f"erwarteter Wert {money(nxt, currency, language)} in 12 Monaten, zuletzt kein Umsatz" if de
                        else f"{money(nxt, currency, language)} value expected in 12 months after none in the last 12")
            return "kein Wert erwartet" if de else "no value expected"
        change = nxt / past - 1.0
        if change >= 2.0:  # +1221% reads badly: say 13x
            times = f"{nxt / past:.0f}"
            return (f"erwarteter Wert {times}-mal so hoch wie in den letzten 12 Monaten" if de
                    else f"expected value {times}x that of the last 12 months")
        return (f"erwarteter Wert {_pct(change, signed=True, language=language)} ggü. den letzten 12 Monaten" if de
                else f"expected value {_pct(change, signed=True)} vs the last 12 months")
    if name == "p_alive":
        p = _pct(float(row["p_alive"]), language=language)
        if high:
            return f"P(aktiv) {p}" if de else f"P(alive) {p}"
        if row.get("likely_lost"):
            return f"wahrscheinlich verloren: P(aktiv) {p}" if de else f"likely lost: P(alive) {p}"
        return f"P(aktiv) nur {p}" if de else f"P(alive) only {p}"
    if name == "recency":
        days = int(row["recency"])
        return f"letzter Kauf vor {days} Tagen" if de else f"last purchase {days} days ago"
    raise KeyError(name)


def floor_phrase(value_class: str, cutoffs: tuple[float, float], review: str, language: str) -> str:
    """Why the attention floor lifts a client: its class by expected value and the review it gets at least."""
    first = {"A": cutoffs[0], "B": cutoffs[1]}.get(value_class)
    if language == "de":
        share = f" (die ersten {_pct(first, language=language)} des erwarteten Werts)" if first else ""
        return f"{value_class}-Kunde nach erwartetem Wert{share}: mindestens {review}"
    share = f" (the first {_pct(first)} of the expected value)" if first else ""
    return f"{value_class} client by expected value{share}: at least {review[:1].lower() + review[1:]}"


# --------------------------------------------------------------------------------------------------
# reasons for a whole table: describe_component is called once per distinct phrase, not once per row
# --------------------------------------------------------------------------------------------------
# The columns each component's phrase reads (besides the constants currency, language and quantile).
PHRASE_INPUTS: dict[str, tuple[str, ...]] = {
    "whitespace": ("whitespace_gaps",),
    "budget_headroom": ("budget_headroom", "marketing_budget"),
    "cltv_headroom": ("cltv_headroom",),
    "frequency": ("frequency",),
    "yoy_growth": ("yoy_growth",),
    "cltv_vs_past": ("value_next_12m", "value_past_12m"),
    "p_alive": ("p_alive", "likely_lost"),
    "recency": ("recency",),
}


class _DeclaredRow(Mapping[str, Any]):
    """A row holding only the columns :data:`PHRASE_INPUTS` declares for one phrase. Reading any other
    column raises, also through ``get``: a phrase that starts to read an undeclared column must fail
    here rather than be shared between rows that differ in that column."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            raise KeyError(f"describe_component reads {key!r}, which PHRASE_INPUTS does not declare")
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _shown_whole(values: np.ndarray) -> list[np.ndarray]:
    """What an f"{v:.0f}" or f"{v:+.0f}" format shows of ``values``: the sign bit (-0.0 prints as
    "-0") and the value rounded half to even, which is how Python's format rounds."""
    return [np.signbit(values), np.rint(values)]


def _shown_money(values: np.ndarray) -> list[np.ndarray]:
    """What :func:`helpers.core.language.money` (no decimals) shows: "-" when not finite, the sign, the amount."""
    with np.errstate(invalid="ignore"):
        return [~np.isfinite(values), values < 0, np.rint(np.abs(values))]


def _only_where(condition: np.ndarray, keys: list[np.ndarray]) -> list[np.ndarray]:
    """``keys`` where the phrase shows them, 0 elsewhere, so that rows whose phrase does not show a value
    are not told apart by it (fewer distinct phrases to write)."""
    return [np.where(condition, key, 0) for key in keys]


def _phrase_keys(name: str, values: Mapping[str, np.ndarray], high: np.ndarray) -> list[np.ndarray]:
    """Arrays that together determine the phrase :func:`describe_component` writes for component ``name``:
    rows with equal keys get the same text. They must follow its wording's branches and roundings; a key
    finer than needed only costs calls, a coarser one would be a bug (the test compares the reasons with
    describe_component row by row)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "whitespace":
            gaps = np.empty(len(high), dtype=object)
            gaps[:] = [tuple(tuple(gap) for gap in row) if is_high and row is not None else ()
                       for row, is_high in zip(values["whitespace_gaps"], high, strict=True)]
            return [high, gaps]
        if name == "budget_headroom":
            share = values["budget_headroom"].astype("float64")
            budget = values["marketing_budget"].astype("float64")
            return [high, *_shown_whole(100.0 * share), *_only_where(high, _shown_money(budget))]
        if name == "cltv_headroom":
            return [high, *_only_where(high, _shown_money(values["cltv_headroom"].astype("float64")))]
        if name in ("frequency", "recency"):
            return [high, np.trunc(values[name].astype("float64"))]  # int() truncates
        if name == "yoy_growth":
            growth = values["yoy_growth"].astype("float64")
            return [high, growth >= 0, growth < 0, *_shown_whole(100.0 * growth)]
        if name == "cltv_vs_past":
            nxt = values["value_next_12m"].astype("float64")
            past = values["value_past_12m"].astype("float64")
            nothing_before = past <= 0
            ratio = nxt / past
            change = ratio - 1.0
            return [nothing_before, nxt > 0, *_only_where(nothing_before & (nxt > 0), _shown_money(nxt)),
                    change >= 2.0, *_only_where(~nothing_before & (change >= 2.0), _shown_whole(ratio)),
                    *_only_where(~nothing_before & ~(change >= 2.0), _shown_whole(100.0 * change))]
        if name == "p_alive":
            lost = values["likely_lost"].astype(bool)
            return [high, lost & ~high, *_shown_whole(100.0 * values["p_alive"].astype("float64"))]
    raise KeyError(name)


def distinct_phrases(name: str, table: pd.DataFrame, rows: np.ndarray, high: np.ndarray, currency: str,
                     language: str, quantile: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """:func:`describe_component` for the rows ``rows`` (positions in ``table``), ``high`` per row, called
    once per distinct phrase (:func:`_phrase_keys`): the distinct texts and, per row, the position of its
    text in them (``texts[codes]`` is the phrase of every row)."""
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    high = np.asarray(high, dtype=bool)
    inputs = table[list(PHRASE_INPUTS[name])].iloc[rows]
    keys = _phrase_keys(name, {column: inputs[column].to_numpy() for column in inputs.columns}, high)
    codes = pd.DataFrame(dict(enumerate(keys))).groupby(list(range(len(keys))), sort=False, dropna=False).ngroup()
    codes = codes.to_numpy()
    _, first = np.unique(codes, return_index=True)  # groups are numbered 0..k-1: first[k] is a row of group k
    records = inputs.iloc[first].to_dict("records")  # the same Python values as a row of to_dict("records")
    texts = np.array(
        [describe_component(name, _DeclaredRow(record), bool(high[i]), currency, language, quantile)
         for record, i in zip(records, first, strict=True)],
        dtype=object,
    )
    return codes, texts


def _chosen_components(points: np.ndarray, weights: np.ndarray, high: np.ndarray, excluded: np.ndarray,
                       per_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """For one axis, the components each row's reasons name: on a high axis the ``per_axis`` that lift it
    most (points >= 50, by weight x points), on a low axis the one that holds it down most (points < 50,
    by weight x (100 - points)); ties keep the order of the weights. ``points`` is rows x components,
    ``excluded`` marks cells to leave out. Returns the component positions (rows x slots, strongest first)
    and which slots are filled."""
    with np.errstate(invalid="ignore"):
        candidate = ~np.isnan(points) & ~excluded & np.where(high[:, None], points >= 50, points < 50)
    strength = np.where(high[:, None], weights * points, weights * (100.0 - points))
    # descending strength, stable like list.sort(key=lambda c: -strength); non-candidates last
    order = np.argsort(np.where(candidate, -strength, np.inf), axis=1, kind="stable")
    count = candidate.sum(axis=1)
    # as many as the slice candidates[:per_axis] (high) or candidates[:1] (low) keeps
    limit = np.where(high, per_axis, 1)
    limit = np.where(limit < 0, np.maximum(count + limit, 0), np.minimum(limit, count))
    return order, np.arange(points.shape[1])[None, :] < limit[:, None]


def reason_sentences(table: pd.DataFrame, weights_used: Mapping[str, Mapping[str, float]], currency: str,
                     language: str, quantile: float, per_axis: int) -> pd.api.extensions.ExtensionArray:
    """Per row the reasons sentence: for likely lost customers the P(alive) phrase first, then per axis
    the phrases of the components :func:`_chosen_components` picks, joined by "; "."""
    n = len(table)
    lost = table["likely_lost"].to_numpy(dtype=bool) if "likely_lost" in table else np.zeros(n, dtype=bool)
    names = ["p_alive"]  # component position -> name, over both axes
    # the phrases in sentence order, each: (component position per row, filled per row, high per row)
    slots = [(np.zeros(n, dtype=np.int64), lost, np.zeros(n, dtype=bool))]
    for axis in AXES:
        axis_names = list(weights_used[axis])
        if not axis_names:
            continue
        names += [name for name in axis_names if name not in names]
        positions = np.array([names.index(name) for name in axis_names])
        points = np.column_stack([table[f"points_{name}"].to_numpy(dtype="float64") for name in axis_names])
        weights = np.array([weights_used[axis][name] for name in axis_names], dtype="float64")
        excluded = lost[:, None] & (np.array(axis_names) == "p_alive")[None, :]
        high = table[f"{axis}_high"].to_numpy(dtype=bool)
        order, filled = _chosen_components(points, weights, high, excluded, per_axis)
        slots += [(positions[order[:, slot]], filled[:, slot], high) for slot in range(order.shape[1])
                  if filled[:, slot].any()]

    # A row names each component at most once (the axes share none, and the likely lost have their
    # P(alive) phrase instead of it on the growth axis): one phrase per row and component.
    needed = np.zeros((len(names), n), dtype=bool)
    high = np.zeros((len(names), n), dtype=bool)
    for component, filled, slot_high in slots:
        rows = np.flatnonzero(filled)
        needed[component[rows], rows] = True
        high[component[rows], rows] = slot_high[rows]
    # codes[component, row]: the row's phrase among all distinct phrases; code 0 is "no phrase"
    codes = np.zeros((len(names), n), dtype=np.int64)
    texts = [np.array([""], dtype=object)]
    count = 1
    for position, name in enumerate(names):
        rows = np.flatnonzero(needed[position])
        row_codes, distinct = distinct_phrases(name, table, rows, high[position, rows], currency, language, quantile)
        codes[position, rows] = count + row_codes
        texts.append(distinct)
        count += len(distinct)
    phrases = np.concatenate(texts)
    # each phrase also with the separator in front, for all but a sentence's first phrase; the sentences
    # are put together by Arrow, several times faster than adding up a million Python strings per slot
    variants = pa.array(np.concatenate([phrases, "; " + phrases]), type=pa.large_string())
    parts = []
    started = np.zeros(n, dtype=bool)
    every_row = np.arange(n)
    for component, filled, _ in slots:
        parts.append(variants.take(np.where(filled, codes[component, every_row], 0) + np.where(started & filled, count, 0)))
        started |= filled
    sentences = pc.binary_join_element_wise(*parts, pa.scalar("", type=pa.large_string()))
    return sentences.to_pandas().array  # texts as pandas makes them (str in pandas 3)
