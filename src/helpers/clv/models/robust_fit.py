"""Which purchase model a setting names, and fitting that does not give up at the first failure.

:data:`PURCHASE_MODELS` maps the setting ``cltv.model`` (bgnbd, pareto, mbgnbd) to its class, in fallback
order. :func:`fit_purchase_model` and :func:`fit_gamma_gamma` are the one place of the retries: a
``ConvergenceError`` (or a non-finite result) triggers a retry with a larger penalizer
(:data:`PENALIZERS`), then, for purchases, the next model. The model returned says in ``notes_`` which
attempts failed and why, and carries the penalizer it was fitted with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from helpers.clv.inputs import as_array
from helpers.clv.lifetimes_bridge import ConvergenceError
from helpers.clv.models.base import Model, PurchaseModel
from helpers.clv.models.beta_geo import BetaGeo, ModifiedBetaGeo
from helpers.clv.models.gamma_gamma import GammaGamma, repeat_buyers
from helpers.clv.models.pareto import ParetoNBD

#: The purchase models by their setting value, in fallback order (the default first).
PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {"bgnbd": BetaGeo, "pareto": ParetoNBD, "mbgnbd": ModifiedBetaGeo}
#: Penalizer schedule tried in this order when a fit does not converge.
PENALIZERS: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1)


def purchase_model(name: str) -> type[PurchaseModel]:
    """The purchase model class a setting value names."""
    if name not in PURCHASE_MODELS:
        raise ValueError(f"unknown purchase model {name!r}; use one of {list(PURCHASE_MODELS)}")
    return PURCHASE_MODELS[name]


def _first_that_converges(
    fit_with: Callable[[float], Model], label: str, penalizers: Sequence[float], notes: list[str]
) -> Any:
    """The first fit of the penalizer schedule that converges (None if none does); failures noted."""
    for penalizer in penalizers:
        try:
            model = fit_with(penalizer)
        except (ConvergenceError, FloatingPointError, np.linalg.LinAlgError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            notes.append(f"{label} with penalizer {penalizer:g} did not converge ({reason}).")
            continue
        if penalizer:
            notes.append(f"{label} converged with penalizer {penalizer:g}.")
        return model
    return None


def fit_purchase_model(
    frequency: Any,
    recency: Any,
    T: Any,
    model: str = "bgnbd",
    penalizers: Sequence[float] = PENALIZERS,
    fallback: bool = True,
    compress: bool = True,
) -> PurchaseModel:
    """Fit a purchase model robustly.

    Tries ``model`` with each penalizer in ``penalizers`` (0, 0.001, 0.01, 0.1); if none converges and
    ``fallback`` is true, tries the other models in the order of :data:`PURCHASE_MODELS` the same way.
    The fitted model returned may be another than the one asked for; ``notes_`` says why (every failed
    attempt). Raises ``ConvergenceError`` naming all attempts when nothing converges.
    """
    requested = purchase_model(model)
    candidates = [model] + ([name for name in PURCHASE_MODELS if name != model] if fallback else [])
    notes: list[str] = []
    for name in candidates:
        cls = PURCHASE_MODELS[name]
        fitted = _first_that_converges(
            lambda penalizer, cls=cls: cls(penalizer=penalizer, compress=compress).fit(frequency, recency, T),
            cls.label,
            penalizers,
            notes,
        )
        if fitted is not None:
            if name != model:
                notes.append(
                    f"Fell back from {requested.label} to {cls.label} because "
                    f"{requested.label} did not converge with any penalizer."
                )
            elif not notes:
                notes.append(f"{cls.label} converged without penalizer.")
            fitted.notes_ = notes
            return fitted
    raise ConvergenceError("No purchase model converged. " + " ".join(notes))


def fit_gamma_gamma(
    frequency: Any,
    monetary_value: Any,
    penalizers: Sequence[float] = PENALIZERS,
    compress: bool = True,
) -> GammaGamma:
    """Fit Gamma-Gamma on the repeat buyers with positive spend, with the penalizer schedule.

    Rows with ``frequency == 0`` or ``monetary_value <= 0`` (or NaN) are left out before fitting (the model
    needs at least one repeat purchase with a positive amount); ``notes_`` counts them first. Raises
    ``ConvergenceError`` when no penalizer works or fewer than two customers are left.
    """
    keep, note = repeat_buyers(frequency, monetary_value)
    notes = [note]
    if keep.sum() < 2:
        raise ConvergenceError("Gamma-Gamma needs at least two repeat buyers with positive spend. " + note)
    x, m = as_array(frequency)[keep], as_array(monetary_value)[keep]
    fitted = _first_that_converges(
        lambda penalizer: GammaGamma(penalizer=penalizer, compress=compress).fit(x, m),
        GammaGamma.label,
        penalizers,
        notes,
    )
    if fitted is None:
        raise ConvergenceError("Gamma-Gamma did not converge. " + " ".join(notes))
    fitted.notes_ = notes
    return fitted
