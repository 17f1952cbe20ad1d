"""The door sensor stage: off changes nothing, on is deterministic and resumable."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime

import pytest

from foot_traffic.delivery.errors import DeliveryError
from foot_traffic.records.sensor import DOUBLE_DELAYS, SensorModel
from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryKafka, memory_delivery

DAY = date(2026, 11, 28)
FLAWS = {"SENSOR_MISS_RATE": "0.05", "SENSOR_DOUBLE_RATE": "0.05", "SENSOR_BATCH_SECONDS": "30", "SENSOR_UPLOAD_DELAY_SECONDS": "90"}
BASE = {"SEED": "5", "FOOT_TRAFFIC_PROFILE": "retail", "DAILY_CUSTOMERS": "1500"}


def run(env, publisher=None, scanner=False, days=(DAY,)):
    pub = publisher or MemoryKafka()
    settings = Settings.from_env(env)
    Runner(settings, memory_delivery(pub, settings), clock=FakeClock(datetime(2027, 1, 1, tzinfo=UTC)),
           stop=threading.Event()).run(list(days))
    return pub


def key(r):
    return (r.topic, r.key, r.value, r.headers, r.timestamp_ms)


def test_all_switches_off_is_the_unflawed_stream():
    assert not Settings.from_env({}).sensor_active
    plain = run(BASE)
    zero = run({**BASE, "SENSOR_MISS_RATE": "0", "SENSOR_DOUBLE_RATE": "0", "SENSOR_BATCH_SECONDS": "0"})
    assert [key(r) for r in plain.records] == [key(r) for r in zero.records]


def test_same_seed_same_flaws_and_other_seed_other_flaws():
    a, b = run({**BASE, **FLAWS}), run({**BASE, **FLAWS})
    assert [key(r) for r in a.records] == [key(r) for r in b.records]
    c = run({**BASE, **FLAWS, "SEED": "6"})
    assert [key(r) for r in a.records] != [key(r) for r in c.records]


def test_sessions_stay_the_ground_truth():
    plain, flawed = run(BASE), run({**BASE, **FLAWS})
    sessions = [key(r) for r in plain.records if r.topic == "foot_traffic"]
    assert sessions == [key(r) for r in flawed.records if r.topic == "foot_traffic"]


def test_doubles_come_one_or_two_seconds_later_with_their_own_time_and_id():
    pub = run({**BASE, "SENSOR_DOUBLE_RATE": "0.2"})
    events = [r for r in pub.records if r.topic == "foot_traffic_realistic"]
    originals = {dict(r.headers)["ft-event-id"]: r for r in events}
    dups = [r for r in events if dict(r.headers)["ft-event-id"].endswith(b":dup")]
    assert 0.15 < len(dups) / (len(events) - len(dups)) < 0.25
    for d in dups:
        first = originals[dict(d.headers)["ft-event-id"][:-4]]
        t0 = datetime.fromisoformat(json.loads(first.value)["time"]).timestamp()
        t1 = datetime.fromisoformat(json.loads(d.value)["time"]).timestamp()
        assert t1 - t0 in DOUBLE_DELAYS and d.due == t1 and d.key == first.key
        assert json.loads(d.value)["event_type"] == json.loads(first.value)["event_type"]


@pytest.mark.parametrize("fail_after", [100, 1700, 3500])
def test_a_failed_run_resumes_to_exactly_the_flawed_day(fail_after):
    full = run({**BASE, **FLAWS})
    pub = MemoryKafka(fail_after=fail_after)
    with pytest.raises(DeliveryError):
        run({**BASE, **FLAWS, "MAX_RETRIES": "0"}, publisher=pub)
    partial = len(pub.records)
    pub.fail_after = None
    run({**BASE, **FLAWS}, publisher=pub, scanner=True)
    assert partial < len(pub.records)
    assert sorted(map(key, pub.records)) == sorted(map(key, full.records))


def test_window_delays_depend_on_seed_store_and_window_only():
    m = SensorModel(batch_seconds=30, upload_delay_seconds=90)
    assert m.upload_time("5/", 1_000_000_020) == m.upload_time("5/", 1_000_000_049)  # one 30-s window
    delays = {m.window_delay("5/", w) for w in range(2000)}
    assert delays == set(range(91))
    assert m.window_delay("5/", 7) == SensorModel(batch_seconds=30, upload_delay_seconds=90).window_delay("5/", 7)
    assert [m.window_delay("5/rome", w) for w in range(50)] != [m.window_delay("5/", w) for w in range(50)]
    assert m.max_lateness == 120 and SensorModel().max_lateness == 0 and not SensorModel().active


def test_a_day_across_midnight_keeps_its_records_apart():
    pub = run({**BASE, **FLAWS}, days=(DAY, date(2026, 11, 29)))
    for day in ("2026-11-28", "2026-11-29"):
        seqs = [int(dict(r.headers)["ft-seq"]) for r in pub.records
                if r.topic == "foot_traffic_realistic" and dict(r.headers)["ft-day"] == day.encode()]
        assert seqs == list(range(len(seqs)))
    dues = [r.due for r in pub.records]
    assert dues == sorted(dues)
