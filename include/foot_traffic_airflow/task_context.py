"""What a producer task reads from Airflow besides its settings: which day it plays, who it
is (named by a run it fences), how long a live shard may wait in a worker slot; and the
task process's heap, kept out of the collector's full passes while a day plays."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from foot_traffic.run.outcome import invalid

# A live chain shard whose first local midnight is further away than this (wall seconds)
# waits in the triggerer (deferral) instead of holding a worker slot; shorter waits are
# paced. FOOT_TRAFFIC_DEFER_AFTER_SECONDS changes it (tests make it short).
DEFER_AFTER_SECONDS = 60.0


def defer_after_seconds() -> float:
    try:
        value = float(os.environ.get("FOOT_TRAFFIC_DEFER_AFTER_SECONDS", DEFER_AFTER_SECONDS))
    except ValueError:
        raise AirflowFailException(invalid(["FOOT_TRAFFIC_DEFER_AFTER_SECONDS: must be a number of seconds"]).text) from None
    return value if value >= 0 else DEFER_AFTER_SECONDS


def day_to_play(context: Mapping[str, Any], day: date | str | None, days_before: int, timezone: str) -> date:
    """``day`` if given, else the run's logical date in ``timezone`` (run_after for runs
    without one), ``days_before`` days earlier."""
    chosen = day.strip() or None if isinstance(day, str) else day
    if chosen is not None:
        if isinstance(chosen, datetime):
            return chosen.astimezone(UTC).date()
        if isinstance(chosen, date):
            return chosen
        try:
            return date.fromisoformat(str(chosen)[:10])
        except ValueError:
            raise AirflowFailException(invalid([f"day={chosen!r}: expected YYYY-MM-DD"]).text) from None
    moment = context.get("logical_date")
    if moment is None:
        dag_run = context.get("dag_run")
        moment = getattr(dag_run, "run_after", None) or context.get("data_interval_end")
    if moment is None:
        raise AirflowFailException("no logical date, run_after or data interval: cannot tell which day to play")
    return day_in(moment, timezone) - timedelta(days=days_before)


def day_in(moment: datetime, timezone: str) -> date:
    """The calendar date of ``moment`` (naive: UTC) in ``timezone``."""
    from foot_traffic.plan.localday import zone

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(timezone)).date()


def run_label(context: Mapping[str, Any]) -> str:
    """This task instance as a writer of the day, e.g. ``Airflow foot_traffic_daily/manual__2026-...
    produce_day try 1`` (named by a run it fences)."""
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or "?"
    run_id = getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None) or "?"
    task_id = getattr(ti, "task_id", None) or "?"
    label = f"Airflow {dag_id}/{run_id} {task_id}"
    map_index = getattr(ti, "map_index", -1)
    if isinstance(map_index, int) and map_index >= 0:
        label += f"[{map_index}]"
    try_number = getattr(ti, "try_number", None)
    return label + (f" try {try_number}" if try_number is not None else "")


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the task process's own objects out of the garbage collector's full passes while
    a day plays.

    A task runs in a process holding ~700,000 objects of Airflow's (measured in the task of
    ``airflow dags test``; the CLI holds ~50,000), and a full day at full speed triggers
    full collections, each walking all of them: 0.5 s apiece there, a sixth of the task's
    CPU on a 30,000-visit day. ``gc.freeze()`` moves what exists now to the permanent
    generation (nothing of it is freed meanwhile: it lives as long as the task anyway),
    ``gc.unfreeze()`` gives it back afterwards -- what Airflow's own executors do around a
    fork. When something else already froze objects, it is left as it is.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
