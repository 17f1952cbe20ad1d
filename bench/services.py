"""PostgreSQL, Redis and Airflow component processes for the bench's CeleryExecutor cases.

The tests' ``tests/support/services.py`` (pytest-free; a missing service raises
``Unavailable`` naming it, and the case is reported as skipped with that reason). The
bench modules run as ``python bench/<module>.py``, with this directory, not the repo
root, on ``sys.path``: this module adds the root (after this directory) and re-exports.
"""

from __future__ import annotations

import sys

from common import ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from tests.support.services import (  # noqa: E402 - after the path set-up
    Unavailable,
    airflow,
    kill_tree,
    postgres_database,
    query,
    redis_database,
    start,
    tails,
    wait_for_line,
)

__all__ = [
    "Unavailable", "airflow", "kill_tree", "postgres_database", "query", "redis_database", "start", "tails",
    "wait_for_line",
]
