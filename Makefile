# Suanli — the two commands that matter: `make demo` and `make test`.
# Both create .venv with the machine's python3 when it is missing and install what they need.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PACKAGES := controlplane operators jobspecs

.PHONY: demo test test-fast lint typecheck imports pytest install install-test clean help

help:
	@echo "make demo       run the main job: real DDP training on a local heterogeneous Ray cluster"
	@echo "make test       lint, typecheck, import contracts and the whole test suite"
	@echo "make test-fast  the unit tests only (quick loop)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[torch,local]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,torch]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(PY) -m controlplane.demo

lint: install-test
	$(BIN)/ruff check $(PACKAGES) tests benchmarks

typecheck: install-test
	$(BIN)/mypy $(PACKAGES)

imports: install-test
	$(BIN)/lint-imports

pytest: install-test
	$(BIN)/pytest

test: lint typecheck imports pytest

test-fast: install-test
	$(BIN)/pytest tests/unit -q -x

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
