"""``make broker`` (``python -m foot_traffic.local_broker``) says when it could not start,
and exits 1: another process holds the port, or another broker the data directory."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import closing

import pytest

from foot_traffic.local_broker import LocalBroker, free_port

pytestmark = pytest.mark.integration


def broker_command(port: int, data_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "foot_traffic.local_broker", "--port", str(port), "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )


def test_a_taken_port_is_refused_at_once(tmp_path):
    with closing(socket.socket()) as other:
        other.bind(("127.0.0.1", 0))
        other.listen(8)
        port = other.getsockname()[1]
        started = time.monotonic()
        run = broker_command(port, tmp_path / "data")
    assert run.returncode == 1, run.stdout + run.stderr
    assert time.monotonic() - started < 10
    assert f"port {port} on 127.0.0.1 is already in use" in run.stderr
    assert "ready" not in run.stdout


def test_a_data_directory_held_by_a_running_broker_is_refused_with_the_brokers_reason(tmp_path):
    with LocalBroker(tmp_path / "data") as running:
        run = broker_command(free_port(), running.data_dir)
        assert running.running()  # the first broker is left alone
    assert run.returncode == 1, run.stdout + run.stderr
    assert "ended before it was ready" in run.stderr and "already running" in run.stderr
    assert "ready at" not in run.stdout
