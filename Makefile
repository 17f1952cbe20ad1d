# One entry point for people and CI. `make test` is the test command (.ci/run calls it).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv test test-fast run airflow bench broker preview clean

help:
	@echo "make run      - one simulated day through Airflow on a local broker, with a summary"
	@echo "make test     - the whole test suite (unit, DAG integrity, integration, faults, deploy)"
	@echo "make airflow  - local broker + airflow standalone with the DAG (UI on 127.0.0.1:8080)"
	@echo "make bench    - benchmarks, rewriting BENCHMARKS.md"
	@echo "make broker   - only the local Kafka-protocol broker on 127.0.0.1:19092"
	@echo "make preview  - today's plan in the terminal"

# Virtualenv with the pinned dependencies (requirements*.txt) and the project itself.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements-dev.txt -e .
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/dags

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

clean:
	rm -rf .data .airflow .pytest_cache .hypothesis build *.egg-info include/*.egg-info
