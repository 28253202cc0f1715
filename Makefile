# mcdl developer entry points. Everything runs inside .venv/ (Python 3.10),
# which `make venv` creates or refreshes; every other target depends on it.

VENV   := .venv
PYTHON := $(VENV)/bin/python

.PHONY: venv test train bench golden clean

venv:
	@bash .ci/venv.sh

# The test suite; it includes the style checks (tests/test_style.py runs
# `ruff check` and `ruff format --check`).
test: venv
	$(PYTHON) -m pytest -q

train: venv
	$(VENV)/bin/mcdlc train specs/bars.mcdl

bench: venv
	$(PYTHON) benchmarks/run.py

# Rewrite the golden files of the tests from the current output.
golden: venv
	$(PYTHON) -m pytest tests -q --update-golden

# Removes the venv, build output and caches; keeps out/ and runs/ (results).
clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
	find . -name '*.egg-info' -type d -prune -not -path './.git/*' -exec rm -rf {} +
