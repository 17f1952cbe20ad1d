"""Airflow's production set-up for the tests: its services and its component processes.

Shared by the tests that run Airflow as in production (``test_backfill_scheduler.py``:
LocalExecutor; ``test_chain_celery.py``: CeleryExecutor with two workers). The work is
done by ``tests/support/services.py`` (pytest-free: the bench uses it too); this module
binds it to the tests' Airflow (``conftest.BIN``) and to pytest:

* a fresh PostgreSQL database per test on 127.0.0.1:5432 (dropped after) and a Redis DB
  index of its own on 127.0.0.1:6379 (flushed after): other agents use the same servers;
* the ``airflow`` CLI, and components (scheduler, api-server, workers ...) started as
  process groups with their output in log files, stopped with SIGTERM then SIGKILL.

When a service is missing the test is skipped with what is missing, unless
``FOOT_TRAFFIC_REQUIRE_SERVICES=1`` (CI: ``.ci/run`` sets it), where it fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from tests.support import services
from tests.support.services import kill_tree, query, tails, wait_for_line

from .conftest import BIN

__all__ = [
    "airflow", "kill_tree", "missing", "postgres_database", "query", "redis_database", "start", "tails",
    "wait_for_line",
]

T = TypeVar("T")


def missing(what: str) -> NoReturn:
    """Skip (or, in CI, fail) a test whose service is not there, saying what is missing."""
    message = (
        f"{what}; start it (see /work/.library/env/machines/python-svc.md or .ci/run) "
        "or run only the tests that do not need it"
    )
    if os.environ.get("FOOT_TRAFFIC_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def _required(service: AbstractContextManager[T]) -> Iterator[T]:
    """Enter ``service``; if it is not there (``Unavailable`` on entry), ``missing``."""
    with ExitStack() as stack:
        try:
            value = stack.enter_context(service)
        except services.Unavailable as exc:
            missing(str(exc))
        yield value


def postgres_database(prefix: str) -> AbstractContextManager[str]:
    """A new, empty database; yields its SQLAlchemy URL (psycopg2), drops it after."""
    return _required(services.postgres_database(prefix))


def redis_database() -> AbstractContextManager[str]:
    """An empty Redis DB index nobody else is using (1-15); yields its URL, flushes it after."""
    return _required(services.redis_database(claim="foot-traffic-test-claim"))


def airflow(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run the tests' ``airflow ARGS``; raise with its output if it failed; return its standard output."""
    return services.airflow(BIN, env, *args, timeout=timeout)


def start(env: dict[str, str], log_dir: Path, name: str, *args: str) -> subprocess.Popen:
    """Start the tests' ``airflow ARGS`` in its own process group, output to ``log_dir/name.log``."""
    return services.start(BIN, env, log_dir, name, *args)
