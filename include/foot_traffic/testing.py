"""Test doubles of the engine: a clock that jumps, and Kafka in memory.

``MemoryKafka`` keeps topics of partitions with transactional producers (epochs, commits,
aborts, fencing), so the real delivery code (``delivery.transactions``, ``delivery.direct``)
runs in unit tests and benchmarks without a broker: ``memory_delivery`` builds it on them.
Faults: a delivery failure after a number of records (``fail_after``), a broker outage
that refuses connections and loses its last acknowledged records (``outages``), a newer
run taking a day (``take_over``). Used by the project's unit tests and benchmarks (and
available to users testing their own profiles); no production module imports this one.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from foot_traffic.delivery import ledger as ledger_mod
from foot_traffic.delivery.direct import Direct
from foot_traffic.delivery.errors import BrokerUnavailable, DeliveryError, Fenced, LostAcknowledgedWrites, RecordRefused
from foot_traffic.delivery.scan import collect
from foot_traffic.delivery.topics import murmur2_partition
from foot_traffic.delivery.transactions import Transactions
from foot_traffic.records.events import Record


class FakeClock:
    """A clock that jumps instead of sleeping. ``waits`` records every requested wait."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._start = start.timestamp()
        self._t = 0.0  # elapsed seconds: small numbers keep sub-microsecond waits exact
        self.waits: list[float] = []
        self.on_wait = None  # optional callback(clock) run after each wait (tests stop here)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._start + self._t, UTC)

    def monotonic(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        self._t += seconds

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        if stop.is_set():
            return True
        self.waits.append(seconds)
        self._t += max(0.0, seconds)
        if self.on_wait is not None:
            self.on_wait(self)
        return stop.is_set()


@dataclass
class Outage:
    """A broker outage of :class:`MemoryKafka`: the send that meets it fails, the broker then
    loses its last ``lose`` data records (acknowledged, even committed, writes lost) and
    refuses the next ``refused`` connections."""

    refused: int = 0
    lose: int = 0


@dataclass
class _Entry:
    record: Record
    tid: str | None
    epoch: int
    state: str  # "committed" (also every non-transactional record), "open" or "aborted"
    order: int  # send order over the whole broker
    commit_order: int = 0  # when its transaction committed (in the same order)


@dataclass
class MemoryKafka:
    """Kafka in memory: topics of partitions; a record of a transaction is visible to
    ``read_committed`` readers once its transaction commits."""

    partitions: int = 3
    ledger_partitions: int = ledger_mod.LEDGER_PARTITIONS
    fail_after: int | None = None  # every data send after this many data records fails
    outages: dict[int, Outage] = field(default_factory=dict)  # at this many data records held
    take_over: dict[int, Callable[[MemoryKafka], None]] = field(default_factory=dict)  # at this many data records
    refuse: Callable[[Record], bool] | None = None  # a broker that refuses these records (a schema)
    topics: dict[str, list[list[_Entry]]] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)
    connects: int = 0
    commits: int = 0
    down: bool = False
    restarts: int = 0  # clean restarts (``restart``): every producer sees its connections drop
    refusing: int = 0
    _order: int = 0
    _open: dict[tuple[str, int], list[_Entry]] = field(default_factory=dict)  # a transaction's records
    _data: int = 0  # data records held

    # -- the broker ---------------------------------------------------------------------------
    def partition_count(self, topic: str) -> int:
        return self.ledger_partitions if topic.endswith(ledger_mod.WRITERS_SUFFIX) else self.partitions

    def _log(self, topic: str) -> list[list[_Entry]]:
        if topic not in self.topics:
            self.topics[topic] = [[] for _ in range(self.partition_count(topic))]
        return self.topics[topic]

    def data_records(self) -> int:
        return self._data

    def append(self, record: Record, partition: int, tid: str | None, epoch: int) -> int:
        log = self._log(record.topic)[partition]
        self._order += 1
        entry = _Entry(record, tid, epoch, "open" if tid else "committed", self._order)
        log.append(entry)
        if tid:
            self._open.setdefault((tid, epoch), []).append(entry)
        if not record.topic.endswith(ledger_mod.WRITERS_SUFFIX):
            self._data += 1
        return len(log) - 1

    def end(self, tid: str, epoch: int, commit: bool) -> None:
        self._order += 1
        for entry in self._open.pop((tid, epoch), ()):
            if entry.state == "open":
                entry.state = "committed" if commit else "aborted"
                entry.commit_order = self._order

    def init(self, tid: str) -> int:
        """init_transactions: a new epoch; the older one's open transaction is aborted."""
        old = self.epochs.get(tid)
        if old is not None:
            self.end(tid, old, commit=False)
        self.epochs[tid] = (old or 0) + 1
        return self.epochs[tid]

    def outage(self, outage: Outage) -> None:
        """The broker goes down; it comes back from a snapshot taken before its last
        ``outage.lose`` records: those records and every commit after them are gone (their
        transactions end aborted, as a restarted broker closes what was open)."""
        self.down = True
        self.refusing = outage.refused
        cut = self._order
        if outage.lose:
            orders = sorted((e.order for parts in self.topics.values() for entries in parts for e in entries),
                            reverse=True)
            cut = orders[min(outage.lose, len(orders)) - 1] - 1 if orders else cut
        for parts in self.topics.values():
            for p, entries in enumerate(parts):
                kept = [e for e in entries if e.order <= cut]
                for entry in kept:
                    if entry.state == "open" or (entry.state == "committed" and entry.tid and entry.commit_order > cut):
                        entry.state = "aborted"
                parts[p] = kept
        self._open.clear()
        self._data = sum(len(p) for t, parts in self.topics.items() if not t.endswith(ledger_mod.WRITERS_SUFFIX)
                         for p in parts)

    def restart(self) -> None:
        """A clean restart of the embedded broker: nothing is lost, open transactions end
        aborted, and the producers of every transactional id are forgotten (flaw 4: a producer
        fenced before the restart commits after it)."""
        self.outage(Outage())
        self.down = False
        self.epochs.clear()
        self.restarts += 1

    def connect(self) -> None:
        self.connects += 1
        if self.refusing > 0:
            self.refusing -= 1
            raise BrokerUnavailable("cannot reach the memory broker (injected outage)")
        self.down = False

    # -- what readers see ------------------------------------------------------------------
    def committed(self, topic: str) -> list[tuple[int, int, Record]]:
        """(partition, offset, record) of ``topic``'s committed records, in partition/offset order."""
        return [(p, o, e.record) for p, entries in enumerate(self._log(topic)) for o, e in enumerate(entries)
                if e.state == "committed"]

    @property
    def records(self) -> list[Record]:
        """Every committed data record, in send order."""
        found = [e for t, parts in self.topics.items() if not t.endswith(ledger_mod.WRITERS_SUFFIX)
                 for entries in parts for e in entries if e.state == "committed"]
        return [e.record for e in sorted(found, key=lambda e: e.order)]

    def ledger(self, topic: str) -> dict[str, list[dict]]:
        """Committed ledger records per key (for tests)."""
        out: dict[str, list[dict]] = {}
        for _, _, record in self.committed(topic):
            out.setdefault(record.key.decode(), []).append(json.loads(record.value))
        return out


class MemoryProducer:
    """One producer on :class:`MemoryKafka`, with the API of ``delivery.producer.ConfirmedPublisher``."""

    def __init__(self, kafka: MemoryKafka, transactional_id: str | None = None):
        self.kafka = kafka
        self.transactional_id = transactional_id
        self.epoch = 0
        self.in_transaction = False
        self.sent = 0
        self.acked_by_topic: Counter[str] = Counter()
        self.closed = False
        self._failed: Exception | None = None
        self._partition: dict[tuple[str, bytes], int] = {}

    def connect(self) -> None:
        self.kafka.connect()
        self.closed = False
        self._failed = None
        if self.transactional_id:
            self.epoch = self.kafka.init(self.transactional_id)

    def _check(self) -> None:
        if self._failed is not None:
            raise self._failed
        newest = self.kafka.epochs.get(self.transactional_id) if self.transactional_id else None
        if newest is not None and newest != self.epoch:
            self._failed = Fenced(f"a newer producer holds transactional id {self.transactional_id}",
                                  transactional_id=self.transactional_id)
            raise self._failed

    def begin(self) -> None:
        self._check()
        self.in_transaction = True

    def send(self, record: Record) -> None:
        kafka = self.kafka
        held = kafka._data
        if kafka.take_over or kafka.outages:
            action = kafka.take_over.pop(held, None)
            if action is not None:
                action(kafka)
            outage = kafka.outages.pop(held, None)
            if outage is not None:
                kafka.outage(outage)
        if kafka.fail_after is not None and held >= kafka.fail_after:
            self._failed = DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} was not delivered: "
                                         "injected")
        if kafka.down:
            self._failed = DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} was not delivered: "
                                         "broker down")
        if kafka.refuse is not None and kafka.refuse(record):
            self._failed = RecordRefused(record.topic, record.key.decode(), "INVALID_RECORD (87): injected")
        where = (record.topic, record.key)
        partition = self._partition.get(where)
        if partition is None:
            partition = self._partition[where] = murmur2_partition(record.key, kafka.partition_count(record.topic))
        self._append(record, partition)

    def send_to(self, record: Record, partition: int) -> None:
        if self.kafka.down:
            self._failed = DeliveryError("a ledger record was not delivered: broker down")
        self._append(record, partition)

    def _append(self, record: Record, partition: int) -> None:
        self._check()
        self.kafka.append(record, partition, self.transactional_id, self.epoch)
        self.sent += 1
        self.acked_by_topic[record.topic] += 1

    def commit(self) -> None:
        self._check()
        if self.in_transaction:
            self.kafka.end(self.transactional_id, self.epoch, commit=True)
            self.kafka.commits += 1
            self.in_transaction = False

    def flush(self) -> None:
        self._check()

    def verify(self) -> None:
        self._check()

    def connections_lost(self) -> int:
        return self.kafka.restarts

    def partition_count(self, topic: str) -> int:
        return self.kafka.partition_count(topic)

    def partition_for(self, topic: str, key: bytes) -> int:
        where = (topic, key)
        partition = self._partition.get(where)
        if partition is None:
            partition = self._partition[where] = murmur2_partition(key, self.kafka.partition_count(topic))
        return partition

    def close(self) -> None:
        if self.in_transaction and self.transactional_id and (self._failed is None
                                                               or isinstance(self._failed, RecordRefused)):
            self.kafka.end(self.transactional_id, self.epoch, commit=False)
        self.in_transaction = False
        self.closed = True


class MemoryLedgerIO:
    """The day ledger of :class:`MemoryKafka` (``ledger_io.LedgerIO``)."""

    def __init__(self, kafka: MemoryKafka, topic: str):
        self.kafka, self.topic = kafka, topic
        self.reads = 0

    def partitions(self) -> int:
        return self.kafka.ledger_partitions

    def read(self, day: date, keys: Sequence[str], *, until=None) -> dict[str, list[ledger_mod.Entry]]:
        if self.kafka.down:
            raise BrokerUnavailable("cannot read the day ledger: broker down")
        self.reads += 1
        wanted = set(keys)
        partition = ledger_mod.partition_of(day, self.partitions())
        found: dict[str, list[ledger_mod.Entry]] = {}
        for p, offset, record in self.kafka.committed(self.topic):
            key = record.key.decode()
            if p == partition and key in wanted:
                found.setdefault(key, []).append(ledger_mod.Entry(key, json.loads(record.value), offset))
        if until is not None and not until(found):
            raise BrokerUnavailable("this run's take records are not readable (memory ledger)")
        return found

    def fence(self, transactional_id: str) -> None:
        self.kafka.init(transactional_id)

    def close(self) -> None:
        pass


def memory_scan(kafka: MemoryKafka, topics: list[str]):
    """The resume scan over :class:`MemoryKafka`'s committed records (``direct.Scan``)."""

    def scan(day: date, stores: Sequence[str | None], since_ms: int):
        placed = ((t, p, r.headers) for t in topics for p, _, r in kafka.committed(t))
        return collect(placed, day, stores)

    return scan


def memory_delivery(kafka: MemoryKafka, settings, *, owner: dict[str, Any] | None = None,
                    transaction_ms: int | None = None, clock: Callable[[], float] | None = None):
    """The delivery ``settings`` choose (``KAFKA_TRANSACTIONS``), on ``kafka``."""
    topics = [settings.kafka_topic, settings.kafka_topic_realistic]
    scan = memory_scan(kafka, topics) if settings.resume else None
    if settings.kafka_transactions:
        topic = ledger_mod.ledger_topic(topics[0])
        return Transactions(
            topics, settings.kafka_client, lambda tid: MemoryProducer(kafka, tid), MemoryLedgerIO(kafka, topic),
            owner or ledger_mod.describe_run("test"),
            transaction_ms=transaction_ms if transaction_ms is not None else settings.kafka_transaction_ms,
            **({"clock": clock} if clock is not None else {}), scan=scan, ensure=kafka.connect,
        )
    return Direct(MemoryProducer(kafka), scan, lambda: None)


def landed(kafka: MemoryKafka, topics: Sequence[str] | None = None) -> dict[str, list]:
    """The committed records as a consumer reads them (topic -> records in partition, offset
    order); what ``validate`` reads."""
    from foot_traffic.analysis.readback import Landed

    out: dict[str, list] = {}
    for topic in topics or [t for t in kafka.topics if not t.endswith(ledger_mod.WRITERS_SUFFIX)]:
        out[topic] = [Landed(topic, p, o, r.key, r.value, r.headers, r.timestamp_ms)
                      for p, o, r in kafka.committed(topic)]
    return out


__all__ = ["FakeClock", "MemoryKafka", "MemoryProducer", "MemoryLedgerIO", "Outage", "landed", "memory_delivery",
           "memory_scan", "LostAcknowledgedWrites"]
