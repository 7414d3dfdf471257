# The two commands of the README: `make demo` and `make test`. Each installs what it needs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test lint typecheck bench ui systems clean

# The demo, the UI and the simulated systems share this project's hub home and Dagster instance (the `hub`
# command finds the same .hub from any subfolder; elsewhere set HUB_HOME).
demo ui systems: export HUB_HOME ?= $(CURDIR)/.hub
demo ui systems: export DAGSTER_HOME ?= $(CURDIR)/.dagster

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

demo: $(STAMP)
	$(BIN)/hub demo $(ARGS)

test: $(STAMP) lint typecheck
	$(BIN)/pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy hub_errors.py connectors schemas dedup pipelines

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench_linkage.py $(ARGS)

# The Dagster UI on the demo's runs (`dg dev`, which supersedes `dagster dev`); with `make systems` running
# in another terminal, assets can be materialized from the UI against the simulated department systems
# (a restart of `make systems` keeps their ports and token, so a running UI keeps reaching them).
ui: $(STAMP)
	$(BIN)/python -c "import os; from pathlib import Path; from pipelines.demo import prepare_dagster_home as p; p(Path(os.environ['DAGSTER_HOME']))"
	set -a; if [ -f "$$HUB_HOME/systems.env" ]; then . "$$HUB_HOME/systems.env"; fi; set +a; \
	$(BIN)/dg dev -w workspace.yaml

systems: $(STAMP)
	$(BIN)/hub systems $(ARGS)

clean:
	rm -rf $(VENV) hub-out .dagster .hub
