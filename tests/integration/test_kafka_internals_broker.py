"""The one door to kafka-python internals on a real producer: it reaches its sender thread
and stops it (the version pin and the refusals: tests/unit/delivery/test_kafka_internals.py)."""

from __future__ import annotations

import threading

import kafka
import pytest

from foot_traffic.delivery import internals as kafka_internals


@pytest.mark.integration
def test_the_door_reaches_and_stops_a_real_producers_sender(kafka_bootstrap):
    # linger: the batch waits 0.5 s, so the callback is attached before the send completes
    producer = kafka.KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=500)
    try:
        sender = kafka_internals.io_thread(producer)
        assert sender.is_alive()
        assert not kafka_internals.in_io_thread(producer)
        seen = []
        producer.send("ft_internals_probe", b"x").add_callback(
            lambda _m: seen.append(kafka_internals.in_io_thread(producer))
        )
        producer.flush(10)
        assert seen == [True], "callbacks run on the sender thread"
        released = threading.Event()
        kafka_internals.stop_io_thread(producer, released)
        assert released.is_set() and not sender.is_alive()
    finally:
        producer.close(timeout=0)
