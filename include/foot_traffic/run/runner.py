"""The one runner behind every front door (``foot-traffic produce``, the Airflow operators).

A run plays store-days (a run without a catalogue: the implicit store's days) merged by
due time (``scheduler``): each opens at its local midnight from where it stands
(``taking``: a local day is taken for all of the run's stores at once, through one
producer), its records are released at their due time through its writer, and it is
finished once its last records and its ``finished`` position are committed. A day's late
exits after midnight interleave with the next day's first entries, as in a real store.

A run fenced by a newer run of one of its days (``Fenced``) stops as if asked to: the
other days' records sent so far are committed, and the fenced store-days' summaries say
``fenced`` and name the newer run; nothing is raised (the data is consistent), the front
doors decide what it means (``outcome``).

Any other delivery failure mid-stream (broker gone, a record not acknowledged,
acknowledged writes lost) is healed in-process (``healing``) when ``MAX_RETRIES`` > 0; a
record the broker refused as invalid (``RecordRefused``: a schema-enforcing broker) is
refused again, so it ends the run at once.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta

from foot_traffic.delivery.errors import Fenced, PublishError, RecordRefused
from foot_traffic.run.healing import Healer
from foot_traffic.run.open_day import OpenDay
from foot_traffic.run.pacing import Clock, Pacer, SystemClock
from foot_traffic.run.progress import LogProgress, ProgressReporter, Snapshot, StoreDayProgress
from foot_traffic.run.scheduler import Scheduler
from foot_traffic.run.summary import DaySummary, label
from foot_traffic.run.taking import DayTaker, summary_for
from foot_traffic.model.profile import Profile
from foot_traffic.plan.implicit import implicit_catalogue
from foot_traffic.plan.store_days import store_days
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import Catalogue

log = logging.getLogger("foot_traffic.runner")  # one logger for the run package: what operators filter on


def _transient() -> tuple[type[BaseException], ...]:
    """Errors an outage may surface as: delivery's, and kafka-python's raw ones."""
    try:
        from kafka.errors import KafkaError
    except ImportError:  # pragma: no cover - kafka-python is a dependency
        return (PublishError, OSError)
    return (PublishError, KafkaError, OSError)


class Runner:
    """Plays store-days through a delivery (``foot_traffic.delivery``). ``stop`` ends the stream cleanly."""

    def __init__(
        self,
        settings,
        delivery,
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
        :param detail_level: log level of the per-slot lines; DEBUG keeps a long backfill short.
        :param probe: one quick reachability check (raises ``BrokerUnavailable``), tried after
            each back-off of an outage before reconnecting; None: reconnect directly.
        :param rng: jitter of the outage back-off (tests fix it)."""
        self.settings = settings
        self.delivery = delivery
        self.clock = clock or SystemClock()
        self.stop = stop or threading.Event()
        # A run without a catalogue plays the implicit store, a catalogue of one.
        self.catalogue = catalogue if catalogue is not None else implicit_catalogue(settings, profile)
        self.stores = list(self.catalogue.stores)
        self.sim_anchor = sim_anchor
        self.progress_every = progress_every
        self.progress = progress or LogProgress()
        self.detail_level = detail_level
        self.topics = [settings.kafka_topic, settings.kafka_topic_realistic]
        self.fenced: Fenced | None = None  # set when a newer run took one of the days
        self.from_now: float | None = None
        self.taker = DayTaker(self)
        self.healer = Healer(self, probe, rng or random.Random())
        self.open_days: dict[tuple, OpenDay] = {}
        self.run_sent = 0
        self.days_done = 0
        self.last_progress = -float("inf")  # monotonic time of the last progress report
        self.summaries: list[DaySummary] = []

    @property
    def records_sent(self) -> int:
        """Records this run has sent so far, every day together."""
        return self.run_sent

    @property
    def outages(self) -> list[dict]:
        return self.healer.outages

    @property
    def stopped_in_outage(self) -> bool:
        return self.healer.stopped_in_outage

    @property
    def heals(self) -> bool:
        """Whether a delivery failure mid-stream is healed in-process: ``MAX_RETRIES`` > 0 and resume on."""
        return self.settings.max_retries > 0 and self.settings.resume

    # -- running ----------------------------------------------------------------------------
    def run(self, days: Iterable[date], *, first_from_now: bool = False, keep_summaries: bool = True,
            days_total: int | None = None) -> list[DaySummary]:
        """Play ``days`` (possibly endless), merged by due time; return one summary per
        store-day. ``first_from_now``: a run started mid-day plays the rest of today (and
        leaves out store-days already over locally). ``keep_summaries`` False keeps only the
        store-days under way (an endless run of many stores). ``days_total`` is only for the
        progress display."""
        if days_total is None and isinstance(days, (list, tuple)):
            days_total = len(days)
        self.progress.started(days_total)
        try:
            return self._run(days, first_from_now, keep_summaries)
        finally:
            self.progress.finished()

    def _run(self, days: Iterable[date], first_from_now: bool, keep_summaries: bool) -> list[DaySummary]:
        self.from_now = self.clock.now().timestamp() if first_from_now else None
        self.summaries = []
        transient = _transient()
        scheduler: Scheduler | None = None
        try:
            try:
                while True:  # once, plus once more after each outage healed
                    try:
                        if scheduler is None:
                            self.delivery.connect()
                            # After connecting: the simulated clock starts when records can be sent.
                            pacer = Pacer(self.clock, self.settings.time_scale, self.settings.sleep, self.stop,
                                          self.sim_anchor)
                            scheduler = Scheduler(self, pacer, store_days(self.catalogue, days, from_now=self.from_now),
                                                  keep_summaries)
                        scheduler.run()
                        self.delivery.flush()
                        if not self.stop.is_set():
                            self.delivery.verify()
                        break
                    except transient as exc:
                        if isinstance(exc, (Fenced, InterruptedError, RecordRefused)) or not self.heals:
                            raise  # a refused record is refused again: no outage to heal
                        if not self.healer.heal(exc, scheduler):
                            break  # stopped while waiting for the broker
            except Fenced as exc:
                self._was_fenced(exc)
        finally:
            stopped = self.stop.is_set() or self.fenced is not None
            try:
                if stopped:
                    try:
                        self.delivery.flush()
                    except Fenced as exc:  # fenced while stopping: still not an error of the data
                        self._was_fenced(exc)
            finally:
                self.delivery.shutdown()
        for s in self.summaries:
            s.stopped = stopped and not s.finished and not s.fenced
        if not keep_summaries:
            return [s for s in self.summaries if not s.finished]
        return self.summaries

    # -- store-days -------------------------------------------------------------------------
    def open(self, unit) -> OpenDay:
        day = self.taker.open(unit)
        self.open_days[day.key] = day
        self.summaries.append(day.summary)
        return day

    def log_opened(self, day: OpenDay, state, holdings=None) -> None:
        plan, summary = day.plan, day.summary
        store = summary.store_id
        if store is None:
            log.info("plan for %s (%s): %d visits, seed %d, profile %s, plan id %s",
                     plan.day, plan.weekday, plan.total, plan.seed, plan.profile.name, plan.plan_id)
            widest = max(plan.slot_counts) or 1
            for slot_label, count in zip(plan.labels, plan.slot_counts):
                log.log(self.detail_level, "  slot %s  %6d visits  %s", slot_label, count,
                        "#" * round(30 * count / widest))
        elif summary.closed:
            unit_store = day.unit.store
            reason = "closed_on" if plan.day in unit_store.closed_on else f"no opening hours on {plan.weekday}s"
            log.info("store %s is closed on %s (%s, %s): nothing to send", store, plan.day, plan.weekday, reason)
        else:
            unit_store = day.unit.store
            log.info("store %s %s (%s, %s, open %s): %d visits, seed %d, plan id %s", store, plan.day, plan.weekday,
                     unit_store.timezone, unit_store.hours_text(plan.day), plan.total, plan.seed, plan.plan_id)
        if state.finished:
            log.info("%s is already complete: nothing to send", label(store, plan.day))
        elif state.position:
            log.info("%s: resuming, the topics already hold the first %d records of this plan",
                     label(store, plan.day), state.position)
        elif holdings is not None:
            log.info("%s: resuming, the topics already hold %d records of this plan (%s)", label(store, plan.day),
                     holdings.total, dict(holdings.count))

    def close_day(self, day: OpenDay) -> None:
        """The store-day's stream ended: its writer commits it (now, or with the next commit)."""
        if day.slot >= 0 and not day.compact:
            self.slot_done(day)
        day.done = True
        day.writer.finish(day.link)

    def day_committed(self, day: OpenDay) -> None:
        """A store-day's ``finished`` position is committed: it is complete."""
        self.open_days.pop(day.key, None)
        self.healer.finished(day)
        s = day.summary
        if self.healer.replaying(day):
            log.info("%s checked again after the outage and complete: %d records in the topics",
                     label(s.store_id, s.day), day.position)
            return
        if not s.closed or s.store_id is None:
            log.info("%s finished: %d records sent (%s), %d already present, %d skipped before start",
                     label(s.store_id, s.day), s.sent, dict(s.sent_per_topic), s.already_present,
                     s.skipped_before_start)
        self.days_done += 1
        self.progress.day_done(s.day, s.sent, s.already_present)

    def slot_done(self, day: OpenDay) -> None:
        log.log(self.detail_level, "%s slot %s done: %d of %d planned visits entered, %d in store",
                day.plan.day, day.labels[day.slot], day.slot_entries, day.plan.slot_counts[day.slot],
                day.stream.inside)

    def report_progress(self, open_days: list[OpenDay], pacer: Pacer) -> None:
        self.progress.tick(self.snapshot(open_days, pacer))

    def report_waiting(self, open_days: list[OpenDay], pacer: Pacer) -> None:
        """A paced run waits for its next moment: where it is, by the simulated clock."""
        self.progress.waiting(self.snapshot(open_days, pacer, by_clock=True))

    def snapshot(self, open_days: list[OpenDay], pacer: Pacer, *, by_clock: bool = False) -> Snapshot:
        """Where the run is. One store's day names its slot: the last entry's, or (waiting, or
        before its first entry) the one the simulated clock is in."""
        summaries = [d.summary for d in open_days]
        single = open_days[0] if len(open_days) == 1 and not open_days[0].compact else None
        slot = ""
        if single is not None:
            slot = single.labels[max(single.slot, 0)] if single.labels else ""
            if by_clock or single.slot < 0:
                minute = (pacer.sim_now() - single.plan.start) / 60
                slot = next((x.label for x in single.plan.profile.slots if x.start_minute <= minute < x.end_minute),
                            slot)
        return Snapshot(
            day=min((s.day for s in summaries), default=self.summaries[-1].day if self.summaries else date.min),
            slot=slot,
            records_sent=sum(s.sent for s in summaries),
            records_planned=sum(3 * s.total_visits for s in summaries),
            records_present=sum(s.already_present for s in summaries),
            sent_per_topic=dict(single.summary.sent_per_topic) if single is not None else {},
            run_records_sent=self.run_sent,
            days_done=self.days_done,
            inside=sum(d.stream.inside for d in open_days),
            sim_time=pacer.sim_now(),
            max_lag_seconds=max((s.max_lag_seconds for s in summaries), default=0.0),
            store_days_open=0 if single is not None else len(open_days),
            store_days=() if single is not None else tuple(
                StoreDayProgress(s.store_id or "", s.day, s.total_visits, s.sent, s.already_present, s.finished,
                                 s.closed)
                for s in self.summaries
            ),
        )

    def _was_fenced(self, exc: Fenced) -> None:
        """A newer run took ``exc.day`` of some of this run's stores: stop every day here, as a
        stop request would; the fenced store-days' summaries say so."""
        self.fenced = exc
        stores = set(exc.stores)
        fenced = [s for s in self.summaries if s.day == exc.day and s.store_id in stores and not s.finished]
        if not fenced:  # fenced while taking the day: nothing of it was sent
            for store in exc.stores:
                fenced.append(self._unplayed_summary(exc.day, store))
        for summary in fenced:
            summary.fenced = True
            summary.fenced_by = exc.by
        log.warning("%s: stopping: another run now writes it; committing what the other days sent", summary_label(exc))

    def _unplayed_summary(self, day: date, store: str | None) -> DaySummary:
        seed = self.settings.seed if self.settings.seed is not None else -1
        if seed >= 0:
            plan = plan_store_day(self.catalogue.get(store), day, self.settings, seed)
            summary = summary_for(plan, store, tuple(self.topics))
        else:
            summary = DaySummary(day=day, plan_id="", seed=-1, total_visits=0, planned_per_slot={},
                                 store_id=store, topics=tuple(self.topics))
        self.summaries.append(summary)
        return summary


def summary_label(exc: Fenced) -> str:
    stores = [s for s in exc.stores if s is not None]
    if len(stores) > 1:
        return f"stores {stores[0]} and {len(stores) - 1} more {exc.day}"
    return label(stores[0] if stores else None, exc.day)


def days_from(first: date, count: int | None) -> Iterator[date]:
    """``count`` consecutive days from ``first`` (endless when ``count`` is None)."""
    n = itertools.count() if count is None else range(count)
    for i in n:
        yield first + timedelta(days=i)


__all__ = ["Runner", "DaySummary", "days_from", "summary_label"]
