"""The writer of one local day: one transactional producer for the run's store-days of that
day, committing each store-day's position with the records it carries (``transactions``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from foot_traffic.delivery import ledger
from foot_traffic.delivery.errors import DeliveryError, Fenced, PublishError
from foot_traffic.delivery.ledger import State
from foot_traffic.delivery.producer import ConfirmedPublisher
from foot_traffic.records.events import Record

if TYPE_CHECKING:
    from foot_traffic.delivery.transactions import Transactions

log = logging.getLogger("foot_traffic.delivery.transactions")

# A transaction holds at most this many records (a day at full speed reaches it in
# about 1.5 s with kafka-python, 0.3 s with librdkafka): bounds what an abort throws away.
MAX_TRANSACTION_RECORDS = 20_000
# The stream is about to wait at least this long: commit now (live pacing), it costs no lag.
IDLE_COMMIT_SECONDS = 0.005


@dataclass
class Plan:
    """What a run plays of one store-day: its plan, seed and (a fresh start mid-day) where it skips to."""

    plan_id: str
    seed: int
    skip_before: int | None = None


class StoreDayLink:
    """One store-day of a day writer: its ledger key and state, and what is committed.

    ``position`` is read from the runner's open store-day (``unit``: an object with an int
    ``position``, a bool ``done`` and a ``committed(finished)`` callback) at each commit."""

    __slots__ = ("store", "key", "state", "take", "committed", "finished", "unit", "scan")

    def __init__(self, store: str | None, key: str, state: State, take: int):
        self.store = store
        self.key = key
        self.state = state  # at the take: where to resume
        self.take = take
        self.committed = state.position or 0  # position in the ledger after our last commit
        self.finished = state.finished
        self.unit: Any = None
        self.scan = state.position is None  # resumed by reading the data back: no position until finished


class DayWriter:
    """The writer of one local day for the run's stores: one transactional producer."""

    def __init__(self, txns: Transactions, producer: ConfirmedPublisher, tid: str, day: date,
                 links: dict[str | None, StoreDayLink], lost_at_take: int = 0):
        self.txns = txns
        self.producer = producer
        self.transactional_id = tid
        self.day = day
        self.links = links
        self.partition = 0  # the day's ledger partition
        self.opened_at = 0.0  # clock() when the open transaction began
        self.records = 0  # records in the open transaction
        self.transactions = 0
        self.commit_seconds = 0.0
        self.fenced: Fenced | None = None  # once fenced, every later call raises it again
        self.closed = False  # every store-day finished: the producer is closed
        self.dirty: set[StoreDayLink] = set()
        self.lost_at_take = lost_at_take  # the producer's lost connections when it took the day

    @property
    def stores(self) -> tuple[str | None, ...]:
        return tuple(self.links)

    @property
    def label(self) -> str:
        stores = [s for s in self.links if s is not None]
        if not stores:
            return str(self.day)
        if len(stores) == 1:
            return f"store {stores[0]} {self.day}"
        return f"stores {', '.join(stores[:3])}{f' and {len(stores) - 3} more' if len(stores) > 3 else ''} {self.day}"

    def send(self, record: Record) -> None:
        """Send one record of the open transaction (begun here if none is open). Commits are
        decided between moments (``touch``), so a position always covers whole moments."""
        if self.fenced is not None:
            raise self.fenced
        producer = self.producer
        try:
            if not producer.in_transaction:
                txns = self.txns
                self._begin()
                self.opened_at = txns.clock()
                self.records = 0
                txns.deadline = min(txns.deadline, self.opened_at + txns.max_age)
            producer.send(record)
        except Fenced as exc:
            raise self.txns.fenced(self, exc) from None
        self.records += 1

    def touch(self, link: StoreDayLink) -> None:
        """``link``'s records of one moment were sent (its position counts them): commit if due."""
        self.dirty.add(link)
        txns = self.txns
        if self.records >= txns.max_records:
            self.commit()
        elif txns.clock() >= txns.deadline:
            txns.commit_due()

    def commit(self) -> None:
        """Commit the open transaction with the new positions of the store-days it carries."""
        if self.fenced is not None:
            raise self.fenced
        checkpoints, confirmed = [], []
        for link in self.dirty:
            unit = link.unit
            done = unit.done
            position = unit.position
            if link.scan and not done:
                continue  # resumed by reading the data back: no position until it finishes
            if position == link.committed and (not done or link.finished):
                if done:
                    confirmed.append(link)  # finished before (the ledger says so), nothing new
                continue
            checkpoints.append((link, position, done))
        if not checkpoints and not self.producer.in_transaction:
            self.dirty.clear()
            for link in confirmed:
                link.unit.committed()
            return
        started = time.monotonic()
        producer = self.producer
        try:
            if not producer.in_transaction:
                self._begin()
            elif checkpoints:
                # Every record of the transaction acknowledged before its positions are sent: a
                # record the broker failed or refused never leaves a position in flight (the
                # commit fails either way; a broker showing aborted records shows none of ours).
                producer.flush()
            for link, position, done in checkpoints:
                sent = dict(link.unit.sent) if done else None
                value = ledger.progress_value(self.txns.writer, link.take, position, finished=done, sent=sent)
                producer.send_to(self.txns.ledger_record(link.key, value), self.partition)
            producer.commit()
        except Fenced as exc:
            raise self.txns.fenced(self, exc) from None
        self.dirty.clear()
        self.commit_seconds += time.monotonic() - started
        self.transactions += 1
        self.txns.transactions += 1
        for link, position, done in checkpoints:
            link.committed = position
            if done:
                link.finished = True
                link.unit.committed()
        for link in confirmed:
            link.unit.committed()

    def _begin(self) -> None:
        """Open a transaction, unless a connection dropped since the day was taken: then the
        day is taken again first (``DeliveryError``: the runner heals, checks the owner, takes
        it, resumes from the ledger). A broker restart drops every connection, and the embedded
        broker forgets across one which producer of a transactional id is the newest (a run
        fenced before it commits after it, with the same producer id as the newer run's:
        ``tests/integration/test_embedded_broker_flaw.py``). Apache Kafka keeps that; there
        the new take costs one init_transactions and one ledger record."""
        lost = self.producer.connections_lost() - self.lost_at_take
        if lost:
            raise DeliveryError(f"{lost} broker connection(s) of {self.label}'s writer dropped since it took the day "
                                "(a broker restart?): taking it again before its next transaction")
        self.producer.begin()

    def finish(self, link: StoreDayLink) -> None:
        """``link``'s stream ended: its ``finished`` record goes with the next commit; the day's
        last one commits now, checks the broker still holds every record, and closes. (A
        store-day the ledger said was finished counts as done from the start.)"""
        if self.fenced is not None:
            raise self.fenced
        if self.closed:  # finished before this run, opened after the others ended: nothing to commit
            if not (link.finished and link.unit.position == link.committed):
                raise PublishError(f"{self.label}: store-day {link.store} ended after its writer closed")
            link.unit.committed()
            return
        self.dirty.add(link)
        if all(other.finished or (other.unit is not None and other.unit.done) for other in self.links.values()):
            self.commit()
            self.producer.verify()
            self.txns.release(self)
            self.producer.close()
            self.closed = True
            log.log(self.txns.detail_level,
                    "%s: every record committed (%d transactions, %.3f s spent committing); its writer is closed",
                    self.label, self.transactions, self.commit_seconds)


