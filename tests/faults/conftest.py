"""Fault-injection suite: a ledger of faults injected and records lost/duplicated, printed at the end."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

LEDGER: dict[str, float] = {"trials": 0, "faults_injected": 0, "records_checked": 0, "lost": 0, "duplicated": 0,
                            "out_of_order": 0, "runs_fenced": 0}
STARTED = time.monotonic()


def current_client() -> str:
    return os.environ.get("FAULT_KAFKA_CLIENT", "kafka-python")


class Ledger:
    def fault(self, n: int = 1) -> None:
        LEDGER["faults_injected"] += n

    def forgotten_transaction_ended(self) -> None:
        """The embedded broker's flaw was hit and ended as an operator would (``checks.end_forgotten_transaction``)."""
        LEDGER["forgotten_transactions_ended"] = LEDGER.get("forgotten_transactions_ended", 0) + 1

    def fenced(self, n: int = 1) -> None:
        """A run stopped because a newer run of its day took it over (one writer per day)."""
        LEDGER["runs_fenced"] += n

    def checked(self, check) -> None:
        LEDGER["trials"] += 1
        client = current_client()
        LEDGER["trials_" + client] = LEDGER.get("trials_" + client, 0) + 1
        LEDGER["records_checked"] += check.expected
        LEDGER["lost"] += len(check.lost)
        LEDGER["duplicated"] += len(check.duplicated)
        LEDGER["out_of_order"] += len(check.out_of_order)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


# Every fault test runs once per producer client (KAFKA_CLIENT): the guarantees are the
# client's as much as the engine's. FAULT_CLIENTS=confluent (or kafka-python) runs one.
FAULT_CLIENTS = [c.strip() for c in os.environ.get("FAULT_CLIENTS", "kafka-python,confluent").split(",") if c.strip()]


@pytest.fixture(autouse=True, params=FAULT_CLIENTS)
def kafka_client(request, monkeypatch) -> str:
    """The client of this run of the test; ``producer_env`` (and the Airflow DAG) pass it on.
    A test marked ``clients(...)`` runs on those only (its scenario's client side is run for
    both clients by the randomized harness; the suite's time goes where it finds most)."""
    only = request.node.get_closest_marker("clients")
    if only is not None and request.param not in only.args:
        pytest.skip(f"runs on {', '.join(only.args)} only; the randomized harness runs both clients")
    monkeypatch.setenv("FAULT_KAFKA_CLIENT", request.param)
    LEDGER.setdefault("trials_" + request.param, 0)
    return request.param


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not LEDGER["trials"]:
        return
    LEDGER["duration_s"] = round(time.monotonic() - STARTED, 1)
    terminalreporter.write_sep("-", "fault-injection ledger")
    terminalreporter.write_line(json.dumps(LEDGER))
    target = os.environ.get("FAULTS_LEDGER")
    if target:
        Path(target).write_text(json.dumps(LEDGER, indent=2) + "\n")
