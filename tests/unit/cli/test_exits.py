"""How ``foot-traffic produce`` ends: the stop signals choose the exit code."""

from __future__ import annotations

import os
import signal

import pytest

from foot_traffic.cli.exits import EXIT_SIGINT, EXIT_SIGTERM, StopSignals


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
