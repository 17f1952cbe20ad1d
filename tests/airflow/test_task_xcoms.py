"""What a producer task tells the UI as it goes (``foot_traffic_airflow.task_xcoms``): the day
first, a small progress XCom per tick, the cause when it fails; never a failed task
because the UI could not be told."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from foot_traffic.run.progress import Snapshot, StoreDayProgress
from foot_traffic.plan.stores import load_catalogue
from foot_traffic_airflow.chain import cut_shards, store_days_value
from foot_traffic_airflow.operators import FootTrafficProducerOperator
from foot_traffic_airflow.task_xcoms import FAILURE_XCOM, XComProgress, progress_value, reporting_failure

ROOT = Path(__file__).resolve().parents[2]


class RecordingTI:
    """The part of a task instance the operator pushes to: what it pushed, in order."""

    def __init__(self, fail: bool = False):
        self.pushed: list[tuple[str, object]] = []
        self.fail = fail

    def xcom_push(self, key, value):
        if self.fail:
            raise RuntimeError("the API server is away")
        json.dumps(value)  # XComs hold JSON
        self.pushed.append((key, value))


def snapshot(stores: int) -> Snapshot:
    days = tuple(StoreDayProgress(f"store-{i:04d}", date(2026, 11, 27), 1_500, 2_100, 0, i % 3 == 0, i % 7 == 0)
                 for i in range(stores))
    return Snapshot(day=date(2026, 11, 27), slot="", records_sent=0, records_planned=0, records_present=0,
                    sent_per_topic={}, run_records_sent=123_456, days_done=3, inside=42, sim_time=1_795_000_000.0,
                    max_lag_seconds=0.0, store_days_open=stores, store_days=days)


def test_the_progress_of_a_shard_stays_small():
    """About 40 bytes a store-day: a shard of 50 stores (the default) pushes about 2 KB a tick."""
    for stores in (4, 50, 500):
        size = len(json.dumps(progress_value(snapshot(stores))))
        assert size < 150 + 45 * stores, (stores, size)
    value = progress_value(snapshot(2))
    assert value["stores"] == {"store-0000": [1500, 2100, 0, "closed"], "store-0001": [1500, 2100, 0, "open"]}


def test_each_tick_pushes_progress_and_a_failed_push_fails_nothing(caplog):
    ti = RecordingTI()
    reporter = XComProgress({"ti": ti})
    reporter.tick(snapshot(3))
    reporter.tick(snapshot(3))
    assert [key for key, _ in ti.pushed] == ["progress", "progress"] and reporter.pushes == 2
    reporter.finished()
    assert "progress for the UI: 2 XCom pushes" in caplog.text
    broken = XComProgress({"ti": RecordingTI(fail=True)})
    broken.tick(snapshot(3))  # logged, not raised
    assert broken.pushes == 0 and "could not push XCom 'progress'" in caplog.text
    XComProgress({}).tick(snapshot(3))  # an operator run by hand: no task instance, nothing to push


def test_a_failure_is_pushed_with_its_cause_but_a_deferral_is_not():
    ti = RecordingTI()
    with pytest.raises(ValueError), reporting_failure({"ti": ti}):
        raise ValueError("x" * 5000)
    ((key, value),) = ti.pushed
    assert key == FAILURE_XCOM and value["error"] == "ValueError" and len(value["message"]) == 2000
    ti.pushed.clear()
    with pytest.raises(TaskDeferred), reporting_failure({"ti": ti}):
        raise TaskDeferred(trigger=SimpleNamespace(), method_name="later")
    assert ti.pushed == []


def test_the_operator_tells_the_day_then_why_it_failed(monkeypatch):
    from foot_traffic.settings import Settings

    for name in Settings.env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": "127.0.0.1:1"}}))
    ti = RecordingTI()
    op = FootTrafficProducerOperator(task_id="produce_day")
    context = {"ti": ti, "logical_date": datetime(2025, 11, 7, tzinfo=UTC), "params": {"time_scale": 0}}
    with pytest.raises(AirflowFailException, match="time_scale"):
        op.execute(context)
    assert [key for key, _ in ti.pushed] == ["day", "failure"]
    assert ti.pushed[0][1] == "2025-11-07"
    failure = ti.pushed[1][1]
    assert failure["error"] == "AirflowFailException" and "time_scale=0" in failure["message"]


def test_the_runs_stores_for_its_page_stay_small():
    """The first task's ``store_days`` XCom: about 85 bytes a store (850 KB at 10,000 stores)."""
    catalogue = load_catalogue(ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml")
    day = date(2026, 11, 27)
    value = store_days_value(catalogue, day, [{"stores": s} for s in cut_shards(catalogue, day, 4)])
    assert len(json.dumps(value)) < 100 * len(catalogue)
    assert value["stores"]["rome-centro"] == ["Roma Centro", "Europe/Rome", "08:30-20:00", 0]
