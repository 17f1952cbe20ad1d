"""Transactional delivery: one producer per local day of the run's stores, positions in the ledger.

A run writes its store-days of local day D through one transactional producer
(``ledger.writer_id``: the store set's id, so a retry of the same run fences the attempt
before it). Taking a day (``take``):

1. look: read the day's ledger records of these store-days (``look``); the runner plans
   them with it (an unseeded day keeps its first attempt's seed; another plan is refused
   before anybody is fenced);
2. connect the producer: ``init_transactions`` fences older attempts of this store set
   and aborts their open transaction;
3. commit a take record per store-day; read them back (read_committed, up to our own);
   a store-day whose newest take is another run's is lost (``Fenced``); a store-day whose
   take before ours was another producer's (another sharding) gets that producer fenced by
   its id;
4. the store-days' positions, read after every older writer is fenced: each resumes there.

Every transaction that carries records of a store-day also carries its new position
(``commit``): records and position are committed together, or neither. When records
become visible to ``read_committed`` consumers: a transaction is committed when the stream
is about to wait (live pacing: every record is committed as soon as it is acknowledged),
when it has been open ``KAFKA_TRANSACTION_MS`` or holds ``MAX_TRANSACTION_RECORDS``
records (a day sent at full speed), when a local day's last store-day ends, and at every
flush (stop, end of run). A store-day is *finished* once the transaction with its
``finished`` record is committed.

A fenced producer is closed at once without a word to the broker (no flush, no abort
with the old epoch: see ``kafka_python``); the error names the newer writer from its take
record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from foot_traffic.delivery import ledger
from foot_traffic.delivery.day_writer import (  # noqa: F401 - Plan and StoreDayLink: the runner's and tests' names
    IDLE_COMMIT_SECONDS,
    MAX_TRANSACTION_RECORDS,
    DayWriter,
    Plan,
    StoreDayLink,
)
from foot_traffic.delivery.errors import Fenced, PublishError
from foot_traffic.delivery.ledger import Entry, State
from foot_traffic.delivery.ledger_io import KafkaLedgerIO, LedgerIO  # noqa: F401 - re-exported
from foot_traffic.delivery.producer import ConfirmedPublisher
from foot_traffic.records.events import Record

log = logging.getLogger(__name__)

NAMING_SECONDS = 5.0  # how long a fenced run waits for the newer run's take record, to name it


class Transactions:
    """The runner's delivery with ``KAFKA_TRANSACTIONS`` on: one transactional producer per
    local day of the run, positions in the day ledger."""

    transactional = True

    def __init__(
        self,
        topics: list[str],
        client: str,
        producer_factory: Callable[[str], ConfirmedPublisher],
        ledger_io: LedgerIO,
        owner: dict[str, Any],
        *,
        transaction_ms: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        detail_level: int = logging.INFO,
        stop: threading.Event | None = None,
        scan: Callable | None = None,
        ensure: Callable[[], None] = lambda: None,
    ):
        """:param producer_factory: a (not yet connected) producer for a transactional id.
        :param scan: reads a day's store-days back from the data topics (``scan.KafkaDayScanner``),
            for a store-day whose ledger records predate positions.
        :param ensure: creates the missing topics (the data topics and the ledger).
        :param owner: this run (``ledger.describe_run``): its ``writer`` id stays the same
            across reconnections, so the run always knows its own take records."""
        self.topics = topics
        self.ledger_topic = ledger.ledger_topic(topics[0])
        self.client = client
        self.producer_factory = producer_factory
        self.io = ledger_io
        self.owner = {**owner, "client": client}
        self.writer = owner["writer"]
        self.max_age = transaction_ms / 1000
        self.max_records = MAX_TRANSACTION_RECORDS
        self.clock = clock
        self.deadline = float("inf")  # earliest clock() at which an open transaction is due
        self.transactions = 0
        self.detail_level = detail_level
        self.stop = stop or threading.Event()
        self._writers: dict[date, DayWriter] = {}
        self._takes: dict[str, Entry] = {}  # our newest take record per store-day key
        self._said_hello = False
        self._scan = scan
        self._ensure = ensure
        self._partitions: dict[str, int] = {}

    def connect(self) -> None:
        """Nothing to connect before a day is taken (each day connects its own producer)."""
        self._ensure()

    def scan(self, day: date, stores: Sequence[str | None], since_ms: int):
        """What the data topics hold of these store-days (those whose position the ledger does not know)."""
        if self._scan is None:
            return {store: {} for store in stores}
        found = self._scan(day, stores, since_ms)
        return {store: found.get(store, {}) for store in stores}

    def forget(self, day: date) -> None:
        """Nothing is cached: every scan reads afresh."""

    def partition_for(self, topic: str, key: bytes) -> int:
        from foot_traffic.delivery.topics import murmur2_partition

        count = self._partitions.get(topic)
        if count is None:
            writer = next(iter(self._writers.values()), None)
            if writer is None:
                raise PublishError(f"no day is open: cannot see the partitions of {topic!r}")
            count = self._partitions[topic] = writer.producer.partition_count(topic)
        return murmur2_partition(key, count)

    def verify(self) -> None:
        """Each day's writer checks the broker when its day is finished."""

    # -- taking a day -----------------------------------------------------------------------
    def keys(self, day: date, stores: Sequence[str | None]) -> dict[str | None, str]:
        return {store: ledger.transactional_id(self.topics, day, store) for store in stores}

    def look(self, day: date, stores: Sequence[str | None], since_ms: int = 0) -> dict[str | None, State]:
        """What the ledger holds of these store-days now (committed), without taking them."""
        keys = self.keys(day, stores)
        found = self.io.read(day, list(keys.values()))
        return {store: ledger.state_of(key, found.get(key, ()), self.writer) for store, key in keys.items()}

    def take(self, day: date, plans: dict[str | None, Plan], looked: dict[str | None, State]) -> DayWriter:
        """Take ``plans``' store-days of ``day`` (see the module's docstring); the returned
        writer's links say where each store-day resumes (``link.state``)."""
        stores = list(plans)
        keys = self.keys(day, stores)
        tid = ledger.writer_id(self.topics, day, stores)
        self.flush()  # an open transaction of ours would hold back the read below
        producer = self.producer_factory(tid)
        try:
            producer.connect()  # init_transactions: fences older attempts of this store set
            lost = producer.connections_lost()  # one more before a transaction: the day is taken again
            partition = ledger.partition_of(day, self.io.partitions())
            takes = {}
            producer.begin()
            for store, key in keys.items():
                plan, state = plans[store], looked[store]
                counter = max((e.take for e in (state.last_take,) if e is not None), default=0) + 1
                mine = self._takes.get(key)
                if mine is not None:
                    counter = max(counter, mine.take + 1)
                value = ledger.take_value(
                    self.owner, key=key, day=day, store=store, take=counter, writes_with=tid, plan=plan.plan_id,
                    seed=plan.seed, skip_before=state.skip_before if state.taken else plan.skip_before,
                    scan=state.position is None,
                )
                takes[key] = value
                producer.send_to(self.ledger_record(key, value), partition)
            producer.commit()
            states = self._read_taken(day, keys, takes, tid)
        except Fenced as exc:
            producer.close()
            raise self._named(Fenced(str(exc), day=day, stores=tuple(stores), by=exc.by, transactional_id=tid),
                              day, keys) from None
        except BaseException:
            producer.close()
            raise
        links = {}
        for store, key in keys.items():
            entry = Entry(key, takes[key], -1)
            self._takes[key] = entry
            links[store] = StoreDayLink(store, key, states[store], entry.take)
        writer = DayWriter(self, producer, tid, day, links, lost_at_take=lost)
        writer.partition = partition
        self._writers[day] = writer
        if not self._said_hello:
            self._said_hello = True
            log.info("connected to Kafka: one transactional producer per day for the run's stores (%s), "
                     "positions in the day ledger %s", self.client, self.ledger_topic)
        log.log(self.detail_level, "%s: this run owns the day (transactional id %s): any older writer of it is "
                "fenced and its open transaction aborted", writer.label, tid)
        return writer

    def _read_taken(self, day: date, keys: dict[str | None, str], takes: dict[str, dict], tid: str
                    ) -> dict[str | None, State]:
        """Read our take records back; fence the other producers that wrote these store-days
        before us; the store-days' states after that (their positions are final now)."""
        def ours_visible(found: dict[str, list[Entry]]) -> bool:
            return all(any(e.value.get("taken_at") == takes[k]["taken_at"] and e.writer == self.writer
                           for e in found.get(k, ())) for k in keys.values())

        found = self.io.read(day, list(keys.values()), until=ours_visible)
        others: dict[str, list[str | None]] = {}
        for store, key in keys.items():
            state = ledger.state_of(key, found.get(key, ()), self.writer)
            newest = state.last_take
            if newest is not None and newest.writer != self.writer:
                raise Fenced(f"{_label(store, day)} was taken by a newer run", day=day, stores=tuple(keys),
                             by=newest.value, transactional_id=tid)
            before = state.before_take
            producer = (before.value.get("writes_with") or before.value.get("transactional_id")) if before else None
            if producer and producer != tid and not state.finished:
                others.setdefault(producer, []).append(store)
        for other, stores in sorted(others.items()):
            self.io.fence(other)
            log.info("%s: %d store-day(s) (%s) were written before by another producer (%s; the catalogue or its "
                     "sharding changed): fenced it", _label(None, day), len(stores),
                     ", ".join(str(s) for s in stores[:3]), other)
        if others:
            found = self.io.read(day, list(keys.values()))
        return {store: ledger.state_of(key, found.get(key, ()), self.writer) for store, key in keys.items()}

    def check_owner(self, day: date, stores: Sequence[str | None]) -> None:
        """Before taking ``day`` back after an outage: ``Fenced`` if a newer run took one of its
        store-days since this run's last take (a failure that did not say "fenced" must not be
        healed by fencing that run in turn). A take of ours the broker lost is no newer run."""
        keys = self.keys(day, stores)
        found = self.io.read(day, list(keys.values()))
        for store, key in keys.items():
            mine = self._takes.get(key)
            if mine is None:
                continue
            newest = ledger.state_of(key, found.get(key, ()), self.writer).last_take
            if newest is not None and newest.writer != self.writer and newest.rank > mine.rank:
                message = (f"{_label(store, day)}: fenced by a newer run: {ledger.describe_owner(newest.value)} took it "
                           "while this run was reconnecting; this run does not take it back")
                log.error("%s", message)
                raise Fenced(message, day=day, stores=tuple(stores), by=newest.value)

    # -- the writers' side ------------------------------------------------------------------
    def ledger_record(self, key: str, value: dict[str, Any]) -> Record:
        now = int(time.time())
        return Record(self.ledger_topic, key.encode(), ledger.encode(value), (), now, 0, "ledger", -1)

    def writer_of(self, day: date) -> DayWriter | None:
        return self._writers.get(day)

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

    def idle(self, seconds: float) -> None:
        """The stream waits: commit what is open, so live records are visible at once."""
        if seconds >= IDLE_COMMIT_SECONDS and self.deadline != float("inf"):
            self.flush()

    def flush(self) -> None:
        """Every record sent so far acknowledged and committed, with the positions."""
        for writer in list(self._writers.values()):
            writer.commit()
        self.deadline = float("inf")

    def release(self, writer: DayWriter) -> None:
        if self._writers.get(writer.day) is writer:
            del self._writers[writer.day]

    def close(self) -> None:
        """Close every producer (an open transaction is aborted, a failed one abandoned)."""
        writers, self._writers = list(self._writers.values()), {}
        self.deadline = float("inf")
        for writer in writers:
            try:
                writer.producer.close()
            except Exception as exc:  # noqa: BLE001 - keep closing the others
                log.warning("%s: closing its producer failed: %s", writer.label, exc)

    def shutdown(self) -> None:
        self.close()
        self.io.close()

    def fenced(self, writer: DayWriter, exc: Fenced) -> Fenced:
        """Close a fenced producer at once and name the run that took its day."""
        self.release(writer)
        try:
            writer.producer.close()  # abandoned: nothing more reaches the broker
        except Exception as close_exc:  # noqa: BLE001 - already fenced
            log.debug("closing a fenced producer: %s", close_exc)
        keys = {store: link.key for store, link in writer.links.items()}
        error = self._named(Fenced(str(exc), day=writer.day, stores=writer.stores,
                                   transactional_id=writer.transactional_id), writer.day, keys)
        writer.fenced = error
        return error

    def _named(self, error: Fenced, day: date, keys: dict[str | None, str]) -> Fenced:
        """``error`` with the newer writer's take record, read from the ledger (best effort)."""
        by = error.by
        deadline = time.monotonic() + NAMING_SECONDS
        while by is None:
            # The newer run fences us when it connects, and commits its take record just
            # after: read until it is there, a few seconds at most.
            try:
                found = self.io.read(day, list(keys.values()))
                takes = [ledger.state_of(k, found.get(k, ()), self.writer).last_take for k in keys.values()]
                newer = [t for t in takes if t is not None and t.writer != self.writer]
                by = max(newer, key=lambda e: e.rank).value if newer else None
            except (PublishError, OSError) as exc:
                log.warning("cannot read who took %s: %s", day, exc)
                break
            if time.monotonic() >= deadline or self.stop.wait(0.2):
                break
        label = _label(next(iter(keys)) if len(keys) == 1 else None, day)
        message = (f"{label}: fenced by a newer run: {ledger.describe_owner(by)} now writes this day "
                   f"(transactional id {error.transactional_id}). This run sent nothing more; its open transaction "
                   "was aborted by the newer writer, and what it committed before stays in the topics, once")
        log.error("%s", message)
        return Fenced(message, day=day, stores=error.stores, by=by, transactional_id=error.transactional_id)


def _label(store: str | None, day: date) -> str:
    return str(day) if store is None else f"store {store} {day}"


