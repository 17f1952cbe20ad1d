"""Find what the topics already hold of one day, so a restarted day sends only the rest.

Why a per-partition high-water mark is enough: a day's records are produced in one
deterministic order by an idempotent producer, so each partition holds a *prefix* of
that day's records for the partition (a restart skips what is there and continues in
the same order). A record of the day is therefore present exactly when its sequence
number is at most the highest sequence number of the day seen in its partition.

With transactions (``KAFKA_TRANSACTIONS``, the default) "holds" means *committed*: the
scan reads ``read_committed``, as consumers should, and the prefix argument is about
committed records. It still holds, by induction over the day's writers, which Kafka
orders by fencing (``ownership``): writer k opens the day's transactional id first,
which aborts writer k-1's open transaction and stops it for good; only then does it
scan. Its scan sees exactly what writers before it committed (a prefix P, by
induction), because it waits until every transaction begun before the scan is decided
(the last stable offset reaches the high watermark taken after fencing). Writer k sends
the rest in order; a transaction commits only when all its records were acknowledged,
and after its first failure or fencing a writer commits nothing more, so what it commits
is P followed by a prefix of the rest: a prefix again. Aborted records and the
transaction markers occupy offsets but are never read here (nor by read_committed
consumers): the argument is about sequence numbers (``ft-seq``), never offsets, so
offsets may have gaps and a partition's end offset may exceed its record count.

Which records the scan reads. With transactions (the default) the writers of a day record
where they wrote it: offset *segments* per partition in the day's owner record
(``foot_traffic.checkpoint``), and the scan reads only those, so re-running an old day
reads that day's records (and the few of neighbouring days interleaved with them), not
every later day (measured, bench/resume_scan.py: day 1 of 30 days of 2,000 visits,
180,000 records in the topics, reads 6,000 records in 0.7-2.4 s instead of all 180,000 in
4.6-10.5 s). A day whose history is unknown (no owner
record with segments: never written with transactions, or by a version before segments)
is read as before: each partition from the first record timestamped at or after the day's
start (``offsets_for_times``) to the end offset taken when the scan began -- for an old
day that is every later day too.

Why not simply stop at the day's end by timestamp: it would be unsafe. (1) A day's
records are not all timestamped inside the day: exits after midnight carry the next day's
times. (2) Records are appended in *send* order, not timestamp order: a resumed or
back-filled old day D appends records with D's timestamps *after* later days' records, so
in a partition ``offsets_for_times(end of D)`` can point before records of D. A scan that
stopped there would miss them, the mark would be too low, and the restart would send
those records twice. Nothing in the data topics says where an attempt's records begin,
and the default output may not gain records (golden contract); the owner records can say
it, and are already written, once per writer, after it fenced the older writers: the one
moment at which "every record of the day so far lies below these offsets" is true.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from foot_traffic.records.events import H_DAY, H_PLAN, H_SEQ, H_STORE, Record
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.publisher import BrokerUnavailable, PublishError
from foot_traffic.retry import retry_connect

log = logging.getLogger(__name__)


class PlanMismatch(RuntimeError):
    """The day already holds records of another plan; mixing them would corrupt the day."""


class UndecidedTransactions(PublishError):
    """A transaction begun before the scan stayed open longer than the broker's timeout allows."""


@dataclass
class DayHoldings:
    """What one plan of one day already has in the topics."""

    plan_id: str
    high: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> max seq
    count: dict[str, int] = field(default_factory=dict)  # topic -> records found
    # (topic, partition) -> first and last offset of the records found (the day's segments)
    span: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)

    def add(self, topic: str, partition: int, seq: int, offset: int = -1) -> None:
        key = (topic, partition)
        if seq > self.high.get(key, -1):
            self.high[key] = seq
        self.count[topic] = self.count.get(topic, 0) + 1
        if offset >= 0:
            first, last = self.span.get(key, (offset, offset))
            self.span[key] = (min(first, offset), max(last, offset))

    def holds(self, record: Record, partition: int) -> bool:
        return record.seq <= self.high.get((record.topic, partition), -1)

    @property
    def total(self) -> int:
        return sum(self.count.values())

    @property
    def seed(self) -> int:
        return int(self.plan_id.split(":")[1])


def _header(headers, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value
    return None


def collect(records: Iterable[tuple[str, int, list, int]], day: date) -> dict[str, DayHoldings]:
    """Group ``(topic, partition, headers, offset)`` of a scan by plan id, keeping the day's only.

    Only records without an ``ft-store`` header count: a catalogue's stores share the
    topics but not the implicit store's day (see ``collect_stores``).
    """
    wanted = day.isoformat().encode()
    found: dict[str, DayHoldings] = {}
    for topic, partition, headers, offset in records:
        if _header(headers, H_DAY) != wanted or _header(headers, H_STORE) is not None:
            continue
        plan_id = (_header(headers, H_PLAN) or b"?").decode()
        seq_raw = _header(headers, H_SEQ)
        if seq_raw is None:
            continue
        holdings = found.setdefault(plan_id, DayHoldings(plan_id))
        holdings.add(topic, partition, int(seq_raw), offset)
    return found


def collect_stores(
    records: Iterable[tuple[str, int, list, int]], day: date, stores: Iterable[str]
) -> dict[str, dict[str, DayHoldings]]:
    """Like ``collect``, per store: ``{store id: {plan id: holdings}}`` for ``stores`` only.

    Each (store, local day) is its own stream (its own ``ft-seq``), so each has its own
    per-partition marks; records of other stores (other shards) are skipped.
    """
    wanted = day.isoformat().encode()
    ids = {s.encode(): s for s in stores}
    found: dict[str, dict[str, DayHoldings]] = {}
    for topic, partition, headers, offset in records:
        store = ids.get(_header(headers, H_STORE))
        if store is None or _header(headers, H_DAY) != wanted:
            continue
        seq_raw = _header(headers, H_SEQ)
        if seq_raw is None:
            continue
        plan_id = (_header(headers, H_PLAN) or b"?").decode()
        plans = found.setdefault(store, {})
        holdings = plans.setdefault(plan_id, DayHoldings(plan_id))
        holdings.add(topic, partition, int(seq_raw), offset)
    return found


class KafkaDayScanner:
    """Reads the day's records back from Kafka, committed records only (no consumer group,
    nothing committed).

    ``settled`` (the default) waits until every transaction begun before the scan is
    decided (see the module's docstring); a scan that only looks (the runner's check for
    another plan before it takes a day) reads what is committed now, without waiting.
    """

    def __init__(
        self,
        options: KafkaOptions,
        stop: threading.Event | None = None,
        client_id: str = "foot-traffic-resume",
        *,
        segments: bool = True,
    ):
        """:param segments: read only the segments the day's owner record lists, when it
            lists them (``foot_traffic.checkpoint``); False: always from the day's start by
            timestamp (the bench's "before")."""
        self.options = options
        self.stop = stop or threading.Event()
        self.client_id = client_id
        self.segments = segments
        self.last = ScanStats()  # what the latest scan read

    def scan(self, day: date, topics: list[str], since_ms: int, *, settled: bool = True) -> dict[str, DayHoldings]:
        """What the topics hold of ``day`` for the implicit store (no catalogue)."""
        from foot_traffic.ownership import transactional_id, writers_topic

        read = self.last = ScanStats()
        owner = (writers_topic(topics[0]), transactional_id(topics, day)) if self.segments else None
        found = self.read(
            topics, since_ms, lambda records: collect(_placed(records), day), read, settled=settled, segments_of=owner
        )
        log.info(
            "resume scan of %s: read %d records from %d partitions (%s); %s",
            day, read.records, read.partitions,
            "the day's segments" if read.bounded else "from the day's start",
            ", ".join(f"plan {h.plan_id}: {h.count}" for h in found.values()) or "nothing of this day",
        )
        return found

    def scan_stores(
        self, day: date, topics: list[str], since_ms: int, stores: Iterable[str], *, settled: bool = True
    ) -> dict[str, dict[str, DayHoldings]]:
        """What the topics hold of local ``day`` for each of ``stores``, in one pass: the union
        of the store-days' segments when each of their owner records lists them, else from the
        earliest local midnight ``since_ms`` by timestamp."""
        from foot_traffic.ownership import transactional_id, writers_topic

        stores = list(stores)
        read = self.last = ScanStats()
        owners = None
        if self.segments:
            owners = (writers_topic(topics[0]), [transactional_id(topics, day, store) for store in stores])
        found = self.read(
            topics, since_ms, lambda records: collect_stores(_placed(records), day, stores), read, settled=settled,
            segments_of=owners,
        ) or {}
        log.info(
            "resume scan of %s for %d stores: read %d records from %d partitions (%s); %d stores already hold records",
            day, len(stores), read.records, read.partitions,
            "the store-days' segments" if read.bounded else "from the day's start", len(found),
        )
        return found

    def _consumer(self, isolation_level: str):
        from kafka import KafkaConsumer

        return retry_connect(
            lambda: KafkaConsumer(
                client_id=self.client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                consumer_timeout_ms=1000,
                isolation_level=isolation_level,
                **self.options.common(),
            ),
            self.options,
            self.stop,
            "Kafka consumer",
        )

    def settled_end_offsets(self, consumer, partitions: list) -> dict:
        """The high watermarks now, once every transaction begun before is decided.

        ``consumer`` reads committed records; its end offsets are the last stable offsets,
        held back by any open transaction (another day's writer, a writer that died
        mid-transaction until the broker times it out). Waiting until they reach the high
        watermarks taken first makes everything below them final: committed or aborted.
        """
        plain = self._consumer("read_uncommitted")
        try:
            high = plain.end_offsets(partitions)
        finally:
            plain.close()
        limit = self.options.transaction_timeout_ms / 1000 + 30
        started = time.monotonic()
        told = False
        while True:
            stable = consumer.end_offsets(partitions)
            open_ = {tp: (stable[tp], high[tp]) for tp in partitions if stable[tp] < high[tp]}
            if not open_:
                return high
            waited = time.monotonic() - started
            if waited > limit:
                raise UndecidedTransactions(
                    f"the resume scan waited {waited:.0f} s for transactions begun before it to end "
                    f"(last stable offset, high watermark: {_describe(open_)}); the broker should abort any "
                    f"transaction after {self.options.transaction_timeout_ms / 1000:g} s"
                )
            if not told:
                told = True
                log.info("resume scan: waiting for open transactions of other writers to end (%s)", _describe(open_))
            if self.stop.wait(0.1):
                raise InterruptedError("stopped during the resume scan")

    def read(
        self, topics: list[str], since_ms: int, consume, read: ScanStats | None = None, *, settled: bool = True,
        segments_of: tuple[str, str | list[str]] | None = None,
    ):
        """Feed every committed record (kafka-python's ``ConsumerRecord``) at or after
        ``since_ms``, up to the end offsets taken now (``settled``: once the transactions
        begun before are decided), to ``consume``; return its result ({} when empty).
        With ``segments_of`` (writers topic, transactional id or ids) only the records in the
        segments the latest owner record of that id lists (of every id: their union), when
        they list them (``foot_traffic.checkpoint``). The one read loop of the resume scan and of
        ``validate``'s read-back."""
        read = read if read is not None else ScanStats()
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        consumer = self._consumer("read_committed")
        try:
            segments = None
            if segments_of is not None:
                from foot_traffic import checkpoint

                topic, tids = segments_of
                tids = [tids] if isinstance(tids, str) else list(tids)
                try:
                    history = checkpoint.owner_history(consumer, topic, tids, None)
                except (KafkaError, TimeoutError) as exc:
                    what = tids[0] if len(tids) == 1 else f"{len(tids)} store-days"
                    raise BrokerUnavailable(f"cannot read the owner records of {what}: {exc}") from None
                segments = checkpoint.union({tid: latest for tid, (_, latest, _) in history.items()}, tids)
                read.bounded = segments is not None
            partitions = []
            for topic in topics:
                for p in sorted(consumer.partitions_for_topic(topic) or ()):
                    partitions.append(TopicPartition(topic, p))
            if not partitions:
                return {}
            end = self.settled_end_offsets(consumer, partitions) if settled else consumer.end_offsets(partitions)
            todo: dict = {}  # tp -> [(start, end), ...] still to read, in offset order
            if segments is not None:
                from foot_traffic import checkpoint

                wanted = checkpoint.ranges(segments, {checkpoint.key(tp.topic, tp.partition): end[tp] for tp in partitions})
                for tp in partitions:
                    spans = wanted.get(checkpoint.key(tp.topic, tp.partition))
                    if spans:
                        todo[tp] = list(spans)
            else:
                starts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
                for tp in partitions:
                    found = starts.get(tp)
                    if found is not None and found.offset < end[tp]:
                        todo[tp] = [(found.offset, end[tp])]
            if not todo:
                return {}
            read.partitions = len(todo)
            consumer.assign(list(todo))
            for tp, spans in todo.items():
                consumer.seek(tp, spans[0][0])

            def records():
                remaining = todo
                while remaining:
                    batch = consumer.poll(timeout_ms=1000, max_records=5000)
                    for tp, messages in batch.items():
                        spans = remaining.get(tp)
                        if not spans:
                            continue
                        start, stop_at = spans[0]
                        for message in messages:
                            if message.offset < start:
                                continue
                            if message.offset >= stop_at:
                                break
                            read.records += 1
                            yield message
                    for tp in list(remaining):
                        spans = remaining[tp]
                        if consumer.position(tp) >= spans[0][1]:
                            spans.pop(0)
                            if spans:
                                consumer.seek(tp, spans[0][0])  # the next segment of this partition
                            else:
                                del remaining[tp]
                                consumer.pause(tp)
                    if self.stop.is_set():
                        raise InterruptedError("stopped during the resume scan")

            return consume(records())
        finally:
            consumer.close()


def _placed(records):
    """``(topic, partition, headers, offset)`` of each record: what the holdings need."""
    return ((m.topic, m.partition, m.headers, m.offset) for m in records)


@dataclass
class ScanStats:
    """How much a scan read (the resume bench reports it)."""

    records: int = 0
    partitions: int = 0
    bounded: bool = False  # read the day's segments only


def _describe(open_: dict) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}] {stable}<{high}" for tp, (stable, high) in sorted(open_.items()))
