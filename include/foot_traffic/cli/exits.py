"""How ``foot-traffic produce`` ends: its exit codes, the stop signals that choose one,
and the line that says what a stopped run delivered.

A script can tell the endings apart: the days are done (0), a person pressed Ctrl-C
(130, as shells report SIGINT), the container or service manager stopped it (143,
SIGTERM), a newer run took a day over (3), Kafka could not be reached or did not take
the records (1), the settings are invalid (2). A stop by signal is graceful either way:
no new records, everything sent is flushed (and committed), the summary is printed,
and a restart with the same settings sends exactly the rest.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("foot_traffic")

EXIT_OK = 0
EXIT_DELIVERY = 1
EXIT_SETTINGS = 2
EXIT_FENCED = 3
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143

EXIT_CODES_TEXT = f"""\
exit codes:
  {EXIT_OK}    every day asked for was played
  {EXIT_DELIVERY}    Kafka could not be reached, or did not take the records (a broker outage
       mid-stream is healed first: MAX_RETRIES attempts, RETRY_BACKOFF_SECONDS apart,
       doubling); what was committed stays, a restart sends exactly the rest
  {EXIT_SETTINGS}    invalid settings or input (nothing was sent)
  {EXIT_FENCED}    fenced: a newer run of one of the days took it over (it continues the day)
  {EXIT_SIGINT}  stopped by Ctrl-C (SIGINT): what was sent is flushed, the summary printed
  {EXIT_SIGTERM}  stopped by SIGTERM (docker stop, systemd, kill): the same graceful stop"""


class StopSignals:
    """SIGINT and SIGTERM set ``event`` (the runner stops at its next step); the first one
    received decides the exit code."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def install(self) -> StopSignals:
        signal.signal(signal.SIGTERM, self._received)
        signal.signal(signal.SIGINT, self._received)
        return self

    def _received(self, signum: int, _frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            log.warning("%s received: no new events; flushing what was sent, then exiting", self.name)
        self.event.set()

    @property
    def name(self) -> str:
        if self.signum == signal.SIGINT:
            return "SIGINT (Ctrl-C)"
        return signal.Signals(self.signum).name if self.signum is not None else "a stop request"

    @property
    def exit_code(self) -> int:
        return EXIT_SIGINT if self.signum in (None, signal.SIGINT) else 128 + self.signum


def delivered(summaries: Sequence[Any], records_sent: int, *, acknowledged: bool = True, most: int = 5) -> str:
    """What a stopped run delivered: its records, the days complete, the unfinished ones
    and what each holds (``summaries``: the runner's ``DaySummary`` objects).
    ``acknowledged`` False: stopped during an outage, the last records' fate unknown."""
    if not records_sent and not any(s.already_present for s in summaries):
        return "nothing was sent"
    done = [s for s in summaries if s.finished]
    open_ = [s for s in summaries if not s.finished and not s.closed]

    def label(s: Any) -> str:
        return f"{s.store_id} {s.day}" if s.store_id else str(s.day)

    parts = [f"{records_sent:,} records sent" + (", every one acknowledged" if acknowledged else "")]
    if done:
        parts.append(f"{len(done):,} {'day' if len(done) == 1 else 'days'} complete")
    if open_:
        shown = ", ".join(
            f"{label(s)} ({s.sent:,} sent" + (f", {s.already_present:,} there before)" if s.already_present else ")")
            for s in open_[:most]
        )
        more = f" and {len(open_) - most:,} more" if len(open_) > most else ""
        parts.append(f"unfinished: {shown}{more}")
    return "; ".join(parts)
