"""Airflow's production set-up for the tests: its services and its component processes.

Shared by the tests that run Airflow as in production (``test_backfill_scheduler.py``:
LocalExecutor; ``test_chain_celery.py``: CeleryExecutor with two workers):

* a fresh PostgreSQL database per test on 127.0.0.1:5432 (dropped after) and a Redis DB
  index of its own on 127.0.0.1:6379 (flushed after): other agents use the same servers;
* the ``airflow`` CLI, and components (scheduler, api-server, workers ...) started as
  process groups with their output in log files, stopped with SIGTERM then SIGKILL.

When a service is missing the test is skipped with what is missing, unless
``FOOT_TRAFFIC_REQUIRE_SERVICES=1`` (CI: ``.ci/run`` sets it), where it fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from .conftest import BIN

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def missing(what: str) -> None:
    """Skip (or, in CI, fail) a test whose service is not there, saying what is missing."""
    message = (
        f"{what}; start it (see /work/.library/env/machines/python-svc.md or .ci/run) "
        "or run only the tests that do not need it"
    )
    if os.environ.get("FOOT_TRAFFIC_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database; yields its SQLAlchemy URL (psycopg2), drops it after."""
    try:
        import psycopg2
    except ImportError:
        missing("psycopg2 is not installed (requirements-dev.txt)")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        missing(f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT} (user postgres, trust auth): {exc}".strip())
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def redis_database() -> Iterator[str]:
    """An empty Redis DB index nobody else is using (1-15); yields its URL, flushes it after."""
    try:
        import redis
    except ImportError:
        missing("the redis client is not installed (requirements-dev.txt)")
    try:
        probe = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=5)
        probe.ping()
    except redis.exceptions.ConnectionError as exc:
        missing(f"Redis not reachable on {REDIS_HOST}:{REDIS_PORT}: {exc}")
    order = list(range(1, 16))
    start = uuid.uuid4().int % len(order)
    for index in order[start:] + order[:start]:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index)
        # Claim the index with a marker key only if the index is empty (another run's is not).
        if client.dbsize() == 0 and client.set("foot-traffic-test-claim", os.getpid(), nx=True):
            break
    else:
        missing(f"no empty Redis DB index 1-15 on {REDIS_HOST}:{REDIS_PORT}")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{index}"
    finally:
        client.flushdb()
        client.close()


def airflow(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run ``airflow ARGS``; assert it succeeded; return its standard output."""
    proc = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"airflow {' '.join(args)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def start(env: dict[str, str], log_dir: Path, name: str, *args: str) -> subprocess.Popen:
    """Start ``airflow ARGS`` in its own process group, output to ``log_dir/name.log``."""
    out = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [str(BIN / "airflow"), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )


def kill_tree(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process and every child, SIGKILL what is still alive after ``grace`` s."""
    try:
        parent = psutil.Process(proc.pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in family:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def wait_for_line(log: Path, text: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``text`` appears in ``log``; fail with the log's tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise AssertionError(f"{text!r} not in {log.name} within {timeout:.0f} s:\n{tail}")


def tails(log_dir: Path, size: int = 1500, task_logs: Path | None = None) -> str:
    """The end of every component log (and of every task log under ``task_logs``), for a failure message."""
    logs = sorted(log_dir.glob("*.log"))
    if task_logs is not None and task_logs.exists():
        logs += sorted(p for p in task_logs.rglob("*.log") if p.is_file())
    return "\n".join(f"--- {p.name if p.parent == log_dir else p}\n{p.read_text(errors='replace')[-size:]}" for p in logs)
