"""A chain run at a glance: one row per shard (its task), one row per store.

A shard's values (state, attempts, duration, how far it is, why it failed) are said once,
on its row; a store's row holds only the store's own: time zone, opening hours of the
day, visits planned, records delivered, status. Where each number comes from:

- the run's first task (``store_days`` XCom): every store's name, time zone, hours and
  shard, before any shard reports;
- a shard's summary (its return value) once it finished: what each store delivered;
- a running shard's ``progress`` XCom: each store-day it has opened, as of its last tick;
- a failed shard's ``failure`` XCom: why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from foot_traffic_airflow.ui.readback import Readback
from foot_traffic_airflow.ui.runs import ProducerRun, ProducerTask, missing_pool_text, shard_of
from foot_traffic_airflow.ui.views import ACTIVE_STATES, Delivery, failure_text

RECORDS_PER_VISIT = 3  # one session record, an entry and an exit (without the door sensor's flaws)


@dataclass
class ShardRow:
    map_index: int
    stores: list[str]
    state: str | None
    try_number: int
    duration: float | None
    status: str  # "done", "running", "waiting", "pending", "failed"
    text: str


@dataclass
class StoreRow:
    store_id: str
    name: str | None
    timezone: str | None
    hours: str | None  # local opening hours of the day ("closed")
    shard: int | None
    visits: int | None = None  # planned
    delivered: int | None = None  # records in the topics by the task's account (sent + already there)
    read_back: int | None = None  # records of its plan read back from the topics, when read
    status: str = "pending"  # complete, closed, running, waiting, pending, incomplete, failed, mismatch, unknown
    text: str = ""


@dataclass
class ChainView:
    day: str | None
    shards: list[ShardRow] = field(default_factory=list)
    stores: list[StoreRow] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many stores are in each status."""
        out: dict[str, int] = {}
        for row in self.stores:
            out[row.status] = out.get(row.status, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day, "shards": [asdict(s) for s in self.shards], "stores": [asdict(s) for s in self.stores],
                "status_counts": self.counts()}


def clock(moment: str | None) -> str:
    """``2026-11-27T10:02:03+00:00`` as ``10:02:03 UTC``, for "as of" texts."""
    try:
        return datetime.fromisoformat(str(moment)).strftime("%H:%M:%S UTC")
    except ValueError:
        return str(moment)


def opened(task: ProducerTask | None) -> dict[str, Any]:
    """The store-days a running shard reported (store -> [visits, sent, present, state])."""
    stores = (task.progress or {}).get("stores") if task is not None else None
    return stores if isinstance(stores, dict) else {}


def _sent(summary: dict[str, Any]) -> int:
    return int(summary.get("records_sent") or 0) + int(summary.get("records_already_present") or 0)


def shard_row(task: ProducerTask, stores: list[str]) -> ShardRow:
    """The shard's task as one row: how far it is, or why it failed."""
    state = task.state or "none"
    row = ShardRow(task.map_index, stores, task.state, task.try_number, task.duration, "pending", f"task {state}")
    progress = task.progress or {}
    reported = opened(task)
    if task.missing_pool and state in {"scheduled", "none"}:
        row.status, row.text = "pending", missing_pool_text(task)
    elif task.summaries and state == "success":
        row.status = "done"
        row.text = (f"{len(task.summaries)} stores, {sum(_sent(s) for s in task.summaries):,} records in the topics")
    elif state in {"failed", "upstream_failed"}:
        row.status, row.text = "failed", failure_text(task)
    elif state == "up_for_retry" and task.failure:  # why the last attempt failed (its XComs stay until the next)
        row.status, row.text = "pending", f"task {state}; its last attempt failed: {failure_text(task)}"
    elif state in ACTIVE_STATES and progress.get("waiting_until"):
        row.status = "waiting"
        row.text = f"waits in the triggerer (no worker slot) until {clock(progress['waiting_until'])}, its first store's midnight"
    elif state in ACTIVE_STATES and reported:
        done = sum(1 for entry in reported.values() if entry[3] != "open")
        row.status = "running"
        row.text = (f"{done} of {len(stores) or len(reported)} store-days done, {len(reported) - done} under way; "
                    f"{int(progress.get('records_sent') or 0):,} records sent; as of {clock(progress.get('at'))}")
    elif state == "running":
        row.status, row.text = "running", "running: no progress reported yet"
    return row


def store_row(store: str, info: dict[str, Any], delivery: Delivery | None, task: ProducerTask | None,
              readback: Readback | None = None) -> StoreRow:
    """One store of the run: from its summary if its shard reported it, else from its shard's progress."""
    row = StoreRow(store, info.get("name"), info.get("timezone"), info.get("hours"), info.get("shard"))
    if delivery is not None and delivery.summary is not None:
        s = delivery.summary
        row.shard = delivery.map_index if delivery.map_index >= 0 else row.shard
        row.visits, row.delivered = int(s["total_visits"]), _sent(s)
        rb = delivery.readback
        if rb is not None and not rb.error:
            row.read_back = sum(rb.for_plan(str(s.get("plan_id", ""))).values())
        row.status = "closed" if s.get("closed") else delivery.verdict
        # "196 visits delivered as planned; both topics checked": the row has the numbers, keep the check
        row.text = delivery.verdict_text.split("; ", 1)[-1] if delivery.verdict == "complete" else delivery.verdict_text
        return row
    if readback is not None and not readback.error:
        row.read_back = sum(sum(counts.values()) for counts in readback.counts.values())
    state = (task.state if task else None) or "none"
    entry = opened(task).get(store)
    if isinstance(entry, list) and len(entry) == 4:
        visits, sent, present, phase = int(entry[0]), int(entry[1]), int(entry[2]), str(entry[3])
        row.visits, row.delivered = visits, sent + present
        expected = RECORDS_PER_VISIT * visits
        as_of = clock((task.progress or {}).get("at")) if task else "?"
        if phase == "closed":
            row.status, row.text = "closed", "closed that day: nothing to send"
        elif state in {"failed", "upstream_failed", "up_for_retry"}:
            retry = state == "up_for_retry"  # the next attempt resumes where this one stopped
            row.status = ("pending" if retry else "incomplete") if phase == "open" else "complete"
            row.text = (f"{row.delivered:,} of about {expected:,} records when its shard "
                        + ("stopped; a retry resumes it" if retry else "failed") if phase == "open"
                        else "delivered before its shard stopped")
        elif phase == "done":
            row.status, row.text = "complete", f"day delivered as of {as_of}; its shard still runs"
        else:
            share = f" ({row.delivered / expected:.0%})" if expected else ""
            row.status, row.text = "running", f"{row.delivered:,} of about {expected:,} records{share} as of {as_of}"
        return row
    if task is None:
        row.status, row.text = "pending", "its shard has no task yet"
    elif state in {"failed", "upstream_failed"}:
        row.status, row.text = "failed", "its shard failed before this store's day opened"
    elif state in ACTIVE_STATES and (task.progress or {}).get("waiting_until"):
        row.status, row.text = "waiting", f"its shard waits for its first midnight, until {clock(task.progress['waiting_until'])}"
    elif state == "running":
        row.status, row.text = "waiting", "its local day has not opened yet"
    elif state in ACTIVE_STATES:
        row.status, row.text = "pending", f"its shard has not started (task {state})"
        if task.missing_pool:
            row.text += f": its task {missing_pool_text(task)}"
    else:
        row.status, row.text = "unknown", f"its shard ended ({state}) without naming it"
    return row


def chain_view(run: ProducerRun, deliveries: list[Delivery], stores: list[str],
               readbacks: dict[str, Readback] | None = None) -> ChainView:
    """Every store of ``stores`` (in order) and every shard of the run. ``readbacks``: what the
    topics hold now of a store that has no summary yet (the store picked)."""
    info = (run.store_days or {}).get("stores") or {}
    by_store = {str(d.summary["store_id"]): d for d in deliveries if d.summary and d.summary.get("store_id")}
    tasks = {t.map_index: t for t in run.tasks}
    view = ChainView(day=(run.store_days or {}).get("day") or next((t.day for t in run.tasks if t.day), None))
    members: dict[int, list[str]] = {}  # every shard's stores, whichever are shown
    for store in dict.fromkeys([*info, *by_store]):
        delivery = by_store.get(store)
        index = delivery.map_index if delivery is not None else shard_of(run, store)
        if index is not None:
            members.setdefault(index, []).append(store)
    shown: set[int] = set()
    for store in stores:
        delivery = by_store.get(store)
        index = delivery.map_index if delivery is not None else shard_of(run, store)
        view.stores.append(store_row(store, info.get(store, {}), delivery, tasks.get(index) if index is not None else None,
                                     (readbacks or {}).get(store)))
        if index is not None:
            shown.add(index)
    view.shards = [shard_row(tasks[i], members.get(i, [])) for i in sorted(shown) if i in tasks]
    return view
