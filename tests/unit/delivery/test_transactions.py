"""Taking a day, committing positions with the records, fencing: the transactional delivery on Kafka in memory."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest

from foot_traffic.delivery import ledger
from foot_traffic.delivery.errors import Fenced
from foot_traffic.delivery.transactions import Plan
from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryKafka, MemoryLedgerIO, Outage, memory_delivery

DAY = date(2025, 6, 2)
LATER = datetime(2026, 1, 1, tzinfo=UTC)


def settings(**env):
    base = {"SEED": "7", "DAILY_CUSTOMERS": "300", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e"}
    base.update({k: str(v) for k, v in env.items()})
    return Settings.from_env(base)


def test_a_day_nobody_took_is_taken_without_reading_the_data_back():
    """Issue 22, 4: a backfill of history after later days reads one ledger partition per day
    and no data at all."""
    s = settings()
    kafka = MemoryKafka()
    scans = []
    delivery = memory_delivery(kafka, s)
    real_scan = delivery._scan
    delivery._scan = lambda *a: (scans.append(a), real_scan(*a))[1]
    Runner(s, delivery, clock=FakeClock(LATER), stop=threading.Event()).run([date(2025, 3, 1), date(2025, 3, 2)])
    delivery = memory_delivery(kafka, s)
    delivery._scan = lambda *a: (scans.append(a), real_scan(*a))[1]
    summaries = Runner(s, delivery, clock=FakeClock(LATER), stop=threading.Event()).run(
        [date(2025, 1, 1), date(2025, 1, 2), date(2025, 3, 1)])
    assert scans == []
    assert [x.sent for x in summaries] == [900, 900, 0] and all(x.finished for x in summaries)


def test_positions_ride_in_the_transactions_of_their_records():
    """A transaction that does not commit leaves neither its records nor its position."""
    s = settings(MAX_RETRIES=0)
    kafka = MemoryKafka(fail_after=450)
    with pytest.raises(Exception):
        Runner(s, memory_delivery(kafka, s, transaction_ms=0), clock=FakeClock(LATER)).run([DAY])
    [records] = kafka.ledger("s_writers").values()
    committed = max((r["position"] for r in records if "position" in r), default=0)
    assert committed == len(kafka.records) > 0


def take(delivery, stores, plan_id="v1:7:300:x"):
    looked = delivery.look(DAY, stores)
    return delivery.take(DAY, {s: Plan(plan_id, 7) for s in stores}, looked)


def test_a_newer_take_of_a_store_day_stops_the_older_writer():
    s = settings()
    kafka = MemoryKafka()
    older = memory_delivery(kafka, s)
    writer = take(older, ["a", "b"])
    newer = memory_delivery(kafka, s)
    take(newer, ["b", "c"])  # another sharding: fences the older producer by its id
    with pytest.raises(Fenced):
        writer.producer.begin()  # the older producer is fenced ...
    with pytest.raises(Fenced) as caught:
        older.check_owner(DAY, ["a", "b"])  # ... and after an outage it does not take "b" back
    assert caught.value.by["writer"] == newer.writer


def test_a_writer_whose_connections_dropped_takes_its_day_again_before_its_next_transaction():
    """Soak seed 5031: the embedded broker forgets across a clean restart which producer of a
    transactional id is the newest (flaw 4), and a run fenced before the restart wrote after
    it, with the newer run's producer id. A writer whose connections dropped since its take
    sends nothing more before it took the day again; taking it again, the older run finds
    the newer run's take and stops."""
    from foot_traffic.delivery.errors import DeliveryError
    from foot_traffic.records.events import Record

    s = settings()
    kafka = MemoryKafka()
    older = memory_delivery(kafka, s)
    writer = take(older, [None])
    newer = memory_delivery(kafka, s, owner=ledger.describe_run("manual__2025-06-02"))
    take(newer, [None])
    kafka.restart()
    with pytest.raises(DeliveryError, match="taking it again"):
        writer.send(Record("s", b"k", b"older", (), 0, 0, "session", 0))
    assert kafka.records == [] and not writer.producer.in_transaction
    with pytest.raises(Fenced) as fencing:
        older.check_owner(DAY, [None])  # the runner's heal, before it takes the day again
    assert fencing.value.by["writer"] == newer.writer


def test_a_fenced_run_names_the_newer_run_whose_take_record_commits_just_after_the_fencing():
    """The newer run fences by connecting, and commits its take record a moment later: the
    fenced run waits for it rather than saying "its take record was not found"."""
    from foot_traffic.testing import MemoryProducer

    s = settings()
    kafka = MemoryKafka()
    older = memory_delivery(kafka, s)
    writer = take(older, [None])
    newer = memory_delivery(kafka, s, owner=ledger.describe_run("manual__2025-06-02"))
    MemoryProducer(kafka, writer.transactional_id).connect()  # the newer run's init_transactions
    with pytest.raises(Fenced) as fencing:
        writer.producer.begin()
    later = threading.Timer(0.5, lambda: take(newer, [None]))
    later.start()
    try:
        named = older.fenced(writer, fencing.value)
    finally:
        later.join()
    assert named.by is not None and named.by["writer"] == newer.writer
    assert "manual__2025-06-02" in str(named)


def test_a_reshard_fences_the_earlier_producer_by_its_id_only_where_a_store_day_is_unfinished():
    s = settings()
    kafka = MemoryKafka()
    first = memory_delivery(kafka, s)
    take(first, ["a", "b"])
    epochs = dict(kafka.epochs)
    second = memory_delivery(kafka, s)
    take(second, ["a", "b", "c"])
    [shard] = [tid for tid in epochs]
    assert kafka.epochs[shard] == epochs[shard] + 1  # fenced: its open transaction would be aborted


def test_check_owner_after_an_outage_sees_a_newer_run_not_its_own_lost_take():
    s = settings()
    kafka = MemoryKafka()
    mine = memory_delivery(kafka, s)
    take(mine, [None])
    mine.check_owner(DAY, [None])  # its own take: no newer run
    other = memory_delivery(kafka, s)
    take(other, [None])
    with pytest.raises(Fenced, match="fenced by a newer run"):
        mine.check_owner(DAY, [None])


def test_the_ledger_is_read_from_the_days_partition_only():
    kafka = MemoryKafka()
    io = MemoryLedgerIO(kafka, "s_writers")
    s = settings()
    Runner(s, memory_delivery(kafka, s), clock=FakeClock(LATER), stop=threading.Event()).run([DAY])
    key = ledger.transactional_id(["s", "e"], DAY)
    assert io.read(DAY, [key])[key]
    assert io.read(date(2025, 6, 3), [key]) == {}
    parts = [p for p, entries in enumerate(kafka.topics["s_writers"]) if entries]
    assert parts == [ledger.partition_of(DAY, kafka.ledger_partitions)]


def test_a_broker_that_loses_the_last_commit_loses_its_position_too():
    """A broker restarted from a snapshot loses the records and the commit together: the
    position read back is consistent with what consumers see, and the replay fills it."""
    s = settings()
    kafka = MemoryKafka(outages={500: Outage(lose=120)})
    [summary] = Runner(s, memory_delivery(kafka, s, transaction_ms=0), clock=FakeClock(LATER),
                       stop=threading.Event()).run([DAY])
    assert summary.finished and len(kafka.records) == 900
    assert len({(r.topic, r.seq) for r in kafka.records}) == 900
