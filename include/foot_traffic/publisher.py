"""Delivery to Kafka with kafka-python: every record confirmed, or a clear failure.

``KafkaPublisher`` connects with retries (growing back-off with jitter), creates the
topics if missing, sends asynchronously with acks=all and idempotence, and on
``flush()`` proves that every record sent so far was acknowledged. A record whose
delivery failed is never counted as sent: the first failure is raised as
``DeliveryError`` at the next call.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from foot_traffic.events import Record

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0


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


@dataclass(frozen=True)
class KafkaOptions:
    """Client settings shared by producer, consumer and admin client."""

    bootstrap_servers: str
    client_options: Mapping[str, Any] = field(default_factory=dict)  # security_protocol, sasl_*, ssl_*
    compression: str = "gzip"
    max_retries: int = 6
    retry_backoff_seconds: float = 5.0
    partitions: int = 3
    replication_factor: int = 1
    retention_ms: int = -1
    request_timeout_ms: int = 30_000
    delivery_timeout_ms: int = 120_000
    # How long one connection attempt may take (kafka-python's own default, 30 s, makes
    # every attempt against a dead broker block that long, whatever MAX_RETRIES says).
    bootstrap_timeout_ms: int = 5_000

    @classmethod
    def from_settings(cls, settings, client_options: Mapping[str, Any] | None = None) -> KafkaOptions:
        """Options from a ``foot_traffic.settings.Settings``; ``client_options`` adds
        kafka-python keyword arguments (security_protocol, sasl_*, ssl_*)."""
        return cls(
            bootstrap_servers=settings.bootstrap_servers,
            client_options=dict(client_options or {}),
            compression=settings.compression,
            max_retries=settings.max_retries,
            retry_backoff_seconds=settings.retry_backoff_seconds,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            retention_ms=settings.topic_retention_ms,
        )

    def common(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "bootstrap_timeout_ms": self.bootstrap_timeout_ms,
            **dict(self.client_options),
        }

    def redacted(self) -> dict[str, Any]:
        """The configuration as it may be logged: secrets replaced."""
        return {k: ("***" if _secret(k) else v) for k, v in self.common().items()}


def _secret(key: str) -> bool:
    key = key.lower()
    return any(word in key for word in ("password", "secret", "token", "keyfile", "key_password", "oauth"))


class _RedactClientConfig(logging.Filter):
    """kafka-python's KafkaAdminClient logs its whole configuration, passwords included, at
    DEBUG: replace secret values in any mapping logged by that logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping):
            record.args = {k: ("***" if _secret(str(k)) else v) for k, v in args.items()}
        elif isinstance(args, tuple) and any(isinstance(a, Mapping) for a in args):
            record.args = tuple(
                {k: ("***" if _secret(str(k)) else v) for k, v in a.items()} if isinstance(a, Mapping) else a
                for a in args
            )
        return True


logging.getLogger("kafka.admin.client").addFilter(_RedactClientConfig())


def backoff_delays(max_retries: int, base: float, rng: random.Random | None = None) -> list[float]:
    """Delays between connection attempts: base, 2 base, 4 base ... capped, with +-20 % jitter."""
    rng = rng or random.Random()
    cap = max(base, MAX_BACKOFF_SECONDS)
    return [min(base * 2**n, cap) * rng.uniform(0.8, 1.2) for n in range(max_retries)]


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition kafka-python's (and Java's) default partitioner picks for ``key``."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def retry_connect(
    connect: Callable[[], Any],
    options: KafkaOptions,
    stop: threading.Event,
    what: str = "Kafka",
) -> Any:
    """Call ``connect`` until it succeeds, ``MAX_RETRIES`` retries apart by growing back-off."""
    from kafka.errors import KafkaError

    delays = backoff_delays(options.max_retries, options.retry_backoff_seconds)
    attempt = 0
    while True:
        attempt += 1
        try:
            return connect()
        except (KafkaError, OSError) as exc:
            if attempt > len(delays):
                raise BrokerUnavailable(
                    f"cannot reach {what} at {options.bootstrap_servers} after {attempt} attempts "
                    f"(MAX_RETRIES={options.max_retries}, RETRY_BACKOFF_SECONDS={options.retry_backoff_seconds:g}): "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            delay = delays[attempt - 1]
            log.warning(
                "%s at %s not reachable (attempt %d of %d: %s); next try in %.1f s",
                what, options.bootstrap_servers, attempt, len(delays) + 1, type(exc).__name__, delay,
            )
            if stop.wait(delay):
                raise InterruptedError(f"stopped while waiting for {what} at {options.bootstrap_servers}")


class KafkaPublisher:
    """kafka-python producer with confirmed delivery. Not thread-safe: one runner uses it."""

    def __init__(self, options: KafkaOptions, stop: threading.Event | None = None):
        self.options = options
        self.stop = stop or threading.Event()
        self._producer = None
        self._partitions: dict[str, int] = {}
        self._error: tuple[Record, BaseException] | None = None
        # Fence: set when the producer is abandoned. After the first failed record the
        # sender thread waits on it inside the error callback, so nothing sent later
        # (kafka-python would bump the epoch and go on) can land behind a hole: each
        # partition keeps holding a prefix of the day, which resume relies on.
        self._released = threading.Event()
        self.sent = 0
        self.acked = 0
        self.acked_by_topic: Counter[str] = Counter()

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> None:
        from kafka import KafkaProducer

        config = dict(
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,  # ordered with idempotence
            linger_ms=20,
            batch_size=256 * 1024,
            compression_type=None if self.options.compression == "none" else self.options.compression,
            retries=2_147_483_647,  # bounded by delivery_timeout_ms
            request_timeout_ms=self.options.request_timeout_ms,
            delivery_timeout_ms=self.options.delivery_timeout_ms,
            max_block_ms=self.options.delivery_timeout_ms,
            client_id="foot-traffic-producer",
            **self.options.common(),
        )
        log.info("connecting to Kafka: %s", self.options.redacted())
        self._producer = retry_connect(lambda: KafkaProducer(**config), self.options, self.stop)
        log.info("connected to Kafka at %s", self.options.bootstrap_servers)

    def ensure_topics(self, topics: list[str]) -> None:
        """Create missing topics with the configured partitions and replication factor."""
        from kafka.admin import KafkaAdminClient, NewTopic
        from kafka.errors import TopicAlreadyExistsError

        admin = retry_connect(
            lambda: KafkaAdminClient(client_id="foot-traffic-admin", **self.options.common()),
            self.options,
            self.stop,
            "Kafka admin",
        )
        try:
            existing = set(admin.list_topics())
            missing = [t for t in topics if t not in existing]
            for topic in missing:
                try:
                    admin.create_topics(
                        [
                            NewTopic(
                                topic,
                                self.options.partitions,
                                self.options.replication_factor,
                                topic_configs={"retention.ms": str(self.options.retention_ms)},
                            )
                        ]
                    )
                    log.info(
                        "created topic %s (%d partitions, replication %d, retention.ms %d)",
                        topic, self.options.partitions, self.options.replication_factor, self.options.retention_ms,
                    )
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()

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

    def _visible_partitions(self, topic: str):
        """The topic's partitions as the producer's metadata shows them (may be empty at first)."""
        return self._producer.partitions_for(topic)

    # -- sending ----------------------------------------------------------------------------
    def _raise_if_failed(self) -> None:
        if self._error is not None:
            record, exc = self._error
            raise DeliveryError(
                f"record {record.kind} seq {record.seq} to {record.topic} was not delivered: "
                f"{type(exc).__name__}: {exc}"
            )

    def _on_ack(self, topic: str) -> Callable[[Any], None]:
        def ack(_metadata: Any) -> None:
            self.acked += 1
            self.acked_by_topic[topic] += 1

        return ack

    def _on_error(self, record: Record) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            if self._error is None:
                self._error = (record, exc)
                log.error(
                    "record %s seq %d to %s not delivered (%s: %s): holding the producer until it is abandoned",
                    record.kind, record.seq, record.topic, type(exc).__name__, exc,
                )
            producer = self._producer
            if producer is not None and threading.current_thread() is getattr(producer, "_sender", None):
                self._released.wait()

        return failed

    def send(self, record: Record) -> None:
        from kafka.errors import KafkaError

        self._raise_if_failed()
        try:
            future = self._producer.send(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers),
                timestamp_ms=record.timestamp_ms,
            )
        except KafkaError as exc:
            raise DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} refused: {exc}") from exc
        self.sent += 1
        future.add_callback(self._on_ack(record.topic))
        future.add_errback(self._on_error(record))

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every record sent so far; raise DeliveryError if any was not acknowledged."""
        if self._producer is None:
            return
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        # Short waits: a failure holds the sender thread (see _on_error), so a single
        # unbounded flush would never return.
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

    def _flush_step(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the client's queue to drain; True once it has."""
        from kafka.errors import KafkaError, KafkaTimeoutError

        try:
            self._producer.flush(timeout=seconds)
            return True
        except KafkaTimeoutError:
            return False
        except KafkaError as exc:
            raise DeliveryError(f"flush failed: {exc}") from exc

    def _after_flush(self) -> None:
        """Acknowledgements are counted by the callbacks as they arrive."""

    def close(self, timeout: float = 10.0) -> None:
        """Close; after a failure (or when a flush times out) abandon unsent records instead."""
        if self._producer is None:
            return
        from kafka.errors import KafkaError

        try:
            if self._error is None:
                try:
                    self._producer.close(timeout=timeout)
                    return
                except KafkaError as exc:
                    log.warning("producer close did not complete (%s): abandoning unsent records", exc)
            self._abandon()
        finally:
            self._producer = None

    def _abandon(self) -> None:
        """Stop the sender thread without sending anything more; unacknowledged records fail."""
        producer = self._producer
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
        self._released.set()
        if sender is not None and sender is not threading.current_thread():
            sender.join(10)
        try:
            producer.close(timeout=0)
        except Exception as exc:  # noqa: BLE001 - already failing; keep the first error
            log.debug("forced close: %s", exc)


def publisher_for(settings, options: KafkaOptions, stop: threading.Event | None = None, **confluent: Any) -> Publisher:
    """The publisher ``KAFKA_CLIENT`` selects: kafka-python (default) or librdkafka
    (``confluent``; ``confluent`` keywords go to ConfluentPublisher, e.g. ``base_config``)."""
    if settings.kafka_client == "confluent":
        from foot_traffic.publisher_confluent import ConfluentPublisher

        return ConfluentPublisher(options, stop, **confluent)
    return KafkaPublisher(options, stop)


class MemoryPublisher:
    """Keeps records in a list: for unit tests of the runner and for dry runs (no Kafka)."""

    def __init__(self, partitions: int = 3, fail_after: int | None = None):
        self.records: list[Record] = []
        self.partitions = partitions
        self.fail_after = fail_after
        self.flushes = 0
        self.closed = False
        self.acked_by_topic: Counter[str] = Counter()

    def connect(self) -> None:
        pass

    def ensure_topics(self, topics: list[str]) -> None:
        pass

    def partition_for(self, topic: str, key: bytes) -> int:
        return murmur2_partition(key, self.partitions)

    def send(self, record: Record) -> None:
        if self.fail_after is not None and len(self.records) >= self.fail_after:
            raise DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} was not delivered: injected")
        self.records.append(record)
        self.acked_by_topic[record.topic] += 1

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True
