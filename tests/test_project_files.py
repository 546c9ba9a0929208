"""Promises about the repository itself: clean notebooks, one parameters cell, files in sync."""

import json
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `make strip`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell_of_literals(path):
    import ast

    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    for statement in ast.parse(tagged[0].source).body:
        assert isinstance(statement, ast.Assign), f"{path.name}: parameters cell holds more than assignments"
        ast.literal_eval(statement.value)  # raises for anything but a literal


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_defines_no_functions_and_states_inputs_and_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert not re.search(r"^\s*(def|class)\s", code, re.MULTILINE), f"{path.name}: logic belongs in helpers"
    first = notebook.cells[0].source
    assert "Inputs" in first and "Outputs" in first, f"{path.name}: state inputs and outputs at the top"


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in environment["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == "python=3.11"
    assert ">=3.11" in project["project"]["requires-python"]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert "-e .[dev]" in pip_section and "-c constraints.txt" in pip_section
    assert "dev" in project["project"]["optional-dependencies"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_constraints_pin_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    required = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["dev"]
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            pinned[name.lower().replace("_", "-")] = version
    missing = [r for r in required if _name(r) not in pinned]
    assert not missing, f"constraints.txt lacks {missing}: run `make lock`"


def test_generated_folders_are_ignored_by_git():
    ignore = (ROOT / ".gitignore").read_text()
    for pattern in ("/data/processed/*", "/reports/*", "/data/raw/*", ".venv/"):
        assert pattern in ignore


def test_ci_calls_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_notebook_json_is_valid(tmp_path):
    for path in NOTEBOOKS:
        nbformat.validate(nbformat.read(path, as_version=4))
        json.loads(path.read_text())
