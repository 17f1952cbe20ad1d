"""The pacer on a fake clock: due times, time scale, bounded waits, stop."""

import threading
from datetime import UTC, datetime

import pytest

from foot_traffic.run.pacing import Pacer
from foot_traffic.testing import FakeClock

T0 = datetime(2025, 11, 7, 12, 0, tzinfo=UTC)


def test_fake_clock_refuses_naive_time():
    with pytest.raises(ValueError):
        FakeClock(datetime(2025, 1, 1))


def test_real_time_at_scale_one_waits_exactly_until_due():
    clock = FakeClock(T0)
    pacer = Pacer(clock, 1.0, max_wait=0.5, stop=threading.Event())
    due = T0.timestamp() + 2.0
    assert pacer.wait_until(due)
    assert clock.now().timestamp() == pytest.approx(due)
    assert max(clock.waits) <= 0.5  # SLEEP is the longest single wait
    assert sum(clock.waits) == pytest.approx(2.0)


def test_time_scale_compresses_the_day():
    clock = FakeClock(T0)
    pacer = Pacer(clock, 60.0, max_wait=0.5, stop=threading.Event())
    assert pacer.wait_until(T0.timestamp() + 3600)  # one simulated hour
    assert sum(clock.waits) == pytest.approx(60.0)  # one wall minute


def test_past_events_are_due_at_once():
    clock = FakeClock(T0)
    pacer = Pacer(clock, 1.0, max_wait=0.5, stop=threading.Event())
    assert pacer.wait_until(T0.timestamp() - 86400)
    assert clock.waits == []


def test_anchor_at_midnight_plays_the_day_from_its_start():
    clock = FakeClock(T0)
    midnight = datetime(2025, 11, 7, tzinfo=UTC).timestamp()
    pacer = Pacer(clock, 1440.0, max_wait=0.5, stop=threading.Event(), sim_anchor=midnight)
    assert pacer.wait_until(midnight + 86400)
    assert sum(clock.waits) == pytest.approx(60.0)


def test_stop_is_seen_within_one_wait():
    clock = FakeClock(T0)
    stop = threading.Event()
    clock.on_wait = lambda c: stop.set() if len(c.waits) == 3 else None
    pacer = Pacer(clock, 1.0, max_wait=0.5, stop=stop)
    assert pacer.wait_until(T0.timestamp() + 3600) is False
    assert len(clock.waits) == 3


def test_between_is_called_after_each_slice_of_a_longer_wait_only():
    clock = FakeClock(T0)
    pacer = Pacer(clock, 1.0, max_wait=0.5, stop=threading.Event())
    seen = []
    assert pacer.wait_until(T0.timestamp() + 2.0, lambda: seen.append(clock.monotonic()))
    assert seen == pytest.approx([0.5, 1.0, 1.5])  # not after the last slice: the wait is over
    assert pacer.wait_until(T0.timestamp() + 2.3, lambda: seen.append("short"))
    assert "short" not in seen
