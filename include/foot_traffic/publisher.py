"""What the runner needs of a Kafka producer, and the factory that picks one by KAFKA_CLIENT.

A publisher connects (with retries), creates missing topics, sends records
asynchronously and, on ``flush()``, proves that every record sent so far was
acknowledged. A record whose delivery failed is never counted as sent: the first
failure is raised as ``DeliveryError`` at the next call.

The two clients are siblings over :class:`ConfirmedPublisher`:
``publisher_kafka.KafkaPublisher`` (kafka-python, the original's client, the default)
and ``publisher_confluent.ConfluentPublisher`` (librdkafka, ``KAFKA_CLIENT=confluent``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from foot_traffic.events import Record
from foot_traffic.kafka_options import KafkaOptions

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """Base of the publisher's errors: the day could not be (fully) delivered."""


class BrokerUnavailable(PublishError):
    """No broker answered within the retry budget."""


class DeliveryError(PublishError):
    """A record was not acknowledged by the broker."""


class Publisher(Protocol):
    def connect(self) -> None: ...
    def ensure_topics(self, topics: list[str]) -> None: ...
    def partition_for(self, topic: str, key: bytes) -> int: ...
    def send(self, record: Record) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition kafka-python's (and Java's) default partitioner picks for ``key``."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def ensure_topics(options: KafkaOptions, topics: list[str], stop: threading.Event) -> None:
    """Create missing topics with the configured partitions, replication and retention."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from foot_traffic.retry import retry_connect

    admin = retry_connect(
        lambda: KafkaAdminClient(client_id="foot-traffic-admin", **options.common()), options, stop, "Kafka admin"
    )
    try:
        existing = set(admin.list_topics())
        for topic in (t for t in topics if t not in existing):
            new = NewTopic(
                topic,
                options.partitions,
                options.replication_factor,
                topic_configs={"retention.ms": str(options.retention_ms)},
            )
            try:
                admin.create_topics([new])
            except TopicAlreadyExistsError:
                continue
            log.info(
                "created topic %s (%d partitions, replication %d, retention.ms %d)",
                topic, options.partitions, options.replication_factor, options.retention_ms,
            )
    finally:
        admin.close()


class ConfirmedPublisher:
    """What both clients share: topic creation, the partition layout and the flush loop.

    A subclass says how it connects, sends, sees partitions, drains its queue and
    counts acknowledgements; this class turns that into "every record acknowledged or
    ``DeliveryError``". Not thread-safe: one runner uses it.
    """

    def __init__(self, options: KafkaOptions, stop: threading.Event | None = None):
        self.options = options
        self.stop = stop or threading.Event()
        self._producer: Any = None
        self._partitions: dict[str, int] = {}
        self.sent = 0
        self.acked = 0
        self.acked_by_topic: Counter[str] = Counter()

    # -- what a client says -----------------------------------------------------------------
    def connect(self) -> None:
        raise NotImplementedError

    def send(self, record: Record) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _visible_partitions(self, topic: str) -> Any:
        """The topic's partitions as the producer's metadata shows them (may be empty at first)."""
        raise NotImplementedError

    def _flush_step(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the client's queue to drain; True once it has."""
        raise NotImplementedError

    def _raise_if_failed(self) -> None:
        """Raise ``DeliveryError`` if any record failed so far."""
        raise NotImplementedError

    def _after_flush(self) -> None:
        """Called once the queue drained without failure (count acknowledgements here)."""

    # -- shared -----------------------------------------------------------------------------
    def ensure_topics(self, topics: list[str]) -> None:
        ensure_topics(self.options, topics, self.stop)

    def partition_count(self, topic: str) -> int:
        if topic not in self._partitions:
            parts = None
            for _ in range(50):
                parts = self._visible_partitions(topic)
                if parts:
                    break
                self.stop.wait(0.1)
            if not parts:
                raise PublishError(f"topic {topic!r} has no partitions visible to the producer")
            self._partitions[topic] = len(parts)
        return self._partitions[topic]

    def partition_for(self, topic: str, key: bytes) -> int:
        return murmur2_partition(key, self.partition_count(topic))

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every record sent so far; raise DeliveryError if any was not acknowledged."""
        if self._producer is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        # Short waits: a failure may hold the client (see KafkaPublisher's fence), so a
        # single unbounded flush could never return.
        while True:
            self._raise_if_failed()
            if self._flush_step(0.5):
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise DeliveryError(f"flush failed: not acknowledged within {timeout:g} s")
        self._raise_if_failed()
        self._after_flush()
        if self.acked != self.sent:
            raise DeliveryError(f"{self.sent - self.acked} of {self.sent} records not acknowledged after flush")


ProducerFactory = Callable[[dict[str, Any]], Any]


def publisher_for(
    settings,
    options: KafkaOptions,
    stop: threading.Event | None = None,
    *,
    producer_factory: ProducerFactory | None = None,
) -> Publisher:
    """The publisher ``KAFKA_CLIENT`` selects: kafka-python (default) or librdkafka (``confluent``).

    ``producer_factory`` (librdkafka only) builds the ``confluent_kafka.Producer`` from the
    engine's producer settings; under Airflow it is the Kafka provider's hook, whose
    connection extra is already librdkafka configuration.
    """
    if settings.kafka_client == "confluent":
        from foot_traffic.publisher_confluent import ConfluentPublisher

        return ConfluentPublisher(options, stop, producer_factory=producer_factory)
    from foot_traffic.publisher_kafka import KafkaPublisher

    return KafkaPublisher(options, stop)
