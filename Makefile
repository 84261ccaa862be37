# Quick start: `make demo` (set up + train SimCLR on built-in data) and `make test`.
# Each target creates .venv when it is missing and installs the package with its dependencies.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.simclip-installed
# torch/torchvision: these exact releases install from local disk on the reference machines;
# elsewhere pip takes any release that pyproject's ranges allow.
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH) || $(BIN)/pip install -q torch torchvision
	$(BIN)/pip install -q -e ".[dev,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/simclip demo --out demo-out

# lint: ruff's rules over all the code, and mypy over the whole package (strict on losses, train and
# clip; both set in pyproject.toml); `make test` runs it first, so CI enforces both (mypy ~40 s with
# a cold cache, ~2 s warm).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-out runs
