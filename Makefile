# artiflow: `make demo` and `make test` do all the set-up on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench bench-scale install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all,dev]'
	# the in-tree egg-info would make Airflow see the plugin entry point twice when run from here
	rm -rf artiflow.egg-info
	touch $(STAMP)

install: $(STAMP)

DEMO_HOME ?= $(CURDIR)/.demo-home

# one embedded registry (SQLite + local folder) for all three parts of the demo
demo: $(STAMP)
	@echo "== 1/3 the registry as a library =="
	ARTIFLOW_HOME=$(DEMO_HOME) $(BIN)/python examples/demo.py
	@echo "== 2/3 Airflow: nightly dataset DAG -> asset-scheduled retraining -> promotion gate =="
	ARTIFLOW_HOME=$(DEMO_HOME) $(BIN)/python examples/airflow_demo.py
	@echo "== 3/3 Prefect flows, and an Airflow DAG consuming a Prefect-made dataset =="
	ARTIFLOW_HOME=$(DEMO_HOME) $(BIN)/python examples/prefect_demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run.py

# issue 15: 1M files, a 1M-version catalog, contention, a 20 ms store (long: generates data once
# under bench/.work/data; `bench/scale.py --smoke` or `--scale 0.1` for a short run)
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py $(BENCH_SCALE_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
