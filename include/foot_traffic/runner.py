"""The one runner behind both front doors (``foot-traffic produce`` and the Airflow operator).

For each day: open the day's writer (with transactions: take the day's transactional id,
fencing any other run of the day), find what the topics already hold (resume), plan the
day, log the plan per slot, then release every record at its due time through the
day's writer, log progress, flush, and return a summary. Days are merged by due time,
so a day's late exits after midnight interleave with the next day's first entries, as
in a real store; each open day has its own writer.

With a store catalogue the unit is a store's local day instead: every store-day of the
run is merged by due time through the one publisher, each opened at its local midnight
(``foot_traffic.chain``), so a run of any number of stores holds only the store-days
under way and the customers inside them. With transactions, the first store-day of a
day D to open takes the writers of every store's D at once, then scans once: a store-day's
scan must follow its writer, and one scan per day serves all stores.

A run fenced by a newer run of one of its days (``Fenced``) stops as if asked to: the
other days' records sent so far are committed, and the fenced day's summary says
``fenced`` and names the newer run; nothing is raised (the data is consistent), the
front doors decide what it means (exit code 3, a failed task that is not retried).

Self-healing (``_heal``): any other delivery failure mid-stream (broker gone, a record not
acknowledged, acknowledged writes lost, the client's own fence after a failed record)
closes the producer, waits with growing back-off (``RETRY_BACKOFF_SECONDS`` doubled,
capped, +-20 % jitter), reconnects, opens the open days again (and those finished in
the last ``RECHECK_FINISHED_SECONDS``, whose tail the broker may have lost), re-scans what
the topics hold of them (the resume scan: committed records, after fencing our own
failed writers) and replays each day against that scan: what is there is skipped, the
rest is sent, in order, so nothing is lost and nothing sent twice. The simulated clock
keeps running during the outage: records due meanwhile go out as soon as it heals, then
real-time pacing resumes. ``MAX_RETRIES`` attempts per outage (an outage after which the
re-scan shows no progress shares the previous one's budget, so a record that can never
be delivered ends the run); then the error is raised with what was delivered. Not with
a store catalogue (a chain run fails as before; its front door restarts it).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from foot_traffic.chain import ChainPlanner, StoreDay, store_days
from foot_traffic.events import DayStream, Moment, StoreDayStream
from foot_traffic.localday import local_date
from foot_traffic.pacing import Clock, Pacer, SystemClock
from foot_traffic.plan import DayPlan, day_start, plan_from_settings
from foot_traffic.profile import Profile, load_profile
from foot_traffic.progress import LogProgress, ProgressReporter, Snapshot, StoreDayProgress
from foot_traffic.publisher import DayWriter, Fenced, Publisher, PublishError
from foot_traffic.resume import DayHoldings, PlanMismatch
from foot_traffic.retry import backoff_delays
from foot_traffic.sensor import day_moments
from foot_traffic.settings import Settings
from foot_traffic.stores import Catalogue

log = logging.getLogger(__name__)

# After an outage, days finished this recently (wall seconds) are re-scanned too: a broker
# that crashed may have lost the last acknowledged (even committed) records of a day that
# had already been checked and closed.
RECHECK_FINISHED_SECONDS = 30.0


def _transient() -> tuple[type[BaseException], ...]:
    """Errors an outage may surface as: the publisher's, and kafka-python's raw ones (scan, admin)."""
    try:
        from kafka.errors import KafkaError
    except ImportError:  # pragma: no cover - kafka-python is a dependency
        return (PublishError, OSError)
    return (PublishError, KafkaError, OSError)

# Moments of one day the loop plays in a row before it looks at the merge again (see
# Runner._play_run): long enough to make the heap's cost vanish, short enough that
# progress lines and days to open are looked at every millisecond or so.
RUN_LENGTH = 256


class DayScanner(Protocol):
    def scan(self, day: date, topics: list[str], since_ms: int, *, settled: bool = True) -> dict[str, DayHoldings]: ...

    def scan_stores(
        self, day: date, topics: list[str], since_ms: int, stores: Iterable[str], *, settled: bool = True
    ) -> dict[str, dict[str, DayHoldings]]: ...


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
    topics: tuple[str, ...] = ()
    stopped: bool = False
    finished: bool = False
    store_id: str | None = None  # with a catalogue: the store (``day`` is its local day)
    closed: bool = False  # with a catalogue: the store does not open that day
    fenced: bool = False  # a newer run of this day took it over (see Fenced)
    fenced_by: dict[str, Any] | None = None  # that run's owner record, when it could be read

    @property
    def sent(self) -> int:
        return sum(self.sent_per_topic.values())

    def as_dict(self) -> dict[str, Any]:
        store = {} if self.store_id is None else {"store_id": self.store_id, "closed": self.closed}
        return {
            **store,
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
            "topics": list(self.topics),
        }


@dataclass
class _OpenDay:
    plan: DayPlan  # or a StoreDayPlan
    stream: DayStream
    moments: Iterator[Moment]
    summary: DaySummary
    holdings: DayHoldings | None
    skip_before: int | None
    writer: DayWriter
    slot: int = -1
    slot_entries: int = 0
    chain: bool = False  # a store-day of a catalogue: compact logging
    # After an outage: what the day held before this run (the first scan); the re-scanned
    # records it does not hold were sent by this run before the outage (see ``_recount``).
    base: DayHoldings | None = None
    refill: bool = False  # a finished day re-opened after an outage (it is not counted twice)
    labels: tuple[str, ...] = ()  # the plan's slot labels (index = Visit.slot)
    unit: Any = None  # a catalogue's StoreDay (to plan it again after an outage)
    ordinal: int = 0

    def __post_init__(self) -> None:
        self.labels = tuple(self.plan.labels)
        self.ordinal = self.plan.day.toordinal()  # the merge's tie-break between days


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
        progress: ProgressReporter | None = None,
        detail_level: int = logging.INFO,
        catalogue: Catalogue | None = None,
        probe: Callable[[], None] | None = None,
        rng: random.Random | None = None,
    ):
        """:param progress: where progress goes (default: log lines every ``progress_every`` s).
        :param detail_level: log level of the per-slot lines (the plan's slots, "slot done");
            DEBUG keeps a long backfill to a few lines per day.
        :param probe: one quick reachability check (raises ``BrokerUnavailable``), tried after
            each back-off of an outage before reconnecting; None: reconnect directly.
        :param rng: jitter of the outage back-off (tests fix it)."""
        self.settings = settings
        self.publisher = publisher
        self.scanner = scanner
        self.clock = clock or SystemClock()
        self.stop = stop or threading.Event()
        self.catalogue = catalogue
        # The implicit store's profile (a catalogue's stores carry their own).
        self.profile = profile or (load_profile(settings.profile_file) if catalogue is None else None)
        self.sim_anchor = sim_anchor
        self.progress_every = progress_every
        self.progress = progress or LogProgress()
        self.detail_level = detail_level
        self._run_sent = 0
        self._days_done = 0
        self.topics = [settings.kafka_topic, settings.kafka_topic_realistic]
        self.fenced: Fenced | None = None  # set when a newer run took one of the days
        self._taken: dict[date, dict[str, DayWriter]] = {}  # chain: store-day writers taken, not yet playing
        self._taken_ids: dict[date, list[str]] = {}  # chain: the stores whose day D this run took (its shard)
        self._chain = None if catalogue is None else ChainPlanner(catalogue, settings, scanner, self.topics)
        # Self-healing (see ``_heal``): the days open now, those finished lately, the budget.
        self.probe = probe
        self._rng = rng or random.Random()
        # Keyed (store id or None, day): the implicit store's days and a catalogue's store-days.
        self._open_days: dict[tuple[str | None, date], _OpenDay] = {}
        self._recent: list[tuple[float, _OpenDay]] = []  # (monotonic when finished, day)
        self._spent = 0  # attempts spent by outages after which nothing progressed
        self._held_mark: dict[tuple[str | None, date], int] = {}
        self._days_mark = 0
        self.outages: list[dict[str, Any]] = []  # one per recovered outage: seconds, attempts, re-checked
        self._sim_seen = -math.inf
        self.stopped_in_outage = False  # a stop came while waiting to reconnect (not a clean stop)

    @property
    def heals(self) -> bool:
        """Whether a delivery failure mid-stream is healed in-process: ``MAX_RETRIES`` > 0 and
        resume on (the replay relies on the re-scan)."""
        return self.settings.max_retries > 0 and self.settings.resume and self.scanner is not None

    # -- planning ---------------------------------------------------------------------------
    def plan(
        self, day: date, *, look_only: bool = False, seed: int | None = None
    ) -> tuple[DayPlan, DayHoldings | None]:
        """Plan ``day``; with resume on, adopt and check what the topics already hold.

        ``look_only``: a check before the day is taken (see ``_fences``): what is
        committed now, without waiting for open transactions, and quietly. ``seed``: the
        seed this run already plays the day with (a day re-opened after an outage)."""
        found: dict[str, DayHoldings] = {}
        if self.settings.resume and self.scanner is not None:
            since_ms = int(day_start(day).timestamp() * 1000)
            found = self.scanner.scan(day, self.topics, since_ms, settled=not look_only)
        if seed is None and self.settings.seed is None and len(found) == 1:
            # An unseeded day that already started keeps its first attempt's seed.
            seed = next(iter(found.values())).seed
            if not look_only:
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
            log.log(self.detail_level, "  slot %s  %6d visits  %s", slot.label, count, "#" * round(30 * count / widest))

    # -- running ----------------------------------------------------------------------------
    @property
    def _fences(self) -> bool:
        """Whether opening a day stops the other runs of it (transactions), so a run that
        would refuse the day must look first, without taking it."""
        return bool(getattr(self.publisher, "fences", False)) and self.settings.resume and self.scanner is not None

    def _summary(self, plan: DayPlan) -> DaySummary:
        return DaySummary(
            day=plan.day,
            plan_id=plan.plan_id,
            seed=plan.seed,
            total_visits=plan.total,
            planned_per_slot={s.label: c for s, c in zip(plan.profile.slots, plan.slot_counts)},
            topics=tuple(self.topics),
        )

    def _open(self, day: date, from_now: bool, seed: int | None = None) -> _OpenDay:
        if self._fences and self._taken_before(day):
            # Look before taking the day: a run that would refuse the day (another plan is
            # in it) must refuse it without fencing the run that is writing it.
            self.plan(day, look_only=True, seed=seed)
        # The writer first: it fences every older writer of the day, so the scan below
        # sees everything they will ever have committed.
        writer = self.publisher.open_day(day)
        plan, holdings = self.plan(day, seed=seed)
        self._scanned(writer, holdings)
        self.log_plan(plan)
        summary = self._summary(plan)
        skip_before = None
        if holdings is not None:
            log.info(
                "%s: resuming, the topics already hold %d records of this plan (%s)",
                day, holdings.total, dict(holdings.count),
            )
            if self._complete_at_open(holdings, plan):
                log.info("%s is already complete: nothing to send", day)
        elif from_now:
            # A fresh start in the middle of today plays the rest of today, like the original.
            skip_before = int(self.clock.now().timestamp())
        stream = DayStream(plan, self.settings.kafka_topic, self.settings.kafka_topic_realistic)
        return _OpenDay(plan, stream, day_moments(stream, self.settings), summary, holdings, skip_before, writer)

    def _complete_at_open(self, holdings: DayHoldings, plan) -> bool:
        """The day holds all its records (three per visit), as far as can be told before playing
        it: with a sensor's flaws (``FOOT_TRAFFIC_SENSOR_*``) the count is known only at its end."""
        if self.settings.sensor_active:
            return False
        return holdings.total >= 3 * plan.total and all(holdings.count.get(t, 0) for t in self.topics)

    def _taken_before(self, day: date, stores: list[str] | None = None) -> bool:
        """Whether looking before taking ``day`` can spare anybody: only a transactional run
        that took it before (an owner record) can be writing it now. A day nobody took is
        scanned once, after the take (a run's first pass over a chain's day, where each
        shard would otherwise read every earlier shard's records twice)."""
        taken_before = getattr(self.publisher, "taken_before", None)
        return True if taken_before is None or not self.settings.resume else taken_before(day, stores)

    def _scanned(self, writer, holdings: DayHoldings | None) -> None:
        """Tell a transactional writer where the scan found the day's records (it records the
        day's segments when it finishes, ``checkpoint``)."""
        scanned = getattr(writer, "scanned", None)
        if scanned is not None and self.settings.resume and self.scanner is not None:
            scanned(holdings)

    def _store_day_writer(self, store_day: StoreDay, from_now: float | None) -> DayWriter:
        """The store-day's writer. With transactions, the first store-day of a day takes the
        writers of every store's day the run plays at once (after looking: a run that would
        refuse one refuses before stopping anybody), then scans once for all of them: each
        store-day's scan must come after its writer fenced the older ones, and waiting to
        take a store's day until its local midnight would leave the scan of the first stores
        waiting on the unfinished transactions of the others' older writers. One producer
        writes them all where the publisher can (``open_stores_day``)."""
        if not self._fences:
            return self.publisher.open_day(store_day.day, store_day.store.id)
        day = store_day.day
        if day not in self._taken:
            # A run started mid-day does not play the store-days already over in local time.
            ids = [s.id for s in self.catalogue.stores if from_now is None or day >= local_date(from_now, s.tz)]
            if self._taken_before(day, ids):
                self._chain.check(day)
            self._taken[day] = self._take_stores_day(day, ids)
            self._taken_ids[day] = ids
            self._chain.rescan(day)
            for old in [d for d in self._taken if (day - d).days > 3]:
                del self._taken[old]
                self._taken_ids.pop(old, None)
        return self._taken[day].pop(store_day.store.id)

    def _take_stores_day(self, day: date, ids: list[str]) -> dict[str, DayWriter]:
        open_stores_day = getattr(self.publisher, "open_stores_day", None)
        if open_stores_day is not None:
            return open_stores_day(day, ids)
        return {store: self.publisher.open_day(day, store) for store in ids}

    def _open_store_day(self, store_day: StoreDay, from_now: float | None) -> _OpenDay:
        writer = self._store_day_writer(store_day, from_now)
        plan, holdings = self._chain.plan(store_day)
        self._scanned(writer, holdings)
        store = store_day.store
        planned: dict[str, int] = {}
        for label, count in zip(plan.labels, plan.slot_counts):
            planned[label] = planned.get(label, 0) + count
        summary = DaySummary(
            day=plan.day,
            plan_id=plan.plan_id,
            seed=plan.seed,
            total_visits=plan.total,
            planned_per_slot=planned,
            store_id=store.id,
            closed=plan.closed,
        )
        if plan.closed:
            reason = "closed_on" if plan.day in store.closed_on else f"no opening hours on {plan.weekday}s"
            log.info("store %s is closed on %s (%s, %s): nothing to send", store.id, plan.day, plan.weekday, reason)
        else:
            log.info(
                "store %s %s (%s, %s, open %s): %d visits, seed %d, plan id %s",
                store.id, plan.day, plan.weekday, store.timezone, store.hours_text(plan.day), plan.total,
                plan.seed, plan.plan_id,
            )
        skip_before = None
        if holdings is not None:
            if self._complete_at_open(holdings, plan):
                log.info("store %s %s is already complete: nothing to send", store.id, plan.day)
            else:
                log.info(
                    "store %s %s: resuming, the topics already hold %d records of this plan (%s)",
                    store.id, plan.day, holdings.total, dict(holdings.count),
                )
        elif from_now is not None and plan.day == local_date(from_now, store.tz):
            skip_before = int(from_now)
        stream = StoreDayStream(plan, self.settings.kafka_topic, self.settings.kafka_topic_realistic)
        return _OpenDay(
            plan, stream, day_moments(stream, self.settings), summary, holdings, skip_before, writer, chain=True
        )

    def _units(self, days: Iterable[date], first_from_now: bool) -> Iterator[tuple[float, Any]]:
        """``(start, unit)`` in start order: days of the implicit store, or store-days."""
        if self.catalogue is None:
            for day in days:
                yield day_start(day).timestamp(), day
            return
        from_now = self.clock.now().timestamp() if first_from_now else None
        for store_day in store_days(self.catalogue, days, from_now=from_now):
            yield store_day.start, store_day

    def run(
        self,
        days: Iterable[date],
        *,
        first_from_now: bool = False,
        keep_summaries: bool = True,
        days_total: int | None = None,
    ) -> list[DaySummary]:
        """Play ``days`` (possibly endless), merged by due time; return one summary per day
        (per store and local day with a catalogue). ``keep_summaries`` False keeps only
        the days under way (an endless run of many stores). ``days_total`` (how many
        ``days`` holds, if known) is only for the progress display."""
        if days_total is None and isinstance(days, (list, tuple)):
            days_total = len(days)
        self.progress.started(days_total)
        try:
            return self._run(days, first_from_now, keep_summaries)
        finally:
            self.progress.finished()

    def _run(self, days: Iterable[date], first_from_now: bool, keep_summaries: bool) -> list[DaySummary]:
        units = self._units(days, first_from_now)
        summaries: list[DaySummary] = []
        heap: list[tuple[int, int, int, Moment, _OpenDay]] = []
        tie = itertools.count()
        upcoming = next(units, None)
        opened = 0
        last_progress = self.clock.monotonic()
        self.publisher.connect()
        self.publisher.ensure_topics(self.topics)
        # After connecting: the simulated clock starts when records can actually be sent.
        pacer = Pacer(self.clock, self.settings.time_scale, self.settings.sleep, self.stop, self.sim_anchor)
        self._sim_seen = -math.inf  # no reading of this pacer's clock yet (``_play_run``)
        from_now = self.clock.now().timestamp() if first_from_now else None
        transient = _transient()
        heappush, heappop = heapq.heappush, heapq.heappop
        try:
            try:
                while True:  # once, plus once more after each outage healed
                    try:
                        while True:
                            if upcoming is not None and (not heap or heap[0][0] >= upcoming[0]):
                                unit = upcoming[1]
                                if isinstance(unit, StoreDay):
                                    open_day = self._open_store_day(unit, from_now)
                                    open_day.unit = unit
                                    self._open_days[(unit.store.id, unit.day)] = open_day
                                else:
                                    open_day = self._open(unit, from_now=first_from_now and opened == 0)
                                    self._open_days[(None, unit)] = open_day
                                opened += 1
                                summaries.append(open_day.summary)
                                self._push(heap, tie, open_day)
                                upcoming = next(units, None)
                                if not keep_summaries:
                                    summaries = [s for s in summaries if not s.finished]
                                continue
                            if not heap:
                                break
                            _, _, _, moment, open_day = heappop(heap)
                            moment = self._play_run(moment, open_day, pacer, heap, upcoming)
                            if self.stop.is_set():
                                break
                            if moment is None:
                                self._close_day(open_day)
                            else:  # ``_requeue``, inline: once per moment with many store-days open
                                heappush(heap, (moment.due, open_day.ordinal, next(tie), moment, open_day))
                            now = self.clock.monotonic()
                            if now - last_progress >= self.progress_every:
                                last_progress = now
                                if self.catalogue is None:
                                    self._progress(open_day, pacer)
                                else:
                                    self._chain_progress(heap, summaries, pacer)
                        self.publisher.flush()
                        verify = getattr(self.publisher, "verify", None)
                        if self.catalogue is not None and verify is not None and not self.stop.is_set():
                            verify()  # the store-days' checks are spaced out (``DirectWriter``): the last one
                        break
                    except transient as exc:
                        if isinstance(exc, (Fenced, InterruptedError)) or not self.heals:
                            raise
                        if not self._heal(exc, heap, tie, summaries):
                            break  # stopped while waiting for the broker
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
        if not keep_summaries:
            summaries = [s for s in summaries if not s.finished]
        return summaries

    def _was_fenced(self, exc: Fenced, summaries: list[DaySummary]) -> None:
        """A newer run took ``exc.day``: stop every day here, as a stop request would."""
        self.fenced = exc
        stores = set(exc.stores) or {exc.store}
        aborted = set(exc.uncommitted)  # finished here, but their last records were in the aborted transaction
        fenced = [s for s in summaries if s.day == exc.day and s.store_id in stores
                  and (not s.finished or s.store_id in aborted)]
        for summary in fenced:
            summary.finished = False
        if not fenced:  # fenced while opening the day: nothing of it was sent
            if exc.store is None:
                summary = self._summary(plan_from_settings(exc.day, self.settings, self.profile))
            else:
                summary = DaySummary(day=exc.day, plan_id="", seed=-1, total_visits=0, planned_per_slot={},
                                     store_id=exc.store, topics=tuple(self.topics))
            summaries.append(summary)
            fenced = [summary]
        for summary in fenced:
            summary.fenced = True
            summary.fenced_by = exc.by
        log.warning("%s: stopping: another run now writes it; committing what the other days sent", summary_label(exc))

    # -- self-healing -------------------------------------------------------------------------
    def _heal(self, exc: BaseException, heap: list, tie, summaries: list[DaySummary]) -> bool:
        """Recover from a delivery failure in-process (see the module's docstring): close,
        back off, reconnect, re-open and re-scan the open days (and those finished lately),
        and put them back on ``heap`` to replay against the scan. False when stopped while
        waiting; raises the last error, naming what was delivered, once the retries are spent."""
        started = self.clock.monotonic()
        self._recent = [(t, d) for t, d in self._recent if started - t <= RECHECK_FINISHED_SECONDS]
        chosen = {_key(d): d for _, d in self._recent}
        chosen.update(self._open_days)
        days = sorted(chosen.values(), key=lambda d: (d.plan.day, d.summary.store_id or ""))
        log.warning(
            "delivery interrupted (%s: %s) with %d day(s) open (%s) and %d finished lately: closing the producer; "
            "reconnecting with back-off (MAX_RETRIES=%d, RETRY_BACKOFF_SECONDS=%g)",
            type(exc).__name__, exc, len(self._open_days), _days_text(self._open_days.values()),
            len(self._recent), self.settings.max_retries, self.settings.retry_backoff_seconds,
        )
        self._close_quietly()
        heap.clear()
        delays = backoff_delays(self.settings.max_retries, self.settings.retry_backoff_seconds, self._rng)
        transient = _transient()
        last: BaseException = exc
        first_attempt = self._spent
        while True:
            if self._spent >= len(delays):
                raise self._gave_up(last, self.clock.monotonic() - started, self._spent - first_attempt, summaries)
            delay = delays[self._spent]
            self._spent += 1
            log.info("outage: attempt %d of %d to reconnect in %.1f s", self._spent, len(delays), delay)
            if self.clock.wait(delay, self.stop):
                self.stopped_in_outage = True
                log.warning(
                    "stopped during an outage: records sent since the last commit may be missing; a restart "
                    "sends exactly the rest"
                )
                return False
            try:
                if self.probe is not None:
                    self.probe()
                self.publisher.connect()
                self.publisher.ensure_topics(self.topics)
                reopened = self._reopen_chain(days) if self.catalogue is not None else [self._reopen(d) for d in days]
            except transient as failed:
                if isinstance(failed, (Fenced, InterruptedError)):
                    raise
                last = failed
                log.warning(
                    "outage: attempt %d of %d failed (%s: %s)", self._spent, len(delays), type(failed).__name__, failed
                )
                self._close_quietly()
                continue
            break
        attempts = self._spent - first_attempt
        held = {_key(d): (d.holdings.total if d.holdings is not None else 0) for d in reopened}
        # An outage after which the topics hold more than after the previous one (or a day
        # was finished in between) gets a fresh budget; else it shares the previous one's.
        if self._days_done > self._days_mark or any(n > self._held_mark.get(day, -1) for day, n in held.items()):
            self._spent = 0
        self._held_mark, self._days_mark = held, self._days_done
        for open_day in reopened:
            self._push(heap, tie, open_day)
        seconds = self.clock.monotonic() - started
        rechecked = sum(held.values())
        self.outages.append({"seconds": round(seconds, 3), "attempts": attempts, "days": len(reopened),
                             "records_rechecked": rechecked, "error": f"{type(exc).__name__}: {exc}"})
        log.warning(
            "recovered after %.1f s (%d attempt(s)): re-scanned %d day(s) (%s), %d records re-checked in the topics; "
            "sending the rest now (records due during the outage go out at once, then real-time pacing resumes)",
            seconds, attempts, len(reopened), _days_text(reopened), rechecked,
        )
        return True

    def _reopen(self, old: _OpenDay) -> _OpenDay:
        """Open ``old``'s day again (a new writer, a fresh scan) to replay it from its start;
        the summary carries on, re-counted during the replay."""
        day = old.plan.day
        check_owner = getattr(self.publisher, "check_owner", None)
        if check_owner is not None:
            check_owner(day)  # a newer run took the day meanwhile: Fenced, not taken back
        new = self._open(day, from_now=False, seed=old.plan.seed)
        return self._carry_on(old, new)

    def _carry_on(self, old: _OpenDay, new: _OpenDay) -> _OpenDay:
        """``new`` replays ``old``'s day after an outage: the summary carries on, re-counted."""
        summary = new.summary = old.summary
        summary.sent_per_topic.clear()
        summary.entries_per_slot.clear()
        summary.already_present = 0
        summary.skipped_before_start = 0
        new.skip_before = old.skip_before
        new.base = old.base if old.base is not None else (old.holdings or DayHoldings(old.plan.plan_id))
        new.slot, new.slot_entries = old.slot, old.slot_entries
        new.refill = old.refill or summary.finished
        summary.finished = False
        new.unit = old.unit
        self._open_days[_key(new)] = new
        return new

    def _reopen_chain(self, olds: list[_OpenDay]) -> list[_OpenDay]:
        """Take again, with a new producer, every day D this run holds store-days of (open,
        finished lately, or not begun yet), its store set unchanged (the same producer id);
        scan D once; replay the open and lately finished store-days against the scan."""
        by_day: dict[date, list[_OpenDay]] = {}
        for old in olds:
            by_day.setdefault(old.plan.day, []).append(old)
        reopened = []
        for day in sorted(set(by_day) | {d for d, pending in self._taken.items() if pending}):
            ids = self._taken_ids.get(day) or [d.summary.store_id for d in by_day.get(day, [])]
            check = getattr(self.publisher, "check_stores_owner", None)
            if check is not None:
                check(day)  # a newer run took one of them meanwhile: Fenced, not taken back
            writers = self._take_stores_day(day, ids)
            seeds = {d.plan.seed for d in by_day.get(day, [])}
            self._chain.rescan(day, seed=seeds.pop() if len(seeds) == 1 else None)
            pending = self._taken.get(day, {})
            for store in ids:
                if store in pending:
                    pending[store] = writers.pop(store)  # not begun yet: it begins with the new producer
            for old in by_day.get(day, []):
                writer = writers.pop(old.summary.store_id)
                plan, holdings = self._chain.plan(old.unit)
                self._scanned(writer, holdings)
                stream = StoreDayStream(plan, self.settings.kafka_topic, self.settings.kafka_topic_realistic)
                new = _OpenDay(plan, stream, day_moments(stream, self.settings), old.summary, holdings, None, writer,
                               chain=True)
                reopened.append(self._carry_on(old, new))
            for writer in writers.values():  # finished before the outage, long enough ago: nothing to re-check
                writer.finish()
        return reopened

    def _recount(self, open_day: _OpenDay, moment: Moment, kept: tuple) -> None:
        """A replay after an outage skips the records the re-scan found: those the day held
        before this run are already present, the others this run sent before the outage."""
        summary, base = open_day.summary, open_day.base
        kept_ids = {id(r) for r in kept}
        ours = 0
        for r in moment.records:
            if id(r) in kept_ids:
                continue
            if base.holds(r, self.publisher.partition_for(r.topic, r.key)):
                summary.already_present += 1
            else:
                summary.sent_per_topic[r.topic] += 1
                ours += 1
        if ours and moment.entering and not kept:
            summary.entries_per_slot[open_day.labels[moment.visit.slot]] += 1

    def _close_quietly(self) -> None:
        try:
            self.publisher.close()
        except Exception as exc:  # noqa: BLE001 - already failing; the next attempt reconnects
            log.debug("closing the failed publisher: %s", exc)

    def _gave_up(self, last: BaseException, seconds: float, attempts: int, summaries: list[DaySummary]) -> PublishError:
        """The last error again, saying what was delivered (a restart sends exactly the rest)."""
        done = [s for s in summaries if s.finished]
        open_ = [s for s in summaries if not s.finished]
        message = (
            f"gave up after {attempts} attempt(s) in {seconds:.0f} s to recover from an outage (MAX_RETRIES="
            f"{self.settings.max_retries}, RETRY_BACKOFF_SECONDS={self.settings.retry_backoff_seconds:g}); last error: "
            f"{type(last).__name__}: {last}. Delivered: {len(done)} day(s) complete"
            + (f" ({', '.join(f'{s.day} {s.sent + s.already_present}' for s in done[-5:])} records)" if done else "")
            + "; unfinished: "
            + (", ".join(f"{s.day} ({s.sent} records sent by this run, {s.already_present} there before)" for s in open_)
               or "none")
            + ". What was committed stays; a restart sends exactly the rest."
        )
        error = type(last) if isinstance(last, PublishError) and not isinstance(last, Fenced) else PublishError
        try:
            return error(message)
        except TypeError:
            return PublishError(message)

    def _push(self, heap, tie, open_day: _OpenDay) -> None:
        self._requeue(heap, tie, open_day, next(open_day.moments, None))

    def _requeue(self, heap, tie, open_day: _OpenDay, moment: Moment | None) -> None:
        """Put the day's next ``moment`` in the merge, or close the day when it has none left."""
        if moment is None:
            self._close_day(open_day)
            return
        heapq.heappush(heap, (moment.due, open_day.ordinal, next(tie), moment, open_day))

    def _play_run(self, moment: Moment, open_day: _OpenDay, pacer: Pacer, heap, upcoming) -> Moment | None:
        """Play ``moment``, then the moments of its day after it for as long as the merge
        would hand them out next anyway; return the first one left (None: the day ended).

        The merge orders moments by (due, day, first queued): the day's next moment comes
        next while it is strictly before the other open days' first one (``heap[0]``; a tie
        goes to the one queued earlier) and before the next day or store-day opens
        (``upcoming``). So a day at full speed skips the heap, and the clock is read once
        per batch of due moments instead of three times per moment. At most ``RUN_LENGTH``
        moments in a row: between runs the loop looks at the stop request's effects,
        progress and the days to open, as it always did.
        """
        other_due, other_day = (heap[0][0], heap[0][1]) if heap else (math.inf, 0)
        opens_at = upcoming[0] if upcoming is not None else math.inf
        day = open_day.ordinal
        moments = open_day.moments
        stop = self.stop
        # The last clock reading of this run (simulated time only grows): a chain's store-days
        # interleave, one moment per call, and a moment due by then needs no new reading.
        sim_now = self._sim_seen
        for _ in range(RUN_LENGTH):
            sim_now = self._play(moment, open_day, pacer, sim_now)
            if sim_now is None or stop.is_set():
                return None
            self._sim_seen = sim_now
            moment = next(moments, None)
            if moment is None:
                return None
            due = moment.due
            if due >= opens_at or due > other_due or (due == other_due and day >= other_day):
                break
        return moment

    def _play(self, moment: Moment, open_day: _OpenDay, pacer: Pacer, sim_now: float) -> float | None:
        """Play one moment: skip it before a fresh start or where the topics hold it, wait
        until it is due, send its records, count them.

        ``sim_now`` is the simulated time of the last clock reading; the clock is read
        again only when the moment is not due by it, or when the moment is live (due
        after the run started: its lateness goes in the summary). Returns the reading
        after the moment, None when a stop came during the wait.
        """
        summary = open_day.summary
        if open_day.skip_before is not None and moment.visit.entry_ts < open_day.skip_before:
            summary.skipped_before_start += len(moment.records)
            return sim_now
        records = moment.records
        if open_day.holdings is not None:
            holdings = open_day.holdings
            records = tuple(r for r in records if not holdings.holds(r, self.publisher.partition_for(r.topic, r.key)))
            if open_day.base is None:
                summary.already_present += len(moment.records) - len(records)
            elif len(records) < len(moment.records):
                self._recount(open_day, moment, records)
            if not records:
                return sim_now
        due = moment.due
        live = pacer.sim0 <= due
        if due > sim_now or live:
            sim_now = pacer.sim_now()
            if due > sim_now:
                self.publisher.idle(pacer.wall_delay(due))  # e.g. commit: what was sent becomes visible while we wait
                if not pacer.wait_until(due):
                    return None
                sim_now = pacer.sim_now()
            lag = (sim_now - due) / pacer.time_scale
            if live and lag > summary.max_lag_seconds:
                summary.max_lag_seconds = lag
        send = open_day.writer.send
        sent_per_topic = summary.sent_per_topic
        for record in records:
            send(record)
            sent_per_topic[record.topic] += 1
        self._run_sent += len(records)
        if moment.entering:
            slot = moment.visit.slot
            summary.entries_per_slot[open_day.labels[slot]] += 1
            if open_day.chain:
                return sim_now
            if slot != open_day.slot:
                if open_day.slot >= 0:
                    self._slot_done(open_day)
                open_day.slot = slot
                open_day.slot_entries = 0
            open_day.slot_entries += 1
        return sim_now

    def _slot_done(self, open_day: _OpenDay) -> None:
        slot = open_day.plan.profile.slots[open_day.slot]
        log.log(
            self.detail_level,
            "%s slot %s done: %d of %d planned visits entered, %d in store",
            open_day.plan.day, slot.label, open_day.slot_entries,
            open_day.plan.slot_counts[open_day.slot], open_day.stream.inside,
        )

    def _progress(self, open_day: _OpenDay, pacer: Pacer) -> None:
        s = open_day.summary
        slot = open_day.slot if open_day.slot >= 0 else 0
        self.progress.tick(
            Snapshot(
                day=s.day,
                slot=open_day.plan.profile.slots[slot].label,
                records_sent=s.sent,
                records_planned=3 * s.total_visits,
                records_present=s.already_present,
                sent_per_topic=dict(s.sent_per_topic),
                run_records_sent=self._run_sent,
                days_done=self._days_done,
                inside=open_day.stream.inside,
                sim_time=pacer.sim_now(),
                max_lag_seconds=s.max_lag_seconds,
            )
        )

    def _chain_progress(self, heap, summaries: list[DaySummary], pacer: Pacer) -> None:
        days = {id(entry[4]): entry[4] for entry in heap}
        open_summaries = [d.summary for d in days.values()]
        self.progress.tick(
            Snapshot(
                day=min((s.day for s in open_summaries), default=summaries[-1].day if summaries else date.min),
                slot="",
                records_sent=sum(s.sent for s in open_summaries),
                records_planned=sum(3 * s.total_visits for s in open_summaries),
                records_present=sum(s.already_present for s in open_summaries),
                sent_per_topic={},
                run_records_sent=self._run_sent,
                days_done=self._days_done,
                inside=sum(d.stream.inside for d in days.values()),
                sim_time=pacer.sim_now(),
                max_lag_seconds=max((s.max_lag_seconds for s in open_summaries), default=0.0),
                store_days_open=len(days),
                store_days=tuple(
                    StoreDayProgress(s.store_id or "", s.day, s.total_visits, s.sent, s.already_present, s.finished,
                                     s.closed)
                    for s in summaries
                ),
            )
        )

    def _close_day(self, open_day: _OpenDay) -> None:
        if open_day.slot >= 0:
            self._slot_done(open_day)
        open_day.writer.finish()
        open_day.summary.finished = True
        s = open_day.summary
        key = _key(open_day)
        self._open_days.pop(key, None)
        if self.heals:
            now = self.clock.monotonic()
            self._recent = [(t, d) for t, d in self._recent if now - t <= RECHECK_FINISHED_SECONDS and _key(d) != key]
            self._recent.append((now, open_day))
        if open_day.refill:
            log.info("%s checked again after the outage and complete: %d records in the topics", _label(open_day),
                     s.sent + s.already_present)
            return
        held = open_day.holdings
        if s.sent == 0 and held is not None and not s.skipped_before_start and not self._complete_at_open(held, open_day.plan):
            # Known only now when a sensor's flaws change the day's record count.
            log.info("%s was already complete: nothing sent, %d records already present", _label(open_day),
                     s.already_present)
        if open_day.chain:
            if not s.closed:
                log.info(
                    "store %s %s finished: %d records sent, %d already present, %d skipped before start",
                    s.store_id, s.day, s.sent, s.already_present, s.skipped_before_start,
                )
        else:
            log.info(
                "%s finished: %d records sent (%s), %d already present, %d skipped before start",
                s.day, s.sent, dict(s.sent_per_topic), s.already_present, s.skipped_before_start,
            )
        self._days_done += 1
        self.progress.day_done(s.day, s.sent, s.already_present)


def _key(open_day: _OpenDay) -> tuple[str | None, date]:
    return open_day.summary.store_id, open_day.plan.day


def _label(open_day: _OpenDay) -> str:
    store = open_day.summary.store_id
    return str(open_day.plan.day) if store is None else f"store {store} {open_day.plan.day}"


def _days_text(open_days, most: int = 5) -> str:
    labels = [_label(d) for d in open_days]
    if not labels:
        return "none"
    return ", ".join(labels[:most]) + (f" and {len(labels) - most} more" if len(labels) > most else "")


def summary_label(exc: Fenced) -> str:
    if len(exc.stores) > 1:
        return f"stores {exc.stores[0]} and {len(exc.stores) - 1} more {exc.day}"
    return str(exc.day) if exc.store is None else f"store {exc.store} {exc.day}"


def days_from(first: date, count: int | None) -> Iterator[date]:
    """``count`` consecutive days from ``first`` (endless when ``count`` is None)."""
    n = itertools.count() if count is None else range(count)
    for i in n:
        yield first + timedelta(days=i)


