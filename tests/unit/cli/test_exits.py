"""How ``foot-traffic produce`` ends: the stop signals choose the exit code; the line of a
stopped run says what it delivered."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import date

import pytest

from foot_traffic.cli.exits import EXIT_SIGINT, EXIT_SIGTERM, StopSignals, delivered
from foot_traffic.run.summary import DaySummary


@pytest.fixture
def restore_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.mark.parametrize(("signum", "code", "name"), [
    (signal.SIGINT, EXIT_SIGINT, "SIGINT (Ctrl-C)"), (signal.SIGTERM, EXIT_SIGTERM, "SIGTERM"),
])
def test_the_first_signal_sets_the_stop_and_chooses_the_exit_code(signum, code, name, restore_handlers, caplog):
    signals = StopSignals().install()
    os.kill(os.getpid(), signum)
    other = signal.SIGTERM if signum == signal.SIGINT else signal.SIGINT
    os.kill(os.getpid(), other)  # a second, other signal changes nothing
    assert signals.event.is_set() and signals.exit_code == code and signals.name == name
    assert (EXIT_SIGINT, EXIT_SIGTERM) == (130, 143)
    assert [r.getMessage() for r in caplog.records].count(
        f"{name} received: no new events; flushing what was sent, then exiting") == 1


def summary(day: int, sent: int, *, finished: bool, present: int = 0, store: str | None = None) -> DaySummary:
    return DaySummary(date(2025, 1, day), "p", 1, 100, {}, Counter({"s": sent}), already_present=present,
                      finished=finished, store_id=store)


def test_what_a_stopped_run_delivered():
    text = delivered([summary(1, 300, finished=True), summary(2, 42, finished=False, present=9)], 342)
    assert text == ("342 records sent, every one acknowledged; 1 day complete; "
                    "unfinished: 2025-01-02 (42 sent, 9 there before)")


def test_a_stopped_chain_names_at_most_five_unfinished_store_days():
    days = [summary(1, n, finished=False, store=f"s{n}") for n in range(1, 9)]
    text = delivered(days, 36)
    assert "s1 2025-01-01 (1 sent)" in text and "s6" not in text and "and 3 more" in text


def test_nothing_sent_says_so():
    assert delivered([summary(1, 0, finished=False)], 0) == "nothing was sent"


def test_a_stop_during_an_outage_claims_no_acknowledgement():
    text = delivered([summary(1, 42, finished=False)], 42, acknowledged=False)
    assert text.startswith("42 records sent; unfinished") and "acknowledged" not in text
