"""Two runs of the same day at once: two ``foot-traffic produce --date D`` started together, a
zombie attempt still sending when the retry starts. Kafka lets one writer per day write
(``foot_traffic.ownership``): the older run is fenced, stops with exit code 3 naming the
newer one, and the day ends exactly as planned. (A scheduled and a manual Airflow run of
the same day: test_airflow_concurrent.py.)"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from datetime import date

import pytest

from tests.faults.checks import check_day, producer_env, spawn, wait_for_line

pytestmark = [pytest.mark.faults, pytest.mark.integration]

DAY = date(2025, 6, 2)
BIG = int(os.environ.get("FAULT_CONCURRENT_CUSTOMERS", "20000"))  # 60,000 records
RNG = random.Random(int(os.environ.get("FAULT_SEED", "20261128")) + 3)
EXIT_FENCED = 3


def fresh_topics(tag: str) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"ft_{tag}_{suffix}", f"ftr_{tag}_{suffix}"


def finish(proc, log, timeout=180) -> int:
    try:
        return proc.wait(timeout)
    except Exception:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running after {timeout} s:\n{log.read_text()[-3000:]}") from None


def summary_of(path) -> dict:
    [summary] = json.loads(path.read_text())
    return summary


@pytest.mark.parametrize("clients", [("kafka-python", "kafka-python"), ("confluent", "confluent"), ("kafka-python", "confluent")])
def test_two_processes_started_together_leave_one_copy_of_the_day(kafka_bootstrap, tmp_path, ledger, clients):
    topics = fresh_topics("twin")
    procs = []
    for n, client in enumerate(clients):
        env = producer_env(kafka_bootstrap, topics, DAILY_CUSTOMERS=BIG, KAFKA_CLIENT=client)
        log, out = tmp_path / f"p{n}.log", tmp_path / f"p{n}.json"
        procs.append((spawn(env, "--date", DAY.isoformat(), "--summary-json", str(out), log=log), log, out))
    ledger.fault()
    codes = [finish(p, log) for p, log, _ in procs]
    logs = [log.read_text(errors="replace") for _, log, _ in procs]
    assert sorted(codes) == [0, EXIT_FENCED], f"exit codes {codes}:\n" + "\n".join(t[-2000:] for t in logs)
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    ledger.fenced()
    lost = summary_of(procs[loser][2])
    assert lost["fenced"] is True and not lost["finished"]
    assert lost["fenced_by"]["pid"] == procs[winner][0].pid  # named from the winner's owner record
    assert "fenced by a newer run" in logs[loser] and "foot-traffic produce --date 2025-06-02" in logs[loser]
    won = summary_of(procs[winner][2])
    assert won["finished"] and not won["fenced"]
    assert won["records_sent"] + won["records_already_present"] == 3 * BIG
    check = check_day(kafka_bootstrap, producer_env(kafka_bootstrap, topics, DAILY_CUSTOMERS=BIG), DAY)
    ledger.checked(check)
    assert check.ok and check.landed == 3 * BIG, check.describe()


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_a_zombie_attempt_wakes_up_while_its_retry_sends_and_sends_nothing(kafka_bootstrap, tmp_path, ledger, client):
    """The first attempt freezes (SIGSTOP: a lost heartbeat, a VM pause) while sending; the
    retry starts, takes the day over and sends; the zombie wakes up (SIGCONT) mid-way and
    tries to go on: its first send or commit is refused, it stops, and the retry finishes
    the day undisturbed (a kafka-python zombie left to itself would fence the retry back)."""
    topics = fresh_topics(f"zombie_{client.replace('-', '')}")
    env = producer_env(kafka_bootstrap, topics, DAILY_CUSTOMERS=3000, TIME_SCALE=9000, KAFKA_CLIENT=client)
    args = ("--date", DAY.isoformat(), "--from-midnight")
    zlog, rlog = tmp_path / "zombie.log", tmp_path / "retry.log"
    zombie = spawn(env, *args, "--summary-json", str(tmp_path / "zombie.json"), log=zlog)
    try:
        wait_for_line(zlog, f"plan for {DAY}", proc=zombie)
        time.sleep(RNG.uniform(1.0, 3.0))  # a few simulated hours in
        zombie.send_signal(signal.SIGSTOP)
        ledger.fault()
        retry = spawn(env, *args, "--summary-json", str(tmp_path / "retry.json"), log=rlog)
        wait_for_line(rlog, "resuming, the topics already hold", proc=retry, timeout=60)
        time.sleep(RNG.uniform(0.5, 2.0))
        assert retry.poll() is None, "the retry must still be sending when the zombie wakes up"
        zombie.send_signal(signal.SIGCONT)
        zcode = finish(zombie, zlog, 60)
        rcode = finish(retry, rlog)
    finally:
        for p in (zombie,):
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
    ztext, rtext = zlog.read_text(errors="replace"), rlog.read_text(errors="replace")
    assert zcode == EXIT_FENCED, ztext[-3000:]
    ledger.fenced()
    assert rcode == 0, rtext[-3000:]
    assert "fenced by a newer run" in ztext
    zsum, rsum = summary_of(tmp_path / "zombie.json"), summary_of(tmp_path / "retry.json")
    assert zsum["fenced"] and rsum["finished"] and not rsum["fenced"]
    assert rsum["records_already_present"] > 0  # the retry resumed from what the zombie had committed
    check = check_day(kafka_bootstrap, producer_env(kafka_bootstrap, topics, DAILY_CUSTOMERS=3000), DAY)
    ledger.checked(check)
    assert check.ok and check.landed == 9000, check.describe()


def test_a_run_with_another_plan_is_refused_without_stopping_the_run_writing_the_day(kafka_bootstrap, tmp_path, ledger):
    """A manual run of today with another seed (the trigger form's defaults) must not take the
    day from the run streaming it: it looks before it fences, and refuses."""
    topics = fresh_topics("otherplan")
    env = producer_env(kafka_bootstrap, topics, DAILY_CUSTOMERS=3000, TIME_SCALE=12000)
    args = ("--date", DAY.isoformat(), "--from-midnight")
    log, other_log = tmp_path / "live.log", tmp_path / "other.log"
    live = spawn(env, *args, log=log)
    try:
        wait_for_line(log, f"plan for {DAY}", proc=live)
        time.sleep(1.5)
        ledger.fault()
        other = spawn({**env, "SEED": "8"}, *args, log=other_log)
        assert finish(other, other_log, 60) == 1
        assert live.poll() is None, "the live run must keep going"
        assert finish(live, log) == 0
    finally:
        if live.poll() is None:
            live.kill()
    assert "already holds records of another plan" in other_log.read_text(errors="replace")
    assert "this run owns the day" not in other_log.read_text(errors="replace")
    check = check_day(kafka_bootstrap, producer_env(kafka_bootstrap, topics, DAILY_CUSTOMERS=3000), DAY)
    ledger.checked(check)
    assert check.ok and check.landed == 9000, check.describe()
