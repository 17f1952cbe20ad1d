"""One Kafka producer with confirmed delivery: what both clients share.

A producer connects (with retries), sends records asynchronously and, on ``flush()``,
proves that every record sent so far was acknowledged; with a ``transactional_id`` it
also begins and commits transactions (``connect`` then initialises transactions, which
fences every older producer of that id). A record whose delivery failed is never counted
as sent: the first failure is raised as ``DeliveryError`` at the next call; a producer
fenced by a newer one raises ``Fenced``.

The two clients are siblings over :class:`ConfirmedPublisher`: ``kafka_python.KafkaPublisher``
(kafka-python, the original's client, the default) and ``confluent.ConfluentPublisher``
(librdkafka, ``KAFKA_CLIENT=confluent``). The transactional writers of ``transactions``
and the plain writer of ``direct`` are built on one of them (``producer_for``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from foot_traffic.delivery import client_logs  # noqa: F401 - the clients' harmless "errors" go to DEBUG
from foot_traffic.delivery.errors import DeliveryError, PublishError
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.topics import murmur2_partition
from foot_traffic.records.events import Record

log = logging.getLogger(__name__)


class ConfirmedPublisher:
    """What both clients share: the partition layout, the flush loop and the transaction steps.

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

    def send_to(self, record: Record, partition: int) -> None:
        """Send ``record`` to ``partition`` (the day ledger's records; not the hot path)."""
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

    def connections_lost(self) -> int:
        """Broker connections this producer lost since it connected (a restarted broker may
        have forgotten which producer of a transactional id is the newest: ``DayWriter``)."""
        return 0

    # -- shared -----------------------------------------------------------------------------
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
        from foot_traffic.delivery.confluent import ConfluentPublisher

        return ConfluentPublisher(options, stop, producer_factory=producer_factory, transactional_id=transactional_id)
    from foot_traffic.delivery.kafka_python import KafkaPublisher

    return KafkaPublisher(options, stop, transactional_id=transactional_id)
