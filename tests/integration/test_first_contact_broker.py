"""The run's first connection to a real broker: a broker that answers is reached at the
first attempt, and nothing about retrying is logged (no broker: tests/unit/delivery/test_first_contact.py)."""

from __future__ import annotations

import threading

import pytest

from foot_traffic.delivery.first_contact import first_contact
from foot_traffic.delivery.options import KafkaOptions

pytestmark = pytest.mark.integration


def options(address: str, retries: int, backoff: float) -> KafkaOptions:
    return KafkaOptions(bootstrap_servers=address, max_retries=retries, retry_backoff_seconds=backoff,
                        bootstrap_timeout_ms=500)


def test_a_broker_that_answers_returns_at_the_first_attempt(kafka_bootstrap, caplog):
    caplog.set_level("INFO")
    first_contact(options(kafka_bootstrap, retries=6, backoff=5), threading.Event())
    assert not [r for r in caplog.records if r.name == "foot_traffic.delivery.first_contact"]
