"""Delivery without transactions (``KAFKA_TRANSACTIONS=0``): the original's one idempotent producer.

No ledger and no fencing: what a store-day already holds is read back from the data topics
(``scan``), and a run sends the records the scan did not find. Two runs of the same day
at once are not stopped; a broker without transactions (or without the TransactionalId
WRITE permission) is the reason to choose this.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import date

from foot_traffic.delivery.ledger import State
from foot_traffic.delivery.producer import ConfirmedPublisher
from foot_traffic.delivery.scan import DayHoldings
from foot_traffic.delivery.transactions import Plan, StoreDayLink

log = logging.getLogger(__name__)

# (day, stores, since_ms: the earliest local midnight) -> {store: {plan id: holdings}}
Scan = Callable[[date, Sequence[str | None], int], dict[str | None, dict[str, DayHoldings]]]


class DirectWriter:
    """The writer of one local day: the shared producer itself. A finished store-day checks
    that the broker still holds what it acknowledged, at most every ``VERIFY_EVERY_SECONDS``
    (a thousand stores end their day within minutes at full speed); the run checks once more
    at its end."""

    VERIFY_EVERY_SECONDS = 10.0

    def __init__(self, direct: Direct, day: date, links: dict[str | None, StoreDayLink]):
        self.direct = direct
        self.day = day
        self.links = links
        self.send = direct.producer.send
        self.label = str(day)

    @property
    def stores(self) -> tuple[str | None, ...]:
        return tuple(self.links)

    def touch(self, link: StoreDayLink) -> None:
        """Nothing to commit without transactions."""

    def finish(self, link: StoreDayLink) -> None:
        """The store-day is finished once the broker acknowledged its last records: at the
        next flush (the stream's next wait, or the run's end)."""
        now = time.monotonic()
        if now - self.direct.verified_at >= self.VERIFY_EVERY_SECONDS:
            self.direct.verified_at = now
            self.direct.producer.verify()
        self.direct.pending.append(link)


class Direct:
    """The runner's delivery with ``KAFKA_TRANSACTIONS`` off."""

    transactional = False

    def __init__(self, producer: ConfirmedPublisher, scan: Scan | None, ensure: Callable[[], None]):
        """:param scan: reads back what the topics hold of a day's store-days (None: resume off)."""
        self.producer = producer
        self._scan = scan
        self._ensure = ensure
        self._found: dict[date, dict[str | None, dict[str, DayHoldings]]] = {}
        self.verified_at = -math.inf
        self.pending: list[StoreDayLink] = []  # finished store-days whose last records are not acknowledged yet

    def connect(self) -> None:
        self.producer.connect()
        self._ensure()

    def look(self, day: date, stores: Sequence[str | None], since_ms: int) -> dict[str | None, State]:
        found = self._found[day] = self._scan(day, stores, since_ms) if self._scan is not None else {}
        for old in [d for d in self._found if (day - d).days > 3]:
            del self._found[old]
        states = {}
        for store in stores:
            plans = found.get(store, {})
            state = State(key=str(store), position=None, taken=bool(plans))
            if len(plans) == 1:
                state.plan = next(iter(plans))
                state.seed = next(iter(plans.values())).seed
            states[store] = state
        return states

    def scan(self, day: date, stores: Sequence[str | None], since_ms: int) -> dict[str | None, dict[str, DayHoldings]]:
        """What ``look`` found (the day is not read twice), or a fresh read after ``forget``."""
        found = self._found.get(day)
        if found is None:
            self.look(day, stores, since_ms)
            found = self._found[day]
        return {store: found.get(store, {}) for store in stores}

    def forget(self, day: date) -> None:
        """The next ``scan`` of ``day`` reads afresh (after an outage)."""
        self._found.pop(day, None)

    def take(self, day: date, plans: dict[str | None, Plan], looked: dict[str | None, State]) -> DirectWriter:
        """The day's writer; a fresh start mid-day skips what was due before it (there is no
        ledger to remember it: a restart of a day the topics hold resumes it whole)."""
        for store, plan in plans.items():
            if not looked[store].taken:
                looked[store].skip_before = plan.skip_before
        links = {store: StoreDayLink(store, str(store), looked[store], 0) for store in plans}
        return DirectWriter(self, day, links)

    def check_owner(self, day: date, stores: Sequence[str | None]) -> None:
        """Without transactions nobody is fenced."""

    def partition_for(self, topic: str, key: bytes) -> int:
        return self.producer.partition_for(topic, key)

    def idle(self, seconds: float) -> None:
        """The stream waits: a moment to confirm the store-days finished since the last flush."""
        if self.pending and seconds >= 0.005:
            self.flush()

    def flush(self) -> None:
        self.producer.flush()
        pending, self.pending = self.pending, []
        for link in pending:
            link.finished = True
            link.unit.committed()

    def verify(self) -> None:
        self.producer.verify()

    def close(self) -> None:
        self.pending = []
        self.producer.close()

    def shutdown(self) -> None:
        self.close()
