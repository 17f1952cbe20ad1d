"""``foot-traffic produce`` without a broker, at the seed's defaults (MAX_RETRIES=6,
RETRY_BACKOFF_SECONDS=5): it ends non-zero within a minute, in at most 15 lines, naming
the address, what it found and the fix; no client-library lines, no "delivery failed".

The addresses are local dead ends (``tests.support.dead_ends``): a refused port, a full
listen queue (connections time out) and an unresolvable name; both clients.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import nullcontext

import pytest

from foot_traffic.settings import Settings
from tests.support import dead_ends

pytestmark = pytest.mark.integration

FOUND = {"refused": "connection refused", "timed-out": "timed out after 5 s", "unresolvable": "not resolvable"}


def address_for(case: str):
    if case == "refused":
        return dead_ends.refused()
    if case == "timed-out":
        return dead_ends.full_backlog()
    return nullcontext("no-such-host.invalid:9092")


def environment(address: str, client: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in [*Settings.env_names(), "LOG_LEVEL"]}
    return {**env, "KAFKA_BROKER": address, "KAFKA_CLIENT": client}  # MAX_RETRIES, RETRY_BACKOFF_SECONDS: defaults


@pytest.mark.parametrize(("case", "client"), [
    ("refused", "kafka-python"), ("unresolvable", "confluent"), ("timed-out", "kafka-python"),
])
def test_no_broker_ends_within_a_minute_in_a_few_lines_naming_address_problem_and_fix(case, client):
    with address_for(case) as address:
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "foot_traffic", "produce", "--date", "2025-11-07"],
            env=environment(address, client), capture_output=True, text=True, timeout=120,
        )
        took = time.monotonic() - started
    print(f"{case} ({client}): exit {run.returncode} after {took:.1f} s, {len(run.stderr.splitlines())} lines")
    assert run.returncode == 1, run.stderr
    assert 20 <= took < 60, took  # six attempts five seconds apart
    lines = (run.stdout + run.stderr).splitlines()
    assert len(lines) <= 15, run.stderr
    assert f"cannot reach Kafka at {address}: " in run.stderr and FOUND[case] in run.stderr
    assert "6 attempts" in run.stderr and "Nothing was sent" in run.stderr
    assert "make broker" in run.stderr and "KAFKA_BROKER=127.0.0.1:19092" in run.stderr
    for noise in ("ERROR kafka", "librdkafka", "delivery failed", "Traceback", "attempts)"):
        assert noise not in run.stderr, noise


def test_one_attempt_is_one_attempt():
    with dead_ends.refused() as address:
        env = {**environment(address, "kafka-python"), "MAX_RETRIES": "1"}
        run = subprocess.run([sys.executable, "-m", "foot_traffic", "produce", "--date", "2025-11-07"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "(1 attempt in " in run.stderr, run.stderr


def test_ctrl_c_while_waiting_for_the_broker_exits_130_having_sent_nothing():
    with dead_ends.refused() as address:
        proc = subprocess.Popen([sys.executable, "-m", "foot_traffic", "produce", "--date", "2025-11-07"],
                                env=environment(address, "kafka-python"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        err = ""
        while "attempt 1 of 6" not in err and time.monotonic() < deadline:
            err += proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=30)
    assert proc.returncode == 130, err + rest
    assert "stopped by SIGINT (Ctrl-C) before anything was sent" in rest
