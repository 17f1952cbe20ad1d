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

The scan reads each partition from the first record timestamped at or after the day's
start (``offsets_for_times``) to the end offset taken when the scan began, so its work
follows the records written since that day began, not the topic's whole history. For an
old day re-run that is every later day too (measured: day 1 of 30 days of 2,000 visits
reads all 180,000 records, ~15 s; the last day reads 6,027, ~0.8 s; bench/resume_scan.py).

Why the scan does not simply stop at the day's end by timestamp: it
would be unsafe. (1) A day's records are not all timestamped inside the day: exits after
midnight carry the next day's times (the last day's scan above reads 27 records of the
day before). (2) Records are appended in *send* order, not timestamp order: a resumed or
back-filled old day D appends records with D's timestamps *after* later days' records, so
in a partition ``offsets_for_times(end of D)`` can point before records of D. A scan that
stopped there would miss them, the mark would be too low, and the restart would send
those records twice. Nothing in the data topics says where an attempt's records begin, and
the default output may not gain records (golden contract). The bound that is safe is a
per-day "writers" checkpoint in a compacted side topic: before its first send, each
attempt of D records the end offsets at its start (all its records of D land at or
after them) and, when it ends, the end offsets after its last flush; a crashed attempt's
open segment is closed by the next attempt's scan. D's records then lie only in those
segments (plus, for days written before the checkpoint existed, the full scan above as
the fallback). Not built yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from foot_traffic.events import H_DAY, H_PLAN, H_SEQ, H_STORE, Record
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.publisher import PublishError
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

    def add(self, topic: str, partition: int, seq: int) -> None:
        key = (topic, partition)
        if seq > self.high.get(key, -1):
            self.high[key] = seq
        self.count[topic] = self.count.get(topic, 0) + 1

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


def collect(records: Iterable[tuple[str, int, list]], day: date) -> dict[str, DayHoldings]:
    """Group ``(topic, partition, headers)`` of a scan by plan id, keeping the day's only.

    Only records without an ``ft-store`` header count: a catalogue's stores share the
    topics but not the implicit store's day (see ``collect_stores``).
    """
    wanted = day.isoformat().encode()
    found: dict[str, DayHoldings] = {}
    for topic, partition, headers in records:
        if _header(headers, H_DAY) != wanted or _header(headers, H_STORE) is not None:
            continue
        plan_id = (_header(headers, H_PLAN) or b"?").decode()
        seq_raw = _header(headers, H_SEQ)
        if seq_raw is None:
            continue
        holdings = found.setdefault(plan_id, DayHoldings(plan_id))
        holdings.add(topic, partition, int(seq_raw))
    return found


def collect_stores(
    records: Iterable[tuple[str, int, list]], day: date, stores: Iterable[str]
) -> dict[str, dict[str, DayHoldings]]:
    """Like ``collect``, per store: ``{store id: {plan id: holdings}}`` for ``stores`` only.

    Each (store, local day) is its own stream (its own ``ft-seq``), so each has its own
    per-partition marks; records of other stores (other shards) are skipped.
    """
    wanted = day.isoformat().encode()
    ids = {s.encode(): s for s in stores}
    found: dict[str, dict[str, DayHoldings]] = {}
    for topic, partition, headers in records:
        store = ids.get(_header(headers, H_STORE))
        if store is None or _header(headers, H_DAY) != wanted:
            continue
        seq_raw = _header(headers, H_SEQ)
        if seq_raw is None:
            continue
        plan_id = (_header(headers, H_PLAN) or b"?").decode()
        plans = found.setdefault(store, {})
        holdings = plans.setdefault(plan_id, DayHoldings(plan_id))
        holdings.add(topic, partition, int(seq_raw))
    return found


class KafkaDayScanner:
    """Reads the day's records back from Kafka, committed records only (no consumer group,
    nothing committed).

    ``settled`` (the default) waits until every transaction begun before the scan is
    decided (see the module's docstring); a scan that only looks (the runner's check for
    another plan before it takes a day) reads what is committed now, without waiting.
    """

    def __init__(self, options: KafkaOptions, stop: threading.Event | None = None, client_id: str = "foot-traffic-resume"):
        self.options = options
        self.stop = stop or threading.Event()
        self.client_id = client_id

    def scan(self, day: date, topics: list[str], since_ms: int, *, settled: bool = True) -> dict[str, DayHoldings]:
        """What the topics hold of ``day`` for the implicit store (no catalogue)."""
        read = ScanStats()
        found = self.read(topics, since_ms, lambda records: collect(_placed(records), day), read, settled=settled)
        log.info(
            "resume scan of %s: read %d records from %d partitions; %s",
            day, read.records, read.partitions,
            ", ".join(f"plan {h.plan_id}: {h.count}" for h in found.values()) or "nothing of this day",
        )
        return found

    def scan_stores(
        self, day: date, topics: list[str], since_ms: int, stores: Iterable[str], *, settled: bool = True
    ) -> dict[str, dict[str, DayHoldings]]:
        """What the topics hold of local ``day`` for each of ``stores``, in one pass."""
        stores = list(stores)
        read = ScanStats()
        found = self.read(
            topics, since_ms, lambda records: collect_stores(_placed(records), day, stores), read, settled=settled
        ) or {}
        log.info(
            "resume scan of %s for %d stores: read %d records from %d partitions; %d stores already hold records",
            day, len(stores), read.records, read.partitions, len(found),
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

    def read(self, topics: list[str], since_ms: int, consume, read: ScanStats | None = None, *, settled: bool = True):
        """Feed every committed record (kafka-python's ``ConsumerRecord``) at or after
        ``since_ms``, up to the end offsets taken now (``settled``: once the transactions
        begun before are decided), to ``consume``; return its result ({} when empty).
        The one read loop of the resume scan and of ``validate``'s read-back."""
        read = read if read is not None else ScanStats()
        from kafka import TopicPartition

        consumer = self._consumer("read_committed")
        try:
            partitions = []
            for topic in topics:
                for p in sorted(consumer.partitions_for_topic(topic) or ()):
                    partitions.append(TopicPartition(topic, p))
            if not partitions:
                return {}
            end = self.settled_end_offsets(consumer, partitions) if settled else consumer.end_offsets(partitions)
            starts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
            todo = {}
            for tp in partitions:
                found = starts.get(tp)
                if found is not None and found.offset < end[tp]:
                    todo[tp] = (found.offset, end[tp])
            if not todo:
                return {}
            read.partitions = len(todo)
            consumer.assign(list(todo))
            for tp, (start, _) in todo.items():
                consumer.seek(tp, start)

            def records():
                remaining = dict(todo)
                while remaining:
                    batch = consumer.poll(timeout_ms=1000, max_records=5000)
                    for tp, messages in batch.items():
                        stop_at = remaining.get(tp, (0, -1))[1]
                        for message in messages:
                            if message.offset >= stop_at:
                                break
                            read.records += 1
                            yield message
                    for tp in list(remaining):
                        if consumer.position(tp) >= remaining[tp][1]:
                            del remaining[tp]
                            consumer.pause(tp)
                    if self.stop.is_set():
                        raise InterruptedError("stopped during the resume scan")

            return consume(records())
        finally:
            consumer.close()


def _placed(records):
    """``(topic, partition, headers)`` of each record: what the holdings need."""
    return ((m.topic, m.partition, m.headers) for m in records)


@dataclass
class ScanStats:
    """How much a scan read (the resume bench reports it)."""

    records: int = 0
    partitions: int = 0


def _describe(open_: dict) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}] {stable}<{high}" for tp, (stable, high) in sorted(open_.items()))
