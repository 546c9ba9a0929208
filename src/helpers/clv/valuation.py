"""What each customer is worth: the probabilistic CLTV, its discounting, and the rule "likely gone".

Probabilistic (:func:`probabilistic_cltv`): a purchase model (BG/NBD, Pareto/NBD or MBG/NBD, chosen by
holdout error, :mod:`helpers.clv.diagnostics`) for the expected number of purchases and P(alive),
Gamma-Gamma for the spend per purchase, combined month by month with discounting
(:func:`discounted_cltv`). The quick agency formula it is compared with lives in :mod:`helpers.clv.quick`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.clv import contract_value, diagnostics, intervals, quick, retention
from helpers.clv.discounting import discounted_cltv
from helpers.clv.inputs import CALIBRATION_NAMES, margin_rates, periods_per_month
from helpers.clv.lifetimes_bridge import ConvergenceError, quiet
from helpers.clv.models import robust_fit
from helpers.clv.models.base import PurchaseModel
from helpers.clv.models.gamma_gamma import GammaGamma
from helpers.clv.models.robust_fit import PENALIZERS, PURCHASE_MODELS
from helpers.clv.models.sbg import ShiftedBetaGeometric
from helpers.core.config import Settings, default_settings

OUTPUT_COLUMNS = [
    "customer_id",
    "expected_purchases",
    "p_alive",
    "expected_avg_spend",
    "cltv",
    "cltv_quick",
    "cltv_model",
    "purchases_low",
    "purchases_high",
    "cltv_low",
    "cltv_high",
]
COUNT_LABELS = {
    "customers": "customers valued",
    "no_repeat_purchase": "bought only once so far: spend per purchase is the average of all customers",
    "nonpositive_monetary": "repeat buyers whose refunds cancel their spend: kept out of the spend model",
    "gamma_gamma_failed": "spend model failed: value from the quick formula",
    "nonfinite_replaced": "model value not computable: value from the quick formula",
    "negative_clipped": "negative value (loss-making margin) set to 0",
    "contract_clients": "contract clients valued by the retention model (sBG) instead",
}


def likely_lost(p_alive: Any, settings: Settings | None = None) -> np.ndarray:
    """The one rule for "likely lost", used by every notebook, key figure, report and the CRM export: P(alive)
    below ``cltv.likely_lost_below`` (0.5 by default: the model finds leaving likelier than staying). Unknown
    P(alive) is not lost."""
    below = (settings or default_settings()).cltv.likely_lost_below
    return np.asarray(p_alive, dtype="float64") < below


# --------------------------------------------------------------------------------------------------
# probabilistic CLTV
# --------------------------------------------------------------------------------------------------
@dataclass
class CLTVResult:
    """How the probabilistic CLTV was made.

    ``reason``: why the purchase model was chosen (selection or fallback); ``purchase_model`` /
    ``spend_model``: the fitted models of :mod:`helpers.clv.models` (``spend_model`` None if Gamma-Gamma
    failed); ``holdout_metrics``: one row per candidate model (MAE, RMSE, totals); ``counts``: customers
    handled by each special rule; ``notes``: plain sentences for the report; ``calibration_fits``: the
    candidate models fitted on the calibration window for the holdout check, by name (reused by the holdout
    charts instead of fitting again, :meth:`calibration_fit`).
    """

    reason: str
    purchase_model: PurchaseModel
    spend_model: GammaGamma | None
    holdout_metrics: pd.DataFrame
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    calibration_fits: dict[str, PurchaseModel] = field(default_factory=dict)
    #: the nominal level of the intervals, the total's interval (low, high) and the covariance of the
    #: purchase model's log-parameters on all data (None: not computable)
    interval_level: float = 0.9
    total_interval: tuple[float, float] = (float("nan"), float("nan"))
    covariance: np.ndarray | None = None
    #: the sBG model of the contract clients (None: no contract clients valued by it)
    retention_model: ShiftedBetaGeometric | None = None

    @property
    def model_name(self) -> str:
        """The purchase model used, as a setting value (bgnbd, pareto, mbgnbd)."""
        return self.purchase_model.name

    def calibration_fit(self, holdout: pd.DataFrame | None) -> PurchaseModel | None:
        """The purchase model used, fitted on the calibration window of ``holdout`` only (None without a
        holdout summary or if the fit fails): the fit the holdout check already made on the same data,
        penalizers and no fallback, else :func:`helpers.clv.diagnostics.calibration_fit`."""
        if holdout is None:
            return None
        fitted = self.calibration_fits.get(self.model_name)
        return fitted if fitted is not None else diagnostics.calibration_fit(holdout, self.model_name)


def _choose_purchase_model(
    holdout_summary: pd.DataFrame | None,
    model: str,
    n_customers: int,
    penalizers: tuple[float, ...],
    pareto_max_customers: int | None,
    notes: list[str],
) -> tuple[str, str, pd.DataFrame, dict[str, PurchaseModel]]:
    """The purchase model to fit on all data and why, with the holdout metrics and calibration fits."""
    candidates = tuple(PURCHASE_MODELS) if model == "auto" else (model,)
    if model == "auto" and pareto_max_customers is not None and n_customers > pareto_max_customers:
        # the user's limit (a fixed model = "pareto" is still honoured); the default null never leaves it out
        candidates = tuple(m for m in candidates if m != "pareto")
        notes.append(
            f"Pareto/NBD left out of the comparison: {n_customers:,} customers is more than "
            f"cltv.pareto_max_customers ({pareto_max_customers:,})."
        )
    calibration_fits: dict[str, PurchaseModel] = {}
    if holdout_summary is not None:
        metrics, calibration_fits = diagnostics.holdout_metrics(holdout_summary, candidates, penalizers)
    else:
        metrics = pd.DataFrame(columns=["converged", "mae", "rmse"]).rename_axis("model")
    if model != "auto":
        return model, f"{PURCHASE_MODELS[model].label} requested.", metrics, calibration_fits
    if holdout_summary is None:
        return "bgnbd", "No calibration/holdout data given: BG/NBD used as the default.", metrics, calibration_fits
    ok = metrics[metrics["converged"].astype(bool)] if len(metrics) else metrics
    if ok.empty:
        reason = "No model converged on the calibration data: BG/NBD tried on all data."
        return "bgnbd", reason, metrics, calibration_fits
    rmse = ok["rmse"].astype(float)
    best = str(rmse.idxmin())
    chosen, tie_note = _break_tie_by_alive_auc(ok, best)
    row = ok.loc[chosen]
    reason = (
        f"{PURCHASE_MODELS[chosen].label} has the lowest holdout RMSE ({row['rmse']:.3f} purchases per "
        f"customer; MAE {row['mae']:.3f}; predicted {row['predicted_total']:.0f} vs actual "
        f"{row['actual_total']:.0f} purchases) among {len(ok)} converged model(s)."
    ) if chosen == best else tie_note
    return chosen, reason, metrics, calibration_fits


#: models whose holdout RMSE is within this share of the best predict the purchases equally well
RMSE_TIE = 0.01


def _break_tie_by_alive_auc(ok: pd.DataFrame, best: str) -> tuple[str, str]:
    """Among the models that predict the holdout purchases as well as the best (RMSE within
    :data:`RMSE_TIE`), the one whose P(alive) best tells who bought again (AUC): P(alive) decides who
    counts as likely gone, the growth score and the win-back list, so a tie in purchases goes to the model
    whose P(alive) means something (BG/NBD gives every one-time buyer 100%)."""
    if "alive_auc" not in ok:
        return best, ""
    rmse, auc = ok["rmse"].astype(float), ok["alive_auc"].astype(float)
    near = rmse.index[(rmse <= rmse[best] * (1.0 + RMSE_TIE)) & np.isfinite(auc)]
    if len(near) < 2 or not np.isfinite(auc[best]):
        return best, ""
    chosen = str(auc[near].idxmax())
    if chosen == best or auc[chosen] <= auc[best]:
        return best, ""
    label, other = PURCHASE_MODELS[chosen].label, PURCHASE_MODELS[best].label
    return chosen, (
        f"{label} predicts the holdout purchases as well as {other} (RMSE {rmse[chosen]:.3f} against "
        f"{rmse[best]:.3f} purchases per customer, within {RMSE_TIE:.0%}), and its P(alive) tells better "
        f"who bought again (AUC {auc[chosen]:.2f} against {auc[best]:.2f}): P(alive) decides who counts as "
        f"likely gone, so {label} is used."
    )


def probabilistic_cltv(
    summary: pd.DataFrame,
    holdout_summary: pd.DataFrame | None = None,
    model: str = "auto",
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    unit_days: float = 7.0,
    penalizers: tuple[float, ...] = PENALIZERS,
    quick_period_months: float = 12.0,
    pareto_max_customers: int | None = None,
    interval: float = 0.9,
    contracts: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, CLTVResult]:
    """Probabilistic CLTV per customer over ``horizon_months`` (default 12).

    Model choice: ``model="auto"`` fits BG/NBD, Pareto/NBD and MBG/NBD on the calibration part of
    ``holdout_summary`` and picks the lowest per-customer RMSE of holdout purchases (MAE and totals are
    reported too); without a holdout summary BG/NBD is used. The chosen model is then refitted on all data
    (``summary``) with the penalizer schedule and fallback of
    :func:`helpers.clv.models.robust_fit.fit_purchase_model`.

    Handling rules (each counted in ``CLTVResult.counts``):

    - ``no_repeat_purchase``: customers without repeat purchase have no spend history of their own;
      Gamma-Gamma gives them the population mean p*v/(q-1).
    - ``nonpositive_monetary``: repeat buyers with zero/negative mean spend (refunds) are excluded from the
      Gamma-Gamma fit; their expected spend is the Gamma-Gamma estimate with their own spend taken as 0.
    - ``gamma_gamma_failed``: if Gamma-Gamma does not converge (or q <= 1) every customer's ``cltv`` is the
      quick CLTV over the same horizon (``cltv_model`` = "quick").
    - ``nonfinite_replaced``: a NaN/inf model CLTV is replaced by the quick CLTV.
    - ``negative_clipped``: negative CLTV (negative margins) is clipped to 0.
    - ``contract_clients``: clients of ``contracts`` (:func:`helpers.clv.contracts.contract_clients`) that
      hold a contract are valued by the sBG retention model instead (:mod:`helpers.clv.contract_value`;
      ``cltv_model`` "sbg", expected purchases = months still paid, P(alive) 1 while the contract runs and 0
      after it ended); the purchase model is still fitted on every customer's purchases.

    ``discount_rate`` is yearly; ``margin`` the default margin fraction where the summary has no
    ``total_margin``. ``cltv_quick`` uses :func:`helpers.clv.quick.quick_cltv_from_summary` with yearly
    periods, the churn estimated from the data, and the same horizon and yearly discount rate.

    Returns the table (columns :data:`OUTPUT_COLUMNS`) and a :class:`CLTVResult`.
    """
    if model != "auto" and model not in PURCHASE_MODELS:
        raise ValueError(f"model must be 'auto' or one of {list(PURCHASE_MODELS)}, got {model!r}")
    data = summary.rename(columns=CALIBRATION_NAMES)
    x, t_x, T = (data[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    monetary = data["monetary_value"].to_numpy(dtype="float64")
    notes: list[str] = []

    # 1. model choice
    chosen, reason, metrics, calibration_fits = _choose_purchase_model(
        holdout_summary, model, len(x), penalizers, pareto_max_customers, notes
    )

    # 2. final purchase model on all data
    purchase_model = robust_fit.fit_purchase_model(x, t_x, T, model=chosen, penalizers=penalizers, fallback=True)
    if purchase_model.name != chosen:
        reason += f" It did not converge on all data; {purchase_model.label} used instead."
    notes.extend(purchase_model.notes_)
    step = periods_per_month(unit_days)
    expected = purchase_model.expected_purchases(horizon_months * step, x, t_x, T)
    p_alive = purchase_model.probability_alive(x, t_x, T)

    # 3. quick CLTV over the same horizon (yearly periods, yearly discount rate)
    period_discount = (1.0 + discount_rate) ** (quick_period_months / 12.0) - 1.0
    quick_table = quick.quick_cltv_from_summary(
        summary.rename(columns=CALIBRATION_NAMES),
        margin=margin,
        period_months=quick_period_months,
        discount_rate=period_discount,
        horizon_periods=horizon_months / quick_period_months,
        unit_days=unit_days,
    )
    notes.append(quick_table.attrs["churn_note"])
    cltv_quick = quick_table["cltv_quick"].to_numpy()
    rates = margin_rates(summary, margin)

    # 4. spend and CLTV
    counts = {
        "customers": len(data),
        "no_repeat_purchase": int(np.sum(x <= 0)),
        "nonpositive_monetary": int(np.sum((x > 0) & ~(np.isfinite(monetary) & (monetary > 0)))),
        "gamma_gamma_failed": 0,
        "nonfinite_replaced": 0,
        "negative_clipped": 0,
    }
    try:
        spend_model: GammaGamma | None = robust_fit.fit_gamma_gamma(x, monetary, penalizers=penalizers)
    except ConvergenceError as exc:
        spend_model = None
        counts["gamma_gamma_failed"] = len(data)
        notes.append("Gamma-Gamma failed; quick CLTV used for every customer. " + " ".join(str(exc).split()))
    if spend_model is not None:
        notes.extend(spend_model.notes_)
        spend = spend_model.expected_average_spend(x, np.clip(np.nan_to_num(monetary, nan=0.0), 0.0, None))
        cltv = discounted_cltv(
            purchase_model, x, t_x, T, spend, horizon_months=horizon_months, discount_rate=discount_rate, margin=rates,
            unit_days=unit_days,
        )
        source = np.full(len(data), f"{purchase_model.name}+gamma_gamma", dtype=object)
        bad = ~np.isfinite(cltv)
        counts["nonfinite_replaced"] = int(bad.sum())
        cltv = np.where(bad, cltv_quick, cltv)
        source[bad] = "quick"
    else:
        spend = np.full(len(data), np.nan)
        cltv = cltv_quick.copy()
        source = np.full(len(data), "quick", dtype=object)
    negative = cltv < 0
    counts["negative_clipped"] = int(negative.sum())
    cltv = np.clip(cltv, 0.0, None)
    for key, text in (
        ("nonfinite_replaced", "non-finite model CLTV replaced by the quick CLTV"),
        ("negative_clipped", "negative CLTV clipped to 0"),
    ):
        if counts[key]:
            notes.append(f"{counts[key]} customer(s): {text}.")

    contract = _value_contracts(contracts, data["customer_id"], horizon_months, discount_rate, interval, notes)
    counts["contract_clients"] = int(contract.rows.sum()) if contract is not None else 0
    uncertainty = intervals.cltv_uncertainty(
        purchase_model, spend_model, (x, t_x, T, monetary), cltv, source == "quick", rates, interval,
        dict(horizon_months=horizon_months, discount_rate=discount_rate, unit_days=unit_days),
        other_rows=None if contract is None else contract.rows,
    )
    notes.extend(uncertainty.notes)
    total_range = uncertainty.total
    if contract is not None:
        rows, values = contract.rows, contract.values
        expected, p_alive, cltv = expected.copy(), p_alive.copy(), cltv.copy()
        expected[rows], p_alive[rows], cltv[rows] = values.expected_months, values.p_alive, values.cltv
        source[rows] = contract_value.CONTRACT_MODEL
        uncertainty.purchases_low[rows], uncertainty.purchases_high[rows] = values.months_low, values.months_high
        uncertainty.cltv_low[rows], uncertainty.cltv_high[rows] = values.cltv_low, values.cltv_high
        total_range = intervals.total_interval(float(cltv.sum()), uncertainty.variance + values.total_variance, interval)
    table = pd.DataFrame(
        {
            "customer_id": data["customer_id"].astype(str).array,
            "expected_purchases": np.nan_to_num(expected, nan=0.0, posinf=0.0, neginf=0.0).clip(0.0, None),
            "p_alive": np.nan_to_num(p_alive, nan=0.0).clip(0.0, 1.0),
            "expected_avg_spend": spend,
            "cltv": cltv,
            "cltv_quick": cltv_quick,
            "cltv_model": source,
            "purchases_low": uncertainty.purchases_low,
            "purchases_high": uncertainty.purchases_high,
            "cltv_low": uncertainty.cltv_low,
            "cltv_high": uncertainty.cltv_high,
        }
    )[OUTPUT_COLUMNS]
    result = CLTVResult(
        reason=reason,
        purchase_model=purchase_model,
        spend_model=spend_model,
        holdout_metrics=metrics,
        counts=counts,
        notes=notes,
        settings={
            "horizon_months": horizon_months,
            "discount_rate_yearly": discount_rate,
            "default_margin": margin,
            "unit_days": unit_days,
        },
        calibration_fits=calibration_fits,
        interval_level=interval,
        total_interval=total_range,
        covariance=uncertainty.covariance,
        retention_model=None if contract is None else contract.model,
    )
    return table, result


#: fewer contract clients than this teach a retention model nothing (and on a large base of buyers a few
#: pass the monthly-invoice rule by chance: 8 of a million synthetic buyers)
MIN_CONTRACT_CLIENTS = 20


@dataclass
class _Contracts:
    rows: np.ndarray
    values: contract_value.ContractValues
    model: ShiftedBetaGeometric


def _value_contracts(
    contracts: pd.DataFrame | None, customer_ids: pd.Series, horizon_months: int, discount_rate: float,
    level: float, notes: list[str],
) -> _Contracts | None:
    """The contract clients among the customers, valued by the sBG fitted on them (None when there are none,
    or when the retention cannot be learned yet: then the purchase model values them, and ``notes`` says why)."""
    if contracts is None or not contracts["contractual"].astype(bool).any():
        return None
    ids = customer_ids.astype(str).to_numpy()
    known = contracts[contracts["customer_id"].astype(str).isin(ids)]
    holding = int(known["contractual"].astype(bool).sum())
    if holding < MIN_CONTRACT_CLIENTS:
        notes.append(
            f"{holding} contract client(s) only: too few to learn a retention from (at least {MIN_CONTRACT_CLIENTS}), "
            "so the purchase model values them with the others."
        )
        return None
    try:
        model = retention.fit_retention(known)
    except (ValueError, ConvergenceError) as exc:
        notes.append(f"Contract clients valued by the purchase model: the retention cannot be learned yet ({exc}).")
        return None
    notes.extend(model.notes_)
    values = contract_value.contract_values(known, model, horizon_months, discount_rate, level)
    notes.extend(values.notes)
    position = pd.Series(np.arange(len(ids)), index=ids)
    order = position.reindex(values.customer_id).to_numpy()
    rows = np.zeros(len(ids), dtype=bool)
    rows[order] = True
    # values come in the contracts' order: put them in the summary's
    reorder = np.argsort(order)
    for name in ("expected_months", "p_alive", "margin_per_month", "cltv", "months_low", "months_high",
                 "cltv_low", "cltv_high", "customer_id"):
        setattr(values, name, getattr(values, name)[reorder])
    return _Contracts(rows, values, model)


def run_probabilistic(
    summary: pd.DataFrame, holdout: pd.DataFrame | None, settings: Settings, contracts: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, CLTVResult]:
    """:func:`probabilistic_cltv` with the ``cltv`` settings, without console noise; ``contracts``: the
    month's :func:`helpers.clv.contracts.run_contract_clients`."""
    options = settings.cltv
    with quiet():
        return probabilistic_cltv(
            summary,
            holdout,
            model=options.model,
            horizon_months=options.horizon_months,
            discount_rate=options.discount_rate,
            margin=options.margin,
            unit_days=settings.summary.unit_days,
            pareto_max_customers=options.pareto_max_customers,
            interval=options.interval,
            contracts=contracts,
        )


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
def special_cases(result: CLTVResult) -> pd.DataFrame:
    """The counts of CLTVResult in plain words (every rule listed, also when it hit nobody)."""
    rows = [(COUNT_LABELS.get(k, k), int(v)) for k, v in result.counts.items()]
    return pd.DataFrame(rows, columns=["case", "customers"]).set_index("case")


def value_concentration(values: Any, top_share: float = 0.10) -> float:
    """Share of the total held by the top ``top_share`` of customers (at least one customer)."""
    v = np.sort(np.asarray(values, dtype="float64"))[::-1]
    total = v.sum()
    if len(v) == 0 or total <= 0:
        return 0.0
    k = max(1, int(round(top_share * len(v))))
    return float(v[:k].sum() / total)


def top_customers(
    table: pd.DataFrame, summary: pd.DataFrame, accounts: pd.DataFrame | None = None, top: int = 15
) -> pd.DataFrame:
    """The ``top`` customers by CLTV with name (if known), revenue so far, P(alive), expected purchases,
    expected spend per purchase, CLTV and quick CLTV."""
    revenue = summary.set_index(summary["customer_id"].astype(str))["total_revenue"]
    out = table.sort_values("cltv", ascending=False, kind="stable").head(top).copy()
    out["revenue_so_far"] = out["customer_id"].map(revenue)
    columns = ["customer_id", "revenue_so_far", "p_alive", "expected_purchases", "expected_avg_spend", "cltv",
               "cltv_low", "cltv_high", "cltv_quick"]
    out = out[columns]
    if accounts is not None and "name" in accounts:
        names = accounts.assign(customer_id=accounts["customer_id"].astype(str)).set_index("customer_id")["name"]
        out.insert(1, "name", out["customer_id"].map(names))
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def totals(table: pd.DataFrame, result: CLTVResult) -> pd.DataFrame:
    """The ``cltv_totals`` artifact: one row with the total CLTV, its interval (not the sum of the
    customers' intervals: their randomness partly cancels in the sum, the parameters' does not), the level,
    the horizon and the customers per model."""
    low, high = result.total_interval
    row = {
        "total_cltv": float(table["cltv"].sum()),
        "total_cltv_low": float(low),
        "total_cltv_high": float(high),
        "interval": float(result.interval_level),
        "horizon_months": int(result.settings.get("horizon_months", 12)),
        "purchase_model": result.model_name,
    }
    models = table["cltv_model"].astype("object").value_counts()
    row.update({f"customers_{name}": int(count) for name, count in models.items()})
    return pd.DataFrame([row])


def check_output(table: pd.DataFrame) -> pd.DataFrame:
    """The cltv artifact as written: exactly :data:`OUTPUT_COLUMNS`; refuses NaN, infinite or
    negative CLTV (they would mislead every later step)."""
    out = table[OUTPUT_COLUMNS].copy()
    for column in ("cltv", "cltv_quick"):
        values = out[column].to_numpy(dtype="float64")
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"{column} holds NaN, infinite or negative values")
    return out
