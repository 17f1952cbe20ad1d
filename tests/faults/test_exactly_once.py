"""Issue 22's four reproductions, on the embedded broker, with both clients: what a
``read_committed`` consumer reads back is every record of each day's plan, once.

1. A day resumed after a crash, then plain re-runs of it: the day once after each.
2. A multi-day run through clean broker restarts and a stall: every committed record stays
   visible (the embedded broker hid a transaction open across a restart: the producer no
   longer commits a transaction whose connections dropped).
3. A run never takes its own take record for a newer run's (tests/faults/test_broker_heal.py
   crashes the broker under a live run and checks it; unit: tests/unit/run/test_healing.py).
4. A backfill of history after later days reads nothing back from the data topics.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from datetime import date, timedelta

import pytest

from foot_traffic.local_broker import LocalBroker
from tests.faults.checks import check_day, produce, producer_env, spawn, wait_for_line
from tests.support.kafka_read import read_topic

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def fresh_topics(tag: str) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"ft_{tag}_{suffix}", f"ftr_{tag}_{suffix}"


def sessions(bootstrap: str, topic: str, isolation_level: str = "read_committed") -> tuple[int, int]:
    """(sessions read, distinct customers) of the sessions topic."""
    records = read_topic(bootstrap, topic, timeout_s=60, isolation_level=isolation_level)
    return len(records), len({r.key for r in records})


def wait_for_records(bootstrap: str, topic: str, count: int, proc, timeout: float = 60.0) -> None:
    """Until ``topic`` holds ``count`` records (committed or not): a kill timed by the data,
    not by the clock (librdkafka sends a small day in well under a second)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_uncommitted")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            parts = consumer.partitions_for_topic(topic) or ()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts]) if parts else {}
            if sum(ends.values()) >= count:
                return
            time.sleep(0.01)
    finally:
        consumer.close()


def test_a_day_resumed_after_a_crash_is_sent_once_by_every_later_rerun(kafka_bootstrap, tmp_path, ledger):
    """SIGKILL mid-day, then three plain runs of the day (an Airflow retry of a killed worker,
    then manual re-runs): the day holds its sessions once after each run."""
    topics = fresh_topics("rerun")
    customers = 20000
    env = producer_env(kafka_bootstrap, topics, SEED=11, DAILY_CUSTOMERS=customers)
    log = tmp_path / "killed.log"
    proc = spawn(env, "--date", "2025-11-08", log=log)
    wait_for_line(log, "this run owns", proc=proc)
    wait_for_records(kafka_bootstrap, topics[0], 2000, proc)  # mid-day: some transactions committed, one open
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ledger.fault()
    assert sessions(kafka_bootstrap, topics[0])[0] < customers, "the kill came too late to test a resume"
    for n in range(3):
        assert produce(env, "--date", "2025-11-08", log=tmp_path / f"rerun{n}.log") == 0
        assert sessions(kafka_bootstrap, topics[0]) == (customers, customers), f"after re-run {n + 1}"
    check = check_day(kafka_bootstrap, env, date(2025, 11, 8))
    ledger.checked(check)
    assert check.ok and check.landed == check.expected, check.describe()


def test_committed_records_stay_visible_through_broker_restarts_and_a_stall(tmp_path, ledger):
    """``--days 3`` while the broker is restarted cleanly (SIGINT, start), stalled 8 s
    (SIGSTOP/SIGCONT) and restarted cleanly again, each while a day's transaction is open:
    a read_committed consumer reads every session of the three days, as read_uncommitted does."""
    topics = fresh_topics("restarts")
    broker = LocalBroker(tmp_path / "broker").start()
    try:
        env = producer_env(broker.bootstrap, topics, SEED=9100, DAILY_CUSTOMERS=5000, MAX_RETRIES=30,
                           RETRY_BACKOFF_SECONDS=0.5)
        log = tmp_path / "produce.log"
        proc = spawn(env, "--date", "2025-06-01", "--days", "3", log=log)
        wait_for_line(log, "plan for 2025-06-01", proc=proc)
        time.sleep(0.4)
        broker.stop()
        broker = LocalBroker(broker.data_dir, port=broker.port).start()
        time.sleep(0.8)
        os.kill(broker.process.pid, signal.SIGSTOP)
        time.sleep(8)
        os.kill(broker.process.pid, signal.SIGCONT)
        time.sleep(0.8)
        broker.stop()
        broker = LocalBroker(broker.data_dir, port=broker.port).start()
        ledger.fault(3)
        assert proc.wait(180) == 0, log.read_text()[-4000:]
        assert sessions(broker.bootstrap, topics[0]) == (15000, 15000)
        assert sessions(broker.bootstrap, topics[0], "read_uncommitted")[1] == 15000
        for day in (date(2025, 6, 1) + timedelta(days=i) for i in range(3)):
            check = check_day(broker.bootstrap, env, day)
            ledger.checked(check)
            assert check.ok and check.landed == check.expected, f"{day}: {check.describe()}"
    finally:
        broker.kill()


def test_a_backfill_after_later_days_reads_nothing_back(kafka_bootstrap, tmp_path, ledger):
    """Later days first (live streaming happens before anyone backfills history), then the
    earlier days: the backfill takes each day from the ledger alone, no data scan, exact."""
    topics = fresh_topics("backfill")
    env = producer_env(kafka_bootstrap, topics, SEED=3, DAILY_CUSTOMERS=1500)
    assert produce(env, "--date", "2025-02-20", "--days", "3", log=tmp_path / "later.log") == 0
    log = tmp_path / "backfill.log"
    assert produce(env, "--date", "2025-01-01", "--days", "3", log=log) == 0
    text = log.read_text()
    assert "resume scan" not in text, "a day nobody took must cost nothing to scan"
    for day in [date(2025, 1, 1) + timedelta(days=i) for i in range(3)] + [date(2025, 2, 20)]:
        check = check_day(kafka_bootstrap, env, day)
        ledger.checked(check)
        assert check.ok and check.landed == check.expected, f"{day}: {check.describe()}"
