"""The quadrants of the potential matrix and the attention each gets: the checked ``potential`` settings,
the quadrant table (name, review cadence, hours per month, lead action) and the retention call of the
likely lost, in English or German.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers.core.config import PotentialSettings, Settings, default_settings

QUADRANT_POSITIONS: dict[str, tuple[bool, bool]] = {
    # quadrant key: (upsell high, growth high)
    "develop": (True, True),
    "expand": (True, False),
    "grow_with": (False, True),
    "maintain": (False, False),
}


def potential_settings(settings: Settings | None = None) -> PotentialSettings:
    """The ``potential`` section (checked when the settings were loaded: helpers.core.config)."""
    return (settings or default_settings()).potential


def _text(entry: Any, language: str) -> str:
    if isinstance(entry, Mapping):
        return str(entry.get(language) or entry.get("en") or next(iter(entry.values()), ""))
    return "" if entry is None else str(entry)


def _service_level(entry: Mapping[str, Any], language: str) -> tuple[str, float, str]:
    hours = float(entry.get("hours_per_month", 0))
    review = _text(entry.get("review"), language)
    unit = "h/month" if language == "en" else "Std./Monat"
    return review, hours, f"{review}; {hours:g} {unit}"


def lost_service_level(settings: Settings | None = None, language: str = "en") -> dict[str, Any]:
    """The review, hours, service level sentence and action for likely lost customers."""
    entry = potential_settings(settings).lost
    review, hours, level = _service_level(entry, language)
    return {"review": review, "hours_per_month": hours, "service_level": level,
            "action": _text(entry.get("action"), language), "below_p_alive": float(entry.get("below_p_alive", 0))}


def quadrant_table(settings: Settings | None = None, language: str = "en") -> pd.DataFrame:
    """One row per quadrant: key, upsell/growth high or low, name, review cadence, hours per month,
    lead action and the service level sentence, in ``language`` (en or de)."""
    config = potential_settings(settings)
    rows = []
    for key, (x_high, y_high) in QUADRANT_POSITIONS.items():
        entry = config.quadrants[key]
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
