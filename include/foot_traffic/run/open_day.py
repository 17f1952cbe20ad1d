"""One store-day under way, and how a resumed one skips what the topics already hold.

A store-day's records are one deterministic stream; its *position* is how many of them
this run has passed (sent, skipped because the topics hold them, or skipped because a
fresh start mid-day began after them). The writer commits the position with the records
(``delivery.transactions``); a resumed store-day skips the first ``position`` records the
ledger names (``PositionSkip``), or, where only the data topics can tell
(``KAFKA_TRANSACTIONS=0``, a day written before positions), each record they hold
(``HoldingsSkip``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from foot_traffic.delivery.scan import DayHoldings
from foot_traffic.records.events import Moment
from foot_traffic.run.summary import DaySummary


class OpenDay:
    """A store-day being played: its plan, stream, writer and summary. ``position``, ``done``,
    ``sent`` and ``committed`` are what its writer reads and calls (``StoreDayLink.unit``)."""

    __slots__ = ("unit", "plan", "stream", "moments", "summary", "writer", "link", "skip", "skip_before",
                 "position", "done", "labels", "ordinal", "slot", "slot_entries", "on_committed", "compact")

    def __init__(self, unit, plan, stream, moments: Iterator[Moment], summary: DaySummary, writer, link,
                 on_committed: Callable[[OpenDay], None], compact: bool):
        self.unit = unit
        self.plan = plan
        self.stream = stream
        self.moments = moments
        self.summary = summary
        self.writer = writer
        self.link = link
        self.skip: PositionSkip | HoldingsSkip | None = None
        self.skip_before: int | None = None
        self.position = 0
        self.done = False
        self.labels = tuple(plan.labels)
        self.ordinal = plan.day.toordinal()  # the merge's tie-break between days
        self.slot = -1
        self.slot_entries = 0
        self.on_committed = on_committed
        self.compact = compact  # a store among many: no per-slot lines
        link.unit = self

    @property
    def key(self) -> tuple[str | None, Any]:
        return self.summary.store_id, self.plan.day

    @property
    def sent(self) -> dict[str, int]:
        return self.summary.sent_per_topic

    def committed(self) -> None:
        """The writer committed this store-day's ``finished`` record."""
        self.summary.finished = True
        self.on_committed(self)


class PositionSkip:
    """Skips the stream's first ``until`` records (the ledger's position): those before
    ``base`` were in the topics before this run, the others this run committed before an
    outage (counted as sent by it)."""

    __slots__ = ("until", "base")

    def __init__(self, until: int, base: int):
        self.until = until
        self.base = base

    def apply(self, day: OpenDay, moment: Moment) -> tuple:
        records = moment.records
        start = day.position
        if start >= self.until:
            day.skip = None
            return records
        k = min(len(records), self.until - start)
        summary = day.summary
        ours = 0
        for index, record in enumerate(records[:k], start):
            if index < self.base:
                summary.already_present += 1
            else:
                summary.sent_per_topic[record.topic] += 1
                ours += 1
        if ours and moment.entering and start >= self.base:
            summary.entries_per_slot[day.labels[moment.visit.slot]] += 1
        if start + k >= self.until:
            day.skip = None
        return records[k:]


class HoldingsSkip:
    """Skips each record the data topics hold (per-partition high-water marks of ``ft-seq``);
    ``base``: what the day held before this run (after an outage, the others are this run's)."""

    __slots__ = ("holdings", "base", "partition_for")

    def __init__(self, holdings: DayHoldings, base: DayHoldings | None, partition_for: Callable[[str, bytes], int]):
        self.holdings = holdings
        self.base = base
        self.partition_for = partition_for

    def apply(self, day: OpenDay, moment: Moment) -> tuple:
        records = moment.records
        partition_for, holdings = self.partition_for, self.holdings
        kept = tuple(r for r in records if not holdings.holds(r, partition_for(r.topic, r.key)))
        held = len(records) - len(kept)
        if not held:
            return kept
        summary = day.summary
        if self.base is None:
            summary.already_present += held
            return kept
        kept_ids = {id(r) for r in kept}
        ours = 0
        for record in records:
            if id(record) in kept_ids:
                continue
            if self.base.holds(record, partition_for(record.topic, record.key)):
                summary.already_present += 1
            else:
                summary.sent_per_topic[record.topic] += 1
                ours += 1
        if ours and moment.entering and not kept:
            summary.entries_per_slot[day.labels[moment.visit.slot]] += 1
        return kept
