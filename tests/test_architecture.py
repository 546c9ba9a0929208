"""The package's layout rules (docs/architecture.md): imports point one way, no cycles, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "helpers"
# The pipeline's order: a package may import those before it, never those after it.
LAYERS = ("core", "data", "features", ("segmentation", "clv", "potential"), "reporting", "pipeline")
MAX_LINES = 500


def _rank(subpackage: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if subpackage == layer or (isinstance(layer, tuple) and subpackage in layer):
            return rank
    raise AssertionError(f"helpers.{subpackage} is in no layer of the import rule")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The helpers modules that `path` imports, anywhere in the file (function-level imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported_modules(path, known) - {name} for name, path in found.items()}


def test_subpackages_import_only_earlier_steps():
    wrong = []
    for module, imports in import_graph().items():
        parts = module.split(".")
        if len(parts) < 3:
            continue
        for target in imports:
            target_parts = target.split(".")
            if len(target_parts) < 2 or target_parts[1] == parts[1]:
                continue
            if _rank(target_parts[1]) > _rank(parts[1]):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_import_cycles():
    graph = import_graph()
    # A package's own __init__ is not an edge to its modules (they are documented there, not imported).
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target):] + [target] if target in trail else [node, target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_module_is_too_long():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_package_says_what_lives_there():
    silent = [name for name, path in modules().items()
              if path.name == "__init__.py" and not ast.get_docstring(ast.parse(path.read_text()))]
    assert silent == []


def test_modules_sit_in_a_subpackage():
    loose = [name for name, path in modules().items() if path.parent == PACKAGE and path.name != "__init__.py"]
    assert loose == []


@pytest.mark.parametrize("layer", ["core", "data", "features", "segmentation", "clv", "potential", "reporting",
                                   "pipeline"])
def test_each_step_is_a_package(layer):
    assert (PACKAGE / layer / "__init__.py").exists()
