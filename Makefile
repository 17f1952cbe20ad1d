# One entry point for people and CI. `make test` is the test command (.ci/run calls it).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv lock image-env test test-fast soak run airflow bench broker preview docs clean

help:
	@echo "make run      - one simulated day through Airflow on a local broker, with a summary"
	@echo "make test     - the whole test suite (unit, DAG integrity, integration, faults, deploy)"
	@echo "make airflow  - local broker + airflow standalone with the DAG (UI on 127.0.0.1:8080)"
	@echo "make bench    - benchmarks, rewriting BENCHMARKS.md"
	@echo "make soak     - randomized fault schedules for SOAK_MINUTES (default 60), ledger in .data/soak-ledger.jsonl"
	@echo "make broker   - only the local Kafka-protocol broker on 127.0.0.1:19092"
	@echo "make preview  - today's plan in the terminal"
	@echo "make docs     - the documentation site (MkDocs, Material) into site/, strict: a broken link fails"
	@echo "make lock     - re-resolve requirements-lock.txt (exact pins of .venv and CI)"
	@echo "make image-env - build (or reuse) the environment built like the Docker image, in .data/image-env"

# Virtualenv with exactly the versions of requirements-lock.txt (every package, transitive
# ones included) for what requirements.txt and requirements-dev.txt ask, and the project.
# requirements.txt alone is what the Docker image installs on top of the official image.
$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

$(STAMP): requirements.txt requirements-dev.txt requirements-lock.txt pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements-dev.txt -c requirements-lock.txt -e .
	touch $(STAMP)

venv: $(STAMP)

# After changing requirements*.txt: resolve every version again (all platforms, Python 3.11).
lock: | $(BIN)/uv
	$(BIN)/uv pip compile --universal --python-version 3.11 --quiet --custom-compile-command "make lock" \
		requirements-dev.txt pyproject.toml -o requirements-lock.txt

image-env: $(STAMP)
	$(BIN)/python -m tests.support.image_env

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/dags

# Randomized fault schedules, as many as fit in SOAK_MINUTES (or SOAK_SCHEDULES of them),
# from SOAK_SEED on; outside CI. Failing schedules are written next to the ledger.
SOAK_MINUTES ?= 60
SOAK_SEED ?= 1000
soak: $(STAMP)
	$(BIN)/python -m tests.faults.harness.soak --seed $(SOAK_SEED) \
		$(if $(SOAK_SCHEDULES),--schedules $(SOAK_SCHEDULES),--minutes $(SOAK_MINUTES)) --ledger .data/soak-ledger.jsonl

run: $(STAMP)
	$(BIN)/python scripts/run_local.py

airflow: $(STAMP)
	$(BIN)/python scripts/airflow_local.py

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

broker: $(STAMP)
	$(BIN)/python -m foot_traffic.local_broker --port 19092 --data-dir .data/kafka

preview: $(STAMP)
	$(BIN)/foot-traffic preview

# The documentation site (mkdocs.yml, docs/); the reference pages are generated from the
# code by scripts/docs_reference.py. tests/docs builds it too, so make test fails on a broken site.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf .data .airflow .pytest_cache .hypothesis build site *.egg-info include/*.egg-info
