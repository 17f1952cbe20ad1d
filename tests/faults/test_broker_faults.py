"""The broker is missing at start, never comes, or is SIGKILLed mid-day and restarted.

Each test runs its own local broker (the session broker must survive) and ends by reading
both topics back and comparing them with the plan. The local broker loses its last second
or so of acknowledged writes when SIGKILLed, so these tests also prove that a restarted
day refills what the broker lost instead of trusting its own acknowledgements.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, date, datetime

import pytest

from foot_traffic.local_broker import LocalBroker, free_port
from tests.faults.checks import check_day, produce, producer_env, spawn, wait_for_line

pytestmark = [pytest.mark.faults, pytest.mark.integration]

PAST = date(2025, 11, 7)
BROKER_TRIALS = int(os.environ.get("FAULT_BROKER_TRIALS", "3"))
RNG = random.Random(int(os.environ.get("FAULT_SEED", "20261128")) + 1)


@pytest.fixture
def broker_dir(tmp_path):
    return tmp_path / "broker"


@pytest.fixture
def brokers():
    """Every LocalBroker a test starts; all stopped at the end."""
    started: list[LocalBroker] = []
    yield started
    for b in started:
        b.kill()


def start_broker(brokers, data_dir, port=None) -> LocalBroker:
    b = LocalBroker(data_dir, port=port).start()
    brokers.append(b)
    return b


def topics_for(tag: str) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"ft_{tag}_{suffix}", f"ftr_{tag}_{suffix}"


def test_broker_down_at_start_then_up_within_the_retry_budget(brokers, broker_dir, tmp_path, ledger):
    port = free_port()
    # The first connection: MAX_RETRIES attempts RETRY_BACKOFF_SECONDS apart (15 s for the broker to come up)
    env = producer_env(f"127.0.0.1:{port}", topics_for("late"), MAX_RETRIES=6, RETRY_BACKOFF_SECONDS=3)
    log = tmp_path / "produce.log"
    proc = spawn(env, "--date", PAST.isoformat(), log=log)
    ledger.fault()
    wait_for_line(log, "connection refused: nothing listens on that port (attempt 1 of 6)", timeout=30, proc=proc)
    broker = start_broker(brokers, broker_dir, port)
    assert proc.wait(60) == 0, log.read_text()[-3000:]
    check = check_day(broker.bootstrap, env, PAST)
    ledger.checked(check)
    assert check.ok and check.landed == check.expected, check.describe()


def test_broker_never_up_fails_clearly_within_the_budget_then_next_run_delivers(brokers, broker_dir, tmp_path, ledger):
    port = free_port()
    env = producer_env(f"127.0.0.1:{port}", topics_for("never"), MAX_RETRIES=1, RETRY_BACKOFF_SECONDS=0.5)
    log = tmp_path / "produce.log"
    ledger.fault()
    t0 = time.monotonic()
    assert produce(env, "--date", PAST.isoformat(), log=log, timeout=60) == 1
    took = time.monotonic() - t0
    text = log.read_text()
    assert "cannot reach Kafka" in text and "(1 attempt in" in text and "MAX_RETRIES=1" in text, text[-2000:]
    # MAX_RETRIES attempts: one, refused at once, + start-up
    assert took < 20, took
    broker = start_broker(brokers, broker_dir, port)
    assert check_day(broker.bootstrap, env, PAST).landed == 0  # nothing was sent
    assert produce(env, "--date", PAST.isoformat(), log=log) == 0
    check = check_day(broker.bootstrap, env, PAST)
    ledger.checked(check)
    assert check.ok and check.landed == check.expected, check.describe()


def test_broker_sigkilled_mid_day_and_restarted_standalone(brokers, tmp_path, ledger):
    """The producer heals in-process: it reconnects once the broker is back, re-scans the
    day and sends exactly the rest, including acknowledged records the broker lost; the
    one run exits 0."""
    day = datetime.now(UTC).date()
    healed = []
    for trial in range(BROKER_TRIALS):
        data = tmp_path / f"broker{trial}"
        broker = start_broker(brokers, data)
        env = producer_env(broker.bootstrap, topics_for(f"bk{trial}"), TIME_SCALE=20000, SEED=200 + trial,
                           DAILY_CUSTOMERS=int(os.environ.get("FAULT_BROKER_CUSTOMERS", "5000")), MAX_RETRIES=4, RETRY_BACKOFF_SECONDS=0.5)
        log = tmp_path / f"trial{trial}.log"
        proc = spawn(env, "--date", day.isoformat(), "--from-midnight", log=log)
        wait_for_line(log, f"plan for {day}", proc=proc)
        time.sleep(RNG.uniform(0.5, 2.5))
        broker.kill()
        ledger.fault()
        time.sleep(1.0)
        broker = start_broker(brokers, data, broker.port)
        assert proc.wait(180) == 0, log.read_text()[-3000:]
        healed.append("recovered after" in log.read_text())
        check = check_day(broker.bootstrap, env, day)
        ledger.checked(check)
        assert check.ok, f"trial {trial}: {check.describe()}"
        broker.stop()
    print("healed in-process per trial (False: the day had ended, or the client rode the restart out):", healed)


def test_broker_sigkilled_with_max_retries_0_fails_then_a_restart_sends_the_rest(brokers, tmp_path, ledger):
    """MAX_RETRIES=0 turns healing off: the run fails (exit 1) naming the failure; a
    supervisor's restart then sends exactly the rest."""
    day = datetime.now(UTC).date()
    data = tmp_path / "broker"
    broker = start_broker(brokers, data)
    env = producer_env(broker.bootstrap, topics_for("giveup"), TIME_SCALE=20000, SEED=250, DAILY_CUSTOMERS=3000,
                       MAX_RETRIES=0)
    log = tmp_path / "produce.log"
    proc = spawn(env, "--date", day.isoformat(), "--from-midnight", log=log)
    wait_for_line(log, f"plan for {day}", proc=proc)
    time.sleep(1.0)
    broker.kill()
    ledger.fault()
    time.sleep(1.0)
    broker = start_broker(brokers, data, broker.port)
    assert proc.wait(120) == 1, log.read_text()[-3000:]
    text = log.read_text()
    assert "delivery failed" in text and "recovered after" not in text, text[-3000:]
    env["MAX_RETRIES"] = "3"

    assert produce(env, "--date", day.isoformat(), "--from-midnight", log=log) == 0, log.read_text()[-3000:]
    check = check_day(broker.bootstrap, env, day)
    ledger.checked(check)
    assert check.ok and check.landed == check.expected, check.describe()
