"""The Airflow task loses its broker mid-day (SIGKILL, then restart): the task heals
in-process (the runner reconnects, re-scans and sends exactly the rest) before Airflow's
own retry is needed; Airflow's retry stays the fallback once MAX_RETRIES is spent. Runs
``airflow dags test`` (which honours ``retries``/``retry_delay``) on a throw-away DAG with
a 2-second retry delay."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from foot_traffic.local_broker import LocalBroker
from foot_traffic.settings import Settings
from tests.faults.checks import (
    check_day,
    end_forgotten_transaction,
    producer_env,
    wait_for_line,
    waits_on_a_forgotten_transaction,
)

pytest.importorskip("foot_traffic_airflow.operators")

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.airflow]

BIN = Path(sys.executable).parent
RNG = random.Random(int(os.environ.get("FAULT_SEED", "20261128")) + 2)

DAG = """
from datetime import timedelta
import pendulum
from airflow.sdk import DAG
from foot_traffic_airflow.operators import FootTrafficProducerOperator

with DAG(dag_id="ft_fault_retry", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
         catchup=False, default_args={{"retries": 3, "retry_delay": timedelta(seconds=2)}}) as dag:
    FootTrafficProducerOperator(
        task_id="produce_day", kafka_config_id="kafka_default",
        settings={{"daily_customers": {customers}, "seed": {seed}, "time_scale": 20000, "topic": "{t1}",
                   "topic_realistic": "{t2}", "from_midnight": True, "max_retries": 4, "retry_backoff_seconds": 0.5,
                   "kafka_client": "{client}"}},
    )
"""


def test_broker_sigkilled_mid_day_airflow_retries_the_task(tmp_path, ledger, kafka_client):
    day = datetime.now(UTC).date()
    suffix = uuid.uuid4().hex[:8]
    topics = (f"ft_af_{suffix}", f"ftr_af_{suffix}")
    customers, seed = 5000, 300
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "ft_fault_retry.py").write_text(
        textwrap.dedent(DAG.format(customers=customers, seed=seed, t1=topics[0], t2=topics[1], client=kafka_client))
    )
    broker = LocalBroker(tmp_path / "broker").start()
    try:
        env = {k: v for k, v in os.environ.items() if k not in Settings.env_names() and not k.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(tmp_path / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW__CORE__PARALLELISM="4",
            PYTHONWARNINGS="ignore",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            AIRFLOW_CONN_KAFKA_DEFAULT=(
                '{"conn_type": "kafka", "extra": {"bootstrap.servers": "%s"}}' % broker.bootstrap
            ),
        )
        migrate = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True,
                                 timeout=300)
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        log = tmp_path / "dags_test.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                [str(BIN / "airflow"), "dags", "test", "ft_fault_retry", day.isoformat()],
                env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            wait_for_line(log, f"plan for {day}", timeout=120, proc=proc)
            time.sleep(RNG.uniform(0.5, 2.5))
            broker.kill()
            ledger.fault()
            time.sleep(1.0)
            broker = LocalBroker(broker.data_dir, port=broker.port).start()
            # The embedded broker's flaw (a transaction nobody can end, see checks.py) is ended
            # as an operator would; the task must heal from that too.
            deadline, waiting_since = time.monotonic() + 240, None
            while proc.poll() is None:
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
                forgotten, waiting_since = waits_on_a_forgotten_transaction(log.read_text(errors="replace"),
                                                                            waiting_since)
                if forgotten:
                    broker = end_forgotten_transaction(broker, ledger)
                    waiting_since = None
                time.sleep(0.2)
            rc = proc.returncode
        finally:
            if proc.poll() is None:
                proc.kill()
        text = log.read_text(errors="replace")
        assert rc == 0, text[-4000:]
        assert "DagRun Finished" in text and "state=success" in text, text[-4000:]
        retried = "new_state=up_for_retry" in text
        print("task retried by Airflow:", retried, "; healed in-process:", "recovered after" in text)
        assert not retried, text[-4000:]  # healed inside the task
        check = check_day(broker.bootstrap, producer_env(broker.bootstrap, topics, SEED=seed,
                                                         DAILY_CUSTOMERS=customers), day)
        ledger.checked(check)
        assert check.ok, check.describe()
    finally:
        broker.kill()
