"""PostgreSQL, Redis and Airflow component processes, for the tests and the bench alike.

Airflow as in production (``tests/airflow/test_backfill_scheduler.py``: LocalExecutor;
``tests/airflow/test_chain_celery.py`` and the bench's ``chain_dag_celery`` cases:
CeleryExecutor):

* a fresh PostgreSQL database per use on 127.0.0.1:5432 (user postgres, trust auth;
  dropped after) and a Redis DB index of its own on 127.0.0.1:6379 (flushed after): other
  agents use the same servers;
* the ``airflow`` CLI, and components (scheduler, api-server, workers ...) started as
  process groups with their output in log files, stopped with SIGTERM then SIGKILL.

No pytest here, nor the tests' conftest (which sets AIRFLOW_HOME for the whole process on
import): the bench imports this module too. A missing service raises ``Unavailable``
naming it; ``tests/airflow/processes.py`` turns that into a skip (or a failure in CI), the
bench into a skipped case. A failed command or a component that never got ready raises
``RuntimeError`` with the output to look at.
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

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


class Unavailable(RuntimeError):
    """A service that is needed is not there (the message says which and why)."""


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database; yields its SQLAlchemy URL (psycopg2), drops it after."""
    try:
        import psycopg2
    except ImportError:
        raise Unavailable("psycopg2 is not installed (requirements-dev.txt)") from None
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise Unavailable(f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT} (user postgres, trust auth): {exc}".strip()) from None
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def query(db_url: str, sql: str, args: tuple = ()) -> list[tuple]:
    """The rows of one query on a database of ``postgres_database`` (its own connection, closed after)."""
    import psycopg2

    name = db_url.rsplit("/", 1)[1]
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=name)
    try:
        cur = conn.cursor()
        cur.execute(sql, args)
        return cur.fetchall()
    finally:
        conn.close()


@contextmanager
def redis_database(claim: str = "foot-traffic-claim") -> Iterator[str]:
    """An empty Redis DB index nobody else is using (1-15); yields its URL, flushes it after.

    ``claim`` is the marker key that claims the index (it says who did, while it runs)."""
    try:
        import redis
    except ImportError:
        raise Unavailable("the redis client is not installed (requirements-dev.txt)") from None
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=5).ping()
    except redis.exceptions.ConnectionError as exc:
        raise Unavailable(f"Redis not reachable on {REDIS_HOST}:{REDIS_PORT}: {exc}") from None
    order = list(range(1, 16))
    first = uuid.uuid4().int % len(order)
    for index in order[first:] + order[:first]:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index)
        # Claim the index with a marker key only if the index is empty (another run's is not).
        if client.dbsize() == 0 and client.set(claim, os.getpid(), nx=True):
            break
    else:
        raise Unavailable(f"no empty Redis DB index 1-15 on {REDIS_HOST}:{REDIS_PORT}")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{index}"
    finally:
        client.flushdb()
        client.close()


def airflow(bin_dir: Path, env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run ``bin_dir/airflow ARGS``; raise with its output if it failed; return its standard output."""
    proc = subprocess.run([str(bin_dir / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def start(bin_dir: Path, env: dict[str, str], log_dir: Path, name: str, *args: str) -> subprocess.Popen:
    """Start ``bin_dir/airflow ARGS`` in its own process group, output to ``log_dir/name.log``."""
    out = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [str(bin_dir / "airflow"), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )


def kill_tree(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process and every child, SIGKILL what is still alive after ``grace`` s; reap it."""
    kill_trees([proc], grace)
    proc.wait(timeout=grace)


def kill_trees(procs, grace: float = 10.0) -> None:
    """``kill_tree`` for several processes at once: one grace period for all of them."""
    import psutil

    family = []
    for proc in procs:
        try:
            parent = psutil.Process(proc.pid)
            family += parent.children(recursive=True) + [parent]
        except psutil.NoSuchProcess:
            pass
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
    psutil.wait_procs(alive, timeout=10)


def wait_for_line(log: Path, text: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``text`` appears in ``log``; raise with the log's tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{text!r} not in {log.name} within {timeout:.0f} s:\n{tail}")


def tails(log_dir: Path, size: int = 1500, task_logs: Path | None = None) -> str:
    """The end of every component log (and of every task log under ``task_logs``), for a failure message."""
    logs = sorted(log_dir.glob("*.log"))
    if task_logs is not None and task_logs.exists():
        logs += sorted(p for p in task_logs.rglob("*.log") if p.is_file())
    return "\n".join(f"--- {p.name if p.parent == log_dir else p}\n{p.read_text(errors='replace')[-size:]}" for p in logs)
