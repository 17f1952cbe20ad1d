"""The one runner behind both front doors (``foot-traffic produce`` and the Airflow operator).

For each day: open the day's writer (with transactions: take the day's transactional id,
fencing any other run of the day), find what the topics already hold (resume), plan the
day, log the plan per slot, then release every record at its due time through the
day's writer, log progress, flush, and return a summary. Days are merged by due time,
so a day's late exits after midnight interleave with the next day's first entries, as
in a real store; each open day has its own writer.

A run fenced by a newer run of one of its days (``Fenced``) stops as if asked to: the
other days' records sent so far are committed, and the fenced day's summary says
``fenced`` and names the newer run; nothing is raised (the data is consistent), the
front doors decide what it means (exit code 3, a failed task that is not retried).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from foot_traffic.events import DayStream, Moment
from foot_traffic.pacing import Clock, Pacer, SystemClock
from foot_traffic.plan import DayPlan, day_start, plan_from_settings
from foot_traffic.profile import Profile, load_profile
from foot_traffic.publisher import DayWriter, Fenced, Publisher
from foot_traffic.resume import DayHoldings, PlanMismatch
from foot_traffic.settings import Settings

log = logging.getLogger(__name__)


class DayScanner(Protocol):
    def scan(self, day: date, topics: list[str], since_ms: int) -> dict[str, DayHoldings]: ...


@dataclass
class DaySummary:
    """What one day's run did; ``as_dict()`` is JSON-safe (Airflow XCom, CLI output)."""

    day: date
    plan_id: str
    seed: int
    total_visits: int
    planned_per_slot: dict[str, int]
    sent_per_topic: Counter[str] = field(default_factory=Counter)
    entries_per_slot: Counter[str] = field(default_factory=Counter)
    already_present: int = 0
    skipped_before_start: int = 0
    max_lag_seconds: float = 0.0
    stopped: bool = False
    finished: bool = False
    fenced: bool = False  # a newer run of this day took it over (see Fenced)
    fenced_by: dict[str, Any] | None = None  # that run's owner record, when it could be read

    @property
    def sent(self) -> int:
        return sum(self.sent_per_topic.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "plan_id": self.plan_id,
            "seed": self.seed,
            "total_visits": self.total_visits,
            "planned_per_slot": dict(self.planned_per_slot),
            "sent_per_topic": dict(self.sent_per_topic),
            "entries_per_slot": dict(self.entries_per_slot),
            "records_sent": self.sent,
            "records_already_present": self.already_present,
            "records_skipped_before_start": self.skipped_before_start,
            "max_lag_seconds": round(self.max_lag_seconds, 6),
            "stopped": self.stopped,
            "finished": self.finished,
            "fenced": self.fenced,
            **({"fenced_by": self.fenced_by} if self.fenced else {}),
        }


@dataclass
class _OpenDay:
    plan: DayPlan
    stream: DayStream
    moments: Iterator[Moment]
    summary: DaySummary
    holdings: DayHoldings | None
    skip_before: int | None
    writer: DayWriter
    slot: int = -1
    slot_entries: int = 0


class Runner:
    """Plays days through a publisher. ``stop`` (an Event) ends the stream cleanly."""

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        scanner: DayScanner | None = None,
        *,
        clock: Clock | None = None,
        stop: threading.Event | None = None,
        profile: Profile | None = None,
        sim_anchor: float | None = None,
        progress_every: float = 30.0,
    ):
        self.settings = settings
        self.publisher = publisher
        self.scanner = scanner
        self.clock = clock or SystemClock()
        self.stop = stop or threading.Event()
        self.profile = profile or load_profile(settings.profile_file)
        self.sim_anchor = sim_anchor
        self.progress_every = progress_every
        self.topics = [settings.kafka_topic, settings.kafka_topic_realistic]
        self.fenced: Fenced | None = None  # set when a newer run took one of the days

    # -- planning ---------------------------------------------------------------------------
    def plan(self, day: date, *, quiet: bool = False) -> tuple[DayPlan, DayHoldings | None]:
        """Plan ``day``; with resume on, adopt and check what the topics already hold."""
        found: dict[str, DayHoldings] = {}
        if self.settings.resume and self.scanner is not None:
            since_ms = int(day_start(day).timestamp() * 1000)
            found = self.scanner.scan(day, self.topics, since_ms)
        seed = None
        if self.settings.seed is None and len(found) == 1:
            # An unseeded day that already started keeps its first attempt's seed.
            seed = next(iter(found.values())).seed
            if not quiet:
                log.info("SEED unset: continuing %s with the seed of its earlier attempt, %d", day, seed)
        plan = plan_from_settings(day, self.settings, self.profile, seed=seed)
        others = {pid: h for pid, h in found.items() if pid != plan.plan_id}
        if others:
            described = "; ".join(f"plan {pid}: {h.total} records" for pid, h in others.items())
            raise PlanMismatch(
                f"{day} already holds records of another plan ({described}); this run's plan is "
                f"{plan.plan_id} (SEED, DAILY_CUSTOMERS, baseline, variation or profile differ). "
                "Run with the original settings, delete the day's records, or set FOOT_TRAFFIC_RESUME=0 "
                "to send the day again regardless."
            )
        return plan, found.get(plan.plan_id)

    def log_plan(self, plan: DayPlan) -> None:
        log.info(
            "plan for %s (%s): %d visits, seed %d, profile %s, plan id %s",
            plan.day, plan.weekday, plan.total, plan.seed, plan.profile.name, plan.plan_id,
        )
        widest = max(plan.slot_counts) or 1
        for slot, count in zip(plan.profile.slots, plan.slot_counts):
            log.info("  slot %s  %6d visits  %s", slot.label, count, "#" * round(30 * count / widest))

    # -- running ----------------------------------------------------------------------------
    @staticmethod
    def _summary(plan: DayPlan) -> DaySummary:
        return DaySummary(
            day=plan.day,
            plan_id=plan.plan_id,
            seed=plan.seed,
            total_visits=plan.total,
            planned_per_slot={s.label: c for s, c in zip(plan.profile.slots, plan.slot_counts)},
        )

    def _open(self, day: date, from_now: bool) -> _OpenDay:
        if getattr(self.publisher, "fences", False) and self.settings.resume and self.scanner is not None:
            # Look before taking the day: a run that would refuse the day (another plan is
            # in it) must refuse it without fencing the run that is writing it.
            self.plan(day, quiet=True)
        # The writer first: it fences every older writer of the day, so the scan below
        # sees everything they will ever have committed.
        writer = self.publisher.open_day(day)
        plan, holdings = self.plan(day)
        self.log_plan(plan)
        summary = self._summary(plan)
        skip_before = None
        if holdings is not None:
            log.info(
                "%s: resuming, the topics already hold %d records of this plan (%s)",
                day, holdings.total, dict(holdings.count),
            )
            if all(holdings.count.get(t, 0) for t in self.topics) and holdings.total >= 3 * plan.total:
                log.info("%s is already complete: nothing to send", day)
        elif from_now:
            # A fresh start in the middle of today plays the rest of today, like the original.
            skip_before = int(self.clock.now().timestamp())
        stream = DayStream(plan, self.settings.kafka_topic, self.settings.kafka_topic_realistic)
        return _OpenDay(plan, stream, iter(stream), summary, holdings, skip_before, writer)

    def run(self, days: Iterable[date], *, first_from_now: bool = False) -> list[DaySummary]:
        """Play ``days`` (possibly endless), merged by due time; return one summary per day."""
        day_iter = iter(days)
        summaries: list[DaySummary] = []
        heap: list[tuple[int, int, int, Moment, _OpenDay]] = []
        tie = itertools.count()
        next_day = next(day_iter, None)
        opened = 0
        last_progress = self.clock.monotonic()
        self.publisher.connect()
        self.publisher.ensure_topics(self.topics)
        # After connecting: the simulated clock starts when records can actually be sent.
        pacer = Pacer(self.clock, self.settings.time_scale, self.settings.sleep, self.stop, self.sim_anchor)
        try:
            try:
                while True:
                    if next_day is not None and (
                        not heap or heap[0][0] >= day_start(next_day).timestamp()
                    ):
                        open_day = self._open(next_day, from_now=first_from_now and opened == 0)
                        opened += 1
                        summaries.append(open_day.summary)
                        self._push(heap, tie, open_day)
                        next_day = next(day_iter, None)
                        continue
                    if not heap:
                        break
                    due, _, _, moment, open_day = heapq.heappop(heap)
                    self._play(moment, open_day, pacer)
                    if self.stop.is_set():
                        break
                    self._push(heap, tie, open_day)
                    now = self.clock.monotonic()
                    if now - last_progress >= self.progress_every:
                        last_progress = now
                        self._progress(open_day, pacer)
                self.publisher.flush()
            except Fenced as exc:
                self._was_fenced(exc, summaries)
        finally:
            stopped = self.stop.is_set() or self.fenced is not None
            try:
                if stopped:
                    try:
                        self.publisher.flush()
                    except Fenced as exc:  # fenced while stopping: still not an error of the data
                        self._was_fenced(exc, summaries)
            finally:
                self.publisher.close()
        for s in summaries:
            s.stopped = stopped and not s.finished and not s.fenced
        return summaries

    def _was_fenced(self, exc: Fenced, summaries: list[DaySummary]) -> None:
        """A newer run took ``exc.day``: stop every day here, as a stop request would."""
        self.fenced = exc
        summary = next((s for s in summaries if s.day == exc.day and not s.finished), None)
        if summary is None:  # fenced while opening the day: nothing of it was sent
            summary = self._summary(plan_from_settings(exc.day, self.settings, self.profile))
            summaries.append(summary)
        summary.fenced = True
        summary.fenced_by = exc.by
        log.warning("%s: stopping: another run now writes %s; committing what the other days sent", exc.day, exc.day)

    def _push(self, heap, tie, open_day: _OpenDay) -> None:
        moment = next(open_day.moments, None)
        if moment is None:
            self._close_day(open_day)
            return
        heapq.heappush(heap, (moment.due, open_day.plan.day.toordinal(), next(tie), moment, open_day))

    def _play(self, moment: Moment, open_day: _OpenDay, pacer: Pacer) -> None:
        summary = open_day.summary
        if open_day.skip_before is not None and moment.visit.entry_ts < open_day.skip_before:
            summary.skipped_before_start += len(moment.records)
            return
        records = moment.records
        if open_day.holdings is not None:
            holdings = open_day.holdings
            records = tuple(r for r in records if not holdings.holds(r, self.publisher.partition_for(r.topic, r.key)))
            summary.already_present += len(moment.records) - len(records)
            if not records:
                return
        wait = pacer.wall_delay(moment.due)
        if wait > 0:
            self.publisher.idle(wait)  # e.g. commit: what was sent becomes visible while we wait
        if not pacer.wait_until(moment.due):
            return
        lag = -pacer.wall_delay(moment.due)
        if lag > summary.max_lag_seconds and pacer.sim0 <= moment.due:
            summary.max_lag_seconds = lag
        send = open_day.writer.send
        for record in records:
            send(record)
            summary.sent_per_topic[record.topic] += 1
        if moment.entering:
            label = open_day.plan.profile.slots[moment.visit.slot].label
            summary.entries_per_slot[label] += 1
            if moment.visit.slot != open_day.slot:
                if open_day.slot >= 0:
                    self._slot_done(open_day)
                open_day.slot = moment.visit.slot
                open_day.slot_entries = 0
            open_day.slot_entries += 1

    def _slot_done(self, open_day: _OpenDay) -> None:
        slot = open_day.plan.profile.slots[open_day.slot]
        log.info(
            "%s slot %s done: %d of %d planned visits entered, %d in store",
            open_day.plan.day, slot.label, open_day.slot_entries,
            open_day.plan.slot_counts[open_day.slot], open_day.stream.inside,
        )

    def _progress(self, open_day: _OpenDay, pacer: Pacer) -> None:
        s = open_day.summary
        log.info(
            "%s progress: %d records sent (%s), %d already present, %d customers in store, "
            "simulated time %s, max lag behind schedule %.3f s",
            s.day, s.sent, dict(s.sent_per_topic), s.already_present, open_day.stream.inside,
            _iso(pacer.sim_now()), s.max_lag_seconds,
        )

    def _close_day(self, open_day: _OpenDay) -> None:
        if open_day.slot >= 0:
            self._slot_done(open_day)
        open_day.writer.finish()
        open_day.summary.finished = True
        s = open_day.summary
        log.info(
            "%s finished: %d records sent (%s), %d already present, %d skipped before start",
            s.day, s.sent, dict(s.sent_per_topic), s.already_present, s.skipped_before_start,
        )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def days_from(first: date, count: int | None) -> Iterator[date]:
    """``count`` consecutive days from ``first`` (endless when ``count`` is None)."""
    n = itertools.count() if count is None else range(count)
    for i in n:
        yield first + timedelta(days=i)


