"""The chain on Airflow's distributed executor, for real: CeleryExecutor, two workers.

Airflow's production set-up, every component its own process: scheduler, dag-processor,
api-server (the execution API the workers report to), triggerer and two
``airflow celery worker`` processes (own ``--celery-hostname`` and log-server port each),
with Redis as the Celery broker (a DB index of this test's own, flushed after) and a
fresh PostgreSQL database as metadata DB and Celery result backend (dropped after).

1. A past day of a nine-store chain, triggered through the CLI with a logical date, is
   cut into five shards; the mapped tasks run on both workers (``task_instance.hostname``)
   and every store's records, read back from the broker, are exactly its plan.
2. A live day of two stores west of UTC (their midnight is always hours ahead of the run's
   day start at UTC+14): the shard defers to the triggerer, resumes on a worker when its
   first midnight comes (accelerated 20,000x here), and delivers the day exactly.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from foot_traffic.local_broker import free_port
from foot_traffic.settings import Settings
from foot_traffic.plan.stores import load_catalogue
from foot_traffic_airflow.chain import chain_day
from tests.support.chain_check import landed, problems

from .conftest import ROOT, kafka_conn_json, subprocess_env
from .processes import airflow, kill_tree, postgres_database, query, redis_database, start, tails, wait_for_line

pytestmark = [pytest.mark.airflow, pytest.mark.integration]
DAG_ID = "foot_traffic_chain_daily"
EXAMPLE = ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml"
PAST_DAY = "2026-11-27"
WORKERS = ("worker-a", "worker-b")


@pytest.fixture
def services():
    with postgres_database("ft_celery") as db_url, redis_database() as redis_url:
        yield db_url, redis_url


def past_chain(tmp_path: Path) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["stores"] = [s for s in doc["stores"] if s["id"] != "berlin-mitte"]  # nine stores
    for store in doc["stores"]:
        store["base_daily_customers"] //= 10
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def west_chain(tmp_path: Path) -> Path:
    doc = {"stores": [
        {"id": "pago-pago", "timezone": "Pacific/Pago_Pago", "base_daily_customers": 60,
         "opening_hours": {"daily": "08:00-20:00"}},
        {"id": "honolulu", "timezone": "Pacific/Honolulu", "base_daily_customers": 80,
         "opening_hours": {"daily": "00:00-24:00"}},
    ]}
    path = tmp_path / "west.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def task_instances(db_url: str, run_id: str) -> list[tuple]:
    return query(
        db_url, "select task_id, map_index, state, hostname, rendered_map_index from task_instance "
        "where dag_id = %s and run_id = %s order by task_id, map_index", (DAG_ID, run_id),
    )


def wait_for_runs(env, run_ids: set[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        runs = json.loads(airflow(env, "dags", "list-runs", DAG_ID, "-o", "json"))
        states = {r["run_id"]: r["state"] for r in runs if r["run_id"] in run_ids}
        if len(states) == len(run_ids) and all(s in ("success", "failed") for s in states.values()):
            break
        time.sleep(3)
    return states


def test_the_chain_runs_on_two_celery_workers_and_defers_far_midnights(services, kafka_bootstrap, topics, tmp_path):
    db_url, redis_url = services
    api_port = free_port()
    home = tmp_path / "home"
    env = subprocess_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=db_url,
        AIRFLOW__CELERY__BROKER_URL=redis_url,
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + db_url,  # postgresql+psycopg2 (SQLAlchemy 2.1 defaults to psycopg 3)
        AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="1",
        AIRFLOW__CORE__PARALLELISM="8",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        # Only the runs this test triggers: unpausing would also start today's scheduled
        # (live, real-time) run of the default catalogue.
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.support.worker_name.hostname",
        AIRFLOW_CONN_KAFKA_DEFAULT=kafka_conn_json(kafka_bootstrap),
        FOOT_TRAFFIC_DEFER_AFTER_SECONDS="0.1",  # defer even the short waits of an accelerated day
        PYTHONPATH=str(ROOT),
        PYTHONWARNINGS="ignore",
    )
    airflow(env, "db", "migrate", timeout=300)
    airflow(env, "dags", "reserialize")
    logs = tmp_path / "logs"
    logs.mkdir()
    started = []
    try:
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            started.append(start(dict(env, AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port())),
                                 logs, component, component))
        for name in WORKERS:
            worker_env = dict(env, FT_TEST_WORKER_NAME=name, AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()))
            started.append(start(worker_env, logs, name, "celery", "worker", "--celery-hostname", f"{name}@%h",
                                 "--concurrency", "1"))
        for proc, name in zip(started[-2:], WORKERS):
            wait_for_line(logs / f"{name}.log", "ready.", 120, proc)

        airflow(env, "dags", "unpause", DAG_ID)
        past = past_chain(tmp_path)
        past_conf = {"seed": 7, "shard_size": 2, "stores_file": str(past), "topic": topics[0], "topic_realistic": topics[1]}
        airflow(env, "dags", "trigger", DAG_ID, "--run-id", "chain_past", "-l", f"{PAST_DAY}T00:00:00+00:00",
                "-c", json.dumps(past_conf))
        live_topics = (topics[0] + "_live", topics[1] + "_live")
        west = west_chain(tmp_path)
        live_conf = {"seed": 9, "stores_file": str(west), "time_scale": 20000.0,
                     "topic": live_topics[0], "topic_realistic": live_topics[1]}
        before = datetime.now(UTC)
        airflow(env, "dags", "trigger", DAG_ID, "--run-id", "chain_live", "-c", json.dumps(live_conf))
        after = datetime.now(UTC)
        states = wait_for_runs(env, {"chain_past", "chain_live"}, timeout=480)
        past_tis = task_instances(db_url, "chain_past")
        live_tis = task_instances(db_url, "chain_live")
    finally:
        for proc in reversed(started):
            kill_tree(proc)
    assert states == {"chain_past": "success", "chain_live": "success"}, f"{states}\n{past_tis}\n{live_tis}\n{tails(logs)}"

    # 1. five shards of the past day, spread over both workers, each named by its stores
    shards = [ti for ti in past_tis if ti[0] == "produce_shard"]
    assert [ti[1] for ti in shards] == [0, 1, 2, 3, 4] and all(ti[2] == "success" for ti in shards)
    assert {ti[3] for ti in shards} == set(WORKERS), past_tis
    assert shards[0][4] == "sydney-george-st, tokyo-shibuya"
    chain = load_catalogue(past)
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1], "SEED": "7"})
    assert problems(chain, date.fromisoformat(PAST_DAY), settings, landed(kafka_bootstrap, topics)) == []

    # 2. the live shard waited in the triggerer, then delivered its day exactly
    records = landed(kafka_bootstrap, live_topics)
    days = {r.header("ft-day") for r in records}
    assert len(days) == 1 and days <= {chain_day(before).isoformat(), chain_day(after).isoformat()}, days
    (day,) = days
    settings = Settings.from_env({"KAFKA_TOPIC": live_topics[0], "KAFKA_TOPIC_REALISTIC": live_topics[1], "SEED": "9"})
    assert problems(load_catalogue(west), date.fromisoformat(day), settings, records) == []
    (live_shard,) = [ti for ti in live_tis if ti[0] == "produce_shard"]
    assert live_shard[3] in WORKERS
    task_logs = sorted((home / "logs").glob(f"dag_id={DAG_ID}/run_id=chain_live/task_id=produce_shard/**/*.log"))
    text = "\n".join(p.read_text(errors="replace") for p in task_logs)
    # the task's log, then the trigger's own log (written by the triggerer), then the resumed task
    assert "waiting in the triggerer" in text and "Pausing task as DEFERRED" in text, text[-3000:]
    assert any(".log.trigger." in p.name for p in task_logs) and "Trigger fired event" in text, text[-3000:]
    assert "done: 2 stores" in text, text[-3000:]
