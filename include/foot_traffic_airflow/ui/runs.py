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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PRODUCER_OPERATOR = "FootTrafficProducerOperator"
SUMMARY_KEYS = {"day", "seed", "total_visits", "planned_per_slot"}


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


@dataclass(frozen=True)
class RunRow:
    """One line of the recent runs list."""

    dag_id: str
    run_id: str
    state: str | None
    logical_date: datetime | None
    run_after: datetime | None


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
    """A chain shard's XCom (``operators.chain_result``) as one summary per store, in the
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
    tasks = {
        (ti.task_id, ti.map_index): ProducerTask(
            task_id=ti.task_id, map_index=ti.map_index, state=_text(ti.state), try_number=ti.try_number or 0,
            start_date=ti.start_date, end_date=ti.end_date, duration=ti.duration,
            label=ti.rendered_map_index if ti.map_index >= 0 else None,
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
            XComModel.get_many(run_id=run_id, key="return_value", dag_ids=dag_id, task_ids=task_ids)
        ):
            task = tasks.get((xcom.task_id, xcom.map_index))
            if task is not None:
                task.summaries = find_summaries(XComModel.deserialize_value(xcom))
    return ProducerRun(
        dag_id=dag_id, run_id=run_id, state=_text(run.state), run_type=_text(run.run_type),
        logical_date=run.logical_date, run_after=run.run_after, start_date=run.start_date, end_date=run.end_date,
        conf=dict(run.conf or {}), tasks=list(tasks.values()), params=run_params(session, run),
    )


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
    return [
        RunRow(r.dag_id, r.run_id, _text(r.state), r.logical_date, r.run_after)
        for r in session.scalars(query)
    ]


def _text(value: Any) -> str | None:
    """An enum state as its plain value ("success"), None as None."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
