# artiflow: `make demo` and `make test` do all the set-up on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-floor check-dist lint format bench bench-scale install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all,dev]'
	# the in-tree egg-info would make Airflow see the plugin entry point twice when run from here
	rm -rf artiflow.egg-info
	touch $(STAMP)

install: $(STAMP)

DEMO_HOME ?= $(CURDIR)/.demo-home

# one embedded registry (SQLite + local folder) for all three parts of the demo; the bad-data
# step gets a fresh registry of its own (under the demo home), so a quarantine never blocks a rerun
demo: $(STAMP)
	@echo "== 1/4 the registry as a library =="
	ARTIFLOW_HOME=$(DEMO_HOME) $(BIN)/python examples/demo.py
	@echo "== 2/4 Airflow: nightly dataset DAG -> asset-scheduled retraining -> promotion gate =="
	ARTIFLOW_HOME=$(DEMO_HOME) $(BIN)/python examples/airflow_demo.py
	@echo "== 3/4 Prefect flows, and an Airflow DAG consuming a Prefect-made dataset =="
	ARTIFLOW_HOME=$(DEMO_HOME) $(BIN)/python examples/prefect_demo.py
	@echo "== 4/4 when a dataset goes bad: quarantine, what it affected, the rebuild plan, the refused resolution =="
	rm -rf $(DEMO_HOME)/bad-data
	$(BIN)/python examples/bad_data_demo.py --home $(DEMO_HOME)/bad-data

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# the declared floors (.ci/floor-constraints.txt) in a second, fresh venv: a declared floor is a
# tested floor. Runs the Airflow and Prefect integration tests there (docs/installing.md).
FLOOR_VENV ?= .venv-floor
test-floor:
	rm -rf $(FLOOR_VENV)
	$(PY) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/pip install -q --upgrade pip
	$(FLOOR_VENV)/bin/pip install -q -c .ci/floor-constraints.txt -e '.[airflow,prefect,postgres,openlineage]' \
		'pytest>=8' 'pytest-timeout>=2.2' 'httpx>=0.27'
	rm -rf artiflow.egg-info
	$(FLOOR_VENV)/bin/pip freeze | grep -i -E '^(apache-airflow|prefect|fastapi)=='
	# the integration tests on the floors; the real-engine ones (a scheduler with Celery workers, a
	# Prefect server) need the celery/moto extras of the main venv and run in `make test`
	$(FLOOR_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/airflow tests/prefect \
		--ignore=tests/airflow/test_airflow_real_scheduler.py \
		--ignore=tests/prefect/test_prefect_real_server.py \
		--ignore=tests/prefect/test_prefect_block_server.py

# sdist + wheel built from a clean copy, twine check, migrations and static files inside
check-dist: $(STAMP)
	$(BIN)/python .ci/check_dist.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run.py

# 1M files, a 1M-version catalog, contention, a 20 ms store (long: generates data once
# under bench/.work/data; `bench/scale.py --smoke` or `--scale 0.1` for a short run)
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py $(BENCH_SCALE_ARGS)

clean:
	rm -rf $(VENV) $(FLOOR_VENV) build dist *.egg-info
