# Thin wrappers; each target is one line of intent.
PYTHON ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: run test test-fast lint dag ui plots report bench gpu-check schedule clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

run: $(VENV)/.installed  ## build the venv, then the whole pipeline on the built-in data
	dvc repro

# pytest-xdist processes; each test file runs in one of them, in order; files are handed out
# in collection order, the longest first (tests/conftest.py LONGEST_FIRST), not by test count
TEST_WORKERS ?= 2

test: $(VENV)/.installed lint  ## lint + every test, the pipeline ones included
	pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: $(VENV)/.installed  ## unit tests only
	pytest -m "not slow"

lint: $(VENV)/.installed
	ruff check src tests flows benchmarks

dag: $(VENV)/.installed  ## regenerate dvc.yaml from the task registry and params.yaml
	rnnlab dag

ui: $(VENV)/.installed  ## the MLflow UI on this project's store, http://127.0.0.1:5000
	mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000

plots: $(VENV)/.installed  ## dvc plots show, drawn offline (vega inlined) -> dvc_plots/index.html
	rnnlab plots

report: $(VENV)/.installed  ## the run report over the current outputs -> reports/index.html
	rnnlab report

schedule: $(VENV)/.installed  ## Prefect server on 127.0.0.1:4200 (unless PREFECT_API_URL; PREFECT_DB=postgresql+asyncpg://…: on PostgreSQL), serve the flow on params.yaml schedule.cron
	$(BIN)/python flows/schedule.py

bench: $(VENV)/.installed  ## costs side by side (loop, cells, one-hot, orchestration, serving, scaling) -> metrics/bench.json
	$(BIN)/python benchmarks/bench.py

gpu-check: $(VENV)/.installed  ## every task's short training on CUDA and CPU: speed-up, memory, bf16 (DEVICE=cpu: CPU only)
	$(BIN)/python benchmarks/gpu_check.py $(if $(DEVICE),--device $(DEVICE))

clean:
	rm -rf data/prepared data/validation data/vocab data/encoded models metrics plots
