"""Producer runs as Airflow recorded them: the run, its producer task instances, their
rendered arguments and the summary each returned (XCom ``return_value``).

Read from Airflow's metadata database inside the API server (the same tables and
models the REST API uses), never through HTTP. A DAG counts as a producer DAG when a
task of its run is a ``FootTrafficProducerOperator`` (``foot_traffic_daily``,
``foot_traffic_chain_daily``, or any other that uses the operator): no list of DAG ids
to keep up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from foot_traffic_airflow.chain import BACKFILL_SHARD_TASK_ID, SHARD_TASK_IDS, STORE_DAYS_XCOM
from foot_traffic_airflow.task_xcoms import DAY_XCOM, FAILURE_XCOM, PROGRESS_XCOM

log = logging.getLogger(__name__)

PRODUCER_OPERATOR = "FootTrafficProducerOperator"
SUMMARY_KEYS = {"day", "seed", "total_visits", "planned_per_slot"}
TASK_KEYS = ("return_value", DAY_XCOM, PROGRESS_XCOM, FAILURE_XCOM)  # a producer task's XComs the pages read


@dataclass
class ProducerTask:
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    label: str | None  # rendered map index (the chain names its shard's stores)
    rendered: dict[str, Any] = field(default_factory=dict)  # rendered template fields
    summaries: list[dict[str, Any]] = field(default_factory=list)  # what execute returned, per day/store
    # What the task pushed for the UI as it went (``foot_traffic_airflow.task_xcoms``), latest try.
    day: str | None = None  # the day it plays
    progress: dict[str, Any] | None = None  # how far it is (while it runs)
    failure: dict[str, Any] | None = None  # why it failed: {"error", "message"}
    missing_pool: str | None = None  # the pool it waits for, which does not exist (it never starts)


@dataclass
class ProducerRun:
    dag_id: str
    run_id: str
    state: str | None
    run_type: str | None
    logical_date: datetime | None
    run_after: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any]
    tasks: list[ProducerTask]
    params: dict[str, Any] = field(default_factory=dict)  # the run's Params: the DAG's, updated by its conf
    # A chain run's stores, from its first task (``chain.store_days_value``): None for other runs.
    store_days: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRow:
    """One line of the recent runs list."""

    dag_id: str
    run_id: str
    state: str | None
    logical_date: datetime | None
    run_after: datetime | None
    day: str | None = None  # the day played (its tasks' ``day`` XCom), when it was told


def find_summaries(value: Any, depth: int = 0) -> list[dict[str, Any]]:
    """Day summaries (``DaySummary.as_dict()``) in an XCom value: the dict itself, or those
    in a list or mapping of them (a task that plays several days or stores)."""
    if depth > 3:
        return []
    if isinstance(value, dict):
        if SUMMARY_KEYS <= value.keys() and isinstance(value.get("planned_per_slot"), dict):
            return [value]
        if isinstance(value.get("per_store"), dict) and "day" in value:
            return store_summaries(value)
        found: list[dict[str, Any]] = []
        for item in value.values():
            found += find_summaries(item, depth + 1)
        return found
    if isinstance(value, (list, tuple)):
        found = []
        for item in value:
            found += find_summaries(item, depth + 1)
        return found
    return []


def store_summaries(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A chain shard's XCom (``run.outcome.chain_result``) as one summary per store, in the
    shape the run page checks (no per-slot counts: a store's slots are its local ones)."""
    out = []
    for store, entry in result["per_store"].items():
        if not isinstance(entry, dict):
            continue
        plan_id = str(entry.get("plan_id") or "")
        try:
            seed = int(entry["seed"]) if entry.get("seed") is not None else int(plan_id.split(":")[1])
            visits = int(entry["visits"])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        out.append({
            "store_id": str(store), "closed": bool(entry.get("closed")), "day": result["day"], "plan_id": plan_id,
            "seed": seed, "total_visits": visits, "planned_per_slot": {}, "entries_per_slot": {},
            "sent_per_topic": dict(entry.get("sent_per_topic") or {}), "records_sent": entry.get("sent"),
            "records_already_present": entry.get("already_present") or 0,
            "finished": bool(entry.get("finished", True)), "stopped": bool(entry.get("stopped", False)),
            "topics": list(result.get("topics") or []),
        })
    return out


# -- a chain run's stores ----------------------------------------------------------------
def store_days(task: ProducerTask) -> list[tuple[str, date]]:
    """(store id, local day) of each of ``task``'s summaries that names a store."""
    out = []
    for summary in task.summaries:
        store, day = summary.get("store_id"), summary.get("day")
        if store is None or day is None:
            continue
        try:
            out.append((str(store), date.fromisoformat(str(day))))
        except ValueError:
            continue
    return out


def run_stores(run: ProducerRun) -> list[str]:
    """A chain run's stores, each once: every store of its catalogue by shard (known from its
    first task, before any shard reports), then any other its summaries name."""
    known = (run.store_days or {}).get("stores") or {}
    by_shard = sorted(known, key=lambda store: shard_of(run, store) if shard_of(run, store) is not None else -1)
    return list(dict.fromkeys([*by_shard, *(store for task in run.tasks for store, _ in store_days(task))]))


def shard_of(run: ProducerRun, store: str) -> int | None:
    shard = ((run.store_days or {}).get("stores") or {}).get(store, {}).get("shard")
    return shard if isinstance(shard, int) else None


def only_store(run: ProducerRun, store: str) -> ProducerRun:
    """``run`` with only ``store``'s summaries; a store whose shard has not reported yet keeps
    its shard's task, without summaries (the others are left out)."""
    tasks = []
    for task in run.tasks:
        mine = [s for s in task.summaries if str(s.get("store_id")) == store]
        if mine:
            tasks.append(replace(task, summaries=mine))
    if not tasks:
        tasks = [replace(t, summaries=[]) for t in run.tasks if t.map_index == shard_of(run, store)]
    return replace(run, tasks=tasks)


def is_chain(run: ProducerRun) -> bool:
    """A chain run: its first task told its stores, or its summaries name stores."""
    return run.store_days is not None or any(store_days(task) for task in run.tasks)


# States of a task the scheduler has not started: a task of a pool that does not exist stays in them.
WAITING_STATES = frozenset({None, "scheduled", "none"})


def _pools(session: Session) -> set[str]:
    from airflow.models.pool import Pool

    return set(session.scalars(select(Pool.pool)))


def missing_pool_text(task: ProducerTask) -> str:
    """Why a task of a pool that does not exist never starts, and the remedy."""
    variable = "FOOT_TRAFFIC_CHAIN_BACKFILL_POOL" if task.task_id == BACKFILL_SHARD_TASK_ID else "FOOT_TRAFFIC_CHAIN_POOL"
    return (f"waits for pool {task.missing_pool}, which does not exist: the scheduler starts no task of it. Create "
            f"it (airflow pools set {task.missing_pool} <slots> \"...\") or set {variable} to a pool that exists")


def load_run(session: Session, dag_id: str, run_id: str) -> ProducerRun | None:
    """The run with its producer tasks, or None when the run does not exist."""
    from airflow.models.dagrun import DagRun
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.xcom import XComModel

    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        return None
    tis = session.scalars(
        select(TI)
        .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.operator == PRODUCER_OPERATOR)
        .order_by(TI.task_id, TI.map_index)
    ).all()
    # A chain run's shards run as one of two tasks; the other one, skipped by the branch, is not a shard.
    tis = [ti for ti in tis if not (ti.task_id in SHARD_TASK_IDS and _text(ti.state) == "skipped")]
    known_pools = _pools(session) if any(_text(ti.state) in WAITING_STATES for ti in tis) else set()
    tasks = {
        (ti.task_id, ti.map_index): ProducerTask(
            task_id=ti.task_id, map_index=ti.map_index, state=_text(ti.state), try_number=ti.try_number or 0,
            start_date=ti.start_date, end_date=ti.end_date, duration=ti.duration,
            label=ti.rendered_map_index if ti.map_index >= 0 else None,
            missing_pool=ti.pool if _text(ti.state) in WAITING_STATES and ti.pool not in known_pools else None,
        )
        for ti in tis
    }
    if tasks:
        task_ids = sorted({key[0] for key in tasks})
        for row in session.scalars(
            select(RTIF).where(RTIF.dag_id == dag_id, RTIF.run_id == run_id, RTIF.task_id.in_(task_ids))
        ):
            task = tasks.get((row.task_id, row.map_index))
            if task is not None and isinstance(row.rendered_fields, dict):
                task.rendered = dict(row.rendered_fields)
        for xcom in session.scalars(
            XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_ids).where(XComModel.key.in_(TASK_KEYS))
        ):
            task = tasks.get((xcom.task_id, xcom.map_index))
            if task is not None:
                _take(task, xcom.key, XComModel.deserialize_value(xcom))
    store_days = session.scalars(XComModel.get_many(run_id=run_id, key=STORE_DAYS_XCOM, dag_ids=dag_id, limit=1)).first()
    return ProducerRun(
        dag_id=dag_id, run_id=run_id, state=_text(run.state), run_type=_text(run.run_type),
        logical_date=run.logical_date, run_after=run.run_after, start_date=run.start_date, end_date=run.end_date,
        conf=dict(run.conf or {}), tasks=list(tasks.values()), params=run_params(session, run),
        store_days=_store_days(XComModel.deserialize_value(store_days)) if store_days is not None else None,
    )


def _take(task: ProducerTask, key: str, value: Any) -> None:
    """One of the task's XComs, by key, into ``task`` (a malformed one is left out)."""
    if key == "return_value":
        task.summaries = find_summaries(value)
    elif key == DAY_XCOM and isinstance(value, str):
        task.day = value
    elif key == PROGRESS_XCOM and isinstance(value, dict):
        task.progress = value
    elif key == FAILURE_XCOM and isinstance(value, dict):
        task.failure = value


def _store_days(value: Any) -> dict[str, Any] | None:
    """``{"day": D, "stores": {id: {"name", "timezone", "hours", "shard"}}}`` from the XCom's columns."""
    if not isinstance(value, dict) or not isinstance(value.get("stores"), dict):
        return None
    columns = list(value.get("columns") or [])
    stores = {
        str(store): dict(zip(columns, row)) for store, row in value["stores"].items() if isinstance(row, list)
    }
    return {"day": value.get("day"), "stores": stores}


def run_params(session: Session, run: Any) -> dict[str, Any]:
    """The Params a task of ``run`` saw: the DAG version's defaults, updated by the run's conf
    (as ``process_params`` does on the worker). Only the conf when the DAG is not found."""
    from airflow.configuration import conf
    from airflow.models.dagbag import DBDagBag

    params: dict[str, Any] = {}
    try:
        dag = DBDagBag(load_op_links=False).get_dag_for_run(run, session)
    except Exception:  # noqa: BLE001 - a DAG that cannot be deserialized: fall back to the conf
        log.warning("DAG %s of run %s could not be read; using the run's conf only", run.dag_id, run.run_id)
        dag = None
    if dag is not None:
        params.update(dag.params.dump())
    if run.conf and conf.getboolean("core", "dag_run_conf_overrides_params", fallback=True):
        params.update(run.conf)
    return params


def recent_runs(session: Session, dag_ids: Iterable[str] | None, limit: int = 15, window: int = 500) -> list[RunRow]:
    """The latest producer runs (by run_after) among ``dag_ids`` (None: every DAG).

    Looks at the ``window`` latest runs only (joined to their task instances by key), so
    the cost does not grow with the task instance table's history.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI

    latest = select(DagRun.id)
    if dag_ids is not None:
        latest = latest.where(DagRun.dag_id.in_(list(dag_ids)))
    latest = latest.order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(window).subquery()
    producer = (
        select(TI.id)
        .where(TI.dag_id == DagRun.dag_id, TI.run_id == DagRun.run_id, TI.operator == PRODUCER_OPERATOR)
        .exists()
    )
    query = (
        select(DagRun)
        .where(DagRun.id.in_(select(latest.c.id)), producer)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(limit)
    )
    runs = list(session.scalars(query))
    days = days_played(session, [(r.dag_id, r.run_id) for r in runs])
    return [
        RunRow(r.dag_id, r.run_id, _text(r.state), r.logical_date, r.run_after, days.get((r.dag_id, r.run_id)))
        for r in runs
    ]


def days_played(session: Session, runs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(dag id, run id) -> the day the run plays, as its tasks told it (XCom ``day``), one query."""
    from airflow.models.xcom import XComModel

    if not runs:
        return {}
    query = select(XComModel).where(
        XComModel.key == DAY_XCOM,
        XComModel.dag_id.in_({d for d, _ in runs}),
        XComModel.run_id.in_({r for _, r in runs}),
    )
    wanted = set(runs)
    found: dict[tuple[str, str], str] = {}
    for xcom in session.scalars(query):
        value = XComModel.deserialize_value(xcom)
        if (xcom.dag_id, xcom.run_id) in wanted and isinstance(value, str):
            found.setdefault((xcom.dag_id, xcom.run_id), value)
    return found


def _text(value: Any) -> str | None:
    """An enum state as its plain value ("success"), None as None."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
