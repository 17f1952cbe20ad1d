"""A scheduled-style live run of today and a manual run of the same day, both through
Airflow (``airflow dags test`` of the real ``foot_traffic_daily``, each with its own
metadata database as two deployments or two schedulers would be): the manual run fences
the live one, which fails with a message naming the manual run and is not retried; the
manual run completes the day; the topics hold it exactly once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from foot_traffic.local_broker import LocalBroker
from foot_traffic.settings import Settings
from tests.faults.checks import check_day, producer_env, wait_for_line

pytest.importorskip("foot_traffic_airflow.operators")

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.airflow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def airflow_env(home: Path, bootstrap: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in Settings.env_names() and not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),  # the chain DAG's timetable
        AIRFLOW__CORE__PARALLELISM="4",
        PYTHONWARNINGS="ignore",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AIRFLOW_CONN_KAFKA_DEFAULT=json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": bootstrap}}),
    )
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.clients("kafka-python")
def test_a_manual_run_fences_the_scheduled_live_run_of_the_same_day(tmp_path, ledger):
    today = datetime.now(UTC).date()
    suffix = uuid.uuid4().hex[:8]
    topics = (f"ft_afc_{suffix}", f"ftr_afc_{suffix}")
    customers, seed = 4000, 301
    conf = {
        "seed": seed, "daily_customers": customers, "time_scale": 2500, "from_midnight": True,
        "topic": topics[0], "topic_realistic": topics[1],
    }
    broker = LocalBroker(tmp_path / "broker").start()
    try:
        envs = [airflow_env(tmp_path / name, broker.bootstrap) for name in ("scheduled", "manual")]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(migrate, envs))
        logs = [tmp_path / "scheduled.log", tmp_path / "manual.log"]
        # The scheduled run's logical date is midnight; the manual trigger's is "now".
        dates = [f"{today}T00:00:00+00:00", datetime.now(UTC).replace(microsecond=0).isoformat()]
        procs = []
        for env, log, logical in zip(envs, logs, dates):
            with open(log, "wb") as fh:
                procs.append(subprocess.Popen(
                    [str(BIN / "airflow"), "dags", "test", "foot_traffic_daily", logical, "-c", json.dumps(conf)],
                    env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                ))
            if not procs[1:]:
                wait_for_line(log, f"plan for {today}", timeout=120, proc=procs[0])
                time.sleep(5)  # the live run is a few simulated hours into the day
        ledger.fault()
        try:
            codes = [p.wait(300) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        scheduled, manual = (log.read_text(errors="replace") for log in logs)
        assert "state=success" in manual and codes[1] == 0, manual[-4000:]
        assert "FootTrafficFenced" in scheduled and "fenced by a newer run" in scheduled, scheduled[-4000:]
        ledger.fenced()
        # ... naming the manual run (its run id, from its owner record)
        manual_run_id = re.search(r"creating dag run .* run_id=(\S+)", manual).group(1)
        assert f"fenced by a newer run: Airflow foot_traffic_daily/{manual_run_id} produce_day try 1" in scheduled, (
            scheduled[-4000:]
        )
        assert "up_for_retry" not in scheduled, "a fenced run must not be retried into a fight"
        assert "state=failed" in scheduled
        check = check_day(broker.bootstrap, producer_env(broker.bootstrap, topics, SEED=seed, DAILY_CUSTOMERS=customers), today)
        ledger.checked(check)
        assert check.ok and check.landed == 3 * customers, check.describe()
    finally:
        broker.kill()
