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
	$(BIN)/python -m compileall -q src >/dev/null
	touch $(STAMP)

tools/.complete: scripts/fetch-tools.sh
	bash scripts/fetch-tools.sh

tools: tools/.complete

DEMO_IMAGE := oci:fixtures/demo/layout:demo
DEMO_DB := .demo/advisories.sqlite

# The demo's decision is FAIL on purpose (runs as root, ADD, jinja2 2.10 advisories): `check` exits 1 for
# that and the target accepts exactly 1; 2 (usage) and 3 (could not check) still fail `make demo`.
# tests/integration/test_demo.py runs these same lines (it reads them from here).
demo: $(STAMP)
	$(BIN)/imagetrust inspect $(DEMO_IMAGE)
	$(BIN)/imagetrust db --db $(DEMO_DB) import fixtures/demo/advisories
	$(BIN)/imagetrust check $(DEMO_IMAGE) --policy fixtures/demo/policy.yaml --db $(DEMO_DB) --malware-rules fixtures/demo/rules || test $$? -eq 1

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

# Coverage-guided fuzzing of every parser that reads outside bytes (docs/fuzzing.md): FUZZ_SECONDS per
# target; corpus and crash inputs are kept in .fuzz/.  `make test` runs a short, fixed-size pass.
FUZZ_SECONDS ?= 30
.PHONY: fuzz
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS)
