"""How the transactional writers read the day ledger and fence another producer: the
protocol (``LedgerIO``) and its Kafka implementation (``KafkaLedgerIO``: one read_committed
consumer kept for the run, fencing by transactional id with the run's producer client).
Kafka in memory has its own (``foot_traffic.testing.MemoryLedgerIO``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Protocol

from foot_traffic.delivery import ledger
from foot_traffic.delivery.errors import BrokerUnavailable, PublishError
from foot_traffic.delivery.ledger import Entry
from foot_traffic.delivery.producer import ConfirmedPublisher

log = logging.getLogger("foot_traffic.delivery.transactions")  # the writers' logger, as before the move


class LedgerIO(Protocol):
    """What the writers read of the ledger, and how they fence another producer."""

    def read(self, day: date, keys: Sequence[str], *, until: Callable[[dict[str, list[Entry]]], bool] | None = None
             ) -> dict[str, list[Entry]]:
        """The records of ``keys`` in ``day``'s ledger partition, in log order (read_committed,
        from the partition's beginning); with ``until``, read again until it holds (records of
        transactions still open become visible when they commit)."""

    def partitions(self) -> int: ...

    def fence(self, transactional_id: str) -> None:
        """Initialise a producer with that id and close it: its older producer is fenced and
        its open transaction aborted."""

    def close(self) -> None: ...


class KafkaLedgerIO:
    """The ledger read from Kafka (one read_committed consumer kept for the run) and fencing
    by transactional id with the run's producer client."""

    def __init__(self, options, topic: str, fencer: Callable[[str], ConfirmedPublisher],
                 stop: threading.Event | None = None, settle_seconds: float | None = None):
        self.options = options
        self.topic = topic
        self.fencer = fencer
        self.stop = stop or threading.Event()
        self.settle_seconds = settle_seconds if settle_seconds is not None else options.transaction_timeout_ms / 1000 + 30
        self._consumer = None
        self._partitions: int | None = None

    def _client(self):
        if self._consumer is None:
            from kafka import KafkaConsumer

            self._consumer = KafkaConsumer(client_id="foot-traffic-ledger", enable_auto_commit=False,
                                           isolation_level="read_committed", **self.options.common())
        return self._consumer

    def partitions(self) -> int:
        if self._partitions is None:
            from kafka.errors import KafkaError

            try:
                found = None
                for _ in range(50):
                    found = self._client().partitions_for_topic(self.topic)
                    if found:
                        break
                    self.stop.wait(0.1)
            except KafkaError as exc:
                self.close()
                raise BrokerUnavailable(f"cannot read the partitions of {self.topic}: {exc}") from None
            if not found:
                raise PublishError(f"the day ledger {self.topic} has no partitions")
            self._partitions = len(found)
        return self._partitions

    def read(self, day: date, keys: Sequence[str], *, until=None) -> dict[str, list[Entry]]:
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        wanted = {k.encode() for k in keys}
        tp = TopicPartition(self.topic, ledger.partition_of(day, self.partitions()))
        deadline = time.monotonic() + self.settle_seconds
        told = False
        try:
            consumer = self._client()
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            found: dict[str, list[Entry]] = {}
            while True:
                end = consumer.end_offsets([tp])[tp]
                while consumer.position(tp) < end:
                    for messages in consumer.poll(timeout_ms=200, max_records=20_000).values():
                        for message in messages:
                            if message.offset < end and message.key in wanted:
                                entry = ledger.decode(message.key, message.value, message.offset)
                                if entry is not None:
                                    found.setdefault(entry.key, []).append(entry)
                    if self.stop.is_set():
                        raise InterruptedError("stopped while reading the day ledger")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"could not read {self.topic}[{tp.partition}] up to {end}")
                if until is None or until(found):
                    return found
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"this run's take records in {self.topic}[{tp.partition}] are not readable after "
                        f"{self.settle_seconds:g} s: a transaction begun before them is still open")
                if not told and time.monotonic() > deadline - self.settle_seconds + 1.0:
                    told = True
                    log.info("day ledger: waiting for open transactions of other writers to end (%s[%d], last "
                             "stable offset %d)", self.topic, tp.partition, end)
                if self.stop.wait(0.05):
                    raise InterruptedError("stopped while reading the day ledger")
        except (KafkaError, TimeoutError) as exc:
            self.close()
            raise BrokerUnavailable(f"cannot read the day ledger {self.topic}: {exc}") from None

    def fence(self, transactional_id: str) -> None:
        producer = self.fencer(transactional_id)
        try:
            producer.connect()  # init_transactions with its id: it is fenced, its open transaction aborted
        finally:
            producer.close()

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception as exc:  # noqa: BLE001 - closing after a failure
                log.debug("closing the ledger consumer: %s", exc)
