"""Reading a settings file: YAML in which a key written twice is an error, keys checked against the shipped
defaults (an unknown key names the file and suggests the key meant), merging a user's file over the
defaults, and the value checks every section of helpers.core.config uses.

Split from helpers.core.config so that the sections there read as the list of settings.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from helpers.core.errors import WorkbookError


class ConfigError(WorkbookError, ValueError):
    """A settings file that cannot be used; the message names the file and the key, and the fix."""


# --------------------------------------------------------------------------------------------------
# reading YAML: duplicate keys are errors
# --------------------------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (plain YAML keeps the last one)."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"{loader.name}: key {key!r} is written twice (lines {seen[key] + 1} and "
                f"{key_node.start_mark.line + 1}); keep one"
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_yaml(path: Path) -> dict:
    """A YAML file whose top level is a mapping; an error names the file (and the line) otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: settings file not found") from exc
    loader = _UniqueKeyLoader(text)
    loader.name = str(path)
    try:
        content = loader.get_single_data() or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return content


# --------------------------------------------------------------------------------------------------
# unknown keys
# --------------------------------------------------------------------------------------------------
def _suggestion(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"


def check_keys(given: Mapping, defaults: Mapping, source: Path, where: str = "") -> None:
    """Every key of `given` exists in `defaults` (recursively, mapping by mapping)."""
    for key, value in given.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in defaults:
            known = [str(k) for k in defaults]
            raise ConfigError(f"{source}: unknown key '{dotted}'; {_suggestion(str(key), known)}")
        if isinstance(defaults[key], Mapping) and not isinstance(value, Mapping):
            inner = ", ".join(str(k) for k in defaults[key])
            raise ConfigError(f"{source}: '{dotted}' must be a mapping of keys to values ({inner}), got {value!r}; "
                              f"write the keys it changes under it, or remove it")
        if isinstance(value, Mapping):
            check_keys(value, defaults[key], source, dotted)


def merge(base: Mapping, override: Mapping) -> dict:
    merged = copy.deepcopy(plain(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def frozen(value: Any) -> Any:
    """Mappings read-only and lists tuples, all the way down: a section cannot be changed by accident."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    return value


def plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# value checks
# --------------------------------------------------------------------------------------------------
class SectionCheck:
    """Checks of one section's values; every message names the file and the dotted key."""

    def __init__(self, source: Path, section: str):
        self.source, self.section = source, section

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.section}.{key} {message}")

    def whole(self, values: Mapping, key: str, minimum: int = 0, allow_none: bool = False) -> int | None:
        value = values[key]
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            extra = " or null" if allow_none else ""
            raise self.fail(key, f"must be a whole number >= {minimum}{extra}, got {value!r}")
        return int(value)

    def flag(self, values: Mapping, key: str) -> bool:
        value = values[key]
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def number(self, values: Mapping, key: str, low: float | None = None, high: float | None = None,
               low_open: bool = False, hint: str = "") -> float:
        value = values[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            bounds = "" if low is None else (f" > {low:g}" if low_open else f" >= {low:g}")
            bounds += "" if high is None else f" and <= {high:g}"
            raise self.fail(key, f"must be a number{bounds}{hint}, got {value!r}")
        return float(value)

    def choice(self, values: Mapping, key: str, choices: tuple[str, ...]) -> str:
        value = values[key]
        if value not in choices:
            raise self.fail(key, f"is {value!r}; use one of {', '.join(repr(c) for c in choices)}")
        return str(value)

    def pair(self, values: Mapping, key: str, example: str) -> tuple[float, float]:
        value = values[key]
        if not isinstance(value, list | tuple) or len(value) != 2 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            raise self.fail(key, f"must be two numbers like {example}, got {value!r}")
        return float(value[0]), float(value[1])

    def edges(self, values: Mapping, key: str) -> tuple[int, ...]:
        value = values[key]
        if not isinstance(value, list | tuple) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value) or list(value) != sorted(
                set(value)):
            raise self.fail(key, f"must be increasing whole numbers like [10, 50, 250], got {value!r}")
        return tuple(int(v) for v in value)
