"""What a producer task tells the UI besides its summary: small XComs, pushed as it goes.

- ``day``: the day it plays (ISO date), pushed first: the run page and the recent runs
  name the day played, not the logical date (a chain's D is the date at UTC+14);
- ``progress``: while it plays, every progress tick (10 s accelerated, 60 s in real
  time), how far it is; a chain shard names each store-day it has opened
  (``{store: [visits, records sent, records already present, state]}``), a shard waiting
  in the triggerer for its first midnight says until when;
- ``failure``: when it fails, the exception's type and message (what the log's last
  error says): the page shows the cause instead of "no summary".

XComs of a task instance are cleared when its next try starts (not when it resumes from
the triggerer), so each describes the latest try. Pushing is best effort: a task never
fails because the UI could not be told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from foot_traffic.run.progress import LogProgress, Snapshot

log = logging.getLogger(__name__)

DAY_XCOM, PROGRESS_XCOM, FAILURE_XCOM = "day", "progress", "failure"
MAX_MESSAGE = 2000  # characters of a failure's message kept (the log has it all)
# A store-day's state in the progress XCom.
OPEN, DONE, CLOSED = "open", "done", "closed"


def push(context: Mapping[str, Any], key: str, value: Any) -> float | None:
    """Push ``value`` as XCom ``key`` of the running task instance; the seconds it took,
    None when there is no task instance (an operator run by hand) or the push failed."""
    ti = context.get("ti")
    if ti is None:
        return None
    started = time.perf_counter()
    try:
        ti.xcom_push(key=key, value=value)
    except Exception as exc:  # noqa: BLE001 - the UI's view of the task never fails the task
        log.warning("could not push XCom %r for the UI: %s", key, exc)
        return None
    return time.perf_counter() - started


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def waiting(context: Mapping[str, Any], until: datetime, stores: Sequence[str]) -> None:
    """A shard waits in the triggerer until its first local midnight."""
    push(context, PROGRESS_XCOM, {"at": _now(), "waiting_until": until.isoformat(timespec="seconds"),
                                  "store_count": len(stores)})


class XComProgress(LogProgress):
    """The log lines of ``LogProgress``, and the ``progress`` XCom on each tick."""

    def __init__(self, context: Mapping[str, Any]):
        self.context = context
        self.pushes = 0
        self.push_seconds = 0.0
        self.largest = 0  # bytes of the largest progress pushed (JSON)

    def tick(self, snap: Snapshot) -> None:
        super().tick(snap)
        value = progress_value(snap)
        took = push(self.context, PROGRESS_XCOM, value)
        if took is not None:
            import json

            self.pushes += 1
            self.push_seconds += took
            self.largest = max(self.largest, len(json.dumps(value)))

    def finished(self) -> None:
        if self.pushes:
            log.info("progress for the UI: %d XCom pushes, %.1f ms each on average, at most %d bytes",
                     self.pushes, 1000 * self.push_seconds / self.pushes, self.largest)


def progress_value(snap: Snapshot) -> dict[str, Any]:
    """The ``progress`` XCom of one tick: small (about 40 bytes per store-day)."""
    value: dict[str, Any] = {
        "at": _now(),
        "sim_time": datetime.fromtimestamp(snap.sim_time, UTC).isoformat(timespec="seconds"),
        "records_sent": snap.run_records_sent,
        "days_done": snap.days_done,
        "inside": snap.inside,
    }
    if snap.store_days:
        value["stores"] = {
            s.store_id: [s.visits, s.sent, s.present, CLOSED if s.closed else DONE if s.finished else OPEN]
            for s in snap.store_days
        }
    else:
        value.update(day=snap.day.isoformat(), slot=snap.slot, records_planned=snap.records_planned,
                     records_present=snap.records_present, sent_per_topic=dict(snap.sent_per_topic))
    return value


def failure_value(exc: BaseException) -> dict[str, Any]:
    message = str(exc).strip() or repr(exc)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return {"error": type(exc).__name__, "message": message, "at": _now()}


@contextmanager
def reporting_failure(context: Mapping[str, Any]):
    """Push the ``failure`` XCom for any exception that ends the task (not a deferral)."""
    from airflow.sdk.exceptions import TaskDeferred

    try:
        yield
    except TaskDeferred:
        raise
    except BaseException as exc:
        if not isinstance(exc, GeneratorExit):
            push(context, FAILURE_XCOM, failure_value(exc))
        raise


def day_played(context: Mapping[str, Any], day: date) -> None:
    push(context, DAY_XCOM, day.isoformat())
