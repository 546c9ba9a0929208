"""The quadrants of the potential matrix and the attention each gets: the checked ``potential`` settings,
the advice profile (agency or retail), and the attention table - the four quadrants (name, review cadence,
hours per month, lead action), the attention floor that protects the most valuable live clients, and the
win-back group of the likely lost - in English or German.
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
#: The attention floor's key: a live client of the floor's ABC class in a quadrant it lifts.
PROTECT = "protect"
#: The group of the likely lost (outside the four quadrants).
WIN_BACK = "win_back"
#: Every group of the attention table, in the order tables, legends and charts show them.
ATTENTION_ORDER: tuple[str, ...] = (*QUADRANT_POSITIONS, PROTECT, WIN_BACK)
#: The quadrant keys and the win-back group: what ``quadrant_key`` of a scored customer can be.
GROUP_ORDER: tuple[str, ...] = (*QUADRANT_POSITIONS, WIN_BACK)
PROFILES = ("agency", "retail")


def potential_settings(settings: Settings | None = None) -> PotentialSettings:
    """The ``potential`` section (checked when the settings were loaded: helpers.core.config)."""
    return (settings or default_settings()).potential


def advice_profile(settings: Settings | None = None, accounts: pd.DataFrame | None = None,
                   service_map: pd.DataFrame | None = None) -> str:
    """``potential.profile``; ``auto``: agency when accounts or a service map are there (clients with a
    company and services), else retail (consumers, such as CDNOW)."""
    chosen = potential_settings(settings).profile
    if chosen != "auto":
        return chosen
    has_clients = any(frame is not None and not frame.empty for frame in (accounts, service_map))
    return "agency" if has_clients else "retail"


def _entries(settings: Settings | None, profile: str) -> tuple[Mapping, Mapping, Mapping]:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    config = potential_settings(settings)
    if profile == "retail":
        return config.retail["quadrants"], config.retail["attention_floor"], config.retail["lost"]
    return config.quadrants, config.attention_floor, config.lost


def _text(entry: Any, language: str) -> str:
    if isinstance(entry, Mapping):
        return str(entry.get(language) or entry.get("en") or next(iter(entry.values()), ""))
    return "" if entry is None else str(entry)


def hours_text(hours: float, language: str) -> str:
    """'0.5 h/month' / '0,5 Std./Monat': the hours in the language's number format."""
    number = f"{hours:g}" if language == "en" else f"{hours:g}".replace(".", ",")
    return f"{number} h/month" if language == "en" else f"{number} Std./Monat"


def _row(key: str, entry: Mapping[str, Any], language: str) -> dict[str, Any]:
    hours = float(entry.get("hours_per_month", 0))
    review = _text(entry.get("review"), language)
    return {"attention_key": key, "name": _text(entry.get("name"), language), "review": review,
            "hours_per_month": hours, "lead_action": _text(entry.get("action"), language),
            "service_level": f"{review}; {hours_text(hours, language)}" if hours else review}


def attention_table(settings: Settings | None = None, language: str = "en", profile: str = "agency") -> pd.DataFrame:
    """One row per group of :data:`ATTENTION_ORDER`: key, name, review cadence, hours per month, lead action
    and the service level sentence, in ``language``; ``lifted`` marks the quadrants whose clients of the
    floor's ABC class get the floor (``potential.attention_floor.lifts``)."""
    quadrants, floor, lost = _entries(settings, profile)
    rows = [_row(key, quadrants[key], language) for key in QUADRANT_POSITIONS]
    rows += [_row(PROTECT, floor, language), _row(WIN_BACK, lost, language)]
    table = pd.DataFrame(rows)
    table["lifted"] = table["attention_key"].isin(list(floor.get("lifts", ())))
    return table


def floor_class(settings: Settings | None = None, profile: str = "agency") -> str:
    """The ABC class (by expected value) that the attention floor protects."""
    return str(_entries(settings, profile)[1]["abc_class"])


def lost_service_level(settings: Settings | None = None, language: str = "en", profile: str = "agency") -> dict[str, Any]:
    """The name, review, hours, service level sentence and action of the win-back group."""
    row = attention_table(settings, language, profile).set_index("attention_key").loc[WIN_BACK]
    return {"name": row["name"], "review": row["review"], "hours_per_month": float(row["hours_per_month"]),
            "service_level": row["service_level"], "action": row["lead_action"]}


def quadrant_table(settings: Settings | None = None, language: str = "en", profile: str = "agency") -> pd.DataFrame:
    """One row per quadrant: key, upsell/growth high or low, name, review cadence, hours per month,
    lead action and the service level sentence, in ``language`` (en or de)."""
    table = attention_table(settings, language, profile).set_index("attention_key").loc[list(QUADRANT_POSITIONS)]
    out = pd.DataFrame({
        "quadrant_key": list(QUADRANT_POSITIONS),
        "upsell": ["high" if x else "low" for x, _ in QUADRANT_POSITIONS.values()],
        "growth": ["high" if y else "low" for _, y in QUADRANT_POSITIONS.values()],
        "quadrant": table["name"].to_numpy(),
    })
    for column in ("review", "hours_per_month", "lead_action", "service_level"):
        out[column] = table[column].to_numpy()
    return out


def group_names(settings: Settings | None = None, language: str = "en", profile: str = "agency") -> dict[str, str]:
    """Group key -> name, for every group of :data:`ATTENTION_ORDER`."""
    table = attention_table(settings, language, profile)
    return dict(zip(table["attention_key"], table["name"], strict=True))
