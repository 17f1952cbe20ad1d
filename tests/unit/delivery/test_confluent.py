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


class Message:
    def __init__(self, topic, key, headers):
        self._topic, self._key, self._headers = topic, key, headers

    def topic(self):
        return self._topic

    def key(self):
        return self._key

    def headers(self):
        return self._headers


class RefusingProducer:
    """librdkafka after a broker refused an in-flight record (idempotent, no transactions):
    the fatal error purges the queue first, so the purged records report before the
    refused one, whose report comes with a later poll."""

    def __init__(self):
        self.reports = []  # (callback, message) in produce order

    def produce(self, topic, value, key, headers=(), timestamp=0, on_delivery=None, **kwargs):
        self.reports.append((on_delivery, Message(topic, key, headers)))

    def __len__(self):
        return len(self.reports)

    def poll(self, timeout=0):
        if len(self.reports) > 1:  # first: every queued record purged
            for callback, message in self.reports[1:]:
                callback(confluent_kafka.KafkaError(confluent_kafka.KafkaError._PURGE_QUEUE), message)
            del self.reports[1:]
            return 0
        if self.reports:  # then the in-flight one: the broker's refusal
            callback, message = self.reports.pop()
            callback(confluent_kafka.KafkaError(87, "Broker: Invalid record"), message)
        return 0

    flush = poll

    def purge(self, **kwargs):
        pass


def test_a_refusal_reported_after_the_purged_queue_is_the_failure_not_the_purge():
    """Seen with Tansu's schema registry and KAFKA_TRANSACTIONS=0: the run must name the
    refused record (no retry helps), not retry after "Purged in queue"."""
    from foot_traffic.delivery.errors import RecordRefused
    from foot_traffic.records.events import Record

    producer = RefusingProducer()
    pub = publisher(producer)
    for seq in range(5):
        pub.send(Record("t", f"customer-{seq}".encode(), b"v", (("ft-seq", str(seq).encode()),), 0, seq, "session", 0))
    with pytest.raises(RecordRefused) as refused:
        pub.flush()
    assert "customer-0" in str(refused.value) and "Purged" not in str(refused.value)


class TransactionalProducer:
    """A transactional librdkafka producer whose client events (lost connections) wait in
    its queue until the next poll, as librdkafka's do."""

    def __init__(self):
        self.events = []
        self.error_cb = None
        self.commits = 0

    def poll(self, timeout=0):
        events, self.events = self.events, []
        for err in events:
            self.error_cb(err)
        return 0

    def flush(self, timeout=None):
        self.poll()
        return 0

    def __len__(self):
        return 0

    def produce(self, *args, **kwargs):
        pass

    def begin_transaction(self):
        pass

    def commit_transaction(self, timeout=None):
        self.commits += 1


def transactional(producer) -> ConfluentPublisher:
    pub = ConfluentPublisher(KafkaOptions("127.0.0.1:1"), producer_factory=lambda settings: producer,
                             transactional_id="tid")
    pub._producer = producer
    pub._connections_lost = pub._lost_at_begin = 0
    producer.error_cb = pub._on_client_error
    return pub


def test_a_connection_lost_before_the_transaction_does_not_fail_its_commit():
    """Seen in the soak: a broker restart while the day was being taken, reported at the next
    poll, failed every following transaction ("not committed") and the run never finished."""
    producer = TransactionalProducer()
    pub = transactional(producer)
    producer.events.append(confluent_kafka.KafkaError(confluent_kafka.KafkaError._TRANSPORT, "disconnected"))
    pub.begin()
    pub.send(record(0))
    pub.commit()
    assert producer.commits == 1


def test_a_connection_lost_during_the_transaction_fails_its_commit():
    producer = TransactionalProducer()
    pub = transactional(producer)
    pub.begin()
    pub.send(record(0))
    producer.events.append(confluent_kafka.KafkaError(confluent_kafka.KafkaError._TRANSPORT, "disconnected"))
    with pytest.raises(DeliveryError, match="connection error"):
        pub.commit()
    assert producer.commits == 0
