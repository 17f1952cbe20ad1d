"""Reading a day's records back from the data topics: what they hold of each store-day.

Used where the day ledger cannot say it (``ledger``): a run with ``KAFKA_TRANSACTIONS=0``
(no ledger at all), a store-day whose ledger records predate positions, and
``validate``'s and the UI's read-back.

Why a per-partition high-water mark is enough for resume: a store-day's records are
produced in one deterministic order by an idempotent producer (gapless: no record lands
behind a failed one), so each partition holds a *prefix* of that store-day's records for
the partition. A record is therefore present exactly when its sequence number (``ft-seq``)
is at most the highest one of the store-day seen in its partition.

Which records the scan reads: each partition from the first record timestamped at or after
the day's start (``offsets_for_times``) to the end offset taken when the scan began; for an
old day that is every later day too (the ledger's positions avoid this). A day's records
are not all timestamped inside the day (exits after midnight carry the next day's
times), and records are appended in send order, not timestamp order, so there is no safe
end bound by timestamp.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from foot_traffic.delivery import internals
from foot_traffic.delivery.connect import retry_connect
from foot_traffic.delivery.errors import UndecidedTransactions
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.records.events import H_DAY, H_PLAN, H_SEQ, H_STORE, Record

log = logging.getLogger(__name__)


@dataclass
class DayHoldings:
    """What one plan of one store-day already has in the topics."""

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


def collect(
    records: Iterable[tuple[str, int, list]], day: date, stores: Iterable[str | None]
) -> dict[str | None, dict[str, DayHoldings]]:
    """``{store: {plan id: holdings}}`` of ``day`` for ``stores`` (None: the implicit store,
    whose records carry no ``ft-store`` header), from ``(topic, partition, headers)``."""
    wanted = day.isoformat().encode()
    ids = {(s.encode() if s is not None else None): s for s in stores}
    found: dict[str | None, dict[str, DayHoldings]] = {}
    for topic, partition, headers in records:
        raw_store = _header(headers, H_STORE)
        if raw_store not in ids or _header(headers, H_DAY) != wanted:
            continue
        seq_raw = _header(headers, H_SEQ)
        if seq_raw is None:
            continue
        plan_id = (_header(headers, H_PLAN) or b"?").decode()
        plans = found.setdefault(ids[raw_store], {})
        holdings = plans.setdefault(plan_id, DayHoldings(plan_id))
        holdings.add(topic, partition, int(seq_raw))
    return found


class KafkaDayScanner:
    """Reads the day's records back from Kafka, committed records only (no consumer group,
    nothing committed).

    ``settled`` (the default) waits until every transaction begun before the scan is
    decided; a scan that only looks reads what is committed now, without waiting.
    """

    def __init__(self, options: KafkaOptions, stop: threading.Event | None = None,
                 client_id: str = "foot-traffic-resume"):
        self.options = options
        self.stop = stop or threading.Event()
        self.client_id = client_id
        self.last = ScanStats()  # what the latest scan read

    def scan(
        self, day: date, topics: list[str], since_ms: int, stores: Iterable[str | None], *, settled: bool = True
    ) -> dict[str | None, dict[str, DayHoldings]]:
        """What the topics hold of local ``day`` for each of ``stores``, in one pass from
        ``since_ms`` (the earliest local midnight)."""
        stores = list(stores)
        read = self.last = ScanStats()
        found = self.read(topics, since_ms, lambda records: collect(_placed(records), day, stores), read,
                          settled=settled) or {}
        log.info("resume scan of %s for %d store(s): read %d records from %d partitions; %s", day, len(stores),
                 read.records, read.partitions,
                 ", ".join(f"{s or day}: {sum(h.total for h in p.values())}" for s, p in list(found.items())[:5])
                 or "nothing of this day")
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
        begun before are decided), to ``consume``; return its result ({} when empty). The one
        read loop of the resume scan and of ``validate``'s read-back."""
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
            todo: dict = {}  # tp -> [(start, end)] still to read
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
            # Records of the day lie in transactions begun at or after these offsets (the first
            # records timestamped at or after the day's start): an aborted transaction listed
            # below them is of another day, and on a broker that lists every aborted transaction
            # of a partition it would hide a retried day's records (internals.read_from).
            internals.read_from(consumer, {tp: spans[0][0] for tp, spans in todo.items()})

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
                        if consumer.position(tp) >= remaining[tp][0][1]:
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
