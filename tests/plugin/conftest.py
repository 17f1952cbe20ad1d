"""Fixtures for the plugin: Airflow's own API app (with the plugin mounted) in-process on a
migrated SQLite home, JWTs from its auth manager, and one real producer run in its DB.

The run is made by ``airflow dags test`` against the real local broker, so its task
instance, rendered arguments and XCom summary are the ones Airflow itself wrote.
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

# Before anything imports Airflow (same home as tests/airflow and tests/dags: one Airflow per process).
if "_FOOT_TRAFFIC_TEST_AIRFLOW_HOME" not in os.environ:
    os.environ["_FOOT_TRAFFIC_TEST_AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="ft-airflow-home-")
os.environ["AIRFLOW_HOME"] = os.environ["_FOOT_TRAFFIC_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")

RUN_DAY = "2025-11-07"
RUN_CONF = {"seed": 7, "daily_customers": 300}
SECRET = "hunter2-plugin-never-shown"


def airflow_env(**extra: str) -> dict[str, str]:
    """Environment of ``airflow`` subprocesses on the in-process Airflow's home."""
    from foot_traffic.settings import Settings

    drop = set(Settings.env_names())
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("AIRFLOW_CONN_")}
    env.update(
        AIRFLOW_HOME=os.environ["AIRFLOW_HOME"],
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


def conn_json(bootstrap: str, **extra: str) -> str:
    return json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": bootstrap, **extra}})


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Migrate the in-process Airflow's SQLite database (once per session)."""
    proc = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=airflow_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


@pytest.fixture(scope="session")
def producer_run(airflow_db, kafka_bootstrap, tmp_path_factory) -> dict[str, str]:
    """One finished ``foot_traffic_daily`` run (seed 7, 300 visits, 2025-11-07) on fresh topics."""
    suffix = os.urandom(4).hex()
    topics = (f"ft_plugin_{suffix}", f"ftr_plugin_{suffix}")
    conf = {**RUN_CONF, "topic": topics[0], "topic_realistic": topics[1]}
    proc = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "foot_traffic_daily", RUN_DAY, "-c", json.dumps(conf)],
        env=airflow_env(AIRFLOW_CONN_KAFKA_DEFAULT=conn_json(kafka_bootstrap)),
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == "foot_traffic_daily")).all()
        run = next(r for r in runs if (r.conf or {}).get("topic") == topics[0])
        return {"dag_id": run.dag_id, "run_id": run.run_id, "topic": topics[0], "topic_realistic": topics[1],
                "bootstrap": kafka_bootstrap}


CHAIN_DAY = "2026-11-27"  # a Friday: every store of the example chain opens


def small_chain_file(folder: Path) -> tuple[Path, list[str]]:
    """The example chain with a tenth of its customers: its file and its store ids."""
    import yaml

    doc = yaml.safe_load((ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml").read_text())
    for store in doc["stores"]:
        store["base_daily_customers"] //= 10
    chain_file = folder / "chain.yaml"
    chain_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return chain_file, [s["id"] for s in doc["stores"]]


def fresh_topics(name: str) -> tuple[str, str]:
    suffix = os.urandom(4).hex()
    return f"ft_{name}_{suffix}", f"ftr_{name}_{suffix}"


def dags_test_command(dag_id: str, day: str, conf: dict) -> list[str]:
    return [str(BIN / "airflow"), "dags", "test", dag_id, day, "-c", json.dumps(conf)]


def run_of(dag_id: str, conf_topic: str, /, **extra) -> dict:
    """The run of ``dag_id`` whose conf names ``conf_topic``, as the tests refer to it."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)).all()
        run = next(r for r in runs if (r.conf or {}).get("topic") == conf_topic)
        return {"dag_id": run.dag_id, "run_id": run.run_id, **extra}


@pytest.fixture(scope="session")
def chain_run(airflow_db, kafka_bootstrap, tmp_path_factory) -> dict:
    """One finished ``foot_traffic_chain_daily`` run: the example chain's ten stores (a tenth of
    their customers) in shards of four, on fresh topics."""
    topics = fresh_topics("pchain")
    chain_file, stores = small_chain_file(tmp_path_factory.mktemp("chain"))
    conf = {"seed": 7, "shard_size": 4, "stores_file": str(chain_file), "topic": topics[0], "topic_realistic": topics[1]}
    proc = subprocess.run(
        dags_test_command("foot_traffic_chain_daily", CHAIN_DAY, conf),
        env=airflow_env(AIRFLOW_CONN_KAFKA_DEFAULT=conn_json(kafka_bootstrap)),
        capture_output=True, text=True, timeout=400,
    )
    assert proc.returncode == 0 and "state=failed" not in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    return run_of("foot_traffic_chain_daily", topics[0], topic=topics[0], topic_realistic=topics[1],
                  bootstrap=kafka_bootstrap, stores=stores, chain_file=str(chain_file))


# A day of its own: ``airflow dags test`` replaces an earlier run of the same DAG and logical date.
FAILED_DAY = "2025-11-05"


@pytest.fixture(scope="session")
def failed_run(airflow_db, kafka_bootstrap) -> dict:
    """A ``foot_traffic_daily`` run whose task fails before sending (a profile file that does not exist)."""
    topics = fresh_topics("pfail")
    conf = {"seed": 7, "profile_file": "/nonexistent/profile.yaml", "topic": topics[0], "topic_realistic": topics[1]}
    proc = subprocess.run(
        dags_test_command("foot_traffic_daily", FAILED_DAY, conf),
        env=airflow_env(AIRFLOW_CONN_KAFKA_DEFAULT=conn_json(kafka_bootstrap)),
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0 and "no such file" in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    return run_of("foot_traffic_daily", topics[0], bootstrap=kafka_bootstrap)


@pytest.fixture(scope="session")
def api_app(airflow_db):
    """Airflow's API app (core: REST API, UI, auth, plugins), as ``airflow api-server`` builds it."""
    from airflow.api_fastapi.app import create_app

    return create_app("core")


@pytest.fixture(scope="session")
def client(api_app):
    from fastapi.testclient import TestClient

    with TestClient(api_app, base_url="http://127.0.0.1") as c:
        yield c


def token_for(username: str, role: str | None) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture(scope="session")
def admin_token(api_app) -> str:
    return token_for("admin", "admin")


@pytest.fixture(scope="session")
def viewer_token(api_app) -> str:
    return token_for("viewer", "viewer")


@pytest.fixture(scope="session")
def roleless_token(api_app) -> str:
    """An authenticated user the auth manager grants nothing (no role)."""
    return token_for("nobody", None)
