"""Does P(alive) mean what it says? Its checks on the holdout window.

- :func:`alive_auc`: how well P(alive) at the end of the calibration window ranks the customers who bought
  again in the holdout window above those who did not (the area under the ROC curve; 0.5 is a coin toss);
  :func:`helpers.clv.diagnostics.holdout_metrics` gives it per candidate model, :func:`alive_auc_reading`
  says it in words;
- :func:`purchase_probability`: the model's own probability that a customer buys at least once in the next
  ``t`` time units, P(alive) x P(a purchase in t | alive): what the share of holdout buyers should match
  (P(alive) alone only bounds it: a customer still active may not buy in a short window);
- :func:`alive_calibration`: customers binned by predicted P(alive), with that probability and the share of
  them who bought again (the calibration chart), :func:`alive_calibration_reading` in one sentence,
  :func:`alive_calibration_departures` where the model is off beyond chance.

Given that a customer is still active after ``x`` repeat purchases over the age ``T``, every model's purchase
rate is lambda ~ Gamma(r + x, alpha + T) (the posterior), so the first future purchase comes after a time E
with P(E <= u) = 1 - ((alpha + T) / (alpha + T + u))^(r + x). In BG/NBD and MBG/NBD a customer can only
leave right after a purchase, so an active customer makes that purchase: P(a purchase in t | alive) =
P(E <= t). In Pareto/NBD the lifetime runs out at any time: the remaining lifetime tau is Pareto II,
P(tau > u) = ((beta + T) / (beta + T + u))^s (mu ~ Gamma(s, beta + T) given alive, memoryless), and
P(a purchase in t | alive) = P(E <= min(t, tau)) = integral over u in (0, t) of P(tau > u) dP(E <= u).
Both are the first step of the models' exact distribution of an active customer's future purchases
(:meth:`PurchaseModel.future_purchases_survival`; the tests check it against lifetimes' conditional pmf,
adaptive quadrature and a simulation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from helpers.clv.inputs import CALIBRATION_NAMES, as_array, compress_rows
from helpers.clv.lifetimes_bridge import quiet
from helpers.clv.models.base import PurchaseModel
from helpers.clv.models.robust_fit import PURCHASE_MODELS

#: A model whose one-time buyers all get at least this P(alive) is said to give them all 100%
_ALL_ALIVE = 0.9995


# --------------------------------------------------------------------------------------------------
# the probabilities
# --------------------------------------------------------------------------------------------------
def alive_auc(p_alive: Any, bought_again: Any) -> float:
    """Area under the ROC curve of ``p_alive`` for ``bought_again`` (true/false per customer): the chance
    that a customer who bought again has a higher P(alive) than one who did not, ties counting half.
    NaN when all customers or none bought again (nothing to tell apart)."""
    scores, labels = as_array(p_alive), np.asarray(bought_again, dtype=bool).reshape(-1)
    if len(labels) == 0 or labels.all() or not labels.any():
        return float("nan")
    # the Mann-Whitney form of scikit-learn's roc_auc_score (tests compare them): for each buyer, the others
    # scored lower plus half those tied, by binary search in the others' sorted scores (two sorts instead
    # of its argsort of everything: a third of its time at a million customers)
    buyers, others = np.sort(scores[labels]), np.sort(scores[~labels])
    lower = np.searchsorted(others, buyers, side="left")
    tied = np.searchsorted(others, buyers, side="right") - lower
    return float((lower.sum() + 0.5 * tied.sum()) / (len(buyers) * len(others)))


def purchase_probability_if_alive(model: PurchaseModel, t: float, frequency: Any, T: Any) -> np.ndarray:
    """P(at least one purchase in the next ``t`` time units | still active, ``frequency`` repeat purchases
    over the age ``T``) (frequency and T broadcast; the recency does not enter): the first step of the
    model's exact distribution of an active customer's future purchases,
    :meth:`PurchaseModel.future_purchases_survival`. t <= 0 gives 0."""
    if not isinstance(model, PurchaseModel):
        raise TypeError(f"no purchase probability for {type(model).__name__}")
    x, T_ = np.broadcast_arrays(np.asarray(frequency, dtype="float64"), np.asarray(T, dtype="float64"))
    if t <= 0:
        return np.zeros(x.shape)
    with np.errstate(all="ignore"):
        first = model.future_purchases_survival(float(t), x.reshape(-1), T_.reshape(-1), 1)[:, 1]
    return first.reshape(x.shape)


def purchase_probability(model: PurchaseModel, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(at least one purchase in the next ``t`` time units) per customer given the history: P(alive)
    times :func:`purchase_probability_if_alive`, the latter once per distinct (frequency, T)."""
    x, t_x, T_ = as_array(frequency), as_array(recency), as_array(T)
    if t <= 0:
        return np.zeros(len(x))
    (ux, uT), _, inverse = compress_rows(x, T_)
    with quiet():
        alive = model.probability_alive(x, t_x, T_)
    return alive * purchase_probability_if_alive(model, float(t), ux, uT)[inverse]


def holdout_probabilities(holdout: pd.DataFrame, model: PurchaseModel) -> tuple[np.ndarray, np.ndarray]:
    """Per customer of a calibration / holdout summary: P(alive) at the end of the calibration window and
    P(at least one purchase in the customer's holdout window), both from ``model`` (a calibration fit)."""
    cal = holdout.rename(columns=CALIBRATION_NAMES)
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    duration = cal["duration_holdout"].to_numpy(dtype="float64")
    with quiet():
        alive = model.probability_alive(x, t_x, T)
    buys = np.zeros_like(alive)
    for d in np.unique(duration):  # one holdout duration in practice; vectorised over its customers
        sel = duration == d
        if d > 0:
            (ux, uT), _, inverse = compress_rows(x[sel], T[sel])
            buys[sel] = alive[sel] * purchase_probability_if_alive(model, float(d), ux, uT)[inverse]
    return alive, buys


# --------------------------------------------------------------------------------------------------
# the calibration table
# --------------------------------------------------------------------------------------------------
def alive_calibration(holdout: pd.DataFrame, model: PurchaseModel, bins: int = 10) -> pd.DataFrame:
    """Customers binned by their P(alive) at the end of the calibration window into ``bins`` bins of equal
    width (0-10%, ..., 90-100% for ten; 100% falls in the last), empty bins left out. Per bin: customers,
    ``p_alive`` (their mean P(alive)), ``expected_share`` (the mean of the model's probability of at least
    one purchase in the holdout window, :func:`holdout_probabilities`) and ``actual_share`` (the share who
    bought again in the holdout window). ``actual_share`` should match ``expected_share``; ``p_alive`` is
    above the expectation, as a customer still active need not buy within the window (a share of buyers
    above it says that customers the model counted as gone came back).

    Equal widths keep the bins' meaning plain; where the customers crowd into one bin (every one-time
    buyer at 100% under BG/NBD) the customers column says so, and the chart sizes its markers by it.
    """
    alive, buys = holdout_probabilities(holdout, model)
    bought = holdout.rename(columns=CALIBRATION_NAMES)["frequency_holdout"].to_numpy(dtype="float64") > 0
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    index = np.clip(np.searchsorted(edges, np.clip(alive, 0.0, 1.0), side="right") - 1, 0, int(bins) - 1)
    labels = [f"{100 * lo:.0f}-{100 * hi:.0f}%" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    frame = pd.DataFrame({"bin": index, "p_alive": alive, "expected_share": buys, "actual_share": bought})
    table = frame.groupby("bin").agg(
        customers=("p_alive", "size"), p_alive=("p_alive", "mean"), expected_share=("expected_share", "mean"),
        actual_share=("actual_share", "mean"),
    )
    table.index = pd.Index([labels[k] for k in table.index], name="P(alive)")
    return table


def alive_calibration_reading(table: pd.DataFrame) -> str:
    """What :func:`alive_calibration` says in total (the chart's second title line): expected vs actual
    customers who bought again in the holdout window."""
    customers = table["customers"].to_numpy(dtype="float64")
    expected = float((table["expected_share"] * customers).sum())
    actual = float((table["actual_share"] * customers).sum())
    gap = (expected - actual) / actual if actual else 0.0
    return (
        f"the model expected {expected:,.0f} of the {customers.sum():,.0f} customers to buy again in the "
        f"holdout window, {actual:,.0f} did ({gap:+.0%})"
    )


def alive_calibration_departures(
    table: pd.DataFrame, top: int = 3, min_gap: float = 0.05, significance: float = 0.001
) -> str:
    """In words, the bins of :func:`alive_calibration` where the share who bought again departs most from
    the model's expectation: at most ``top``, each more than ``min_gap`` (a share) away and beyond chance
    (an exact two-sided binomial test at ``significance``, about three standard errors, so that a small
    bin's noise is not read as a finding), the clearest first. An empty string when none does."""
    n = table["customers"].to_numpy(dtype="int64")
    expected = table["expected_share"].to_numpy(dtype="float64")
    actual = table["actual_share"].to_numpy(dtype="float64")
    buyers = np.round(actual * n).astype("int64")
    p_values = np.array([
        binomtest(int(k), int(m), float(np.clip(e, 1e-12, 1 - 1e-12))).pvalue if m else 1.0
        for k, m, e in zip(buyers, n, expected, strict=True)
    ])
    found = np.flatnonzero((np.abs(actual - expected) > min_gap) & (p_values < significance))
    found = found[np.argsort(p_values[found], kind="stable")][:top]
    if not len(found):
        return ""
    alive = table["p_alive"].to_numpy(dtype="float64")
    parts = []
    for k in found:
        part = (
            f"of the {n[k]:,.0f} customers with P(alive) {table.index[k]}, {actual[k]:.0%} bought again where "
            f"the model expected {expected[k]:.0%}"
        )
        if actual[k] > alive[k] + min_gap:  # impossible if the model were right: only the living buy
            part += f", more than their P(alive) ({alive[k]:.0%}): some it counted as gone came back"
        parts.append(part)
    return "Where the model is off: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------------
# in words
# --------------------------------------------------------------------------------------------------
def _label(name: str) -> str:
    return PURCHASE_MODELS[name].label if name in PURCHASE_MODELS else str(name)


def alive_auc_reading(metrics: pd.DataFrame, holdout: pd.DataFrame, used: str) -> str:
    """Each model's AUC of P(alive) (:func:`helpers.clv.diagnostics.holdout_metrics`' ``alive_auc``) in
    plain words, the ``used`` model (a setting value) first; where a model gives every one-time buyer
    P(alive) = 100% (BG/NBD), what that does to it; and how the probability of a purchase in the window
    ranks by comparison."""
    if "alive_auc" not in metrics or not np.isfinite(metrics["alive_auc"].astype("float64")).any():
        return (
            "P(alive) could not be checked against the holdout window: no model was fitted on it, or all "
            "customers (or none) bought again in it."
        )
    rows = metrics[np.isfinite(metrics["alive_auc"].astype("float64"))]
    order = [used] * (used in rows.index) + [name for name in rows.index if name != used]
    figures = [
        f"{_label(name)}{' (the model used)' if name == used else ''} {rows.loc[name, 'alive_auc']:.2f}"
        for name in order
    ]
    sentences = [
        "How well P(alive) at the end of the calibration window tells who bought again in the holdout window "
        "(the AUC: the chance that a customer who bought again has a higher P(alive) than one who did not; "
        "0.5 is a coin toss, 1 a perfect ranking): " + ", ".join(figures) + "."
    ]
    cal = holdout.rename(columns=CALIBRATION_NAMES)
    one_time = cal["frequency"].to_numpy(dtype="float64") == 0
    bought = cal["frequency_holdout"].to_numpy(dtype="float64") > 0
    for name in order:
        row = rows.loc[name]
        if not (one_time.any() and (~one_time).any() and row.get("one_time_p_alive", np.nan) >= _ALL_ALIVE):
            continue
        because = " (it assumes nobody leaves before a repeat purchase)" if name == "bgnbd" else ""
        verdict = (
            f": that makes its P(alive) worse than a coin toss at telling who will buy again (AUC "
            f"{row['alive_auc']:.2f})" if row["alive_auc"] < 0.5 else ""
        )
        repeat_auc = row.get("alive_auc_repeat_buyers", np.nan)
        among = f"; among the repeat buyers alone it reaches {repeat_auc:.2f}" if np.isfinite(repeat_auc) else ""
        sentences.append(
            f"{_label(name)} gives every customer who bought only once P(alive) = 100%{because}, so it ranks "
            f"these {one_time.sum():,} customers, of whom {bought[one_time].mean():.0%} bought again, above the "
            f"repeat buyers ({bought[~one_time].mean():.0%} of whom did){verdict}{among}."
        )
    if "purchase_auc" in rows and np.isfinite(rows["purchase_auc"].astype("float64")).all():
        low, high = float(rows["purchase_auc"].min()), float(rows["purchase_auc"].max())
        span = f"{low:.2f}" if round(low, 2) == round(high, 2) else f"{low:.2f} to {high:.2f}"
        better = ", better than P(alive) under any model" if low > float(rows["alive_auc"].max()) else ""
        sentences.append(
            "The models' probability of at least one purchase in the window, which also weighs how often a "
            f"customer buys, reaches an AUC of {span}{better}."
        )
    return " ".join(sentences)
