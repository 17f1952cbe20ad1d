"""Shared fixtures: a real Kafka-protocol broker on 127.0.0.1 and fresh topics per test.

The broker is the local noida-db one (started once per test session), unless
KAFKA_BOOTSTRAP_SERVERS points at another broker (e.g. Apache Kafka from docker compose):
then the same suite runs against that one.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory) -> str:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    from foot_traffic.local_broker import LocalBroker

    broker = LocalBroker(tmp_path_factory.mktemp("kafka") / "data")
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topics(request) -> tuple[str, str]:
    """A fresh (sessions, events) topic pair for one test."""
    suffix = uuid.uuid4().hex[:10]
    name = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:60]
    return f"ft_{name}_{suffix}", f"ftr_{name}_{suffix}"
