"""`foot-traffic` against a real broker over TCP: what lands is exactly the plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest

from foot_traffic.model.profile import original_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings
from tests.support.kafka_read import read_topic

pytestmark = pytest.mark.integration
DAY = "2025-11-07"


def produce(bootstrap, topics, *args, **env):
    full_env = {
        **os.environ,
        "KAFKA_BROKER": bootstrap,
        "KAFKA_TOPIC": topics[0],
        "KAFKA_TOPIC_REALISTIC": topics[1],
        "RETRY_BACKOFF_SECONDS": "0.2",
        "MAX_RETRIES": "1",
        **{k: str(v) for k, v in env.items()},
    }
    return subprocess.run(
        [sys.executable, "-m", "foot_traffic", "produce", *args],
        env=full_env, capture_output=True, text=True, timeout=300,
    )


def expected(topics, **env):
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1], **{k: str(v) for k, v in env.items()}})
    plan = plan_store_day(implicit_store(settings, original_profile()), date.fromisoformat(DAY), settings)
    return [r for m in StoreDayStream(plan, topics[0], topics[1]) for r in m.records]


def as_set(records):
    return sorted((r.key, r.value, tuple(r.headers), r.timestamp_ms) for r in records)


def test_seed_day_lands_exactly_as_planned(kafka_bootstrap, topics):
    run = produce(kafka_bootstrap, topics, "--date", DAY, SEED=7, DAILY_CUSTOMERS=500)
    assert run.returncode == 0, run.stderr
    sessions = read_topic(kafka_bootstrap, topics[0])
    events = read_topic(kafka_bootstrap, topics[1])
    assert len(sessions) == 500 and len(events) == 1000

    want = expected(topics, SEED=7, DAILY_CUSTOMERS=500)
    assert as_set(sessions) == as_set(r for r in want if r.topic == topics[0])
    assert as_set(events) == as_set(r for r in want if r.topic == topics[1])

    # the JSON contract, read back from the broker
    doc = json.loads(sessions[0].value)
    assert list(doc) == ["event_type", "customer_id", "entry_time", "exit_time", "trip_duration_minutes", "weekday", "time_slot"]
    assert doc["event_type"] == "foot_traffic" and doc["weekday"] == "Friday"
    assert doc["entry_time"].startswith(DAY) and doc["entry_time"].endswith("+00:00")
    assert "–" in doc["time_slot"]
    assert sessions[0].key.decode() == doc["customer_id"]
    # Kafka record timestamps are the event times
    assert all(r.timestamp_ms == int(datetime.fromisoformat(json.loads(r.value)["entry_time"]).timestamp() * 1000) for r in sessions)

    # one entry then one exit per customer, in order in its partition
    kinds = defaultdict(list)
    for r in events:  # sorted by partition, offset
        kinds[r.key].append(json.loads(r.value)["event_type"])
    assert len(kinds) == 500 and all(k == ["entry", "exit"] for k in kinds.values())
    assert {r.key for r in sessions} == set(kinds)


def test_same_seed_and_day_twice_gives_identical_records(kafka_bootstrap, topics, request):
    other = (topics[0] + "_b", topics[1] + "_b")
    for pair in (topics, other):
        run = produce(kafka_bootstrap, pair, "--date", DAY, SEED=7, DAILY_CUSTOMERS=200)
        assert run.returncode == 0, run.stderr
    for a, b in zip(topics, other):
        first, second = read_topic(kafka_bootstrap, a), read_topic(kafka_bootstrap, b)
        assert [(r.partition, r.key, r.value, r.headers, r.timestamp_ms) for r in first] == [
            (r.partition, r.key, r.value, r.headers, r.timestamp_ms) for r in second
        ]


def test_rerun_of_a_completed_day_sends_nothing(kafka_bootstrap, topics):
    assert produce(kafka_bootstrap, topics, "--date", DAY, SEED=3, DAILY_CUSTOMERS=100).returncode == 0
    again = produce(kafka_bootstrap, topics, "--date", DAY, SEED=3, DAILY_CUSTOMERS=100)
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stderr
    assert len(read_topic(kafka_bootstrap, topics[0])) == 100
    assert len(read_topic(kafka_bootstrap, topics[1])) == 200


def test_live_day_compressed_by_time_scale(kafka_bootstrap, topics, tmp_path):
    """Today from midnight at TIME_SCALE=40000: a whole paced day in a couple of seconds."""
    today = datetime.now(UTC).date().isoformat()
    summary = tmp_path / "summary.json"
    run = produce(
        kafka_bootstrap, topics, "--date", today, "--from-midnight", "--summary-json", str(summary),
        SEED=11, DAILY_CUSTOMERS=150, TIME_SCALE=40000, SLEEP=0.05,
    )
    assert run.returncode == 0, run.stderr
    [day] = json.loads(summary.read_text())
    assert day["finished"] and day["sent_per_topic"] == {topics[0]: 150, topics[1]: 300}
    events = read_topic(kafka_bootstrap, topics[1])
    assert len(events) == 300 and all(json.loads(r.value)["time"].startswith(today) or
                                      json.loads(r.value)["event_type"] == "exit" for r in events)


def test_two_days_with_days_option(kafka_bootstrap, topics):
    run = produce(kafka_bootstrap, topics, "--date", DAY, "--days", "2", SEED=5, DAILY_CUSTOMERS=50)
    assert run.returncode == 0, run.stderr
    days = {r.header("ft-day") for r in read_topic(kafka_bootstrap, topics[0])}
    assert days == {"2025-11-07", "2025-11-08"}


@pytest.mark.parametrize(
    "env,name",
    [
        ({"TIME_SCALE": "0"}, "TIME_SCALE"),
        ({"DAILY_CUSTOMERS": "-5"}, "DAILY_CUSTOMERS"),
        ({"KAFKA_BROKER": "no-port"}, "KAFKA_BROKER"),
        ({"SEED": "abc"}, "SEED"),
    ],
)
def test_bad_setting_exits_2_and_sends_nothing(kafka_bootstrap, topics, env, name):
    run = produce(kafka_bootstrap, topics, "--date", DAY, **{"SEED": 1, "DAILY_CUSTOMERS": 10, **env})
    assert run.returncode == 2, run.stderr
    assert f"{name}=" in run.stderr
    assert read_topic(kafka_bootstrap, topics[0]) == [] and read_topic(kafka_bootstrap, topics[1]) == []


def test_preview_prints_the_plan_without_kafka():
    run = subprocess.run(
        [sys.executable, "-m", "foot_traffic", "preview", "--date", DAY],
        env={**os.environ, "SEED": "7", "DAILY_CUSTOMERS": "500", "KAFKA_BROKER": "127.0.0.1:1"},
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "2025-11-07 (Friday): 500 visits, seed 7" in run.stdout
    assert "07:00–09:59" in run.stdout and "█" in run.stdout


def test_librdkafka_publisher_writes_the_same_records_and_resumes_across_clients(kafka_bootstrap, topics):
    """KAFKA_CLIENT=confluent: same partitions, keys, values, headers, timestamps as kafka-python."""
    other = (topics[0] + "_k", topics[1] + "_k")
    run = produce(kafka_bootstrap, topics, "--date", DAY, SEED=9, DAILY_CUSTOMERS=300, KAFKA_CLIENT="confluent")
    assert run.returncode == 0, run.stderr
    assert produce(kafka_bootstrap, other, "--date", DAY, SEED=9, DAILY_CUSTOMERS=300).returncode == 0
    for a, b in zip(topics, other):
        assert [(r.partition, r.key, r.value, r.headers, r.timestamp_ms) for r in read_topic(kafka_bootstrap, a)] == [
            (r.partition, r.key, r.value, r.headers, r.timestamp_ms) for r in read_topic(kafka_bootstrap, b)
        ]
    # the day is complete whichever client wrote it
    again = produce(kafka_bootstrap, topics, "--date", DAY, SEED=9, DAILY_CUSTOMERS=300)
    assert again.returncode == 0 and "already complete" in again.stderr
    assert len(read_topic(kafka_bootstrap, topics[1])) == 600
