"""``airflow backfill create`` run by a real scheduler, as in production.

Airflow's production set-up here: a PostgreSQL metadata database (a fresh database on
127.0.0.1:5432 for this test), LocalExecutor, the api-server (the execution API that task
workers report to) and the scheduler. Three past days are backfilled; each must land in
Kafka exactly as planned, with its own day's timestamps.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import date

import pytest

from foot_traffic.local_broker import free_port
from foot_traffic.model.profile import original_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings
from tests.support.kafka_read import read_topic

from .conftest import ROOT, kafka_conn_json, subprocess_env
from .processes import airflow as _airflow
from .processes import kill_tree, postgres_database, start, tails

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

DAYS = ["2025-11-03", "2025-11-04", "2025-11-05"]
CONF = {"seed": 7, "daily_customers": 120}


@pytest.fixture
def postgres_db():
    with postgres_database("ft_backfill") as url:
        yield url


def test_backfill_create_runs_three_past_days_through_the_scheduler(postgres_db, kafka_bootstrap, topics, tmp_path):
    port = free_port()
    env = subprocess_env(
        AIRFLOW_HOME=str(tmp_path / "home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgres_db,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW_CONN_KAFKA_DEFAULT=kafka_conn_json(kafka_bootstrap),
        # The DAG's Param defaults follow the original variables: unpausing also creates
        # today's scheduled run, which these make quick (the rest of today at 100,000x).
        KAFKA_TOPIC=topics[0],
        KAFKA_TOPIC_REALISTIC=topics[1],
        TIME_SCALE="100000",
        DAILY_CUSTOMERS="10",
        PYTHONWARNINGS="ignore",
    )
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "reserialize")
    _airflow(
        env, "backfill", "create", "--dag-id", "foot_traffic_daily", "--from-date", DAYS[0], "--to-date", DAYS[-1],
        "--dag-run-conf", json.dumps(CONF), "--max-active-runs", "2",
    )
    _airflow(env, "dags", "unpause", "foot_traffic_daily")

    logs = tmp_path / "logs"
    logs.mkdir()
    started = []
    try:
        for component in ("api-server", "scheduler"):
            started.append(start(env, logs, component, component))
        # Generous: a bound on a hang, not a speed check (under load three runs took > 240 s).
        deadline = time.monotonic() + 600
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            runs = json.loads(_airflow(env, "dags", "list-runs", "foot_traffic_daily", "-o", "json"))
            states = {r["run_id"]: r["state"] for r in runs if r["run_id"].startswith("backfill__")}
            if len(states) == 3 and all(s in ("success", "failed") for s in states.values()):
                break
            time.sleep(3)
    finally:
        for proc in started:
            kill_tree(proc)
    assert sorted(states.values()) == ["success"] * 3, f"{states}\n{tails(logs, task_logs=tmp_path / 'home' / 'logs')}"
    # Each run announced its topics (one task at a time: see foot_traffic_airflow/assets.py);
    # the alias resolved to the broker really used.
    assets = {a["uri"] for a in json.loads(_airflow(env, "assets", "list", "-o", "json"))}
    assert {f"kafka://{kafka_bootstrap}/{t}" for t in topics} <= assets, assets

    sessions, events = read_topic(kafka_bootstrap, topics[0]), read_topic(kafka_bootstrap, topics[1])
    landed = defaultdict(set)
    for r in sessions + events:
        landed[r.header("ft-day")].add((r.topic, r.key, r.value, r.headers, r.timestamp_ms))
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1],
                                  "SEED": str(CONF["seed"]), "DAILY_CUSTOMERS": str(CONF["daily_customers"])})
    customers = []
    for day in DAYS:
        plan = plan_store_day(implicit_store(settings, original_profile()), date.fromisoformat(day), settings)
        want = {(r.topic, r.key, r.value, r.headers, r.timestamp_ms)
                for m in StoreDayStream(plan, *topics) for r in m.records}
        assert landed[day] == want, day  # exactly the plan: nothing lost, nothing twice
        assert all(json.loads(v)["entry_time"].startswith(day) for t, _, v, _, _ in want if t == topics[0])
        customers.append({k for _, k, _, _, _ in want})
    assert not (customers[0] & customers[1]) and not (customers[1] & customers[2])
