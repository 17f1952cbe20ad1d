"""librdkafka's fatal errors (raised by poll/flush when no error_cb is set) become the
engine's ``DeliveryError``: found by the fault suite with KAFKA_CLIENT=confluent, where a
broker that lost acknowledged writes made ``flush`` raise a bare ``KafkaException``."""

from __future__ import annotations

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from foot_traffic.delivery.options import KafkaOptions  # noqa: E402
from foot_traffic.delivery.errors import DeliveryError  # noqa: E402
from foot_traffic.delivery.confluent import ConfluentPublisher  # noqa: E402

FATAL = confluent_kafka.KafkaException(
    confluent_kafka.KafkaError(confluent_kafka.KafkaError._FATAL, "out of order sequence number", fatal=True)
)


class FatalProducer:
    """A librdkafka producer whose poll/flush raise a fatal error after ``ok`` calls."""

    def __init__(self, ok: int = 0):
        self.ok = ok
        self.produced = 0
        self.purged = 0

    def produce(self, *args, **kwargs):
        self.produced += 1

    def _maybe_raise(self):
        if self.ok <= 0:
            raise FATAL
        self.ok -= 1

    def poll(self, timeout=0):
        self._maybe_raise()
        return 0

    def flush(self, timeout=None):
        self._maybe_raise()
        return 0

    def purge(self, **kwargs):
        self.purged += 1


def record(seq: int):
    from foot_traffic.records.events import Record

    return Record("t", b"k", b"v", (("ft-seq", str(seq).encode()),), 0, seq, "session", 0)


def publisher(producer) -> ConfluentPublisher:
    pub = ConfluentPublisher(KafkaOptions("127.0.0.1:1"), producer_factory=lambda settings: producer)
    pub._producer = producer
    return pub


def test_fatal_error_in_flush_is_a_delivery_error_and_nothing_more_is_sent():
    producer = FatalProducer()
    pub = publisher(producer)
    pub.send(record(0))
    with pytest.raises(DeliveryError, match="out of order sequence number"):
        pub.flush()
    with pytest.raises(DeliveryError):
        pub.send(record(1))
    assert producer.produced == 1 and producer.purged >= 1
    pub.close()  # a fatal client at close is logged, not raised


def test_fatal_error_in_poll_during_send_is_a_delivery_error():
    import foot_traffic.delivery.confluent as module

    producer = FatalProducer(ok=0)
    pub = publisher(producer)
    with pytest.raises(DeliveryError):
        for seq in range(module.POLL_EVERY + 1):
            pub.send(record(seq))
    assert producer.produced == module.POLL_EVERY
