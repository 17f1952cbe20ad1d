"""The topic schemas enforced by a real broker: Tansu with ``--schema-registry`` (error 87).

The schema files are the ones ``foot-traffic schema --out DIR --record`` writes, put where
the broker reads them. Every record of the default output, a chain (a closed day, a DST
change, a store open past midnight) and the retail model with every sensor flaw is
accepted, for both clients, and read back exactly; broken records are refused; a producer
whose records the broker refuses stops the day cleanly and says which record and why
(``RecordRefused``), and the documented recovery (install the schemas, run again) works.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from datetime import date

import pytest
import yaml
from confluent_kafka import Producer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import InvalidRecordError

from foot_traffic.plan.stores import load_catalogue
from tests.integration.test_cli_chain import produce
from tests.support.engine_records import SENSOR, engine_records
from tests.support.kafka_read import read_topic
from tests.support.tansu import TansuBroker, install_refusing_schemas

pytestmark = pytest.mark.integration
DAY = "2025-11-07"
CLIENTS = ["kafka-python", "confluent"]
# Four stores around the EU's DST change (2026-03-29 02:00): one closed the day before, one
# open through the change (Berlin, 20:00-04:00), one in New York (already on summer time),
# one open past midnight in Kolkata (+05:30).
CHAIN = {"stores": [
    {"id": "rome-centro", "timezone": "Europe/Rome", "base_daily_customers": 120, "profile": "seed",
     "opening_hours": {"daily": "08:30-20:00"}, "closed_on": ["2026-03-28"]},
    {"id": "berlin-night", "timezone": "Europe/Berlin", "base_daily_customers": 80,
     "opening_hours": {"daily": "20:00-04:00"}},
    {"id": "new-york-5th", "timezone": "America/New_York", "base_daily_customers": 80, "profile": "retail",
     "opening_hours": {"mon-sat": "10:00-21:00", "sun": "11:00-19:00"}},
    {"id": "kolkata-night", "timezone": "Asia/Kolkata", "base_daily_customers": 60,
     "opening_hours": {"daily": "18:00-02:00"}},
]}


@pytest.fixture(scope="module")
def tansu(tmp_path_factory):
    with TansuBroker(tmp_path_factory.mktemp("tansu")) as broker:
        yield broker


def install_project_schemas(broker: TansuBroker, topics) -> None:
    """As a user does: ``foot-traffic schema --out <the broker's schema dir> --record``."""
    run = subprocess.run(
        [sys.executable, "-m", "foot_traffic", "schema", "--out", str(broker.schemas), "--record"],
        env={"PATH": "", "KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1]},
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert {p.name for p in broker.schemas.iterdir()} >= {f"{topics[0]}.json", f"{topics[1]}.json"}


def rows(records):
    return Counter((r.topic, r.key, r.value, tuple(r.headers), r.timestamp_ms) for r in records)


def landed(broker, topics):
    return read_topic(broker.bootstrap, topics[0], timeout_s=60) + read_topic(broker.bootstrap, topics[1], timeout_s=60)


def shapes(tmp_path):
    chain_file = tmp_path / "chain.yaml"
    chain_file.write_text(yaml.safe_dump(CHAIN), encoding="utf-8")
    return {
        "default": ({"SEED": "7", "DAILY_CUSTOMERS": "200"}, ["--date", DAY], [date(2025, 11, 7)], None),
        "retail-sensor-flaws": ({"SEED": "3", "DAILY_CUSTOMERS": "200", "FOOT_TRAFFIC_PROFILE": "retail", **SENSOR},
                                     ["--date", "2025-11-08"], [date(2025, 11, 8)], None),
        "chain-dst-closed-day": ({"SEED": "5"}, ["--stores", str(chain_file), "--date", "2026-03-28",
                                             "--days", "2"], [date(2026, 3, 28), date(2026, 3, 29)], chain_file),
    }


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("shape", ["default", "retail-sensor-flaws", "chain-dst-closed-day"])
def test_every_record_is_accepted_and_read_back_exactly(tansu, topics, tmp_path, client, shape):
    env, args, days, chain_file = shapes(tmp_path)[shape]
    install_project_schemas(tansu, topics)
    run = produce(tansu.bootstrap, topics, *args, KAFKA_CLIENT=client, **env)
    assert run.returncode == 0, run.stderr[-3000:]
    catalogue = load_catalogue(chain_file) if chain_file else None
    want = engine_records(env, days, catalogue, topics)
    got = landed(tansu, topics)
    assert len(got) == len(want) and rows(got) == rows(want)
    values = [json.loads(r.value) for r in got]
    if shape == "default":
        assert len(got) == 600 and all(not v.get("store_id") and "party_id" not in v for v in values)
    if shape.startswith("retail"):
        assert any(dict(r.headers)["ft-event-id"].endswith(b":dup") for r in got)
        assert all(("party_id" in v) == (v["event_type"] == "foot_traffic") for v in values)
    if shape.startswith("chain"):
        stores = Counter((v["store_id"], r.header("ft-day")) for v, r in zip(values, got))
        assert ("rome-centro", "2026-03-28") not in stores and ("rome-centro", "2026-03-29") in stores
        assert {v.get("entry_time", v.get("time"))[-6:] for v in values} >= {"+01:00", "+02:00", "+05:30", "-04:00"}
        berlin = [v for v, r in zip(values, got) if v["store_id"] == "berlin-night" and r.header("ft-day") == "2026-03-28"]
        assert {v.get("entry_time", v.get("time"))[-6:] for v in berlin} == {"+01:00", "+02:00"}  # through the change


BROKEN = {
    "missing customer_id": lambda v: {k: x for k, x in v.items() if k != "customer_id"},
    "missing time_slot": lambda v: {k: x for k, x in v.items() if k != "time_slot"},
    "wrong event_type": lambda v: {**v, "event_type": "visit"},
    "trip as text": lambda v: {**v, "trip_duration_minutes": str(v["trip_duration_minutes"])},
    "weekday as number": lambda v: {**v, "weekday": 4},
    "a field the schema does not know": lambda v: {**v, "basket_eur": 12.5},
}


def _good_session(topic: str) -> dict:
    return json.loads(next(r.value for r in engine_records({"SEED": "7", "DAILY_CUSTOMERS": "1"}, [date(2025, 11, 7)],
                                                            topics=(topic, topic + "_e")) if r.topic == topic))


def _create(broker, topic):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()


def test_broken_records_are_refused_with_error_87_by_both_clients(tansu, topics):
    """And a good one accepted: a schema the broker could not compile would accept everything."""
    install_project_schemas(tansu, topics)
    _create(tansu, topics[0])
    good = _good_session(topics[0])
    cases = {"good": good, **{name: broken(good) for name, broken in BROKEN.items()}}

    def kafka_python(value: dict) -> str:
        producer = KafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all", enable_idempotence=False, retries=0)
        try:
            producer.send(topics[0], key=good["customer_id"].encode(), value=json.dumps(value).encode()).get(20)
            return "accepted"
        except InvalidRecordError:
            return "refused 87"
        finally:
            producer.close()

    def confluent(value: dict) -> str:
        reports = []
        producer = Producer({"bootstrap.servers": tansu.bootstrap, "acks": "all"})
        producer.produce(topics[0], json.dumps(value).encode(), good["customer_id"].encode(),
                         on_delivery=lambda err, msg: reports.append(err))
        assert producer.flush(20) == 0 and len(reports) == 1
        # "is": confluent-kafka 2.16's KafkaError == None leaves an exception set (a SystemError later)
        return "accepted" if reports[0] is None else f"refused {reports[0].code()}"

    for client in (kafka_python, confluent):
        outcomes = {name: client(value) for name, value in cases.items()}
        assert outcomes == {"good": "accepted", **{name: "refused 87" for name in BROKEN}}, client.__name__
    assert len(read_topic(tansu.bootstrap, topics[0])) == 2  # the good one, once per client


def _open_transaction_ends(broker, topics) -> dict:
    """Per partition: (read_committed end, read_uncommitted end): they differ while a transaction is open."""
    ends = {}
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level=isolation)
        try:
            parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            for tp, end in consumer.end_offsets(parts).items():
                ends.setdefault(tp, []).append(end)
        finally:
            consumer.close()
    return {tp: tuple(pair) for tp, pair in ends.items()}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_refused_record_stops_the_day_cleanly_and_the_documented_recovery_works(tansu, topics, client):
    install_refusing_schemas(tansu, topics)
    run = produce(tansu.bootstrap, topics, "--date", DAY, SEED=7, DAILY_CUSTOMERS=200, KAFKA_CLIENT=client, MAX_RETRIES=3)
    assert run.returncode == 1, run.stderr[-3000:]
    line = next(x for x in run.stderr.splitlines() if "delivery failed" in x)
    assert " refused " in line and "INVALID_RECORD" in line and "87" in line and "docs/schemas.md" in line
    assert f"topic {topics[0]}" in line or f"topic {topics[1]}" in line
    if client == "kafka-python":  # librdkafka reports a transaction's refusal by partition, not by record
        key = line.split("with key ", 1)[1].split(":", 1)[0]
        assert key in {r.key.decode() for r in engine_records({"SEED": "7", "DAILY_CUSTOMERS": "200"},
                                                               [date(2025, 11, 7)])}
    else:
        assert "partition" in line and "its key is not reported" in line
    assert "delivery interrupted" not in run.stderr  # not healed as an outage
    assert "aborted the" in run.stderr  # the transaction holding it
    # nothing of the day is visible, and no transaction is left open (read_committed is not held back)
    assert read_topic(tansu.bootstrap, topics[0]) == [] and read_topic(tansu.bootstrap, topics[1]) == []
    assert all(committed == uncommitted for committed, uncommitted in _open_transaction_ends(tansu, topics).values())

    # docs/schemas.md, "When the broker refuses a record": install the project's schemas, run again.
    install_project_schemas(tansu, topics)
    again = produce(tansu.bootstrap, topics, "--date", DAY, SEED=7, DAILY_CUSTOMERS=200, KAFKA_CLIENT=client)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(read_topic(tansu.bootstrap, topics[0])) == 200 and len(read_topic(tansu.bootstrap, topics[1])) == 400


@pytest.mark.parametrize("client", CLIENTS)
def test_a_refusal_aborts_the_transaction_whose_other_records_the_broker_accepted(tansu, topics, client):
    """Sessions refused, entry/exit events accepted, in the same transactions: the producer
    aborts, and no transaction stays open. (Tansu 0.6 does not hide aborted records from
    read_committed consumers -- its fetch answers an empty aborted-transactions list -- so the
    events are not read back here; a Kafka broker hides them.)"""
    install_refusing_schemas(tansu, topics, events_too=False)
    run = produce(tansu.bootstrap, topics, "--date", DAY, SEED=7, DAILY_CUSTOMERS=200, KAFKA_CLIENT=client, MAX_RETRIES=3)
    assert run.returncode == 1, run.stderr[-3000:]
    assert f"delivery failed: topic {topics[0]}" in run.stderr and "delivery interrupted" not in run.stderr
    assert "aborted the" in run.stderr and read_topic(tansu.bootstrap, topics[0]) == []
    ends = _open_transaction_ends(tansu, topics)
    assert sum(u for _, u in ends.values()) > 0  # the events' batches landed (then their transaction was aborted)
    assert all(committed == uncommitted for committed, uncommitted in ends.values())


@pytest.mark.parametrize("client", CLIENTS)
def test_without_transactions_a_refusal_also_ends_the_run_at_once_naming_the_record(tansu, topics, client):
    """KAFKA_TRANSACTIONS=0: no transaction to abort (what was acknowledged stays); both clients
    name the record, and the run ends within seconds (kafka-python's sender thread is not held:
    a send waiting for the other topic's metadata would wait the whole delivery timeout)."""
    install_refusing_schemas(tansu, topics)
    started = time.monotonic()
    run = produce(tansu.bootstrap, topics, "--date", DAY, SEED=7, DAILY_CUSTOMERS=200, KAFKA_CLIENT=client,
                  KAFKA_TRANSACTIONS=0, MAX_RETRIES=3)
    assert run.returncode == 1, run.stderr[-3000:]
    assert time.monotonic() - started < 60  # the delivery timeout is 120 s
    line = next(x for x in run.stderr.splitlines() if "delivery failed" in x)
    assert "refused the record with key " in line and "INVALID_RECORD" in line
    assert "delivery interrupted" not in run.stderr


def test_tansu_holds_read_committed_back_while_a_transaction_is_open(tansu, topics):
    """What the check above relies on: a transaction left open (not aborted) would show."""
    _create(tansu, topics[0])
    producer = KafkaProducer(bootstrap_servers=tansu.bootstrap, transactional_id=f"open-{topics[0]}")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(topics[0], key=b"k", value=b"{}")
        producer.flush()
        [(committed, uncommitted)] = _open_transaction_ends(tansu, topics[:1]).values()
        assert committed < uncommitted
        producer.abort_transaction()
        [(committed, uncommitted)] = _open_transaction_ends(tansu, topics[:1]).values()
        assert committed == uncommitted
    finally:
        producer.close()
