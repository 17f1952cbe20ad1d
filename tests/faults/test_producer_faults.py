"""The producer process is stopped (SIGTERM), killed (SIGKILL) or re-run; the next run
sends exactly what is missing. Each test ends by reading both topics back."""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from datetime import UTC, date, datetime

import pytest

from tests.faults.checks import check_day, produce, producer_env, spawn, wait_for_line

pytestmark = [pytest.mark.faults, pytest.mark.integration]

PAST = date(2025, 11, 7)
TRIALS = 4  # the harness (tests/faults/harness) kills producers at random moments in many more schedules
RNG = random.Random(int(os.environ.get("FAULT_SEED", "20261128")))


def today() -> date:
    return datetime.now(UTC).date()


def fresh_topics(tag: str) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"ft_{tag}_{suffix}", f"ftr_{tag}_{suffix}"


def test_completed_day_rerun_sends_nothing(kafka_bootstrap, topics, tmp_path, ledger):
    env = producer_env(kafka_bootstrap, topics)
    log = tmp_path / "produce.log"
    assert produce(env, "--date", PAST.isoformat(), log=log) == 0
    first = check_day(kafka_bootstrap, env, PAST)
    assert first.ok, first.describe()
    summary = tmp_path / "again.json"
    ledger.fault()  # the re-run of a finished day
    assert produce(env, "--date", PAST.isoformat(), "--summary-json", str(summary), log=log) == 0
    [again] = json.loads(summary.read_text())
    assert again["records_sent"] == 0
    assert again["records_already_present"] == first.expected
    assert f"{PAST} is already complete: nothing to send" in log.read_text()
    check = check_day(kafka_bootstrap, env, PAST)
    ledger.checked(check)
    assert check.ok and check.landed == first.expected, check.describe()


def test_sigterm_mid_day_then_start_again(kafka_bootstrap, topics, tmp_path, ledger):
    day = today()
    env = producer_env(kafka_bootstrap, topics, TIME_SCALE=20000)
    log = tmp_path / "produce.log"
    proc = spawn(env, "--date", day.isoformat(), "--from-midnight", log=log)
    wait_for_line(log, f"plan for {day}", proc=proc)
    time.sleep(1.5)  # about 8 simulated hours in
    assert proc.poll() is None, "the day ended before SIGTERM"
    ledger.fault()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 143  # a graceful stop by SIGTERM (foot_traffic.cli.exits)
    assert time.monotonic() - t0 < 5, "SIGTERM must flush and exit within a few seconds"
    text = log.read_text()
    assert "SIGTERM received" in text and "stopped cleanly" in text
    partial = check_day(kafka_bootstrap, env, day)
    assert 0 < partial.landed < partial.expected
    assert not (partial.duplicated or partial.unexpected or partial.changed or partial.out_of_order), partial.describe()

    assert produce(env, "--date", day.isoformat(), "--from-midnight", log=log) == 0
    check = check_day(kafka_bootstrap, env, day)
    ledger.checked(check)
    assert check.ok, check.describe()


def test_producer_sigkilled_at_random_points_then_started_again(kafka_bootstrap, tmp_path, ledger):
    """Trials on fresh topics, each killed at a different moment of the day."""
    day = today()
    partials = []
    for trial in range(TRIALS):
        topics = fresh_topics(f"kill{trial}")
        env = producer_env(kafka_bootstrap, topics, TIME_SCALE=30000, SEED=100 + trial)
        log = tmp_path / f"trial{trial}.log"
        proc = spawn(env, "--date", day.isoformat(), "--from-midnight", log=log)
        wait_for_line(log, f"plan for {day}", proc=proc)
        delay = RNG.uniform(0.05, 1.9)  # the day plays in about 3 s: kill while it is under way
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            ledger.fault()
        proc.wait(10)
        partial = check_day(kafka_bootstrap, env, day)
        partials.append((round(delay, 2), partial.landed, partial.expected))
        assert not (partial.duplicated or partial.unexpected or partial.out_of_order), partial.describe()

        assert produce(env, "--date", day.isoformat(), "--from-midnight", log=log) == 0, log.read_text()[-3000:]
        check = check_day(kafka_bootstrap, env, day)
        ledger.checked(check)
        assert check.ok, f"trial {trial} (killed after {delay:.2f} s): {check.describe()}"
    mid_stream = [p for p in partials if 0 < p[1] < p[2]]
    print("kill after s, landed before restart, expected:", partials)
    assert len(mid_stream) >= TRIALS - 1, partials  # (a kill before the first send is allowed once)
