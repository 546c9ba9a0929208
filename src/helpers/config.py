"""Business settings: config/settings.yaml merged over the defaults below."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from helpers import paths

DEFAULTS: dict[str, Any] = {
    "currency": "EUR",
    "intake": {"refunds": "net", "column_mapping": "column_mapping.yaml"},
    "summary": {"unit_days": 7, "holdout_months": 6},
    "rfm": {"segments_file": "rfm_segments.yaml"},
    "abc": {"cutoffs": [0.80, 0.95], "basis": "revenue"},
    "cltv": {"horizon_months": 12, "discount_rate": 0.10, "margin": 0.4, "model": "auto",
             "pareto_max_customers": 200_000},
    "clustering": {"k_min": 2, "k_max": 8, "k": None, "sample_size": 5000, "fit_sample_size": 50000,
                   "resamples": 10, "random_state": 42},
    # the potential matrix (helpers.potential, helpers.funnel): see config/settings.yaml for the meaning
    "potential": {
        "weights": {
            "upsell": {"whitespace": 0.40, "budget_headroom": 0.30, "cltv_headroom": 0.20, "frequency": 0.10},
            "growth": {"yoy_growth": 0.40, "cltv_vs_past": 0.25, "p_alive": 0.25, "recency": 0.10},
        },
        "thresholds": {"upsell": "median", "growth": "median"},
        "growth_range": [-0.20, 0.40],
        "cltv_peer_quantile": 0.75,
        "min_peers": 5,
        "size_bands": [10, 50, 250],
        "maturity": {
            "stage_weights": {"see": 1.0, "think": 1.0, "do": 1.0, "care": 1.0},
            "kind_weights": {"operations": 0.6, "consulting": 0.4},
        },
        "reasons_per_axis": 2,
        "lost": {
            "below_p_alive": 0.2,
            "review": {
                "en": "No regular review until the retention call is done",
                "de": "Kein regelmäßiges Review bis zum Rückgewinnungs-Anruf",
            },
            "hours_per_month": 0.5,
            "action": {
                "en": "Retention call: likely lost, find out why and win back",
                "de": "Rückgewinnungs-Anruf: wahrscheinlich verloren, Gründe klären",
            },
        },
        "quadrants": {
            "develop": {
                "name": {"en": "Develop", "de": "Entwickeln"},
                "review": {
                    "en": "Quarterly business review (QBR) and a yearly strategy meeting",
                    "de": "Quarterly Business Review (QBR) und strategisches Jahresgespräch",
                },
                "hours_per_month": 8,
                "action": {
                    "en": "Cross-sell offer for the open funnel stages",
                    "de": "Cross-Selling-Angebot für die offenen Funnel-Stufen",
                },
            },
            "expand": {
                "name": {"en": "Expand", "de": "Ausbauen"},
                "review": {"en": "Half-yearly account review", "de": "Halbjährliches Account-Review"},
                "hours_per_month": 4,
                "action": {
                    "en": "Targeted cross-sell offer with a business case",
                    "de": "Gezieltes Cross-Selling-Angebot mit Business Case",
                },
            },
            "grow_with": {
                "name": {"en": "Grow with", "de": "Mitwachsen"},
                "review": {"en": "Quarterly check-in call", "de": "Quartalsweises Check-in-Gespräch"},
                "hours_per_month": 3,
                "action": {
                    "en": "Upsell: scale the services they already buy as they grow",
                    "de": "Upselling: bestehende Leistungen mit dem Wachstum ausbauen",
                },
            },
            "maintain": {
                "name": {"en": "Maintain", "de": "Betreuen"},
                "review": {"en": "Yearly review", "de": "Jährliches Review"},
                "hours_per_month": 1,
                "action": {"en": "Standard care", "de": "Standardbetreuung"},
            },
        },
    },
    # B2B prerequisites and sorters (helpers.qualification)
    "qualification": {
        "rules": [
            {"column": "business_model", "in": ["B2B", "B2B2C"]},
            {"column": "employees", "min": 10},
        ],
        "sorters": ["business_model", "industry", "size_band"],
        "size_bands": [10, 50, 250],
    },
}


class ConfigError(ValueError):
    """A settings file that cannot be used; the message names the file and the key."""


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: settings file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return content


def load_settings(path: str | Path | None = None) -> dict[str, Any]:
    """Settings from `path` (default config/settings.yaml) over DEFAULTS, with '_path' and '_dir' added."""
    settings_path = Path(path) if path else paths.config_dir() / "settings.yaml"
    settings = _merge(DEFAULTS, _read_yaml(settings_path))
    settings["_path"] = str(settings_path)
    settings["_dir"] = str(settings_path.parent)
    refunds = settings["intake"]["refunds"]
    if refunds not in ("net", "quarantine"):
        raise ConfigError(f"{settings_path}: intake.refunds is {refunds!r}; use 'net' or 'quarantine'")
    return settings


def load_column_mapping(settings: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """The per-table mapping of user column names to contract names (config/column_mapping.yaml)."""
    settings = settings or load_settings()
    mapping_file = Path(settings["intake"]["column_mapping"])
    if not mapping_file.is_absolute():
        mapping_file = Path(settings.get("_dir", paths.config_dir())) / mapping_file
    mapping = _read_yaml(mapping_file)
    for table, columns in mapping.items():
        if not isinstance(columns, dict):
            raise ConfigError(f"{mapping_file}: '{table}' must map column names to contract names")
    return {table: {str(k): str(v) for k, v in cols.items()} for table, cols in mapping.items()}
