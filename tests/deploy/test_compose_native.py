"""docker-compose.yaml's Airflow stack, run natively: its services' own commands and settings.

No Docker engine here, so the stack's services become processes of this machine:

- every Airflow service (airflow-init, api-server, scheduler, dag-processor, triggerer,
  the Celery worker) runs its `command` with its `environment` as docker-compose.yaml gives
  them (interpolated with .env.example, the secrets and topics set as a user sets them in
  .env), through the Dockerfile's launcher and a stand-in for the official image's
  /entrypoint (tests/support/official_entrypoint.sh), from the project's virtualenv;
- the service host names are mapped to this machine: `postgres` -> PostgreSQL on
  127.0.0.1:5432 (a fresh database and role of this run, the URL's user, password and
  database name checked against the postgres service's own settings), `redis` -> Redis on
  127.0.0.1:6379 (a database index of this run, flushed after), `kafka` -> the tests'
  local Kafka-protocol broker, `airflow-apiserver` -> the api-server on a free port;
  container paths (/opt/airflow/...) -> a folder of this run, with the compose file's bind
  mounts as symlinks and its named volumes as shared folders;
- kafka-init's topic creation (its partitions and retention.ms from its command) is done
  with an admin client, its Kafka CLI not being on this machine;
- the only settings added are the ones a shared machine needs (listed in NATIVE_ONLY):
  free ports instead of the containers' fixed ones, 127.0.0.1, a hostname, the worker's
  concurrency.

Then, as a user of the stack would: each service's health check command (localhost ports
mapped), log in with the FAB auth manager (the user airflow-init created, a JWT from
/auth/token), unpause foot_traffic_daily and trigger it for a past day through the REST API
(/api/v2), wait for success, read the task's log through the API, and read both topics back:
the day's records must be exactly the plan's. Then the same for foot_traffic_chain_daily (the
example chain, three shards on the Celery worker): every store's day exactly its plan. Run twice: with the programs of the
image-like environment (tests/support/image_env.py: the image's packages, the project only
on PYTHONPATH as in the image) and with the project's .venv; about 100 s each.

What this does not prove (validated statically in test_compose_file.py / test_dockerfile.py):
the image build, container users and file ownership, volumes as Docker mounts them,
networking and published ports, depends_on ordering and health-check timing, the Kafka
container itself (apache/kafka in KRaft mode) and kafka-init's CLI.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from foot_traffic.local_broker import free_port
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import load_catalogue
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import EXAMPLE_CHAIN, Settings
from tests.support.chain_check import problems
from tests.support.compose import ENV_EXAMPLE, interpolate_all, load, read_env_file, service_env
from tests.support.dockerfile import OFFICIAL_IMAGE_HOME, entrypoint_wrapper, env_vars, image_path, replay_layout
from tests.support.kafka_read import read_topic

pytestmark = [pytest.mark.deploy, pytest.mark.airflow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STANDIN_ENTRYPOINT = ROOT / "tests" / "support" / "official_entrypoint.sh"

DAG_ID = "foot_traffic_daily"
DAY = "2025-11-07"  # a past day: the whole day at full speed
CONF = {"seed": 11, "daily_customers": 150}
CHAIN_DAG_ID = "foot_traffic_chain_daily"
CHAIN_DAY = "2025-11-09"  # a past Sunday: the example chain's day (one store closed), full speed
CHAIN_CONF = {"seed": 3, "shard_size": 4}  # the catalogue: the stores_file Param's default, the example chain
INIT = "airflow-init"
LONG_RUNNING = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"]
# Compose service names and the port their clients use, as they appear in the settings.
SERVICE_HOSTS = {"postgres": 5432, "redis": 6379, "kafka": 9092, "airflow-apiserver": 8080}
UNMAPPED = re.compile(r"(?:^|[@/,])(postgres|redis|kafka|airflow-apiserver)(?=:\d|/|$)")


# -- machine resources of this run ---------------------------------------------------------
@pytest.fixture
def postgres(request):
    """A fresh role and database on 127.0.0.1:5432, dropped after: (user, password, database)."""
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"ft_compose_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    password = secrets.token_hex(12)
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:  # pragma: no cover - the machines run PostgreSQL
        pytest.fail(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD %s", (password,))
    cur.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
    try:
        yield name, password, name
    finally:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def redis_index():
    """A Redis database index of this run on 127.0.0.1:6379 (empty when taken, flushed after)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5)
    try:
        count = int(client.config_get("databases").get("databases", 16))
    except redis.exceptions.ConnectionError as exc:  # pragma: no cover - the machines run Redis
        pytest.fail(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    except redis.exceptions.ResponseError:
        count = 16
    claim = f"ft-compose-native:{os.getpid()}:{uuid.uuid4().hex}"
    start = os.getpid() % (count - 1)
    for offset in range(count - 1):
        index = 1 + (start + offset) % (count - 1)  # never 0, the default of everyone
        db = redis.Redis(host="127.0.0.1", port=6379, db=index, socket_timeout=5)
        if db.dbsize() == 0 and db.set("ft-compose-native-claim", claim, nx=True, ex=3600):
            break
    else:
        pytest.fail("no empty Redis database index on 127.0.0.1:6379")
    try:
        yield index
    finally:
        db.flushdb()


# -- the compose file, mapped to this machine ----------------------------------------------
class NativeStack:
    """docker-compose.yaml's Airflow services as processes of this machine."""

    def __init__(self, workdir: Path, compose: dict, postgres: tuple[str, str, str], redis_index: int,
                 kafka_bootstrap: str, bin_dir: Path = BIN):
        self.workdir = workdir
        self.bin_dir = bin_dir  # the Python environment's bin/: airflow, celery, python
        self.compose = compose
        self.services = compose["services"]
        self.pg_user, self.pg_password, self.pg_db = postgres
        self.redis_index = redis_index
        kafka_host, _, kafka_port = kafka_bootstrap.rpartition(":")
        self.api_port = free_port()
        self.endpoints = {
            "postgres": ("127.0.0.1", 5432),
            "redis": ("127.0.0.1", 6379),
            "kafka": (kafka_host, int(kafka_port)),
            "airflow-apiserver": ("127.0.0.1", self.api_port),
        }
        self.health_port = free_port()
        self.hostname = socket.gethostname()  # what $HOSTNAME is in a shell (in a container: its name)
        # Settings a shared machine needs; everything else comes from the compose file.
        self.native_only = {
            "AIRFLOW__API__HOST": "127.0.0.1",  # container: 0.0.0.0, published as AIRFLOW_WEB_PORT
            "AIRFLOW__API__PORT": str(self.api_port),  # container: 8080
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),  # container: 8793
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),  # container: 8794
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.health_port),  # container: 8974
            # Compose: 8. Here 4 for 2 shared cores: unpausing starts today's live runs of both
            # DAGs, which hold a slot each all day; the manual runs need the others.
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
            "HOSTNAME": self.hostname,  # container: its own host name
        }
        self.root = workdir / "container"
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True)
        self.processes: dict[str, subprocess.Popen] = {}
        self._make_filesystem()

    # file system: the image's layout, then the compose file's mounts
    def _make_filesystem(self) -> None:
        replay_layout(self.root)
        mounts = {tuple(self.services[name].get("volumes") or ()) for name in [INIT, *LONG_RUNNING]}
        assert len(mounts) == 1, f"the Airflow services mount different volumes: {mounts}"
        declared = set(self.compose.get("volumes") or {})
        for volume in next(iter(mounts)):
            source, target = volume.split(":")[:2]
            where = self.root / target.lstrip("/")
            if where.is_symlink() or where.is_file():
                where.unlink()
            elif where.exists():
                shutil.rmtree(where)
            where.parent.mkdir(parents=True, exist_ok=True)
            if source.startswith((".", "/")):
                where.symlink_to((ROOT / source).resolve(), target_is_directory=True)
            else:
                assert source in declared, f"volume {source} is not declared"
                shared = self.workdir / "volumes" / source
                shared.mkdir(parents=True, exist_ok=True)
                where.symlink_to(shared, target_is_directory=True)
        launcher = self.root / entrypoint_wrapper().lstrip("/")
        launcher.write_text(launcher.read_text().replace(" /entrypoint", f" {STANDIN_ENTRYPOINT}"))
        # chown in airflow-init: file ownership in containers is a Docker matter
        shims = self.workdir / "shims"
        shims.mkdir()
        (shims / "chown").write_text("#!/bin/sh\nexit 0\n")
        (shims / "chown").chmod(0o755)
        self.shims = shims

    @property
    def launcher(self) -> Path:
        return self.root / entrypoint_wrapper().lstrip("/")

    def map_endpoint(self, host: str, port: int | None) -> tuple[str, int]:
        assert host in self.endpoints, f"unknown service host {host!r}"
        expected = SERVICE_HOSTS[host]
        assert port in (None, expected), f"{host}:{port}: the service listens on {expected}"
        return self.endpoints[host]

    def map_url(self, url: str) -> str:
        parts = urlsplit(url)
        host, port = self.map_endpoint(parts.hostname, parts.port)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{host}:{port}" if "@" in parts.netloc else f"{host}:{port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def map_database_url(self, url: str) -> str:
        """postgres service's URL -> this run's database; the URL must match the postgres service."""
        pg = service_env(self.services["postgres"])
        parts = urlsplit(url)
        assert parts.hostname == "postgres" and parts.port in (None, 5432), url
        assert parts.username == pg["POSTGRES_USER"], f"{url}: user is not the postgres service's POSTGRES_USER"
        assert parts.password == pg["POSTGRES_PASSWORD"], f"{url}: password is not the postgres service's"
        assert parts.path == f"/{pg['POSTGRES_DB']}", f"{url}: database is not the postgres service's POSTGRES_DB"
        netloc = f"{self.pg_user}:{self.pg_password}@127.0.0.1:5432"
        return urlunsplit(parts._replace(netloc=netloc, path=f"/{self.pg_db}"))

    def map_redis_url(self, url: str) -> str:
        parts = urlsplit(self.map_url(url))
        assert parts.path in ("", "/", "/0"), f"{url}: expected Redis database 0"
        return urlunsplit(parts._replace(path=f"/{self.redis_index}"))

    def map_bootstrap(self, servers: str) -> str:
        out = []
        for server in servers.split(","):
            host, _, port = server.strip().rpartition(":")
            out.append("%s:%d" % self.map_endpoint(host, int(port)))
        return ",".join(out)

    def environment(self, name: str) -> dict[str, str]:
        """The process environment of service ``name``: the image's ENV, then the service's
        environment with hosts and paths mapped, then NATIVE_ONLY."""
        keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER", "LOGNAME")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env["PATH"] = f"{self.shims}:{self.root / 'usr/local/bin'}:{self.bin_dir}:/usr/local/bin:/usr/bin:/bin"
        env["AIRFLOW_HOME"] = str(self.root / OFFICIAL_IMAGE_HOME.lstrip("/"))  # the official image's ENV
        for key, value in env_vars().items():
            env[key] = image_path(self.root, value)
        for key, value in service_env(self.services[name]).items():
            if key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",):
                value = self.map_database_url(value)
            elif key == "AIRFLOW__CELERY__RESULT_BACKEND":
                assert value.startswith("db+"), value
                value = "db+" + self.map_database_url(value[3:])
            elif key == "AIRFLOW__CELERY__BROKER_URL":
                value = self.map_redis_url(value)
            elif key == "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                value = self.map_url(value)
            elif key.startswith("AIRFLOW_CONN_"):
                conn = json.loads(value)
                conn["extra"]["bootstrap.servers"] = self.map_bootstrap(conn["extra"]["bootstrap.servers"])
                value = json.dumps(conn)
            elif key == "KAFKA_BROKER":
                value = self.map_bootstrap(value)
            elif value.startswith(OFFICIAL_IMAGE_HOME):
                value = image_path(self.root, value)
            assert not UNMAPPED.search(value), f"{name}: {key}={value} names a service this run does not map"
            env[key] = value
        env.update(self.native_only)
        return env

    # processes
    def run_init(self, timeout: float = 600) -> subprocess.CompletedProcess:
        service = self.services[INIT]
        entrypoint = service["entrypoint"]
        assert entrypoint == "/bin/bash", entrypoint
        command = list(service["command"])
        assert command[0] == "-c", command
        script = command[1].replace("/entrypoint", str(STANDIN_ENTRYPOINT))
        script = script.replace(OFFICIAL_IMAGE_HOME, str(self.root / OFFICIAL_IMAGE_HOME.lstrip("/")))
        with open(self.logs / f"{INIT}.log", "w") as out:
            return subprocess.run(["bash", "-c", script], env=self.environment(INIT), stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)

    def start(self, name: str) -> None:
        command = shlex.split(self.services[name]["command"])
        out = open(self.logs / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(
            ["bash", str(self.launcher), *command], env=self.environment(name), stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.workdir,
        )

    def healthcheck(self, name: str) -> subprocess.CompletedProcess:
        """The service's health-check command, with the containers' localhost ports mapped."""
        test = self.services[name]["healthcheck"]["test"]
        kind, *args = test
        ports = {"8080": str(self.api_port), "8974": str(self.health_port)}
        mapped = [re.sub(r"localhost:(\d+)", lambda m: f"127.0.0.1:{ports.get(m[1], m[1])}", a) for a in args]
        cmd = mapped if kind == "CMD" else ["bash", "-c", mapped[0]]
        assert kind in ("CMD", "CMD-SHELL"), test
        return subprocess.run(cmd, env=self.environment(name), capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    def wait_healthy(self, name: str) -> float:
        """Poll the health check until it passes, within the compose file's own budget
        (start_period + retries x interval); returns the seconds it took."""
        check = self.services[name]["healthcheck"]
        budget = sum(_seconds(check.get(k, "0s")) for k in ("start_period",)) + \
            int(check.get("retries", 3)) * _seconds(check.get("interval", "30s"))
        started = time.monotonic()
        while True:
            self.assert_running()
            result = self.healthcheck(name)
            if result.returncode == 0:
                return time.monotonic() - started
            if time.monotonic() - started > budget:
                raise AssertionError(f"{name}: health check still failing after {budget:.0f} s:\n"
                                     f"{result.stdout[-1500:]}\n{result.stderr[-1500:]}\n{self.tails()}")
            time.sleep(2)

    def assert_running(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{self.tails()}")

    def tails(self, chars: int = 2500) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-chars:]}" for p in sorted(self.logs.iterdir()))

    def stop(self) -> None:
        from tests.support.services import kill_trees

        kill_trees(self.processes.values(), grace=20)


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    assert match, text
    return int(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match[2]]


def create_topics_like_kafka_init(stack: NativeStack, bootstrap: str) -> tuple[int, dict[str, str]]:
    """kafka-init's topics, with its partitions and configs, through an admin client."""
    from kafka.admin import KafkaAdminClient, NewTopic

    init = stack.services["kafka-init"]
    env = service_env(init)
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert '--partitions "${TOPIC_PARTITIONS}"' in script and "--replication-factor 1" in script, script
    configs = dict(c.split("=", 1) for c in re.findall(r"--config (\S+)", script))
    partitions = int(env["TOPIC_PARTITIONS"])
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(env[k], partitions, 1, topic_configs=configs)
                             for k in ("KAFKA_TOPIC", "KAFKA_TOPIC_REALISTIC")])
    finally:
        admin.close()
    return partitions, configs


# -- the run -----------------------------------------------------------------------------
# The image-like environment only: it is what the image runs; the project's .venv (the
# variant this test also ran until the suite's budget asked for its 2 minutes back) runs
# the same DAGs in every other Airflow test.
@pytest.fixture(params=["image-env"])
def python_bin(request) -> Path:
    """Where the services' programs come from: the environment built like the image (the
    image's packages, the project only on PYTHONPATH as in the image), or the project's .venv."""
    if request.param == "image-env":
        return request.getfixturevalue("image_env").bin
    return BIN


def test_compose_stack_runs_natively_and_delivers_a_day(python_bin, postgres, redis_index, kafka_bootstrap, topics,
                                                         tmp_path):
    import httpx

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    user_password = secrets.token_urlsafe(12)
    dotenv = dict(read_env_file(ENV_EXAMPLE))  # what a user copies to .env, with its CHANGE-MEs set
    dotenv.update(POSTGRES_PASSWORD=secrets.token_hex(8), _AIRFLOW_WWW_USER_PASSWORD=user_password,
                  KAFKA_TOPIC=topics[0], KAFKA_TOPIC_REALISTIC=topics[1])
    compose = interpolate_all(load(), dotenv)
    stack = NativeStack(tmp_path, compose, postgres, redis_index, kafka_bootstrap, python_bin)

    partitions, configs = create_topics_like_kafka_init(stack, kafka_bootstrap)
    assert configs == {"retention.ms": "-1"}

    try:
        init = stack.run_init()
        timings["airflow-init"] = time.monotonic() - t0
        assert init.returncode == 0, stack.tails()
        cfg = (stack.root / "opt/airflow/config/airflow.cfg").read_text()
        for option in ("fernet_key", "jwt_secret", "secret_key"):  # shared by every service
            assert re.search(rf"(?m)^{option} = \S{{16,}}", cfg), f"airflow-init wrote no {option} to airflow.cfg"

        t = time.monotonic()
        for name in LONG_RUNNING:
            stack.start(name)
        for name in LONG_RUNNING:
            stack.wait_healthy(name)
        timings["services healthy"] = time.monotonic() - t

        api = f"http://127.0.0.1:{stack.api_port}"
        with httpx.Client(base_url=api, timeout=30) as client:
            username = dotenv["_AIRFLOW_WWW_USER_USERNAME"]
            wrong = client.post("/auth/token", json={"username": username, "password": user_password + "x"})
            assert wrong.status_code == 401, wrong.text
            login = client.post("/auth/token", json={"username": username, "password": user_password})
            assert login.status_code == 201, f"{login.status_code} {login.text}\n{stack.tails()}"
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            assert client.get(f"/api/v2/dags/{DAG_ID}", headers={"Authorization": ""}).status_code == 401

            t = time.monotonic()
            while (dag := client.get(f"/api/v2/dags/{DAG_ID}")).status_code == 404:
                stack.assert_running()
                assert time.monotonic() - t < 180, f"the dag-processor did not register {DAG_ID}\n{stack.tails()}"
                time.sleep(2)
            assert dag.status_code == 200, dag.text
            assert dag.json()["is_paused"] is True  # AIRFLOW_DAGS_PAUSED_AT_CREATION=true in .env.example
            timings["DAG registered"] = time.monotonic() - t

            assert client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
            t = time.monotonic()
            created = client.post(f"/api/v2/dags/{DAG_ID}/dagRuns",
                                  json={"logical_date": f"{DAY}T00:00:00Z", "conf": CONF})
            assert created.status_code == 200, created.text
            run_id = created.json()["dag_run_id"]
            while (state := client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]) not in (
                    "success", "failed"):
                stack.assert_running()
                assert time.monotonic() - t < 300, f"run {run_id} still {state}\n{stack.tails()}"
                time.sleep(2)
            timings["run"] = time.monotonic() - t
            tis = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
            assert state == "success", f"{run_id}: {state} {tis}\n{stack.tails()}"
            assert {t["task_id"]: t["state"] for t in tis} == {"produce_day": "success", "announce_topics": "success"}, tis
            (ti,) = [t for t in tis if t["task_id"] == "produce_day"]
            assert ti["hostname"], ti
            log = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}",
                             headers={"Accept": "application/json"})
            assert log.status_code == 200, log.text
            log_text = json.dumps(log.json()["content"])  # from the shared logs volume / the worker's log server
            assert f"plan for {DAY}" in log_text and "seed 11" in log_text, log_text[-2000:]
            client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": True})

            # the chain DAG, sharded over the stack's Celery worker
            assert client.patch(f"/api/v2/dags/{CHAIN_DAG_ID}", json={"is_paused": False}).status_code == 200
            t = time.monotonic()
            created = client.post(f"/api/v2/dags/{CHAIN_DAG_ID}/dagRuns",
                                  json={"logical_date": f"{CHAIN_DAY}T00:00:00Z", "conf": CHAIN_CONF})
            assert created.status_code == 200, created.text
            chain_run_id = created.json()["dag_run_id"]
            while (state := client.get(f"/api/v2/dags/{CHAIN_DAG_ID}/dagRuns/{chain_run_id}").json()["state"]) not in (
                    "success", "failed"):
                stack.assert_running()
                assert time.monotonic() - t < 420, f"run {chain_run_id} still {state}\n{stack.tails()}"
                time.sleep(2)
            timings["chain run"] = time.monotonic() - t
            chain_tis = client.get(f"/api/v2/dags/{CHAIN_DAG_ID}/dagRuns/{chain_run_id}/taskInstances").json()["task_instances"]
            assert state == "success", f"{chain_run_id}: {state} {chain_tis}\n{stack.tails()}"
            shards = [ti for ti in chain_tis if ti["task_id"] == "produce_shard"]
            assert len(shards) == 3 and all(ti["state"] == "success" and ti["rendered_map_index"] for ti in shards), chain_tis
            client.patch(f"/api/v2/dags/{CHAIN_DAG_ID}", json={"is_paused": True})
    finally:
        stack.stop()
        timings["total"] = time.monotonic() - t0
        print(f"\ncompose stack natively ({python_bin.parent}): {', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}")

    # the Celery worker ran it (the scheduler queued it through Redis), and Celery took the
    # compose file's visibility_timeout (without it, both warn about the 24 h default)
    worker_log = (stack.logs / "airflow-worker.log").read_text(errors="replace")
    assert re.search(rf"Executing workload in Celery: .*run_id={re.escape(run_id)}", worker_log), worker_log[-3000:]
    for name in ("airflow-worker", "airflow-scheduler"):
        assert "No visibility_timeout configured" not in (stack.logs / f"{name}.log").read_text(errors="replace"), name

    # the chain's shards ran on the Celery worker too, and every store's day is exactly its plan
    assert len(re.findall(rf"Executing workload in Celery: .*run_id={re.escape(chain_run_id)}/task_id=produce_shard/",
                          worker_log)) == 3, worker_log[-3000:]
    all_records = [r for topic in topics for r in read_topic(kafka_bootstrap, topic)]
    chain_settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1],
                                        "SEED": str(CHAIN_CONF["seed"])})
    # The manual run's day only: unpausing also started today's scheduled run, whose stores
    # whose today has passed (Tokyo, after 15:00 UTC) are played at full speed meanwhile.
    store_records = [r for r in all_records if r.header("ft-store") is not None and r.header("ft-day") == CHAIN_DAY]
    assert problems(load_catalogue(EXAMPLE_CHAIN), date.fromisoformat(CHAIN_DAY), chain_settings, store_records) == []

    # the day's records on the broker: exactly the plan
    landed = Counter()
    records = set()
    for topic in topics:
        for r in read_topic(kafka_bootstrap, topic):
            if r.header("ft-day") == DAY and r.header("ft-store") is None:
                landed[topic] += 1
                records.add((r.topic, r.key, r.value, r.headers, r.timestamp_ms))
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1], "SEED": str(CONF["seed"]),
                                  "DAILY_CUSTOMERS": str(CONF["daily_customers"])})
    plan = plan_store_day(implicit_store(settings, load_profile(settings.profile_file)), date.fromisoformat(DAY), settings)
    want = {(r.topic, r.key, r.value, r.headers, r.timestamp_ms) for m in StoreDayStream(plan, *topics) for r in m.records}
    assert landed == {topics[0]: plan.total, topics[1]: 2 * plan.total}, (landed, plan.total)
    assert records == want
    assert partitions == Settings().topic_partitions
