"""FootTrafficProducerOperator: templates, settings validation, the day played, stopping, failures.

The tests that send go to the real local broker (``kafka_bootstrap``), never a mock.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from foot_traffic_airflow.operators import FootTrafficProducerOperator, FootTrafficStopped
from tests.support.kafka_read import read_topic

from .conftest import kafka_conn_json

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2-never-logged"


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).dags["foot_traffic_daily"]


def run_params(dag, **conf) -> dict:
    """A run's Params as the task sees them in ``context["params"]``: defaults plus the trigger's conf."""
    return {**dag.params.dump(), **conf}


def context(day: date | None = None, run_after: datetime | None = None) -> dict:
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
    return {"logical_date": logical, "dag_run": SimpleNamespace(run_after=run_after), "data_interval_end": None}


# -- settings from the Params, the environment and the argument ---------------------------------
def test_params_reach_the_settings_as_values(dag, clean_producer_env):
    params = run_params(dag, seed=7, daily_customers=300, topic="t1", topic_realistic="t2", time_scale=60.0)
    s = dag.get_task("produce_day").build_settings(params, kafka_broker="127.0.0.1:1")
    assert (s.seed, s.daily_customers, s.kafka_topic, s.kafka_topic_realistic, s.time_scale) == (7, 300, "t1", "t2", 60.0)
    assert s.kafka_broker == ("127.0.0.1:1",)


def test_null_params_mean_unset_even_when_the_worker_environment_sets_them(dag, monkeypatch):
    monkeypatch.setenv("DAILY_CUSTOMERS", "999")
    monkeypatch.setenv("SEED", "5")
    s = dag.get_task("produce_day").build_settings(run_params(dag, daily_customers=None, seed=None), kafka_broker="127.0.0.1:1")
    assert s.daily_customers is None and s.seed is None


def test_settings_not_exposed_as_params_still_come_from_the_environment(dag, monkeypatch, clean_producer_env):
    monkeypatch.setenv("KAFKA_COMPRESSION", "none")
    monkeypatch.setenv("FOOT_TRAFFIC_RESUME", "0")
    s = dag.get_task("produce_day").build_settings(run_params(dag), kafka_broker="127.0.0.1:1")
    assert s.compression == "none" and s.resume is False


def test_operator_without_dag_falls_back_to_the_environment(monkeypatch, clean_producer_env):
    monkeypatch.setenv("TIME_SCALE", "120")
    monkeypatch.setenv("KAFKA_TOPIC", "old_topic")
    monkeypatch.setenv("KAFKA_BROKER", "old-broker:9092")
    s = FootTrafficProducerOperator(task_id="p", settings={"seed": 3}).build_settings()
    assert (s.time_scale, s.kafka_topic, s.seed, s.kafka_broker) == (120.0, "old_topic", 3, ("old-broker:9092",))


def test_the_settings_argument_wins_over_the_params(dag, clean_producer_env):
    op = FootTrafficProducerOperator(task_id="p", settings={"seed": 11, "KAFKA_COMPRESSION": "none"})
    s = op.build_settings(run_params(dag, seed=7), kafka_broker="127.0.0.1:1")
    assert (s.seed, s.compression) == (11, "none")


def test_template_fields_are_named_like_the_arguments():
    import inspect

    args = set(inspect.signature(FootTrafficProducerOperator.__init__).parameters)
    assert set(FootTrafficProducerOperator.template_fields) == {"settings", "day", "kafka_config_id"} <= args


@pytest.mark.parametrize(
    "name, value",
    [
        ("daily_customers", 0),
        ("time_scale", -1),
        ("topic", "bad topic!"),
        ("daily_variation_pct", 1.5),
        ("seed", "abc"),
        ("profile_file", "/no/such/profile.yaml"),
    ],
)
def test_bad_param_is_refused_naming_the_param(dag, name, value, clean_producer_env):
    for given in ({"params": run_params(dag, **{name: value})}, {"argument": {name: value}}):
        op = FootTrafficProducerOperator(task_id="p", settings=given.get("argument"))
        with pytest.raises(AirflowFailException) as err:
            op.build_settings(given.get("params"), kafka_broker="127.0.0.1:1")
        assert f"{name}={value!r}" in str(err.value)
        assert "nothing was sent" in str(err.value)


def test_a_bad_variable_is_named_as_the_variable(monkeypatch, clean_producer_env):
    monkeypatch.setenv("KAFKA_COMPRESSION", "zip")
    with pytest.raises(AirflowFailException, match="KAFKA_COMPRESSION='zip'"):
        FootTrafficProducerOperator(task_id="p").build_settings(kafka_broker="127.0.0.1:1")


# -- the day played -------------------------------------------------------------------------
def test_day_is_the_logical_date_in_utc():
    op = FootTrafficProducerOperator(task_id="p")
    assert op.day_to_play(context(date(2025, 11, 7))) == date(2025, 11, 7)
    late = {"logical_date": datetime(2025, 11, 7, 23, 30, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Tokyo"))}
    assert op.day_to_play(late) == date(2025, 11, 7)


def test_day_without_logical_date_is_run_after():
    op = FootTrafficProducerOperator(task_id="p")
    assert op.day_to_play(context(None, datetime(2025, 11, 9, 8, tzinfo=UTC))) == date(2025, 11, 9)


def test_day_argument_wins():
    assert FootTrafficProducerOperator(task_id="p", day="2025-01-02").day_to_play(context(date(2025, 11, 7))) == date(2025, 1, 2)


# -- against the local broker ---------------------------------------------------------------
@pytest.mark.integration
def test_bad_param_is_refused_before_anything_is_sent(kafka_conn, topics, clean_producer_env):
    t1, t2 = topics
    op = FootTrafficProducerOperator(task_id="p", settings={"topic": t1, "topic_realistic": t2, "daily_customers": "0", "seed": 1})
    with pytest.raises(AirflowFailException, match="daily_customers"):
        op.execute(context(date(2025, 11, 7)))
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_conn)
    try:
        assert not {t1, t2} & set(admin.list_topics()), "topics were created before the settings were checked"
    finally:
        admin.close()


@pytest.mark.integration
def test_past_day_is_sent_at_full_speed_and_summary_is_the_xcom(monkeypatch, kafka_bootstrap, topics, clean_producer_env, caplog, capsys):
    # a SASL password in the connection (ignored on PLAINTEXT) must appear in no log and no XCom
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", kafka_conn_json(kafka_bootstrap, **{"sasl.password": SECRET}))
    caplog.set_level(logging.DEBUG)
    t1, t2 = topics
    op = FootTrafficProducerOperator(task_id="p", settings={"topic": t1, "topic_realistic": t2, "seed": "7", "daily_customers": "120", "topic_partitions": "2"})
    started = time.monotonic()
    result = op.execute(context(date(2025, 11, 7)))
    assert time.monotonic() - started < 30
    json.dumps(result)  # XCom-safe
    assert result["day"] == "2025-11-07" and result["finished"] and not result["stopped"]
    assert result["sent_per_topic"] == {t1: 120, t2: 240}
    assert sum(result["entries_per_slot"].values()) == 120
    landed = read_topic(kafka_bootstrap, t1)
    assert len(landed) == 120 and {r.partition for r in landed} <= {0, 1}
    assert all(r.header("ft-day") == "2025-11-07" for r in landed)
    day0 = datetime(2025, 11, 7, tzinfo=UTC).timestamp() * 1000
    assert all(day0 <= r.timestamp_ms < day0 + 2 * 86_400_000 for r in landed)
    out = capsys.readouterr()
    for text in (caplog.text, out.out, out.err, json.dumps(result)):
        assert SECRET not in text
    # a retry of the same day sends nothing again (resume)
    again = op.execute(context(date(2025, 11, 7)))
    assert again["records_sent"] == 0 and again["records_already_present"] == 360


@pytest.mark.integration
def test_validate_flag_puts_the_check_into_the_log_and_the_xcom(kafka_conn, topics, clean_producer_env, caplog, capsys):
    caplog.set_level(logging.INFO)
    t1, t2 = topics
    op = FootTrafficProducerOperator(task_id="p", settings={
        "topic": t1, "topic_realistic": t2, "seed": "7", "daily_customers": "600", "profile_file": "retail",
        "sensor_miss_rate": 0.05, "sensor_batch_seconds": 30, "sensor_upload_delay_seconds": 60, "validate": True,
    })
    result = op.execute(context(date(2026, 11, 28)))
    json.dumps(result)  # XCom-safe
    validation = result["validation"]
    assert validation["passed"] is True
    (day,) = validation["days"]
    assert day["day"] == "2026-11-28" and day["failed"] == [] and "trip minutes vs log-normal (KS)" in day["p_values"]
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err  # the task logger may write to the console
    assert "sessions = plan" in logged and "PASS" in logged


@pytest.mark.integration
def test_on_kill_stops_flushes_and_fails_the_task(kafka_conn, topics, clean_producer_env):
    t1, t2 = topics
    # from midnight at 10 simulated minutes per second: the day would take 2.4 minutes
    op = FootTrafficProducerOperator(task_id="p", settings={"topic": t1, "topic_realistic": t2, "seed": 3, "daily_customers": 5000, "time_scale": 600, "from_midnight": True})
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = op.execute(context(date(2025, 11, 7)))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertions
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not read_topic(kafka_conn, t1):
        time.sleep(0.3)
    killed = time.monotonic()
    op.on_kill()
    worker.join(10)
    assert not worker.is_alive(), "execute kept running after on_kill"
    assert time.monotonic() - killed < 5, "on_kill must stop within the SDK's 5 s grace period"
    assert "result" not in outcome, "a stopped task must not report success"
    assert isinstance(outcome["error"], FootTrafficStopped)
    assert isinstance(outcome["error"], AirflowException)
    # everything sent before the stop was flushed and acknowledged; the day is incomplete
    landed = read_topic(kafka_conn, t2)
    assert 0 < len(landed) < 10_000
    assert "records" in str(outcome["error"]) and "incomplete" in str(outcome["error"])


@pytest.mark.integration
def test_unreachable_broker_fails_the_task_without_leaking_secrets(monkeypatch, topics, clean_producer_env, caplog, capsys):
    from foot_traffic.local_broker import free_port

    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_DEFAULT",
        kafka_conn_json(f"127.0.0.1:{free_port()}", **{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",                   "sasl.username": "u", "sasl.password": SECRET}),
    )
    import dataclasses

    from foot_traffic_airflow import connection

    real_resolve = connection.resolve_kafka

    def quick_resolve(conn_id):  # the real mapping, plus a 2 s bootstrap timeout (default 30 s)
        target = real_resolve(conn_id)
        return dataclasses.replace(target, client_options={**target.client_options, "bootstrap_timeout_ms": 2000})

    monkeypatch.setattr(connection, "resolve_kafka", quick_resolve)
    caplog.set_level(logging.DEBUG)
    op = FootTrafficProducerOperator(task_id="p", settings={"topic": topics[0], "topic_realistic": topics[1], "seed": 1, "max_retries": 0, "retry_backoff_seconds": 0})
    with pytest.raises(AirflowException) as err:
        op.execute(context(date(2025, 11, 7)))
    assert not isinstance(err.value, AirflowFailException), "a broker outage is worth a retry"
    out = capsys.readouterr()
    for text in (caplog.text, out.out, out.err, str(err.value)):
        assert SECRET not in text


@pytest.mark.integration
def test_confluent_client_takes_its_producer_from_the_provider_hook(kafka_conn, topics, clean_producer_env, monkeypatch):
    """KAFKA_CLIENT=confluent under Airflow: the producer is the Kafka provider's hook's
    (its connection extra is librdkafka configuration), and the records are the same as
    kafka-python's, on the same partitions."""
    from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

    built = []
    real_get_producer = KafkaProducerHook.get_producer

    def spy(hook):
        built.append(hook.kafka_config_id)
        return real_get_producer(hook)

    monkeypatch.setattr(KafkaProducerHook, "get_producer", spy)
    t1, t2 = topics
    day = date(2025, 11, 7)
    common = {"seed": 7, "daily_customers": 150}
    confluent = FootTrafficProducerOperator(
        task_id="p", settings={**common, "topic": t1, "topic_realistic": t2, "KAFKA_CLIENT": "confluent"}
    ).execute(context(day))
    assert built == ["kafka_default"]
    assert confluent["sent_per_topic"] == {t1: 150, t2: 300}
    p1, p2 = f"{t1}_py", f"{t2}_py"
    FootTrafficProducerOperator(task_id="p", settings={**common, "topic": p1, "topic_realistic": p2}).execute(context(day))
    for ours, theirs in ((t1, p1), (t2, p2)):
        a = sorted((r.partition, r.key, r.value, r.timestamp_ms) for r in read_topic(kafka_conn, ours))
        b = sorted((r.partition, r.key, r.value, r.timestamp_ms) for r in read_topic(kafka_conn, theirs))
        assert a == b and len(a) in (150, 300)


@pytest.mark.integration
def test_a_newer_run_of_the_day_fences_this_task_which_fails_without_retry_naming_it(kafka_conn, topics, clean_producer_env):
    """Two task instances of the same day at once (operator level, two threads): the later one
    fences the earlier, which pushes its summary with "fenced" and fails with
    FootTrafficFenced (an AirflowFailException: no retry into a fight)."""
    from foot_traffic_airflow.operators import FootTrafficFenced

    t1, t2 = topics
    settings = {"topic": t1, "topic_realistic": t2, "seed": 5, "daily_customers": 3000, "time_scale": 6000, "from_midnight": True}
    pushed: dict = {}

    def ti(run_id, pushed_to):
        return SimpleNamespace(
            dag_id="foot_traffic_daily", run_id=run_id, task_id="produce_day", try_number=1, map_index=-1,
            xcom_push=lambda key, value: pushed_to.setdefault(key, value),
        )

    outcome: dict = {}

    def run(name, run_id):
        ctx = {**context(date(2025, 11, 7)), "ti": ti(run_id, pushed.setdefault(name, {}))}
        try:
            outcome[name] = FootTrafficProducerOperator(task_id="produce_day", settings=settings).execute(ctx)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertions
            outcome[name] = exc

    first = threading.Thread(target=run, args=("scheduled", "scheduled__2025-11-07T00:00:00+00:00"))
    first.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not read_topic(kafka_conn, t1):
        time.sleep(0.2)
    second = threading.Thread(target=run, args=("manual", "manual__2025-11-07T09:30:00+00:00"))
    second.start()
    first.join(60)
    second.join(60)
    assert not first.is_alive() and not second.is_alive()
    assert isinstance(outcome["manual"], dict) and outcome["manual"]["finished"], outcome["manual"]
    err = outcome["scheduled"]
    assert isinstance(err, FootTrafficFenced) and isinstance(err, AirflowFailException)
    assert "fenced by a newer run: Airflow foot_traffic_daily/manual__2025-11-07T09:30:00+00:00 produce_day try 1" in str(err)
    summary = pushed["scheduled"]["return_value"]
    assert summary["fenced"] is True and summary["fenced_by"]["run"].endswith("manual__2025-11-07T09:30:00+00:00 produce_day try 1")
    json.dumps(summary)
    landed = read_topic(kafka_conn, t1) + read_topic(kafka_conn, t2)
    assert len(landed) == 9000 and len({r.header("ft-event-id") for r in landed}) == 9000


def test_days_before_plays_an_earlier_day_unless_a_day_is_given():
    op = FootTrafficProducerOperator(task_id="p", day="", days_before=1)
    assert op.day_to_play(context(date(2025, 11, 7))) == date(2025, 11, 6)
    assert op.day_to_play(context(None, datetime(2025, 11, 9, 8, tzinfo=UTC))) == date(2025, 11, 8)
    assert FootTrafficProducerOperator(task_id="p", day="2025-01-02", days_before=1).day_to_play(
        context(date(2025, 11, 7))
    ) == date(2025, 1, 2)


@pytest.mark.integration
def test_the_topic_assets_name_the_broker_the_run_really_used(kafka_conn, topics, clean_producer_env, monkeypatch):
    """The outlet is an asset alias; a successful run resolves it to kafka://<the connection's
    first bootstrap server>/<topic>, whatever KAFKA_BROKER said when the DAG was parsed."""
    from airflow.sdk import AssetAlias
    from airflow.sdk.execution_time.context import OutletEventAccessors

    monkeypatch.setenv("KAFKA_BROKER", "kafka:9092")  # the parse-time default: not the broker used
    t1, t2 = topics
    alias = AssetAlias("foot_traffic_topics")
    op = FootTrafficProducerOperator(
        task_id="p", settings={"topic": t1, "topic_realistic": t2, "seed": 7, "daily_customers": 50}, outlets=[alias]
    )
    events = OutletEventAccessors()
    result = op.execute({**context(date(2025, 11, 7)), "outlet_events": events})
    emitted = {e.dest_asset_key.uri: e.extra for e in events[alias].asset_alias_events}
    assert set(emitted) == {f"kafka://{kafka_conn}/{t1}", f"kafka://{kafka_conn}/{t2}"}
    extra = emitted[f"kafka://{kafka_conn}/{t1}"]
    assert extra["day"] == "2025-11-07" and extra["bootstrap_servers"] == kafka_conn and extra["records_sent"] == 50
    assert extra["plan_id"] == result["plan_id"]


def test_cli_json_summary_equals_the_operators_xcom(kafka_conn, topics, clean_producer_env, request):
    """``foot-traffic produce --json`` and the task's XCom are the same document for the same day."""
    import os
    import subprocess
    import sys

    t1, t2 = topics
    xcom = FootTrafficProducerOperator(
        task_id="p", settings={"seed": 9, "daily_customers": 240, "topic": t1, "topic_realistic": t2}
    ).execute(context(date(2025, 11, 7)))
    c1, c2 = f"{t1}_cli", f"{t2}_cli"
    env = {**os.environ, "KAFKA_BROKER": kafka_conn, "KAFKA_TOPIC": c1, "KAFKA_TOPIC_REALISTIC": c2,
           "SEED": "9", "DAILY_CUSTOMERS": "240"}
    run = subprocess.run([sys.executable, "-m", "foot_traffic", "produce", "--date", "2025-11-07", "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    (cli_day,) = json.loads(run.stdout)["days"]
    renamed = json.loads(json.dumps(cli_day).replace(c1, t1).replace(c2, t2))
    assert renamed == xcom


def test_a_day_plays_with_the_task_processs_heap_frozen_and_gives_it_back():
    """Full collections skip Airflow's objects while a day plays (see task_context.frozen_heap);
    afterwards the collector has them again, and a heap someone else froze is left alone."""
    import gc

    from foot_traffic_airflow.operators import frozen_heap

    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
