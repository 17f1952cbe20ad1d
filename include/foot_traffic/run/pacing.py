"""Clocks and the pacer: release each event at its due time, no polling loop.

The simulated clock runs ``time_scale`` times faster than the wall clock from an anchor:
``sim(t) = sim0 + time_scale * (t - t0)``. With the default anchor (``sim0`` = the wall
time at start) and ``time_scale = 1`` the simulated clock *is* real UTC, so event
timestamps are the real time of sending. With ``time_scale = k`` the timestamps are
simulated times: they keep their planned values (exit - entry = trip duration, weekday
and slot match), and k simulated seconds pass per wall second. Events whose simulated
time has already passed are due at once, in order, with their own timestamps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


# Due times are whole seconds; a wait this short is not worth a system call.
EARLY_TOLERANCE = 1e-6


class Clock(Protocol):
    """What the engine needs of time; injected so tests run a day in milliseconds."""

    def now(self) -> datetime:
        """Aware UTC wall-clock time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Sleep up to ``seconds``; return True at once when ``stop`` is set."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(seconds)


class Pacer:
    """Waits until a simulated due time, in slices of at most ``max_wait`` wall seconds."""

    def __init__(self, clock: Clock, time_scale: float, max_wait: float, stop: threading.Event, sim_anchor: float | None = None):
        self.clock = clock
        self.time_scale = time_scale
        self.max_wait = max_wait
        self.stop = stop
        self._t0 = clock.monotonic()
        self.sim0 = clock.now().timestamp() if sim_anchor is None else sim_anchor

    def sim_now(self) -> float:
        """Simulated epoch seconds now."""
        return self.sim0 + (self.clock.monotonic() - self._t0) * self.time_scale

    def wall_delay(self, due: float) -> float:
        """Wall seconds until ``due`` (negative: that late)."""
        return (due - self.sim_now()) / self.time_scale

    def wait_until(self, due: float, between: Callable[[], None] | None = None) -> bool:
        """Block until ``due``; False if a stop was requested first. ``between`` is called
        after each slice of a longer wait (a live display shows the clock moving)."""
        while True:
            if self.stop.is_set():
                return False
            delay = self.wall_delay(due)
            if delay <= EARLY_TOLERANCE:
                return True
            if self.clock.wait(min(delay, self.max_wait), self.stop):
                return False
            if between is not None and delay > self.max_wait:
                between()
