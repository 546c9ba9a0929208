"""The ``cltv`` section of the settings, checked (the settings stay a dict for now)."""

from __future__ import annotations

from typing import Any

from helpers.clv.models.robust_fit import PURCHASE_MODELS
from helpers.core.config import ConfigError

MODEL_CHOICES = ("auto", *PURCHASE_MODELS)


def cltv_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``cltv`` section, checked: horizon_months (int > 0), discount_rate (yearly, >= 0), margin
    (fraction used where the cost is unknown, 0..1] and model ('auto', 'bgnbd', 'pareto', 'mbgnbd')."""
    section = {"horizon_months": 12, "discount_rate": 0.10, "margin": 0.4, "model": "auto",
               "pareto_max_customers": 200_000}
    section.update(settings.get("cltv", {}) or {})
    where = settings.get("_path", "settings")
    horizon, rate, margin, model = (section[k] for k in ("horizon_months", "discount_rate", "margin", "model"))
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon <= 0:
        raise ConfigError(f"{where}: cltv.horizon_months must be a whole number of months > 0, got {horizon!r}")
    if not isinstance(rate, int | float) or rate < 0:
        raise ConfigError(f"{where}: cltv.discount_rate must be a yearly rate >= 0 (0.10 = 10%), got {rate!r}")
    if not isinstance(margin, int | float) or not 0 < margin <= 1:
        raise ConfigError(f"{where}: cltv.margin must be a fraction in (0, 1] (0.4 = 40%), got {margin!r}")
    if model not in MODEL_CHOICES:
        raise ConfigError(f"{where}: cltv.model is {model!r}; use one of {list(MODEL_CHOICES)}")
    pareto_limit = section["pareto_max_customers"]
    if pareto_limit is not None and (not isinstance(pareto_limit, int) or isinstance(pareto_limit, bool)
                                     or pareto_limit < 0):
        raise ConfigError(
            f"{where}: cltv.pareto_max_customers must be a whole number >= 0 or null, got {pareto_limit!r}"
        )
    return {"horizon_months": horizon, "discount_rate": float(rate), "margin": float(margin), "model": model,
            "pareto_max_customers": pareto_limit}


def summary_unit_days(settings: dict[str, Any]) -> float:
    """Days per model time unit (``summary.unit_days``, a week by default)."""
    return float(settings.get("summary", {}).get("unit_days", 7))
