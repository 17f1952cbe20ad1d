"""Self-healing: an outage mid-stream is ridden out in-process.

Any delivery failure other than a fencing (broker gone, a record not acknowledged,
acknowledged writes lost) closes every producer, waits with growing back-off
(``RETRY_BACKOFF_SECONDS`` doubled, capped, +-20 % jitter), reconnects, takes every local
day under way again (after checking that no newer run took one meanwhile: a take of this
run that the broker lost is no newer run), and replays each open store-day, and each one
finished in the last ``RECHECK_FINISHED_SECONDS`` (a crashed broker may have lost its
last records), from the position the ledger names. Nothing is lost and nothing sent
twice. The simulated clock keeps running during the outage: records due meanwhile go out
as soon as it heals, then real-time pacing resumes. ``MAX_RETRIES`` attempts per outage
(an outage after which nothing progressed shares the previous one's budget, so a record
that can never be delivered ends the run); then the error is raised with what was
delivered.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from foot_traffic.delivery.connect import backoff_delays
from foot_traffic.delivery.errors import Fenced, PublishError
from foot_traffic.run.open_day import OpenDay
from foot_traffic.run.summary import DaySummary, label

log = logging.getLogger("foot_traffic.runner")

# After an outage, store-days finished this recently (wall seconds) are taken again too: a
# broker that crashed may have lost the last acknowledged (even committed) records.
RECHECK_FINISHED_SECONDS = 30.0


class Healer:
    """The runner's outage handling: back-off, reconnect, take again, replay."""

    def __init__(self, runner, probe: Callable[[], None] | None, rng: random.Random):
        self.runner = runner
        self.probe = probe
        self.rng = rng
        self.recent: list[tuple[float, OpenDay]] = []  # (monotonic when finished, store-day)
        self.replays: set[int] = set()  # ids of store-days replayed after an outage that were finished before
        self.spent = 0  # attempts spent by outages after which nothing progressed
        self.held_mark: dict[tuple, int] = {}
        self.days_mark = 0
        self.outages: list[dict] = []  # one per recovered outage: seconds, attempts, store-days
        self.stopped_in_outage = False

    def finished(self, day: OpenDay) -> None:
        now = self.runner.clock.monotonic()
        self.recent = [(t, d) for t, d in self.recent if now - t <= RECHECK_FINISHED_SECONDS and d.key != day.key]
        self.recent.append((now, day))

    def replaying(self, day: OpenDay) -> bool:
        """Whether ``day`` was finished before the outage it was replayed after."""
        if id(day) in self.replays:
            self.replays.discard(id(day))
            return True
        return False

    def heal(self, exc: BaseException, scheduler) -> bool:
        """Recover from a delivery failure (see the module's docstring). False when stopped
        while waiting; raises the last error, naming what was delivered, once the retries are spent."""
        runner = self.runner
        clock = runner.clock
        started = clock.monotonic()
        self.recent = [(t, d) for t, d in self.recent if started - t <= RECHECK_FINISHED_SECONDS]
        chosen = {d.key: d for _, d in self.recent}
        chosen.update(runner.open_days)
        days = sorted(chosen.values(), key=lambda d: (d.plan.day, d.summary.store_id or ""))
        log.warning(
            "delivery interrupted (%s: %s) with %d store-day(s) open (%s) and %d finished lately: closing the "
            "producers; reconnecting with back-off (MAX_RETRIES=%d, RETRY_BACKOFF_SECONDS=%g)",
            type(exc).__name__, exc, len(runner.open_days), _days_text(runner.open_days.values()), len(self.recent),
            runner.settings.max_retries, runner.settings.retry_backoff_seconds,
        )
        self._close_quietly()
        if scheduler is not None:  # None: the run had not begun (its first connection failed)
            scheduler.heap.clear()
        delays = backoff_delays(runner.settings.max_retries, runner.settings.retry_backoff_seconds, self.rng)
        transient = _transient()
        last: BaseException = exc
        first_attempt = self.spent
        while True:
            if self.spent >= len(delays):
                raise self._gave_up(last, clock.monotonic() - started, self.spent)
            delay = delays[self.spent]
            self.spent += 1
            log.info("outage: attempt %d of %d to reconnect in %.1f s", self.spent, len(delays), delay)
            if clock.wait(delay, runner.stop):
                self.stopped_in_outage = True
                log.warning("stopped during an outage: records sent since the last commit may be missing; a restart "
                            "sends exactly the rest")
                return False
            try:
                if self.probe is not None:
                    self.probe()
                runner.delivery.connect()
                reopened = self._retake(days)
            except transient as failed:
                if isinstance(failed, (Fenced, InterruptedError)):
                    raise
                last = failed
                log.warning("outage: attempt %d of %d failed (%s: %s)", self.spent, len(delays),
                            type(failed).__name__, failed)
                self._close_quietly()
                continue
            break
        attempts = self.spent - first_attempt
        held = {d.key: d.skip.until if d.skip is not None and hasattr(d.skip, "until") else 0 for d in reopened}
        # An outage after which the topics hold more than after the previous one (or a store-day
        # was finished in between) gets a fresh budget; else it shares the previous one's.
        if runner.days_done > self.days_mark or any(n > self.held_mark.get(k, -1) for k, n in held.items()):
            self.spent = 0
        self.held_mark, self.days_mark = held, runner.days_done
        for day in reopened:
            runner.open_days[day.key] = day
            scheduler.push(day)  # (nothing is reopened before the run began)
        seconds = clock.monotonic() - started
        rechecked = sum(held.values())
        self.outages.append({"seconds": round(seconds, 3), "attempts": attempts, "days": len(reopened),
                             "records_rechecked": rechecked, "error": f"{type(exc).__name__}: {exc}"})
        log.warning(
            "recovered after %.1f s (%d attempt(s)): took %d store-day(s) again (%s), %d records already committed; "
            "sending the rest now (records due during the outage go out at once, then real-time pacing resumes)",
            seconds, attempts, len(reopened), _days_text(reopened), rechecked,
        )
        return True

    def _retake(self, olds: list[OpenDay]) -> list[OpenDay]:
        """Take again every local day this run holds store-days of (open, finished lately, or
        taken and not begun yet), and replay the open and lately finished ones."""
        taker = self.runner.taker
        was_finished = {id(old.summary) for old in olds if old.summary.finished}
        by_day: dict = {}
        for old in olds:
            by_day.setdefault(old.plan.day, []).append(old)
        pending = {day for day, taken in taker.taken.items()
                   if any(not link.finished and link.unit is None for link in taken.writer.links.values())}
        reopened = []
        for day in sorted(set(by_day) | pending):
            reopened += taker.retake(day, by_day.get(day, []))
        for new in reopened:
            if id(new.summary) in was_finished:
                self.replays.add(id(new))
        return reopened

    def _close_quietly(self) -> None:
        try:
            self.runner.delivery.close()
        except Exception as exc:  # noqa: BLE001 - already failing; the next attempt reconnects
            log.debug("closing the failed producers: %s", exc)

    def _gave_up(self, last: BaseException, seconds: float, attempts: int) -> PublishError:
        """The last error again, saying what was delivered (a restart sends exactly the rest)."""
        summaries: list[DaySummary] = self.runner.summaries
        done = [s for s in summaries if s.finished]
        open_ = [s for s in summaries if not s.finished]
        s = self.runner.settings
        message = (
            f"gave up after {attempts} attempt{'s' if attempts != 1 else ''} in {seconds:.0f} s to recover from an "
            f"outage (MAX_RETRIES={s.max_retries}, RETRY_BACKOFF_SECONDS={s.retry_backoff_seconds:g}); last error: "
            f"{type(last).__name__}: {last}. Delivered: {len(done)} store-day(s) complete"
            + (f" ({', '.join(f'{label(x.store_id, x.day)} {x.sent + x.already_present}' for x in done[-5:])} records)"
               if done else "")
            + "; unfinished: "
            + (", ".join(f"{label(x.store_id, x.day)} ({x.sent} records sent by this run, {x.already_present} there "
                         "before)" for x in open_[:5]) or "none")
            + ". What was committed stays; a restart sends exactly the rest."
        )
        error = type(last) if isinstance(last, PublishError) and not isinstance(last, Fenced) else PublishError
        try:
            return error(message)
        except TypeError:
            return PublishError(message)


def _transient() -> tuple[type[BaseException], ...]:
    try:
        from kafka.errors import KafkaError
    except ImportError:  # pragma: no cover - kafka-python is a dependency
        return (PublishError, OSError)
    return (PublishError, KafkaError, OSError)


def _days_text(days, most: int = 5) -> str:
    labels = [label(d.summary.store_id, d.plan.day) for d in days]
    if not labels:
        return "none"
    return ", ".join(labels[:most]) + (f" and {len(labels) - most} more" if len(labels) > most else "")
