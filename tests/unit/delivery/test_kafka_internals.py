"""The one door to kafka-python internals (``foot_traffic.kafka_internals``), pinned.

If an upgrade of kafka-python moves ``KafkaProducer._sender`` or its ``force_close``,
these tests fail loudly instead of the delivery fence silently doing nothing.
"""

from __future__ import annotations

import threading

import kafka
import pytest

from foot_traffic.delivery import internals as kafka_internals


def test_the_installed_kafka_python_is_the_one_the_door_was_checked_against():
    assert kafka.__version__ == kafka_internals.TESTED_KAFKA_PYTHON, (
        "kafka-python changed: re-check foot_traffic/kafka_internals.py against its KafkaProducer, "
        "then update TESTED_KAFKA_PYTHON"
    )


def test_an_object_without_the_internals_is_refused_loudly():
    with pytest.raises(RuntimeError, match="delivery.internals"):
        kafka_internals.io_thread(object())


def test_both_callbacks_of_a_future_are_attached_at_once():
    from kafka.future import Future

    for outcome in ("success", "failure"):
        future, seen = Future(), []
        kafka_internals.add_callbacks(future, lambda v: seen.append(("ok", v)), lambda e: seen.append(("error", e)))
        error = RuntimeError("x")
        future.success(1) if outcome == "success" else future.failure(error)
        assert seen == ([("ok", 1)] if outcome == "success" else [("error", error)])
    done, seen = Future().success(2), []  # already done: the callback runs at once, like add_callback
    kafka_internals.add_callbacks(done, seen.append, seen.append)
    assert seen == [2]
    with pytest.raises(RuntimeError, match="delivery.internals"):
        kafka_internals.add_callbacks(object(), print, print)


def test_a_lost_write_is_named_as_such_not_as_a_transaction_step():
    """The broker lost records it had acknowledged (no record of ours failed): the error says
    so, with or without transactions; a failed transaction step is named as one."""
    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.delivery.errors import DeliveryError, LostAcknowledgedWrites
    from foot_traffic.delivery.kafka_python import KafkaPublisher

    for tid in (None, "foot-traffic/x/2025-11-07"):
        publisher = KafkaPublisher(KafkaOptions("127.0.0.1:1"), transactional_id=tid)
        publisher._error = (None, LostAcknowledgedWrites("s[0] ends at 5, acknowledged 9"))
        with pytest.raises(DeliveryError, match="what the broker had acknowledged was lost by the broker"):
            publisher._raise_if_failed()
    publisher = KafkaPublisher(KafkaOptions("127.0.0.1:1"), transactional_id="foot-traffic/x/2025-11-07")
    publisher._error = (None, RuntimeError("EndTxn timed out"))
    with pytest.raises(DeliveryError, match="the transaction was not delivered"):
        publisher._raise_if_failed()
