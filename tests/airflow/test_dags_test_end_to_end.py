"""End to end: ``airflow dags test foot_traffic_daily DATE`` (a subprocess) against the local broker.

* One past day lands byte-identical (keys, values, headers, timestamps, partitions) to
  ``foot-traffic produce --date`` with the same settings on other topics.
* Three past logical dates (the equivalent of a backfill) give three distinct days, each
  with its own timestamps.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support.kafka_read import read_topic

from .conftest import BIN, airflow_dags_test, subprocess_env

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

SEED, CUSTOMERS = 7, 300


def comparable(records):
    return [(r.partition, r.key, r.value, r.headers, r.timestamp_ms) for r in records]


def assert_success(proc: subprocess.CompletedProcess) -> None:
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "new_state=success" in log or "state=success" in log, log[-4000:]
    assert "DagRun Finished" in log and "state=failed" not in log, log[-4000:]


def test_dags_test_writes_exactly_what_foot_traffic_produce_writes(airflow_home, kafka_bootstrap, topics):
    a1, a2 = topics
    proc = airflow_dags_test(
        airflow_home, kafka_bootstrap, "2025-11-07",
        {"seed": SEED, "daily_customers": CUSTOMERS, "topic": a1, "topic_realistic": a2},
    )
    assert_success(proc)

    c1, c2 = a1.replace("ft_", "fc_", 1), a2.replace("ftr_", "fcr_", 1)
    env = subprocess_env(KAFKA_BROKER=kafka_bootstrap, KAFKA_TOPIC=c1, KAFKA_TOPIC_REALISTIC=c2,
                         SEED=str(SEED), DAILY_CUSTOMERS=str(CUSTOMERS))
    cli = subprocess.run([str(BIN / "foot-traffic"), "produce", "--date", "2025-11-07"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr[-3000:]

    airflow_sessions, airflow_events = read_topic(kafka_bootstrap, a1), read_topic(kafka_bootstrap, a2)
    cli_sessions, cli_events = read_topic(kafka_bootstrap, c1), read_topic(kafka_bootstrap, c2)
    assert len(airflow_sessions) == CUSTOMERS and len(airflow_events) == 2 * CUSTOMERS
    assert comparable(airflow_sessions) == comparable(cli_sessions)
    assert comparable(airflow_events) == comparable(cli_events)
    assert {r.header("ft-day") for r in airflow_sessions + airflow_events} == {"2025-11-07"}
    entries = [json.loads(r.value)["entry_time"] for r in airflow_sessions]
    assert all(e.startswith("2025-11-07T") for e in entries)
    # The Assets name the broker the run used (the asset alias resolved at run time).
    assets = subprocess.run([str(BIN / "airflow"), "assets", "list", "-o", "json"], env=airflow_home,
                            capture_output=True, text=True, timeout=120)
    uris = {a.get("uri") for a in json.loads(assets.stdout[assets.stdout.index("["):])}
    assert {f"kafka://{kafka_bootstrap}/{a1}", f"kafka://{kafka_bootstrap}/{a2}"} <= uris, uris


def test_the_demo_dag_plays_the_day_before_the_runs_date(airflow_home, kafka_bootstrap, topics):
    t1, t2 = topics
    proc = airflow_dags_test(
        airflow_home, kafka_bootstrap, "2025-11-08",
        {"seed": 3, "daily_customers": 100, "topic": t1, "topic_realistic": t2, "time_scale": 86400},
        dag_id="foot_traffic_demo",
    )
    assert_success(proc)
    log = proc.stdout + proc.stderr
    assert "playing 2025-11-07" in log and "from_midnight True" in log
    sessions = read_topic(kafka_bootstrap, t1)
    assert len(sessions) == 100 and {r.header("ft-day") for r in sessions} == {"2025-11-07"}


def test_three_past_logical_dates_give_three_distinct_days(airflow_home, kafka_bootstrap, topics):
    t1, t2 = topics
    days = [date(2025, 11, 3), date(2025, 11, 4), date(2025, 11, 5)]
    for day in days:  # what `airflow backfill create` + a scheduler would run, one logical date each
        proc = airflow_dags_test(
            airflow_home, kafka_bootstrap, day.isoformat(),
            {"seed": 11, "daily_customers": 120, "topic": t1, "topic_realistic": t2},
        )
        assert_success(proc)

    sessions, events = read_topic(kafka_bootstrap, t1), read_topic(kafka_bootstrap, t2)
    assert Counter(r.header("ft-day") for r in sessions) == {d.isoformat(): 120 for d in days}
    assert Counter(r.header("ft-day") for r in events) == {d.isoformat(): 240 for d in days}
    for r in sessions + events:
        start = datetime.combine(date.fromisoformat(r.header("ft-day")), datetime.min.time(), UTC)
        ts = datetime.fromtimestamp(r.timestamp_ms / 1000, UTC)
        assert start <= ts < start + timedelta(days=1, hours=6), (r.header("ft-day"), ts)
    for r in sessions:
        assert json.loads(r.value)["entry_time"].startswith(r.header("ft-day"))
    customers = {d.isoformat(): set() for d in days}
    for r in sessions:
        customers[r.header("ft-day")].add(json.loads(r.value)["customer_id"])
    a, b, c = customers.values()
    assert len(a) == len(b) == len(c) == 120 and not (a & b or b & c or a & c), "each day has its own visits"


def test_a_bad_param_is_refused_before_anything_is_sent(airflow_home, kafka_bootstrap, topics):
    t1, t2 = topics
    proc = airflow_dags_test(airflow_home, kafka_bootstrap, "2025-11-07",
                             {"daily_customers": 0, "topic": t1, "topic_realistic": t2})
    assert proc.returncode != 0
    assert "daily_customers" in proc.stdout + proc.stderr
    assert read_topic(kafka_bootstrap, t1) == [] and read_topic(kafka_bootstrap, t2) == []
