"""What the runner needs of a Kafka producer, and the factory that picks one by KAFKA_CLIENT.

A publisher connects (with retries), creates missing topics, opens a *writer* per day
(``open_day``: with transactions, the day's own transactional producer, which fences
any older writer of that day), sends records asynchronously and, on ``flush()``, proves
that every record sent so far was acknowledged (and, with transactions, committed). A
record whose delivery failed is never counted as sent: the first failure is raised as
``DeliveryError`` at the next call; a writer fenced by a newer one raises ``Fenced``.

The two clients are siblings over :class:`ConfirmedPublisher`:
``publisher_kafka.KafkaPublisher`` (kafka-python, the original's client, the default)
and ``publisher_confluent.ConfluentPublisher`` (librdkafka, ``KAFKA_CLIENT=confluent``).
Each is one producer; with ``KAFKA_TRANSACTIONS`` on (the default) the runner talks to
``transactional.DayPublishers``, which holds one such producer per open day.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from foot_traffic import client_logs  # noqa: F401 - the clients' harmless "errors" go to DEBUG
from foot_traffic.events import Record
from foot_traffic.kafka_options import KafkaOptions

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """Base of the publisher's errors: the day could not be (fully) delivered."""


class BrokerUnavailable(PublishError):
    """No broker answered within the retry budget."""


class DeliveryError(PublishError):
    """A record was not acknowledged by the broker."""


class Fenced(PublishError):
    """A newer writer of the same day took over: Kafka fenced this producer's transactional id.

    Nothing more is sent by this producer, and its open transaction was aborted by the
    newer writer's ``init_transactions``: what it sent and committed before stays, exactly
    once, and the newer writer continues from there. ``by`` describes the newer writer
    when its owner record could be read (see ``foot_traffic.ownership``).
    """

    def __init__(
        self,
        message: str,
        *,
        transactional_id: str | None = None,
        day: date | None = None,
        store: str | None = None,
        by: dict[str, Any] | None = None,
        stores: tuple[str, ...] = (),
    ):
        """:param stores: every store whose day was fenced (a chain's shard producer: all of its stores)."""
        super().__init__(message)
        self.transactional_id = transactional_id
        self.day = day
        self.store = store if store is not None or not stores else stores[0]
        self.by = by
        self.stores = stores or ((store,) if store is not None else ())
        # Store-days this run had finished whose last records were in the aborted transaction.
        self.uncommitted: tuple[str, ...] = ()


class DayWriter(Protocol):
    """Sends one day's records (one store's day, with a catalogue)."""

    def send(self, record: Record) -> None: ...
    def finish(self) -> None: ...


class Publisher(Protocol):
    def connect(self) -> None: ...
    def ensure_topics(self, topics: list[str]) -> None: ...
    def open_day(self, day: date, store: str | None = None) -> DayWriter:
        """The day's writer. Called *before* the day's resume scan: with transactions it
        fences every older writer of the day first, so the scan sees all they will ever write."""
    def partition_for(self, topic: str, key: bytes) -> int: ...
    def idle(self, seconds: float) -> None:
        """The stream will not send for ``seconds``: a moment to make what was sent visible."""
    def flush(self) -> None: ...
    def close(self) -> None: ...


class DirectWriter:
    """Without transactions a day's writer is the publisher itself.

    A finished day checks that the broker still holds what it acknowledged (``verify``:
    a consumer and a request). A store-day of a chain checks at most every
    ``VERIFY_EVERY_SECONDS`` (a thousand stores end their day within minutes at full
    speed); the runner checks once more when the run ends (``verify``)."""

    VERIFY_EVERY_SECONDS = 10.0

    def __init__(self, publisher: Any, *, throttled: bool = False):
        self.send = publisher.send
        self._publisher = publisher
        self._verify = getattr(publisher, "verify", None)
        self._throttled = throttled

    def finish(self) -> None:
        if self._verify is None:
            return
        if self._throttled:
            now = time.monotonic()
            if now - getattr(self._publisher, "verified_at", -math.inf) < self.VERIFY_EVERY_SECONDS:
                return
            self._publisher.verified_at = now
        self._verify()


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition kafka-python's (and Java's) default partitioner picks for ``key``."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def ensure_topics(
    options: KafkaOptions,
    topics: list[str],
    stop: threading.Event,
    *,
    layouts: dict[str, tuple[int, dict[str, str]]] | None = None,
) -> None:
    """Create missing topics with the configured partitions, replication and retention.

    ``layouts`` gives some topics their own partition count and extra configs (the
    writers topic: one partition, compacted).
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from foot_traffic.retry import retry_connect

    layouts = layouts or {}
    admin = retry_connect(
        lambda: KafkaAdminClient(client_id="foot-traffic-admin", **options.common()), options, stop, "Kafka admin"
    )
    try:
        existing = set(admin.list_topics())
        for topic in (t for t in topics if t not in existing):
            partitions, extra = layouts.get(topic, (options.partitions, {}))
            configs = {"retention.ms": str(options.retention_ms), **extra}
            new = NewTopic(topic, partitions, options.replication_factor, topic_configs=configs)
            try:
                admin.create_topics([new])
            except TopicAlreadyExistsError:
                continue
            log.info(
                "created topic %s (%d partitions, replication %d, %s)",
                topic, partitions, options.replication_factor, ", ".join(f"{k} {v}" for k, v in configs.items()),
            )
    finally:
        admin.close()


class ConfirmedPublisher:
    """What both clients share: topic creation, the partition layout, the flush loop and
    the transaction steps.

    A subclass says how it connects, sends, sees partitions, drains its queue, counts
    acknowledgements and begins/commits/aborts a transaction; this class turns that into
    "every record acknowledged (and committed) or ``DeliveryError``/``Fenced``". With a
    ``transactional_id``, ``connect()`` also initialises transactions, which fences every
    older producer of that id. Not thread-safe: one runner uses it.
    """

    def __init__(
        self,
        options: KafkaOptions,
        stop: threading.Event | None = None,
        *,
        transactional_id: str | None = None,
    ):
        self.options = options
        self.stop = stop or threading.Event()
        self.transactional_id = transactional_id
        self.in_transaction = False
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

    def _stalled(self, exc: DeliveryError) -> None:
        """A flush stalled: remember it as this producer's failure (close abandons it, sends nothing more)."""

    def _pending(self) -> int:
        """Records sent and not yet acknowledged (a flush that sees it shrink makes progress)."""
        return self.sent - self.acked

    def _begin_transaction(self) -> None:
        raise NotImplementedError

    def _commit_transaction(self, timeout: float) -> None:
        """Commit the open transaction (its records are all acknowledged); raise
        ``Fenced`` or ``DeliveryError``."""
        raise NotImplementedError

    def verify(self) -> None:
        """Check that the broker still holds what it acknowledged (where the client can tell)."""

    # -- shared -----------------------------------------------------------------------------
    def ensure_topics(self, topics: list[str]) -> None:
        ensure_topics(self.options, topics, self.stop)

    def open_day(self, day: date, store: str | None = None) -> DirectWriter:
        return DirectWriter(self, throttled=store is not None)

    def idle(self, seconds: float) -> None:
        pass

    def begin(self) -> None:
        """Open a transaction (transactional producers only)."""
        self._begin_transaction()
        self.in_transaction = True

    def commit(self) -> None:
        """Every record sent so far acknowledged, then the open transaction committed."""
        self.flush()
        if self.in_transaction:
            # Bounded like a stalled flush: a commit whose outcome is unknown is settled by
            # the next writer of the day (its init_transactions), and its scan sees the result.
            self._commit_transaction(min(self.options.delivery_timeout_ms, self.options.stall_timeout_ms) / 1000)
            self.in_transaction = False

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
        stall = self.options.stall_timeout_ms / 1000
        pending, progressed = self._pending(), time.monotonic()
        # Short waits: a failure may hold the client (see KafkaPublisher's fence), so a
        # single unbounded flush could never return.
        while True:
            self._raise_if_failed()
            if self._flush_step(0.5):
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise DeliveryError(f"flush failed: not acknowledged within {timeout:g} s")
            left = self._pending()
            if left < pending:
                pending, progressed = left, now
            elif now - progressed >= stall:
                stalled = DeliveryError(
                    f"flush stalled: no acknowledgement for {now - progressed:.0f} s with {left} records waiting "
                    "(the broker is unreachable, or the client did not recover after it restarted)"
                )
                self._stalled(stalled)
                raise stalled
        self._raise_if_failed()
        self._after_flush()
        if self.acked != self.sent:
            raise DeliveryError(f"{self.sent - self.acked} of {self.sent} records not acknowledged after flush")


ProducerFactory = Callable[[dict[str, Any]], Any]


def producer_for(
    settings,
    options: KafkaOptions,
    stop: threading.Event | None = None,
    *,
    producer_factory: ProducerFactory | None = None,
    transactional_id: str | None = None,
) -> ConfirmedPublisher:
    """One producer of the client ``KAFKA_CLIENT`` selects: kafka-python (default) or
    librdkafka (``confluent``), transactional when ``transactional_id`` is given.

    ``producer_factory`` (librdkafka only) builds the ``confluent_kafka.Producer`` from the
    engine's producer settings; under Airflow it is the Kafka provider's hook, whose
    connection extra is already librdkafka configuration.
    """
    if settings.kafka_client == "confluent":
        from foot_traffic.publisher_confluent import ConfluentPublisher

        return ConfluentPublisher(options, stop, producer_factory=producer_factory, transactional_id=transactional_id)
    from foot_traffic.publisher_kafka import KafkaPublisher

    return KafkaPublisher(options, stop, transactional_id=transactional_id)


def publisher_for(
    settings,
    options: KafkaOptions,
    stop: threading.Event | None = None,
    *,
    producer_factory: ProducerFactory | None = None,
    owner: dict[str, Any] | None = None,
    detail_level: int = logging.INFO,
) -> Publisher:
    """The runner's publisher: with ``KAFKA_TRANSACTIONS`` on (the default), one
    transactional producer per open day (``transactional.DayPublishers``); off, one
    idempotent producer for every day (the original's delivery).

    ``owner`` describes this run (``ownership.describe_run``) in the owner record each
    day's writer leaves, so a run it fences can name it.
    """
    if settings.kafka_transactions:
        from foot_traffic.transactional import DayPublishers

        return DayPublishers(
            settings, options, stop, producer_factory=producer_factory, owner=owner, detail_level=detail_level
        )
    return producer_for(settings, options, stop, producer_factory=producer_factory)
