"""Business settings: a settings file merged over the defaults.

The defaults are the shipped config/settings.yaml itself (one source, documented where users read it), so
a user's own file given with --config needs only the keys it changes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from helpers.core import paths
from helpers.core.errors import WorkbookError


class ConfigError(WorkbookError, ValueError):
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


DEFAULTS: dict[str, Any] = _read_yaml(paths.config_dir() / "settings.yaml")


def load_settings(path: str | Path | None = None) -> dict[str, Any]:
    """Settings from `path` (default config/settings.yaml) over DEFAULTS, with '_path' and '_dir' added."""
    settings_path = Path(path) if path else paths.config_dir() / "settings.yaml"
    settings = _merge(DEFAULTS, _read_yaml(settings_path))
    settings["_path"] = str(settings_path)
    settings["_dir"] = str(settings_path.parent)
    refunds = settings["intake"]["refunds"]
    if refunds not in ("net", "quarantine"):
        raise ConfigError(f"{settings_path}: intake.refunds is {refunds!r}; use 'net' or 'quarantine'")
    engine = settings["intake"].get("engine", "auto")
    if engine not in ("auto", "pandas"):
        raise ConfigError(f"{settings_path}: intake.engine is {engine!r}; use 'auto' or 'pandas'")
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
