# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Arguments for `workbook run`, e.g. make run RUN_ARGS="--dataset cdnow --month 1998-06"
RUN_ARGS ?=
PYTEST_ARGS ?=

.PHONY: help env run test lab bench sample-data validate lint lock strip clean

help:
	@echo "make run    - create the environment, prepare the sample data, run the monthly pipeline"
	@echo "make test   - create the environment if needed and run the whole test suite"
	@echo "make lab    - open JupyterLab on notebooks/"
	@echo "make bench  - benchmark our customer summary against lifetimes (prints a table)"
	@echo "make lock   - refresh constraints.txt from the current environment"

env: $(STAMP)

# The environment is rebuilt when the project's dependencies or the lock change.
$(STAMP): pyproject.toml constraints.txt
	@echo "Setting up the Python environment in $(VENV) (the first time takes about two minutes) ..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (segment workbook)" >/dev/null
	touch $(STAMP)
	@echo "Environment ready."

sample-data: $(STAMP)
	$(BIN)/workbook sample-data

run: sample-data
	$(BIN)/workbook run $(RUN_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# JupyterLab refuses to run as root unless told to (containers often run as root)
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: sample-data
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

bench: $(STAMP)
	$(BIN)/workbook bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests

strip: $(STAMP)
	$(BIN)/nbstripout notebooks/*.ipynb

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --exclude segment-workbook | sort > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
