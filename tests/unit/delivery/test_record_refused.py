"""A record the broker refuses as invalid (error 87) is one error, whatever the client, and no outage.

Both clients' ways of saying it become ``RecordRefused`` naming the topic, the key (where
the client tells) and the broker's reason; the runner does not heal it. End to end on a
schema-enforcing broker: ``tests/integration/test_schemas_tansu.py``.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime

import pytest
from confluent_kafka import KafkaError as ConfluentError
from kafka.errors import InvalidRecordError, KafkaError, RequestTimedOutError

from foot_traffic.records.events import Record
from foot_traffic.delivery.confluent import ConfluentPublisher
from foot_traffic.delivery.confluent_errors import refusal
from foot_traffic.delivery.errors import DeliveryError, RecordRefused
from foot_traffic.delivery.kafka_python import KafkaPublisher, is_refusal
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryKafka, memory_delivery

KEY = "0f8b8d2c-3c1e-4a8e-9d3e-2b1f0e9a7c6d"
RECORD = Record("foot_traffic", KEY.encode(), b"{}", (), 0, 3, "session", 0)


def options() -> KafkaOptions:
    return KafkaOptions.from_settings(Settings.from_env({"KAFKA_BROKER": "127.0.0.1:1"}))


def test_kafka_python_invalid_record_is_record_refused_naming_topic_key_and_reason():
    publisher = KafkaPublisher(options(), transactional_id="t")
    publisher._error = (RECORD, InvalidRecordError(None))
    with pytest.raises(RecordRefused) as caught:
        publisher._raise_if_failed()
    refused = caught.value
    assert (refused.topic, refused.key) == ("foot_traffic", KEY)
    assert "INVALID_RECORD, 87" in refused.reason and "failed the validation on broker" in refused.reason
    text = str(refused)
    assert f"topic foot_traffic refused the record with key {KEY}" in text and "docs/schemas.md" in text
    assert isinstance(refused, DeliveryError)  # exit 1, "delivery failed", like any bad record


def test_kafka_python_batch_siblings_count_as_refusals_other_errors_do_not():
    sibling = KafkaError("Failed to append record because it was part of a batch which had one more more invalid records")
    assert is_refusal(InvalidRecordError("bad value")) and is_refusal(sibling)
    assert not is_refusal(RequestTimedOutError()) and not is_refusal(None)
    publisher = KafkaPublisher(options(), transactional_id="t")
    publisher._error = (RECORD, RequestTimedOutError())
    with pytest.raises(DeliveryError) as caught:
        publisher._raise_if_failed()
    assert not isinstance(caught.value, RecordRefused)


def test_kafka_python_the_refused_record_beats_its_batch_sibling_and_frees_the_sender():
    """The errback keeps the record the broker named; in a transaction it does not hold the
    sender thread (close aborts the transaction through it)."""
    publisher = KafkaPublisher(options(), transactional_id="t")
    sibling_record = Record("foot_traffic", b"other", b"{}", (), 0, 2, "session", 0)
    sibling = KafkaError("Failed to append record because it was part of a batch which had one more more invalid records")
    publisher._on_error(sibling_record)(sibling)
    publisher._on_error(RECORD)(InvalidRecordError("value does not match"))
    publisher._on_error(sibling_record)(RequestTimedOutError())
    assert publisher._error[0] is RECORD and publisher._aborts_refusal()
    assert not publisher._released.is_set()  # nobody waited on it: the test would hang otherwise
    assert not KafkaPublisher(options())._aborts_refusal()


def test_kafka_python_a_send_refused_for_an_earlier_record_names_that_record():
    """kafka-python refuses later sends ("Cannot perform send ...", the refusal its cause) before
    the refused record's errback has run: the error waits for it, else names no record."""
    cannot = KafkaError("Cannot perform send because at least one previous transactional or idempotent request "
                        "has failed with errors.", InvalidRecordError(None))
    assert is_refusal(cannot)
    publisher = KafkaPublisher(options(), transactional_id="t")
    publisher._error = (None, cannot)
    publisher._on_error(RECORD)(InvalidRecordError(None))
    with pytest.raises(RecordRefused) as caught:
        publisher._raise_if_failed()
    assert caught.value.key == KEY
    publisher._error = (None, cannot)
    with pytest.raises(RecordRefused) as caught:
        publisher._raise_refused(wait=0.05)
    assert caught.value.key is None and "its key is not reported" in str(caught.value)


def test_confluent_per_record_report_and_transaction_commit_both_map_to_record_refused():
    per_record = refusal(ConfluentError(87, "Broker: Broker failed to validate record"), "foot_traffic", KEY)
    assert (per_record.topic, per_record.key, per_record.partition) == ("foot_traffic", KEY, None)
    assert "INVALID_RECORD (87): Broker: Broker failed to validate record" in per_record.reason
    commit = ConfluentError(87, "ProduceRequest for foot_traffic [2] with 1 message(s) failed: Broker: Broker failed "
                            "to validate record (broker 111 PID{Id:2,Epoch:0}, base seq 0): current transaction must "
                            "be aborted", txn_requires_abort=True)
    in_transaction = refusal(commit, "", None)
    assert (in_transaction.topic, in_transaction.key, in_transaction.partition) == ("foot_traffic", None, 2)
    assert "topic foot_traffic partition 2 refused a record (its key is not reported)" in str(in_transaction)
    assert refusal(ConfluentError(ConfluentError.REQUEST_TIMED_OUT), "t", KEY) is None
    assert refusal(None, "t", KEY) is None


def test_confluent_publisher_raises_it_from_its_failure():
    publisher = ConfluentPublisher(options(), producer_factory=lambda settings: None)
    publisher._failure = ("foot_traffic", f"{KEY}:session", "3", ConfluentError(87, "Broker: Broker failed to validate record"))
    publisher._failed_key = KEY
    publisher._purged = True
    with pytest.raises(RecordRefused) as caught:
        publisher._raise_if_failed()
    assert caught.value.key == KEY


def test_the_runner_does_not_heal_a_refusal():
    """MAX_RETRIES > 0 heals outages; a refused record ends the run at once (one connection)."""
    settings = Settings.from_env({"SEED": "7", "DAILY_CUSTOMERS": "50", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e",
                                  "MAX_RETRIES": "4", "RETRY_BACKOFF_SECONDS": "2"})
    kafka = MemoryKafka(refuse=lambda record: record.topic == "e" and record.seq == 10)
    runner = Runner(settings, memory_delivery(kafka, settings), clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
                    stop=threading.Event(), rng=random.Random(1))
    assert runner.heals
    connects = kafka.connects
    with pytest.raises(RecordRefused, match="INVALID_RECORD"):
        runner.run([date(2025, 11, 7)])
    assert kafka.connects == connects + 2  # the run's start and the day's producer: no reconnection
    assert kafka.records == []  # its transaction was aborted: nothing of it visible
