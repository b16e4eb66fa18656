# The two commands of the README: `make demo` (the main job) and `make test` (the tests).
# Each creates the virtual environment and installs the package (with its C kernels) if missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.h csrc/*.py)
	@bash scripts/ensure-gmp.sh
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tss demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	@$(BIN)/python -c "import tss.arith as a; print('arith backend:', a.BACKEND)"
	@set +e; $(BIN)/python -m pytest -q; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here"; exit 1; fi; \
	  exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -q 

clean:
	rm -rf $(VENV) build src/*.egg-info src/tss/_native*.so src/tss/_native.c
