"""Transactional delivery: one producer per open day, records committed in bounded transactions.

Why a producer per day: a Kafka producer has one ``transactional.id``, and fencing must
be per day (``ownership.transactional_id``): a run that replays day D must stop the
other writers of D, and nobody else. The runner keeps at most a few days open at once
(a day's late exits after midnight interleave with the next day's first entries), so a
run holds one producer per open day, opened when the day opens -- *before* its resume
scan, so that every older writer of the day is fenced and its open transaction aborted
before the scan reads what it left -- and closed when the day's last record is committed.
(With a store catalogue, the unit is a store's day: one producer per open store-day.)

When records become visible to ``read_committed`` consumers: a transaction is committed
when the stream is about to wait (live pacing: every record is committed as soon as it
is acknowledged), when it has been open ``KAFKA_TRANSACTION_MS`` or holds
``MAX_TRANSACTION_RECORDS`` records (a day sent at full speed), when a day ends or opens,
and at every flush (stop, end of run). The cost is measured by ``make bench``.

A fenced day (``Fenced``) is closed at once without a word to the broker (no flush, no
abort with the old epoch: see ``publisher_kafka``); the error names the newer writer
from its owner record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from foot_traffic.events import Record
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.ownership import (
    WRITERS_LAYOUT,
    describe_owner,
    describe_run,
    encode,
    newer_owner,
    owner_record,
    transactional_id,
    writers_topic,
)
from foot_traffic.publisher import ConfirmedPublisher, Fenced, ProducerFactory, PublishError, ensure_topics, producer_for

log = logging.getLogger(__name__)

# A transaction holds at most this many records (a day at full speed reaches it in
# about 1.5 s with kafka-python, 0.3 s with librdkafka): bounds what an abort throws away.
MAX_TRANSACTION_RECORDS = 20_000
# The stream is about to wait at least this long: commit now (live pacing), it costs no lag.
IDLE_COMMIT_SECONDS = 0.005

LaneFactory = Callable[[str], ConfirmedPublisher]


class DayWriter:
    """The writer of one open day: its own transactional producer."""

    def __init__(self, publishers: DayPublishers, producer: ConfirmedPublisher, tid: str, day: date, store: str | None):
        self.publishers = publishers
        self.producer = producer
        self.transactional_id = tid
        self.day = day
        self.store = store
        self.owner: dict[str, Any] = {}
        self.owner_since_ms = 0
        self.opened_at = 0.0  # clock() when the open transaction began
        self.records = 0  # records in the open transaction
        self.transactions = 0  # transactions committed
        self.commit_seconds = 0.0  # wall time spent committing (flush + commit)
        self.fenced: Fenced | None = None  # once fenced, every later call raises it again

    @property
    def label(self) -> str:
        return str(self.day) if self.store is None else f"store {self.store} {self.day}"

    def send(self, record: Record) -> None:
        if self.fenced is not None:
            raise self.fenced
        producer = self.producer
        pubs = self.publishers
        try:
            if not producer.in_transaction:
                producer.begin()
                self.opened_at = pubs.clock()
                self.records = 0
                pubs.deadline = min(pubs.deadline, self.opened_at + pubs.max_age)
            producer.send(record)
        except Fenced as exc:
            raise pubs.fenced(self, exc) from None
        self.records += 1
        if self.records >= pubs.max_records:
            self.commit()
        elif pubs.clock() >= pubs.deadline:
            pubs.commit_due()

    def commit(self) -> None:
        if self.fenced is not None:
            raise self.fenced
        if not self.producer.in_transaction:
            return
        started = time.monotonic()
        try:
            self.producer.commit()
        except Fenced as exc:
            raise self.publishers.fenced(self, exc) from None
        self.commit_seconds += time.monotonic() - started
        self.transactions += 1
        self.publishers.transactions += 1

    def finish(self) -> None:
        """The day's last record was sent: commit, check the broker still holds it all, close."""
        self.commit()
        self.producer.verify()
        self.publishers.release(self)
        self.producer.close()
        log.log(
            self.publishers.detail_level,
            "%s: every record committed (%d transactions, %.3f s spent committing); its writer is closed",
            self.label, self.transactions, self.commit_seconds,
        )


class DayPublishers:
    """The runner's publisher with ``KAFKA_TRANSACTIONS`` on: one transactional producer per open day."""

    fences = True  # open_day stops other runs of the day (the runner looks before it leaps)

    def __init__(
        self,
        settings,
        options: KafkaOptions,
        stop: threading.Event | None = None,
        *,
        producer_factory: ProducerFactory | None = None,
        owner: dict[str, Any] | None = None,
        lane_factory: LaneFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        owner_lookup: Callable[..., dict[str, Any] | None] = newer_owner,
        detail_level: int = logging.INFO,
    ):
        """:param detail_level: log level of the per-day lines (a day taken, a day committed);
        DEBUG keeps a long backfill's log short."""
        self.settings = settings
        self.options = options
        self.stop = stop or threading.Event()
        self.topics = [settings.kafka_topic, settings.kafka_topic_realistic]
        self.writers_topic = writers_topic(settings.kafka_topic)
        self.owner = owner or describe_run("foot-traffic")
        self.max_age = settings.kafka_transaction_ms / 1000
        self.max_records = MAX_TRANSACTION_RECORDS
        self.clock = clock
        self.deadline = float("inf")  # earliest clock() at which an open transaction is due
        self.transactions = 0
        self._owner_lookup = owner_lookup
        self._lane_factory = lane_factory or (
            lambda tid: producer_for(settings, options, self.stop, producer_factory=producer_factory, transactional_id=tid)
        )
        self._writers: dict[tuple[str | None, date], DayWriter] = {}
        self.detail_level = detail_level
        self._said_hello = False
        self._partitions: dict[str, int] = {}

    # -- the Publisher protocol -------------------------------------------------------------
    def connect(self) -> None:
        """Nothing to connect before a day opens (each day connects its own producer)."""

    def ensure_topics(self, topics: list[str]) -> None:
        ensure_topics(self.options, [*topics, self.writers_topic], self.stop, layouts={self.writers_topic: WRITERS_LAYOUT})

    def open_day(self, day: date, store: str | None = None) -> DayWriter:
        """Take the day's transactional id (fencing every older writer of it) and record the owner."""
        key = (store, day)
        if key in self._writers:
            return self._writers[key]
        # An open transaction of ours would hold back the scan that follows (it waits
        # until every transaction begun before it is decided).
        self.flush()
        tid = transactional_id(self.topics, day, store)
        writer = DayWriter(self, self._lane_factory(tid), tid, day, store)
        value, ts_ms = owner_record(self.owner, tid, day, store, self.settings.kafka_client)
        # Record timestamps are whole seconds (Record.timestamp_ms).
        writer.owner, writer.owner_since_ms = value, ts_ms // 1000 * 1000
        try:
            writer.producer.connect()  # init_transactions: fences every older writer of this day
            writer.producer.begin()
            writer.producer.send(
                Record(self.writers_topic, tid.encode(), encode(value), (), ts_ms // 1000, 0, "owner", -1)
            )
            writer.producer.commit()
        except Fenced as exc:
            raise self.fenced(writer, exc) from None
        except BaseException:
            writer.producer.close()
            raise
        self._writers[key] = writer
        if not self._said_hello:
            self._said_hello = True
            log.info(
                "connected to Kafka at %s: one transactional producer per day (%s), owner records in %s",
                self.options.bootstrap_servers, self.settings.kafka_client, self.writers_topic,
            )
        log.log(
            self.detail_level,
            "%s: this run owns the day (transactional id %s): any older writer of it is fenced and its "
            "open transaction aborted", writer.label, tid,
        )
        return writer

    def partition_for(self, topic: str, key: bytes) -> int:
        from foot_traffic.publisher import murmur2_partition

        count = self._partitions.get(topic)
        if count is None:
            writer = next(iter(self._writers.values()), None)
            if writer is None:
                raise PublishError(f"no day is open: cannot see the partitions of {topic!r}")
            count = self._partitions[topic] = writer.producer.partition_count(topic)
        return murmur2_partition(key, count)

    def idle(self, seconds: float) -> None:
        """The stream waits: commit what is open, so live records are visible at once."""
        if seconds >= IDLE_COMMIT_SECONDS and self.deadline != float("inf"):
            self.flush()

    def flush(self) -> None:
        """Every record sent so far acknowledged and committed."""
        for writer in list(self._writers.values()):
            writer.commit()
        self.deadline = float("inf")

    def close(self) -> None:
        """Close every day's producer (an open transaction is aborted, a failed one abandoned)."""
        writers, self._writers = list(self._writers.values()), {}
        self.deadline = float("inf")
        for writer in writers:
            try:
                writer.producer.close()
            except Exception as exc:  # noqa: BLE001 - keep closing the others
                log.warning("%s: closing its producer failed: %s", writer.label, exc)

    # -- the writers' side ------------------------------------------------------------------
    def commit_due(self) -> None:
        """Commit every transaction open longer than ``KAFKA_TRANSACTION_MS``."""
        now = self.clock()
        deadline = float("inf")
        for writer in list(self._writers.values()):
            if not writer.producer.in_transaction:
                continue
            if now >= writer.opened_at + self.max_age:
                writer.commit()
            else:
                deadline = min(deadline, writer.opened_at + self.max_age)
        self.deadline = deadline

    def release(self, writer: DayWriter) -> None:
        self._writers.pop((writer.store, writer.day), None)

    def fenced(self, writer: DayWriter, exc: Fenced) -> Fenced:
        """Close a fenced day's producer at once and name the run that took the day."""
        self.release(writer)
        try:
            writer.producer.close()  # abandoned: nothing more reaches the broker
        except Exception as close_exc:  # noqa: BLE001 - already fenced
            log.debug("closing a fenced producer: %s", close_exc)
        by = self._owner_lookup(
            self.options, self.writers_topic, writer.transactional_id, writer.owner, writer.owner_since_ms,
            stop=self.stop,
        )
        message = (
            f"{writer.label}: fenced by a newer run: {describe_owner(by)} now writes this day "
            f"(transactional id {writer.transactional_id}). This run sent nothing more; its open transaction "
            "was aborted by the newer writer, and what it committed before stays in the topics, once"
        )
        log.error("%s", message)
        writer.fenced = Fenced(message, transactional_id=writer.transactional_id, day=writer.day, store=writer.store, by=by)
        return writer.fenced
