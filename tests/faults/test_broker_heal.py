"""A continuous run (``foot-traffic produce``, no --date) rides out broker crashes in-process.

The broker is SIGKILLed and restarted several times (once down for several back-offs)
while days play at a high TIME_SCALE; the producer never exits: it closes its producer,
backs off, reconnects, re-scans the open days (and the ones finished just before, whose
tail the crash may have lost) and carries on. Every finished day is then read back:
nothing lost, nothing twice, in order per key; the day under way when the run is stopped
holds a prefix (no duplicate, no disorder).
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
import uuid
from datetime import UTC, date, datetime

import pytest

from foot_traffic.local_broker import LocalBroker
from tests.faults.checks import (
    check_day,
    end_forgotten_transaction,
    producer_env,
    spawn,
    wait_for_line,
    waits_on_a_forgotten_transaction,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]

RNG = random.Random(int(os.environ.get("FAULT_SEED", "20261128")) + 3)
# (seconds of play before the kill, seconds the broker stays down): the third outage lasts
# several back-offs of RETRY_BACKOFF_SECONDS=0.5 (0.5, 1, 2 s ...). At TIME_SCALE 3600 a day
# plays in 24 s: the outages fall at random points of the first two days and between them.
OUTAGES = [(RNG.uniform(4.0, 12.0), 1.0), (RNG.uniform(4.0, 12.0), 1.0), (RNG.uniform(4.0, 12.0), 4.0)]


def recoveries(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"recovered after ([0-9.]+) s", text)]


def finished_days(text: str) -> list[date]:
    days = {date.fromisoformat(m) for m in re.findall(r"(\d{4}-\d{2}-\d{2}) finished: ", text)}
    return sorted(days)


def crash_and_wait_for_recovery(broker, proc, log, n: int, down: float, ledger, within: float) -> LocalBroker:
    """SIGKILL the broker, restart it on its data after ``down`` s, and wait (``within`` s) until
    the still-running producer logs its ``n``-th recovery; return the restarted broker. Where
    the embedded broker's flaw leaves the producer waiting on a transaction nobody can end, the
    harness ends it as an operator would, and the producer must heal from that too."""
    assert proc.poll() is None, log.read_text()[-3000:]
    broker.kill()
    ledger.fault()
    time.sleep(down)
    broker = LocalBroker(broker.data_dir, port=broker.port).start()
    deadline = time.monotonic() + within
    waiting_since = None
    while len(recoveries(log.read_text())) < n:
        assert proc.poll() is None, f"the producer exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
        forgotten, waiting_since = waits_on_a_forgotten_transaction(log.read_text(), waiting_since)
        if forgotten:
            broker = end_forgotten_transaction(broker, ledger)
            waiting_since = None
            deadline = time.monotonic() + within
        if time.monotonic() >= deadline:
            raise AssertionError(f"outage {n} not recovered:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    return broker


@pytest.mark.clients("confluent")
def test_continuous_run_heals_broker_crashes_without_exiting(tmp_path, ledger):
    suffix = uuid.uuid4().hex[:8]
    topics = (f"ft_heal_{suffix}", f"ftr_heal_{suffix}")
    broker = LocalBroker(tmp_path / "broker").start()
    try:
        # the acceptance run: TIME_SCALE 3600, a day in 24 s
        env = producer_env(broker.bootstrap, topics, TIME_SCALE=3600, SEED=400, DAILY_CUSTOMERS=800,
                           MAX_RETRIES=6, RETRY_BACKOFF_SECONDS=0.5)
        log = tmp_path / "produce.log"
        proc = spawn(env, "--from-midnight", log=log)  # no --date: day after day, endless
        today = datetime.now(UTC).date()
        wait_for_line(log, f"plan for {today}", proc=proc)
        for n, (play, down) in enumerate(OUTAGES, 1):
            time.sleep(play)
            broker = crash_and_wait_for_recovery(broker, proc, log, n, down, ledger, within=40)
        deadline = time.monotonic() + 90  # play on after the last recovery, until two days are finished
        while len(finished_days(log.read_text())) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, f"the producer exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        time.sleep(2)
        assert proc.poll() is None, f"the producer exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 143, log.read_text()[-4000:]  # a graceful stop by SIGTERM
        text = log.read_text()
        healed = recoveries(text)
        print("outage recovery times (s):", healed)
        assert len(healed) >= len(OUTAGES), text[-4000:]
        assert "gave up" not in text and "fenced by a newer run" not in text  # never fenced by itself (issue 22, 3)
        days = finished_days(text)
        assert len(days) >= 2, text[-4000:]
        for day in days:
            check = check_day(broker.bootstrap, env, day)
            ledger.checked(check)
            assert check.ok and check.landed == check.expected, f"{day}: {check.describe()}"
        # the day under way at the stop holds a prefix: nothing twice, nothing out of order
        under_way = max(days).toordinal() + 1
        partial = check_day(broker.bootstrap, env, date.fromordinal(under_way))
        assert not (partial.duplicated or partial.unexpected or partial.changed or partial.out_of_order), \
            partial.describe()
    finally:
        broker.kill()


def test_a_chain_heals_broker_crashes_in_process_every_store_day_exactly(tmp_path, ledger):
    """Ten stores in nine time zones, two local days paced at TIME_SCALE 8000, the broker
    SIGKILLed and restarted twice (once down for several back-offs): the run takes each day
    under way again (one producer for all its stores), re-scans it and replays every open or
    lately finished store-day against the scan; it exits 0, every store-day exactly its plan."""
    import types

    import yaml

    from foot_traffic.settings import EXAMPLE_CHAIN, Settings
    from foot_traffic.plan.stores import load_catalogue
    from tests.support.chain_check import landed, planned, problems

    suffix = uuid.uuid4().hex[:8]
    topics = (f"ft_cheal_{suffix}", f"ftr_cheal_{suffix}")
    doc = yaml.safe_load(EXAMPLE_CHAIN.read_text())
    for store in doc["stores"]:
        store["base_daily_customers"] = store["base_daily_customers"] // 4
    chain_file = tmp_path / "chain.yaml"
    chain_file.write_text(yaml.safe_dump(doc))
    days = [date(2026, 11, 27), date(2026, 11, 28)]
    broker = LocalBroker(tmp_path / "broker").start()
    try:
        env = producer_env(broker.bootstrap, topics, TIME_SCALE=8000, SEED=401, MAX_RETRIES=6,
                           RETRY_BACKOFF_SECONDS=0.5)
        env.pop("DAILY_CUSTOMERS")
        log = tmp_path / "produce.log"
        proc = spawn(env, "--stores", str(chain_file), "--date", days[0].isoformat(), "--days", "2",
                     "--from-midnight", log=log)
        wait_for_line(log, "2026-11-27 (Fri", proc=proc)  # a store-day under way
        time.sleep(RNG.uniform(2.0, 4.0))
        for n, down in enumerate((1.0, 3.0), 1):
            broker = crash_and_wait_for_recovery(broker, proc, log, n, down, ledger, within=60)
            time.sleep(RNG.uniform(2.0, 4.0))
        assert proc.wait(180) == 0, log.read_text()[-4000:]
        text = log.read_text()
        assert len(recoveries(text)) == 2 and "gave up" not in text, text[-4000:]
        chain = load_catalogue(chain_file)
        settings = Settings.from_env({**env, "STORES_FILE": str(chain_file)})
        records = landed(broker.bootstrap, topics)
        for day in days:
            of_day = [r for r in records if r.header("ft-day") == day.isoformat()]
            found = problems(chain, day, settings, of_day)
            expected = sum(len(rows) for rows in planned(chain, day, settings).values())
            ledger.checked(types.SimpleNamespace(expected=expected, lost=found, duplicated=[], out_of_order=[]))
            assert found == [], f"{day}: {found}"
            assert len(of_day) == expected
    finally:
        broker.kill()
