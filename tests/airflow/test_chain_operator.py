"""The chain in Airflow, in-process: the catalogue check and shards, the day a run plays,
deferral to the triggerer for a far midnight, and shards played against the real broker."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from foot_traffic.plan.localday import local_instant
from foot_traffic.settings import Settings
from foot_traffic.plan.stores import load_catalogue
from foot_traffic_airflow.chain import CHAIN_DAY_ZONE, chain_day, cut_shards, shards_for_run
from foot_traffic_airflow.operators import FootTrafficProducerOperator
from tests.support.chain_check import landed, problems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml"
DAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).dags["foot_traffic_chain_daily"]


def params(dag, **conf):
    return {**dag.params.dump(), **conf}


def ctx(dag, moment: datetime | None, **conf):
    return {"logical_date": moment, "dag_run": SimpleNamespace(run_after=moment), "params": params(dag, **conf)}


def small_chain(tmp_path, divide=20, only=None, **extra) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    stores = [s for s in doc["stores"] if only is None or s["id"] in only]
    for s in stores:
        s["base_daily_customers"] = max(1, s["base_daily_customers"] // divide)
    doc["stores"] = stores + extra.get("more", [])
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# -- the day and the shards ----------------------------------------------------------------
def test_the_day_is_the_logical_date_at_utc_plus_14():
    assert chain_day(datetime(2026, 11, 27, tzinfo=UTC)) == DAY  # `dags test ... 2026-11-27`
    # the scheduled run for D fires at 00:00 UTC+14 of D, i.e. 10:00 UTC the day before
    assert chain_day(datetime(2026, 11, 26, 10, 0, tzinfo=UTC)) == DAY
    assert chain_day(datetime(2026, 11, 27, 9, 59, tzinfo=UTC)) == DAY
    assert chain_day(datetime(2026, 11, 27, 10, 0, tzinfo=UTC)) == DAY + timedelta(days=1)
    op = FootTrafficProducerOperator(task_id="p", chain=True, day_timezone=CHAIN_DAY_ZONE)
    assert op.day_to_play({"logical_date": datetime(2026, 11, 27, tzinfo=UTC)}) == DAY


def test_the_schedule_starts_every_day_before_any_store_begins_it(dag):
    from airflow.timetables.trigger import CronTriggerTimetable  # the scheduler's side of the DAG's timetable

    timetable = CronTriggerTimetable(dag.timetable.expression, timezone=dag.timetable.timezone)
    when = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=SimpleNamespace(
        earliest=datetime(2026, 11, 25, 12, tzinfo=UTC), latest=None, catchup=True)).run_after
    assert when == datetime(2026, 11, 26, 10, tzinfo=UTC)  # 00:00 at UTC+14 on the 27th
    day = chain_day(when)
    assert day == DAY
    for store in load_catalogue(EXAMPLE):
        assert local_instant(day, 0, store.tz) >= when.timestamp()  # east and west of UTC alike


def test_shards_follow_local_midnights_and_shard_size(dag, tmp_path):
    shards = shards_for_run(params(dag, shard_size=3), datetime(2026, 11, 27, tzinfo=UTC))
    ids = [s for shard in shards for s in shard["stores"]]
    assert [len(s["stores"]) for s in shards] == [3, 3, 3, 1]
    chain = load_catalogue(EXAMPLE)
    midnights = [local_instant(DAY, 0, chain.get(i).tz) for i in ids]
    assert midnights == sorted(midnights) and ids[0] == "sydney-george-st" and ids[-1] == "la-venice-beach"
    assert sorted(ids) == sorted(s.id for s in chain)
    assert cut_shards(chain, DAY, 100) == [ids]


def test_a_bad_store_entry_fails_the_check_naming_it_without_retries(dag, tmp_path):
    bad = small_chain(tmp_path, more=[{"id": "oslo", "timezone": "Europe/Olso", "base_daily_customers": 10,
                                       "opening_hours": {"mon-sat": "10:00-18:00"}}])
    with pytest.raises(AirflowFailException) as info:
        shards_for_run(params(dag, stores_file=str(bad)), datetime(2026, 11, 27, tzinfo=UTC))
    assert "store oslo.timezone: 'Europe/Olso' is not an IANA time zone name" in str(info.value)
    assert "nothing was sent" in str(info.value)


@pytest.mark.parametrize(
    ("conf", "named"),
    [({"shard_size": 0}, "shard_size=0"), ({"seed": -1}, "seed=-1"), ({"stores_file": "/no/such.yaml"}, "stores_file="),
     ({"closing_grace_minutes": 5000}, "closing_grace_minutes=5000")],
)
def test_a_bad_param_fails_the_check(dag, conf, named):
    with pytest.raises(AirflowFailException, match=named):
        shards_for_run(params(dag, **conf), datetime(2026, 11, 27, tzinfo=UTC))


def test_the_one_store_operator_ignores_stores_file(monkeypatch, clean_producer_env):
    monkeypatch.setenv("STORES_FILE", str(EXAMPLE))
    s = FootTrafficProducerOperator(task_id="p").build_settings(kafka_broker="127.0.0.1:1")
    assert s.stores_file is None
    s = FootTrafficProducerOperator(task_id="p", chain=True).build_settings(kafka_broker="127.0.0.1:1")
    assert s.catalogue_file == str(EXAMPLE)


# -- deferral: a far midnight costs no worker slot ----------------------------------------------
def test_a_live_shard_defers_until_its_first_local_midnight(dag, tmp_path, monkeypatch, kafka_conn, clean_producer_env):
    # Stores west of UTC: tomorrow's local midnight (seen from Kiritimati's date) is hours away.
    chain = small_chain(tmp_path, only={"new-york-5th-ave", "la-venice-beach"})
    now = datetime.now(UTC)
    day = chain_day(now)
    op = FootTrafficProducerOperator(task_id="p", chain=True, day_timezone=CHAIN_DAY_ZONE,
                                     stores=["la-venice-beach", "new-york-5th-ave"])
    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx(dag, now, stores_file=str(chain), seed=1))
    first = local_instant(day, 0, load_catalogue(chain).get("new-york-5th-ave").tz)
    deferred = info.value
    assert deferred.method_name == "play_after_wait" and deferred.kwargs == {"sim_anchor": float(first)}
    assert abs(deferred.trigger.moment.timestamp() - first) < 5
    # With time_scale k the wait is k times shorter (and below a minute it is not deferred).
    op_fast = FootTrafficProducerOperator(task_id="p", chain=True, day_timezone=CHAIN_DAY_ZONE, stores=["new-york-5th-ave"])
    monkeypatch.setenv("FOOT_TRAFFIC_DEFER_AFTER_SECONDS", "0.01")
    with pytest.raises(TaskDeferred) as info:
        op_fast.execute(ctx(dag, now, stores_file=str(chain), seed=1, time_scale=1000.0))
    expected = time.time() + (first - time.time()) / 1000
    assert abs(info.value.trigger.moment.timestamp() - expected) < 5


@pytest.mark.integration
def test_after_the_wait_the_shard_plays_its_day_exactly(dag, tmp_path, kafka_conn, topics, clean_producer_env):
    chain = small_chain(tmp_path, divide=40, only={"new-york-5th-ave", "la-venice-beach", "sao-paulo-paulista"})
    now = datetime.now(UTC)
    day = chain_day(now)
    op = FootTrafficProducerOperator(task_id="p", chain=True, day_timezone=CHAIN_DAY_ZONE)
    anchor = min(local_instant(day, 0, s.tz) for s in load_catalogue(chain))
    conf = dict(stores_file=str(chain), seed=5, time_scale=200000.0, topic=topics[0], topic_realistic=topics[1])
    started = time.monotonic()
    result = op.play_after_wait(ctx(dag, now, **conf), event=None, sim_anchor=float(anchor))
    assert time.monotonic() - started < 60  # a whole day at 200,000x
    assert result["stores"] == 3 and result["records_sent"] == 3 * result["total_visits"] > 0
    json.dumps(result)
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1], "SEED": "5"})
    assert problems(load_catalogue(chain), day, settings, landed(kafka_conn, topics)) == []


# -- a shard against the broker --------------------------------------------------------------
@pytest.mark.integration
def test_a_past_day_shard_at_full_speed_then_its_retry_sends_nothing(dag, tmp_path, kafka_conn, topics, clean_producer_env):
    chain = small_chain(tmp_path)
    shard = ["rome-centro", "berlin-mitte", "london-soho"]
    op = FootTrafficProducerOperator(task_id="p", chain=True, day_timezone=CHAIN_DAY_ZONE, stores=shard)
    conf = dict(stores_file=str(chain), seed=7, topic=topics[0], topic_realistic=topics[1])
    result = op.execute(ctx(dag, datetime(2026, 11, 22, tzinfo=UTC), **conf))  # a Sunday in the past
    assert result["closed_stores"] == ["berlin-mitte"] and result["stores"] == 3
    assert set(result["per_store"]) == set(shard)
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1], "SEED": "7"})
    assert problems(load_catalogue(chain).select(shard), date(2026, 11, 22), settings, landed(kafka_conn, topics)) == []
    again = op.execute(ctx(dag, datetime(2026, 11, 22, tzinfo=UTC), **conf))
    assert again["records_sent"] == 0 and again["records_already_present"] == result["records_sent"]


@pytest.mark.integration
def test_a_shard_whose_store_left_the_catalogue_fails_before_sending(dag, tmp_path, kafka_conn, topics, clean_producer_env):
    chain = small_chain(tmp_path, only={"rome-centro"})
    op = FootTrafficProducerOperator(task_id="p", chain=True, stores=["rome-centro", "gone-store"])
    with pytest.raises(AirflowFailException, match="gone-store"):
        op.execute(ctx(dag, datetime(2026, 11, 27, tzinfo=UTC), stores_file=str(chain), topic=topics[0],
                       topic_realistic=topics[1]))
    assert landed(kafka_conn, topics) == []
