"""The quadrants of the potential matrix and the attention each gets: the checked ``potential`` settings,
the quadrant table (name, review cadence, hours per month, lead action) and the retention call of the
likely lost, in English or German.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers.core.errors import WorkbookError
from helpers.potential.points import AXES, COMPONENTS

QUADRANT_POSITIONS: dict[str, tuple[bool, bool]] = {
    # quadrant key: (upsell high, growth high)
    "develop": (True, True),
    "expand": (True, False),
    "grow_with": (False, True),
    "maintain": (False, False),
}


class PotentialSettingsError(WorkbookError, ValueError):
    """Settings ``potential`` that cannot be used; the message names the key."""


def potential_settings(settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Settings ``potential`` over the defaults of :mod:`helpers.core.config`, checked."""
    from helpers.core.config import DEFAULTS, _merge

    given = dict((settings or {}).get("potential", {}) or {})
    merged = _merge(copy.deepcopy(DEFAULTS["potential"]), given)
    for axis in AXES:
        weights = merged["weights"].get(axis, {}) or {}
        unknown = [k for k in weights if k not in COMPONENTS[axis]]
        if unknown:
            raise PotentialSettingsError(
                f"potential.weights.{axis}: unknown component(s) {unknown}; known: {', '.join(COMPONENTS[axis])}"
            )
        for name, value in weights.items():
            if not isinstance(value, int | float) or value < 0:
                raise PotentialSettingsError(f"potential.weights.{axis}.{name} must be a number >= 0, got {value!r}")
        threshold = merged["thresholds"].get(axis, "median")
        if not (threshold == "median" or (isinstance(threshold, int | float) and 0 <= threshold <= 100)):
            raise PotentialSettingsError(
                f"potential.thresholds.{axis} must be 'median' or a number 0-100, got {threshold!r}"
            )
    missing = [q for q in QUADRANT_POSITIONS if q not in merged["quadrants"]]
    if missing:
        raise PotentialSettingsError(f"potential.quadrants lacks {missing}")
    low, high = (float(v) for v in merged["growth_range"])
    if not low < high:
        raise PotentialSettingsError(f"potential.growth_range must be [low, high] with low < high, got {merged['growth_range']}")
    return merged


def _text(entry: Any, language: str) -> str:
    if isinstance(entry, Mapping):
        return str(entry.get(language) or entry.get("en") or next(iter(entry.values()), ""))
    return "" if entry is None else str(entry)


def _service_level(entry: Mapping[str, Any], language: str) -> tuple[str, float, str]:
    hours = float(entry.get("hours_per_month", 0))
    review = _text(entry.get("review"), language)
    unit = "h/month" if language == "en" else "Std./Monat"
    return review, hours, f"{review}; {hours:g} {unit}"


def lost_service_level(settings: Mapping[str, Any] | None = None, language: str = "en") -> dict[str, Any]:
    """The review, hours, service level sentence and action for likely lost customers."""
    entry = potential_settings(settings)["lost"]
    review, hours, level = _service_level(entry, language)
    return {"review": review, "hours_per_month": hours, "service_level": level,
            "action": _text(entry.get("action"), language), "below_p_alive": float(entry.get("below_p_alive", 0))}


def quadrant_table(settings: Mapping[str, Any] | None = None, language: str = "en") -> pd.DataFrame:
    """One row per quadrant: key, upsell/growth high or low, name, review cadence, hours per month,
    lead action and the service level sentence, in ``language`` (en or de)."""
    config = potential_settings(settings)
    rows = []
    for key, (x_high, y_high) in QUADRANT_POSITIONS.items():
        entry = config["quadrants"][key]
        review, hours, level = _service_level(entry, language)
        rows.append(
            {
                "quadrant_key": key,
                "upsell": "high" if x_high else "low",
                "growth": "high" if y_high else "low",
                "quadrant": _text(entry.get("name"), language),
                "review": review,
                "hours_per_month": hours,
                "lead_action": _text(entry.get("action"), language),
                "service_level": level,
            }
        )
    return pd.DataFrame(rows)
