"""Test doubles of the engine: a clock that jumps, a publisher and a resume scan in memory.

Used by the project's unit tests and benchmarks (and available to users testing their
own profiles); no production module imports this one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from foot_traffic.records.events import Record
from foot_traffic.publisher import BrokerUnavailable, DeliveryError, Fenced, murmur2_partition
from foot_traffic.resume import DayHoldings, collect, collect_stores


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
    """A broker outage for :class:`MemoryPublisher`: the send that meets it fails, the broker
    then loses its last ``lose`` records (acknowledged writes lost) and refuses the next
    ``refused`` connections."""

    refused: int = 0
    lose: int = 0


class MemoryPublisher:
    """Keeps records in a list, partitioned like Kafka; ``fail_after`` injects a delivery
    failure (every send from then on), ``fence_after`` a fencing by a newer run
    (``fenced_by`` its owner record) after that many records, ``outages`` a broker outage
    (:class:`Outage`) when that many records are held; ``idles`` records the stream's waits
    announced to it."""

    def __init__(
        self,
        partitions: int = 3,
        fail_after: int | None = None,
        fence_after: int | None = None,
        outages: dict[int, Outage] | None = None,
    ):
        self.records: list[Record] = []
        self.partitions = partitions
        self.fail_after = fail_after
        self.fence_after = fence_after
        self.fenced_by: dict | None = None
        self.flushes = 0
        self.closed = False
        self.opened: list[tuple[date, str | None]] = []
        self.finished: list[tuple[date, str | None]] = []
        self.idles: list[float] = []
        self.acked_by_topic: Counter[str] = Counter()
        self.outages = dict(outages or {})
        self.down = False  # an outage is under way: sends fail
        self.refusing = 0  # connections still to refuse
        self.connects = 0

    def connect(self) -> None:
        self.connects += 1
        if self.refusing > 0:
            self.refusing -= 1
            raise BrokerUnavailable("cannot reach the memory broker (injected outage)")
        self.down = False
        self.closed = False

    def ensure_topics(self, topics: list[str]) -> None:
        pass

    def open_day(self, day: date, store: str | None = None) -> _MemoryWriter:
        self.opened.append((day, store))
        return _MemoryWriter(self, day, store)

    def idle(self, seconds: float) -> None:
        self.idles.append(seconds)

    def partition_for(self, topic: str, key: bytes) -> int:
        return murmur2_partition(key, self.partitions)

    def send(self, record: Record) -> None:
        if self.fail_after is not None and len(self.records) >= self.fail_after:
            raise DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} was not delivered: injected")
        outage = self.outages.pop(len(self.records), None)
        if outage is not None:
            self.down = True
            self.refusing = outage.refused
            if outage.lose:
                del self.records[-outage.lose:]
        if self.down:
            raise DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} was not delivered: broker down")
        self.records.append(record)
        self.acked_by_topic[record.topic] += 1

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


class _MemoryWriter:
    def __init__(self, publisher: MemoryPublisher, day: date, store: str | None):
        self.publisher, self.day, self.store = publisher, day, store

    def send(self, record: Record) -> None:
        pub = self.publisher
        if pub.fence_after is not None and len(pub.records) >= pub.fence_after:
            raise Fenced(f"{self.day}: fenced by a newer run (injected)", day=self.day, store=self.store, by=pub.fenced_by)
        pub.send(record)

    def finish(self) -> None:
        self.publisher.finished.append((self.day, self.store))


class MemoryDayScanner:
    """Resume scan over a MemoryPublisher's records."""

    def __init__(self, publisher: MemoryPublisher):
        self.publisher = publisher

    def scan(self, day: date, topics: list[str], since_ms: int, *, settled: bool = True) -> dict[str, DayHoldings]:
        return collect(self._records(topics), day)

    def scan_stores(
        self, day: date, topics: list[str], since_ms: int, stores: Iterable[str], *, settled: bool = True
    ) -> dict[str, dict[str, DayHoldings]]:
        return collect_stores(self._records(topics), day, stores)

    def _records(self, topics: list[str]):
        pub = self.publisher
        offsets: Counter[tuple[str, int]] = Counter()
        for r in pub.records:
            partition = pub.partition_for(r.topic, r.key)
            offset = offsets[(r.topic, partition)]
            offsets[(r.topic, partition)] += 1
            if r.topic in topics:
                yield r.topic, partition, r.headers, offset


def landed(publisher: MemoryPublisher) -> dict[str, list]:
    """The publisher's records as they would land in Kafka (partition by key, offsets in send
    order), topic -> records in partition, offset order; what ``validate`` reads."""
    from foot_traffic.analysis.readback import Landed

    offsets: Counter[tuple[str, int]] = Counter()
    out: dict[str, list] = {}
    for r in publisher.records:
        partition = publisher.partition_for(r.topic, r.key)
        offset = offsets[(r.topic, partition)]
        offsets[(r.topic, partition)] += 1
        out.setdefault(r.topic, []).append(
            Landed(r.topic, partition, offset, r.key, r.value, r.headers, r.timestamp_ms)
        )
    for records in out.values():
        records.sort(key=lambda x: (x.partition, x.offset))
    return out
