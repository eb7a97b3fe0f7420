# The two commands the README promises: `make demo` and `make test`.  Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint tools unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

tools/.complete: scripts/fetch-tools.sh
	bash scripts/fetch-tools.sh

tools: tools/.complete

DEMO_IMAGE := oci:fixtures/demo/layout:demo
DEMO_DB := .demo/advisories.sqlite

demo: $(STAMP)
	$(BIN)/imagetrust inspect $(DEMO_IMAGE)
	$(BIN)/imagetrust db --db $(DEMO_DB) import fixtures/demo/advisories
	$(BIN)/imagetrust audit $(DEMO_IMAGE) --db $(DEMO_DB)

LINT_DIRS := $(wildcard src tests bench scripts)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test: $(STAMP) tools/.complete lint
	IMAGETRUST_REQUIRE_TOOLS=1 $(BIN)/pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) tools .pytest_cache .mypy_cache .ruff_cache
