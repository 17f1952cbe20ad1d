"""Resume with the door sensor's flaws on: events sent late and out of order, some missed,
some twice. The producer is SIGKILLed mid-day, started again, and the day read back must be
exactly the plan and the sensor model (``validate``'s reconciliation), with no duplicate
and ``ft-seq`` increasing per partition at every step."""

from __future__ import annotations

import random
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from foot_traffic.analysis.readback import read_day
from foot_traffic.analysis.validate import read_and_validate
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.localday import day_start
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.records.sensor import day_moments
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings
from tests.faults.checks import produce, producer_env, spawn, wait_for_line

pytestmark = [pytest.mark.faults, pytest.mark.integration]
RNG = random.Random(20261129)
FLAWS = {
    "FOOT_TRAFFIC_PROFILE": "retail", "DAILY_CUSTOMERS": "600", "SENSOR_MISS_RATE": "0.05",
    "SENSOR_DOUBLE_RATE": "0.03", "SENSOR_BATCH_SECONDS": "30", "SENSOR_UPLOAD_DELAY_SECONDS": "120",
}


def identity(r) -> tuple:
    return (r.topic, r.key, r.value, tuple(r.headers), r.timestamp_ms)


def test_sigkill_mid_day_with_a_late_out_of_order_gateway_then_resume(kafka_bootstrap, tmp_path, ledger):
    day = datetime.now(UTC).date()
    partials = []
    for trial in range(3):
        suffix = uuid.uuid4().hex[:8]
        env = producer_env(kafka_bootstrap, (f"ft_sensor{trial}_{suffix}", f"ftr_sensor{trial}_{suffix}"),
                           TIME_SCALE=30000, SEED=300 + trial, **FLAWS)
        settings = Settings.from_env(env)
        plan = plan_store_day(implicit_store(settings, load_profile("retail")), day, settings)
        want = Counter(identity(r) for m in day_moments(StoreDayStream(plan, *env_topics(env)), settings) for r in m.records)
        log = tmp_path / f"sensor{trial}.log"
        proc = spawn(env, "--date", day.isoformat(), "--from-midnight", log=log)
        wait_for_line(log, f"plan for {day}", proc=proc)
        time.sleep(RNG.uniform(1.0, 2.4))  # the day plays in ~3 s; retail is quiet until ~8 simulated hours
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            ledger.fault()
        proc.wait(10)
        options = KafkaOptions.from_settings(settings)
        since = int(day_start(day).timestamp() * 1000)
        partial = [r for rs in read_day(options, env_topics(env), day, since).values() for r in rs]
        have = Counter(identity(r) for r in partial)
        partials.append((len(partial), sum(want.values())))
        assert not (have - want), "records the plan does not hold"
        assert all(n == 1 for n in have.values()), "a record twice"
        assert_seq_prefix(partial)

        assert produce(env, "--date", day.isoformat(), "--from-midnight", log=log) == 0, log.read_text()[-3000:]
        (report,) = read_and_validate(settings, load_profile("retail"), day, options)
        exact = [c for c in report.checks if c.kind == "exact"]
        assert all(c.passed for c in exact), report.table()
        landed = [r for rs in read_day(options, env_topics(env), day, since).values() for r in rs]
        assert Counter(identity(r) for r in landed) == want
        assert_seq_prefix(landed)
        ledger.checked(SimpleNamespace(expected=sum(want.values()), lost=[], duplicated=[], out_of_order=[]))
    print("records landed before the restart, expected:", partials)
    assert sum(0 < landed < expected for landed, expected in partials) >= 2, partials


def env_topics(env: dict[str, str]) -> list[str]:
    return [env["KAFKA_TOPIC"], env["KAFKA_TOPIC_REALISTIC"]]


def assert_seq_prefix(records) -> None:
    """Per (topic, partition), ft-seq increases with the offset (records come in that order)."""
    last: dict[tuple[str, int], int] = {}
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        seq = int(r.header("ft-seq"))
        assert seq > last.get((r.topic, r.partition), -1), (r.topic, r.partition, r.offset, seq)
        last[(r.topic, r.partition)] = seq
