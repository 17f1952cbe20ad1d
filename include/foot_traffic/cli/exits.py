"""How ``foot-traffic produce`` ends: its exit codes (``run.outcome``'s) in words, and the
stop signals that choose one.

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
from typing import Any

from foot_traffic.run.outcome import EXIT_DELIVERY, EXIT_FENCED, EXIT_OK, EXIT_SETTINGS, EXIT_SIGINT, EXIT_SIGTERM

log = logging.getLogger("foot_traffic")

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
