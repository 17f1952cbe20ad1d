"""How a run tells people how far it is: a small observer the runner calls.

The runner knows where it is (days open and done, records sent, simulated time, lag);
what to do with that is the front door's choice. :class:`LogProgress` writes plain log
lines at a steady cadence (Airflow, Docker logs, CI, a pipe); the CLI swaps in a live
terminal display (``foot_traffic.cli.terminal``) when standard error is a terminal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

log = logging.getLogger("foot_traffic.runner")


@dataclass(frozen=True)
class StoreDayProgress:
    """One store-day of a catalogue, as far as it is: opened (planned) or finished."""

    store_id: str
    day: date  # the store's local day
    visits: int  # planned
    sent: int  # records, by this run
    present: int  # records already in the topics when it opened (resume)
    finished: bool
    closed: bool  # the store does not open that day


@dataclass(frozen=True)
class Snapshot:
    """Where a run is, taken every ``progress_every`` seconds."""

    day: date  # the day of the record just played
    slot: str  # its slot label
    records_sent: int  # this day
    records_planned: int  # this day (3 per visit)
    records_present: int  # this day, already in the topics (resume)
    sent_per_topic: dict[str, int]  # this day
    run_records_sent: int  # every day of the run so far
    days_done: int
    inside: int  # customers in the store now (this day)
    sim_time: float  # simulated epoch seconds
    max_lag_seconds: float  # this day
    store_days_open: int = 0  # with a store catalogue: store-days under way (the figures above sum them)
    store_days: tuple[StoreDayProgress, ...] = ()  # with a store catalogue: each store-day opened so far


class ProgressReporter(Protocol):
    def started(self, days_total: int | None) -> None:
        """The run starts; ``days_total`` None: endless (day after day)."""

    def tick(self, snap: Snapshot) -> None:
        """Called every ``progress_every`` seconds while records flow."""

    def waiting(self, snap: Snapshot) -> None:
        """Nothing is due for a while (a paced run): called at the start of the wait and
        every ``SLEEP`` seconds during it, the slot that of the simulated clock."""

    def day_done(self, day: date, records_sent: int, records_present: int) -> None:
        """A day's last record was played."""

    def finished(self) -> None:
        """The run ends (normally, stopped or failed): release the display."""


class LogProgress:
    """Plain log lines, one per tick: the default everywhere without a terminal."""

    def started(self, days_total: int | None) -> None:
        pass

    def tick(self, snap: Snapshot) -> None:
        if snap.store_days_open:
            log.info(
                "progress: %d records sent, %d store-days done, %d under way, %d customers in stores, "
                "simulated time %s",
                snap.run_records_sent, snap.days_done, snap.store_days_open, snap.inside, iso_seconds(snap.sim_time),
            )
            return
        log.info(
            "%s progress: %d records sent (%s), %d already present, %d customers in store, "
            "simulated time %s, max lag behind schedule %.3f s",
            snap.day, snap.records_sent, snap.sent_per_topic, snap.records_present, snap.inside,
            iso_seconds(snap.sim_time), snap.max_lag_seconds,
        )

    def waiting(self, snap: Snapshot) -> None:
        pass  # the lines keep their cadence: one per ``progress_every`` while records flow

    def day_done(self, day: date, records_sent: int, records_present: int) -> None:
        pass

    def finished(self) -> None:
        pass


def iso_seconds(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
