"""``default_args`` shared by the producer DAGs: owner, retries with exponential back-off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def producer_default_args(**extra: Any) -> dict[str, Any]:
    """Three retries from 1 min, doubled each time, at most 30 min apart (a retry resumes
    what the topics do not hold yet); ``extra`` adds or overrides keys."""
    return {
        "owner": "foot-traffic",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        **extra,
    }
