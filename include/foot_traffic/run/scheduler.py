"""The merge of every open store-day's moments by due time, and their release at that time.

One heap holds the next moment of each open store-day; store-days open in the order of
their local midnights. The loop plays runs of one store-day's moments while they come
before every other one's (``play_run``), so a day at full speed skips the heap and the
clock is read once per batch of due moments.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections.abc import Iterator

from foot_traffic.records.events import Moment
from foot_traffic.run.open_day import OpenDay
from foot_traffic.run.pacing import Pacer

# Moments of one store-day the loop plays in a row before it looks at the merge again:
# long enough to make the heap's cost vanish, short enough that progress and store-days
# to open are looked at every millisecond or so.
RUN_LENGTH = 256


class Scheduler:
    """Plays the runner's store-days in due-time order through their writers."""

    def __init__(self, runner, pacer: Pacer, units: Iterator, keep_summaries: bool):
        self.runner = runner
        self.pacer = pacer
        self.units = units
        self.keep_summaries = keep_summaries
        self.heap: list[tuple[int, int, int, Moment, OpenDay]] = []
        self.tie = itertools.count()
        self.upcoming = next(units, None)
        self.sim_seen = -math.inf  # the last clock reading (simulated time only grows)

    def push(self, day: OpenDay) -> None:
        """Put ``day``'s next moment in the merge, or close it when it has none left."""
        moment = next(day.moments, None)
        if moment is None:
            self.runner.close_day(day)
            return
        heapq.heappush(self.heap, (moment.due, day.ordinal, next(self.tie), moment, day))

    def open_days(self, playing: OpenDay | None = None) -> list[OpenDay]:
        """The store-days in the merge (and ``playing``, the one out of it being played)."""
        days = {id(entry[4]): entry[4] for entry in self.heap}
        if playing is not None and not playing.done:
            days[id(playing)] = playing
        return list(days.values())

    def run(self) -> None:
        runner = self.runner
        heap, tie, stop = self.heap, self.tie, runner.stop
        heappush, heappop = heapq.heappush, heapq.heappop
        clock = runner.clock
        runner.last_progress = clock.monotonic()
        while True:
            upcoming = self.upcoming
            if upcoming is not None and (not heap or heap[0][0] >= upcoming.start):
                self.push(runner.open(upcoming))
                self.upcoming = next(self.units, None)
                if not self.keep_summaries:
                    runner.summaries[:] = [s for s in runner.summaries if not s.finished]
                continue
            if not heap:
                return
            _, _, _, moment, day = heappop(heap)
            moment = self.play_run(moment, day)
            if stop.is_set():
                return
            if moment is None:
                runner.close_day(day)
            else:
                heappush(heap, (moment.due, day.ordinal, next(tie), moment, day))
            now = clock.monotonic()
            if now - runner.last_progress >= runner.progress_every:
                runner.last_progress = now
                runner.report_progress(self.open_days(day), self.pacer)

    def play_run(self, moment: Moment, day: OpenDay) -> Moment | None:
        """Play ``moment``, then the moments of its store-day after it for as long as the merge
        would hand them out next anyway; return the first one left (None: the day ended)."""
        heap = self.heap
        other_due, other_day = (heap[0][0], heap[0][1]) if heap else (math.inf, 0)
        opens_at = self.upcoming.start if self.upcoming is not None else math.inf
        ordinal = day.ordinal
        moments = day.moments
        stop = self.runner.stop
        sim_now = self.sim_seen
        for _ in range(RUN_LENGTH):
            sim_now = self.play(moment, day, sim_now)
            if sim_now is None or stop.is_set():
                return None
            self.sim_seen = sim_now
            moment = next(moments, None)
            if moment is None:
                return None
            due = moment.due
            if due >= opens_at or due > other_due or (due == other_due and ordinal >= other_day):
                break
        return moment

    def play(self, moment: Moment, day: OpenDay, sim_now: float) -> float | None:
        """Play one moment: skip it before a fresh start or where the topics hold it, wait
        until it is due, send its records, count them. Returns the simulated time of the last
        clock reading, None when a stop came during the wait."""
        summary = day.summary
        records = moment.records
        n = len(records)
        if day.skip_before is not None and moment.visit.entry_ts < day.skip_before:
            summary.skipped_before_start += n
            day.position += n
            return sim_now
        if day.skip is not None:
            records = day.skip.apply(day, moment)
            if not records:
                day.position += n
                return sim_now
        due = moment.due
        pacer = self.pacer
        live = pacer.sim0 <= due
        if due > sim_now or live:
            sim_now = pacer.sim_now()
            if due > sim_now:
                runner = self.runner
                delay = pacer.wall_delay(due)
                runner.delivery.idle(delay)  # commit: what was sent is visible while we wait
                now = runner.clock.monotonic()
                if now - runner.last_progress >= runner.progress_every:  # paced: progress on time, not per batch
                    runner.last_progress = now
                    runner.report_progress(self.open_days(day), pacer)
                between = None
                if delay > pacer.max_wait:  # a wait worth showing: the display's clock moves on meanwhile
                    between = functools.partial(runner.report_waiting, self.open_days(day), pacer)
                    between()
                if not pacer.wait_until(due, between):
                    return None
                sim_now = pacer.sim_now()
            lag = (sim_now - due) / pacer.time_scale
            if live and lag > summary.max_lag_seconds:
                summary.max_lag_seconds = lag
        send = day.writer.send
        sent_per_topic = summary.sent_per_topic
        for record in records:
            send(record)
            sent_per_topic[record.topic] += 1
        day.position += n
        day.writer.touch(day.link)
        self.runner.run_sent += len(records)
        if moment.entering and records[0] is moment.records[0]:
            slot = moment.visit.slot
            summary.entries_per_slot[day.labels[slot]] += 1
            if day.compact:
                return sim_now
            if slot != day.slot:
                if day.slot >= 0:
                    self.runner.slot_done(day)
                day.slot = slot
                day.slot_entries = 0
            day.slot_entries += 1
        return sim_now
