"""Transactional delivery: one producer per open day, records committed in bounded transactions.

Why a producer per day: a Kafka producer has one ``transactional.id``, and fencing must
be per day (``ownership.transactional_id``): a run that replays day D must stop the
other writers of D, and nobody else. The runner keeps at most a few days open at once
(a day's late exits after midnight interleave with the next day's first entries), so a
run holds one producer per open day, opened when the day opens -- *before* its resume
scan, so that every older writer of the day is fenced and its open transaction aborted
before the scan reads what it left -- and closed when the day's last record is committed.

With a store catalogue, fencing is still per store-day, but one producer writes every
store's day D of the run (``open_stores_day``): a producer per store-day would cost a
connection, a sender thread and a transaction per store (1,000 stores: 74 s for a day
that one producer sends in a fraction of that, 400 KiB of RSS per store). The producer's
id is the store set's (``ownership.shard_id``): a retry of the same shard fences the
attempt before it, by Kafka; each store-day gets its own owner record naming the
producer (``writes_with``), and a run whose shards differ fences, by their ids, the
producers that wrote its stores' day before it -- before its scan, as for one day.

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
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from foot_traffic import checkpoint
from foot_traffic.records.events import Record
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.ownership import (
    WRITERS_LAYOUT,
    describe_owner,
    describe_run,
    encode,
    newer_owner,
    owner_record,
    shard_id,
    transactional_id,
    writers_topic,
    writes_with,
)
from foot_traffic.publisher import (
    BrokerUnavailable,
    ConfirmedPublisher,
    Fenced,
    ProducerFactory,
    PublishError,
    ensure_topics,
    producer_for,
)

log = logging.getLogger(__name__)

# A transaction holds at most this many records (a day at full speed reaches it in
# about 1.5 s with kafka-python, 0.3 s with librdkafka): bounds what an abort throws away.
MAX_TRANSACTION_RECORDS = 20_000
# The stream is about to wait at least this long: commit now (live pacing), it costs no lag.
IDLE_COMMIT_SECONDS = 0.005

LaneFactory = Callable[[str], ConfirmedPublisher]


def found_spans(holdings) -> dict[str, tuple[int, int]]:
    """Where a scan found a day's records (``DayHoldings.span``), keyed as in the segments."""
    spans = {} if holdings is None else holdings.span
    return {checkpoint.key(t, p): span for (t, p), span in spans.items()}


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
        # The day's segments (``checkpoint``): where this writer's records begin, and where
        # its scan found the day's earlier ones (None: not scanned, no segments at the end).
        self.start: dict[str, int] | None = None
        self.found: dict[str, tuple[int, int]] | None = None
        # A chain's shard producer (``open_stores_day``): the stores whose day it writes,
        # those not finished yet (it closes after the last one).
        self.stores: tuple[str, ...] = ()
        self.unfinished: set[str] = set()
        self.finished_uncommitted: list[str] = []  # finished store-days whose last records are not committed yet
        # Per store-day of a shard: the segments its owner record lists since the take, and
        # where the scan found the store-day's earlier records (see ``DayPublishers.record_store_segments``).
        self.open_segments: dict[str, checkpoint.Segments] = {}
        self.found_by_store: dict[str, dict[str, tuple[int, int]]] = {}

    def scanned(self, holdings) -> None:
        """The runner's resume scan of the day (``DayHoldings`` or None: nothing found)."""
        self.found = found_spans(holdings)

    @property
    def label(self) -> str:
        if self.stores:
            first = ", ".join(self.stores[:3]) + (f" and {len(self.stores) - 3} more" if len(self.stores) > 3 else "")
            return f"stores {first} {self.day}"
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
        self.finished_uncommitted.clear()
        self.transactions += 1
        self.publishers.transactions += 1

    def finish(self) -> None:
        """The day's last record was sent: commit, check the broker still holds it all, record
        where the day's records lie (its segments), close."""
        self.commit()
        self.producer.verify()
        if self.stores:
            if self.start:
                self.publishers.record_store_segments(self)
        elif self.start and self.found is not None:
            self.publishers.record_segments(self, checkpoint.at_finish(self.found, self.start, self.publishers.segment_io.high()))
        self.publishers.release(self)
        self.producer.close()
        log.log(
            self.publishers.detail_level,
            "%s: every record committed (%d transactions, %.3f s spent committing); its writer is closed",
            self.label, self.transactions, self.commit_seconds,
        )


class StoreDayWriter:
    """One store's day, written through the producer its shard's stores share (``open_stores_day``).

    Sending is the shared writer's own ``send`` (the hot path gains no call). A finished
    store-day commits nothing by itself: its records go with the shared producer's next
    commit (live: at once; full speed: the next bounded transaction), and the producer
    commits, checks the broker and closes once its last store-day is finished.
    """

    __slots__ = ("shared", "store", "day", "send")

    def __init__(self, shared: DayWriter, store: str):
        self.shared = shared
        self.store = store
        self.day = shared.day
        self.send = shared.send

    @property
    def label(self) -> str:
        return f"store {self.store} {self.day}"

    def scanned(self, holdings) -> None:
        """The chain's resume scan found ``holdings`` of this store-day (None: nothing)."""
        self.shared.found_by_store[self.store] = found_spans(holdings)

    def finish(self) -> None:
        shared = self.shared
        if shared.fenced is not None:
            raise shared.fenced
        shared.unfinished.discard(self.store)
        if shared.producer.in_transaction:
            shared.finished_uncommitted.append(self.store)
        if not shared.unfinished:
            shared.finish()


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
        segment_io: Any = None,
    ):
        """:param detail_level: log level of the per-day lines (a day taken, a day committed);
        DEBUG keeps a long backfill's log short.
        :param segment_io: reads the latest owner record and the high watermarks (the day's
            segments); default: from Kafka (``KafkaSegmentIO``)."""
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
        self.segment_io = segment_io or KafkaSegmentIO(options, self.topics, self.writers_topic)
        self._mine: dict[tuple[str | None, date], dict[str, Any]] = {}  # our latest owner record per day
        self._mine_stores: dict[date, tuple[str, tuple[str, ...]]] = {}  # a chain's day: our writer id, its stores

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
            if store is None:
                # Every older writer is fenced: nothing more of theirs lands, and ours lands at or
                # after the high watermarks now (the day's segments, see ``checkpoint``).
                previous, writer.start = self.segment_io.previous_owner(tid)
                segments = checkpoint.at_open(previous, writer.start)
                if segments is not None:
                    value = {**value, "segments": segments}
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
        self._mine[key] = value
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

    def open_stores_day(self, day: date, stores: Sequence[str]) -> dict[str, StoreDayWriter]:
        """Take ``stores``' day ``day`` with one producer: its id fences an older attempt of
        the same store set; its owner records (one per store-day, committed at once) name it;
        then every other producer that wrote one of these store-days before is fenced too."""
        stores = tuple(dict.fromkeys(stores))
        self.flush()  # see open_day
        tid = shard_id(self.topics, day, stores)
        # its key among the writers: (its "stores:<digest>", day)
        writer = DayWriter(self, self._lane_factory(tid), tid, day, tid.rsplit("/", 2)[-2])
        writer.stores, writer.unfinished = stores, set(stores)
        value, ts_ms = owner_record(self.owner, tid, day, None, self.settings.kafka_client)
        writer.owner, writer.owner_since_ms = {**value, "stores": len(stores)}, ts_ms // 1000 * 1000
        store_ids = {store: transactional_id(self.topics, day, store) for store in stores}
        try:
            writer.producer.connect()  # init_transactions: fences an older attempt at this store set
            writer.producer.begin()
            writer.producer.send(
                Record(self.writers_topic, tid.encode(), encode(writer.owner), (), ts_ms // 1000, 0, "owner", -1)
            )
            for store, store_tid in store_ids.items():
                mine = {**value, "transactional_id": store_tid, "store": store, "writes_with": tid}
                writer.producer.send(
                    Record(self.writers_topic, store_tid.encode(), encode(mine), (), ts_ms // 1000, 0, "owner", -1)
                )
            writer.producer.commit()
            before = self._fence_earlier_producers(writer, store_ids)
            self._record_open_store_segments(writer, store_ids, before)
        except Fenced as exc:
            raise self.fenced(writer, exc) from None
        except BaseException:
            writer.producer.close()
            raise
        self._writers[(writer.store, day)] = writer
        self._mine_stores[day] = (writer.owner["writer"], stores)
        if not self._said_hello:
            self._said_hello = True
            log.info(
                "connected to Kafka at %s: one transactional producer per day for every store of the run (%s), "
                "owner records in %s", self.options.bootstrap_servers, self.settings.kafka_client, self.writers_topic,
            )
        log.log(
            self.detail_level,
            "%s: this run owns these %d store-days (transactional id %s): any older writer of them is fenced and "
            "its open transaction aborted", writer.label, len(stores), tid,
        )
        return {store: StoreDayWriter(writer, store) for store in stores}

    def _fence_earlier_producers(self, writer: DayWriter, store_ids: dict[str, str]) -> dict[str, dict | None]:
        """After our owner records are committed: a store-day whose latest owner record is not
        ours was taken by a newer run (``Fenced``); a producer other than ours that wrote one
        before ours (another sharding, a run before chains shared producers) is fenced now,
        by its id, so the scan that follows sees all it will ever have committed. Returns each
        store-day's owner record before ours (None: never taken).

        Two runs taking the same store-day at once: the one whose owner record lands last
        fences the other here, or the other reads it and stops; never both write."""
        ours = writer.owner["writer"]
        history = self.segment_io.owner_history(list(store_ids.values()), ours)
        earlier: dict[str, list[str]] = {}
        befores: dict[str, dict | None] = {}
        for store, store_tid in store_ids.items():
            before, latest = history.get(store_tid, (None, None))
            befores[store] = before
            if latest is not None and latest.get("writer") != ours:
                raise Fenced(f"store {store} {writer.day} was taken by a newer run", transactional_id=writer.transactional_id,
                             day=writer.day, stores=writer.stores)
            if before is not None and before.get("writer") != ours:
                other = writes_with(before)
                if other and other != writer.transactional_id:
                    earlier.setdefault(other, []).append(store)
        for other, stores in sorted(earlier.items()):
            producer = self._lane_factory(other)
            try:
                producer.connect()  # init_transactions with its id: it is fenced, its open transaction aborted
            finally:
                producer.close()
            log.info(
                "%s: %d of these store-days (%s) were written before by another producer (%s; the catalogue or its "
                "sharding changed): fenced it", writer.label, len(stores), ", ".join(stores[:3]), other,
            )
        return befores

    def _record_open_store_segments(self, writer: DayWriter, store_ids: dict[str, str], before: dict) -> None:
        """Every older writer of these store-days is fenced now: what they wrote lies in the
        segments their owner records list (an open one ends below the high watermarks now),
        ours lands after them. Commit each store-day's owner record again with those segments
        (``checkpoint.at_open``), so a later scan of the day reads only them. A store-day with
        no such history (never taken, or by a version before chain segments) gets none: its
        scan reads by timestamp until a writer of it finishes."""
        high = self.segment_io.high()
        writer.start = high
        for store, value in before.items():
            segments = checkpoint.at_open(value, high)
            if segments is not None:
                writer.open_segments[store] = segments
        if not writer.open_segments:
            return
        self._commit_store_owners(writer, {s: store_ids[s] for s in writer.open_segments}, writer.open_segments, False)

    def _commit_store_owners(
        self, writer: DayWriter, store_ids: dict[str, str], segments: dict[str, checkpoint.Segments], finished: bool
    ) -> None:
        """One transaction: the owner record of each of ``store_ids``, now listing ``segments``."""
        value = {k: v for k, v in writer.owner.items() if k != "stores"}
        producer = writer.producer
        producer.begin()
        for store, store_tid in store_ids.items():
            mine = {**value, "transactional_id": store_tid, "store": store, "writes_with": writer.transactional_id,
                    "segments": segments[store], **({"finished": True} if finished else {})}
            producer.send(Record(self.writers_topic, store_tid.encode(), encode(mine), (),
                                 writer.owner_since_ms // 1000, 0, "owner", -1))
        producer.commit()

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

    def taken_before(self, day: date, stores: Sequence[str] | None = None) -> bool:
        """Whether a transactional run ever took ``day`` (of ``stores``, a chain's: any of
        them): only then can a run be writing it that looking first would spare."""
        tids = [transactional_id(self.topics, day, store) for store in stores] if stores else \
            [transactional_id(self.topics, day)]
        return bool(self.segment_io.latest_owners(tids))

    def check_owner(self, day: date, store: str | None = None) -> None:
        """Before the runner takes ``day`` back after an outage: raise ``Fenced`` if a newer run
        took it since our last writer of it (a failure that did not say "fenced" must not be
        healed by fencing that run in turn)."""
        mine = self._mine.get((store, day))
        if mine is None:
            return
        tid = transactional_id(self.topics, day, store)
        latest = self.segment_io.latest_owner(tid)
        if latest is not None and latest.get("writer") != mine.get("writer"):
            label = str(day) if store is None else f"store {store} {day}"
            message = (
                f"{label}: fenced by a newer run: {describe_owner(latest)} took this day while this run was "
                "reconnecting; this run does not take it back"
            )
            log.error("%s", message)
            raise Fenced(message, transactional_id=tid, day=day, store=store, by=latest)

    def check_stores_owner(self, day: date) -> None:
        """``check_owner`` for a chain's day: raise ``Fenced`` if a newer run took one of the
        store-days this run took last (they are taken back only if none was)."""
        mine = self._mine_stores.get(day)
        if mine is None:
            return
        writer, stores = mine
        ids = {transactional_id(self.topics, day, store): store for store in stores}
        for tid, (_, latest) in self.segment_io.owner_history(list(ids), writer).items():
            if latest is not None and latest.get("writer") != writer:
                message = (
                    f"store {ids[tid]} {day}: fenced by a newer run: {describe_owner(latest)} took it while this run "
                    "was reconnecting; this run does not take it back"
                )
                log.error("%s", message)
                raise Fenced(message, transactional_id=tid, day=day, by=latest, stores=stores)

    # -- the day's segments (``checkpoint``) ------------------------------------------------
    def record_segments(self, writer: DayWriter, segments: checkpoint.Segments) -> None:
        """Commit the writer's owner record again, saying where the day's records lie."""
        value = {**writer.owner, "segments": segments, "finished": True}
        producer = writer.producer
        try:
            producer.begin()
            producer.send(Record(self.writers_topic, writer.transactional_id.encode(), encode(value), (),
                                 writer.owner_since_ms // 1000, 0, "owner", -1))
            producer.commit()
        except Fenced as exc:
            raise self.fenced(writer, exc) from None

    def record_store_segments(self, writer: DayWriter) -> None:
        """A shard's last store-day is finished and committed: commit each store-day's owner
        record again, saying where its records lie: where the scan found its earlier ones,
        and the shard producer's own records (``checkpoint.at_finish``); a store-day this
        producer did not scan (finished before an outage) keeps its segments from the take,
        closed at the high watermarks now."""
        end = self.segment_io.high()
        segments = {}
        for store in writer.stores:
            found = writer.found_by_store.get(store)
            if found is not None:
                segments[store] = checkpoint.at_finish(found, writer.start, end)
            elif store in writer.open_segments:
                segments[store] = checkpoint.closed(writer.open_segments[store], end)
        store_ids = {store: transactional_id(self.topics, writer.day, store) for store in segments}
        if not store_ids:
            return
        try:
            self._commit_store_owners(writer, store_ids, segments, True)
        except Fenced as exc:
            raise self.fenced(writer, exc) from None

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
        extra = {"keys": [transactional_id(self.topics, writer.day, s) for s in writer.stores]} if writer.stores else {}
        by = self._owner_lookup(
            self.options, self.writers_topic, writer.transactional_id, writer.owner, writer.owner_since_ms,
            stop=self.stop, **extra,
        )
        message = (
            f"{writer.label}: fenced by a newer run: {describe_owner(by)} now writes this day "
            f"(transactional id {writer.transactional_id}). This run sent nothing more; its open transaction "
            "was aborted by the newer writer, and what it committed before stays in the topics, once"
        )
        log.error("%s", message)
        writer.fenced = Fenced(
            message, transactional_id=writer.transactional_id, day=writer.day,
            store=None if writer.stores else writer.store, by=by, stores=writer.stores,
        )
        writer.fenced.uncommitted = tuple(writer.finished_uncommitted)
        return writer.fenced


class KafkaSegmentIO:
    """What a writer reads to record the day's segments: the latest owner record, the high watermarks."""

    def __init__(self, options: KafkaOptions, topics: list[str], writers_topic: str):
        self.options, self.topics, self.writers_topic = options, topics, writers_topic

    def _consumer(self):
        from kafka import KafkaConsumer

        # read_uncommitted: the high watermarks; an aborted owner record read as the latest
        # only lists more segments than the committed one (a superset is safe to scan).
        return KafkaConsumer(client_id="foot-traffic-segments", enable_auto_commit=False, **self.options.common())

    def previous_owner(self, tid: str) -> tuple[dict[str, Any] | None, dict[str, int]]:
        """The latest owner record of ``tid`` and the data topics' high watermarks now."""
        from kafka.errors import KafkaError

        try:
            consumer = self._consumer()
            try:
                high = checkpoint.high_watermarks(consumer, self.topics)
                return checkpoint.latest_owner(consumer, self.writers_topic, tid), high
            finally:
                consumer.close()
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"cannot read the owner records of {tid}: {exc}") from None

    def latest_owner(self, tid: str) -> dict[str, Any] | None:
        """The latest owner record of ``tid``."""
        from kafka.errors import KafkaError

        try:
            consumer = self._consumer()
            try:
                return checkpoint.latest_owner(consumer, self.writers_topic, tid)
            finally:
                consumer.close()
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"cannot read the owner records of {tid}: {exc}") from None

    def latest_owners(self, tids: list[str]) -> dict[str, dict[str, Any]]:
        """The latest committed owner record of each of ``tids`` that has one."""
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        try:
            consumer = KafkaConsumer(client_id="foot-traffic-owners", enable_auto_commit=False,
                                     isolation_level="read_committed", **self.options.common())
            try:
                history = checkpoint.owner_history(consumer, self.writers_topic, tids, None)
            finally:
                consumer.close()
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"cannot read the owner records of {len(tids)} day(s): {exc}") from None
        return {tid: latest for tid, (_, latest, _) in history.items() if latest is not None}

    def owner_history(self, tids: list[str], writer: str, settle_seconds: float = 30.0):
        """Per id: (its last committed owner record before ``writer``'s, its latest) -- read
        again until ``writer``'s own committed records are all visible (an owner transaction
        of another run begun before ours holds the last stable offset back for a moment)."""
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        deadline = time.monotonic() + settle_seconds
        try:
            consumer = KafkaConsumer(client_id="foot-traffic-owners", enable_auto_commit=False,
                                     isolation_level="read_committed", **self.options.common())
            try:
                while True:
                    history = checkpoint.owner_history(consumer, self.writers_topic, tids, writer, settle_seconds)
                    if all(history.get(t, (None, None, False))[2] for t in tids):
                        return {t: (before, latest) for t, (before, latest, _) in history.items()}
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"this run's owner records in {self.writers_topic} are not readable")
                    time.sleep(0.2)
            finally:
                consumer.close()
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"cannot read the owner records of {len(tids)} store-days: {exc}") from None

    def high(self) -> dict[str, int]:
        from kafka.errors import KafkaError

        try:
            consumer = self._consumer()
            try:
                return checkpoint.high_watermarks(consumer, self.topics)
            finally:
                consumer.close()
        except KafkaError as exc:
            raise BrokerUnavailable(f"cannot read the end offsets of {self.topics}: {exc}") from None
