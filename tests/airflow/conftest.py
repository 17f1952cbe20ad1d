"""Fixtures for the operator and end-to-end Airflow tests.

Airflow runs in-process here (operator unit tests) and as ``airflow`` subprocesses
(end-to-end, marked ``airflow``), always in a throw-away AIRFLOW_HOME with SQLite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Before anything imports Airflow: never touch the user's ~/airflow.
if "_FOOT_TRAFFIC_TEST_AIRFLOW_HOME" not in os.environ:
    os.environ["_FOOT_TRAFFIC_TEST_AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="ft-airflow-home-")
os.environ["AIRFLOW_HOME"] = os.environ["_FOOT_TRAFFIC_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")  # the same Airflow as tests/plugin


def kafka_conn_json(bootstrap: str, **extra: str) -> str:
    return json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": bootstrap, **extra}})


@pytest.fixture
def kafka_conn(monkeypatch, kafka_bootstrap):
    """``kafka_default`` pointing at the test broker (from the environment, as in a deployment)."""
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", kafka_conn_json(kafka_bootstrap))
    return kafka_bootstrap


@pytest.fixture
def clean_producer_env(monkeypatch):
    """No producer variable of the machine leaks into a test."""
    from foot_traffic.settings import Settings

    for name in Settings.env_names():
        monkeypatch.delenv(name, raising=False)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of ``airflow`` / ``foot-traffic`` subprocesses: no producer variable leaks in."""
    from foot_traffic.settings import Settings

    env = {k: v for k, v in os.environ.items() if k not in set(Settings.env_names()) and not k.startswith("AIRFLOW_CONN_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> dict[str, str]:
    """A migrated SQLite AIRFLOW_HOME for ``airflow dags test`` subprocesses; returns its env."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = subprocess_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PARALLELISM="4",
        PYTHONWARNINGS="ignore",
    )
    proc = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return env


def airflow_dags_test(
    env: dict[str, str], bootstrap: str, day: str, conf: dict, dag_id: str = "foot_traffic_daily", timeout: float = 240
) -> subprocess.CompletedProcess:
    run_env = dict(env, AIRFLOW_CONN_KAFKA_DEFAULT=kafka_conn_json(bootstrap))
    return subprocess.run(
        [str(BIN / "airflow"), "dags", "test", dag_id, day, "-c", json.dumps(conf)],
        env=run_env, capture_output=True, text=True, timeout=timeout,
    )
