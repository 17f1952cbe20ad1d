"""One writer per day, on the real broker, with both clients: a newer writer of a day fences
the older one, which stops at its first fencing error and never fences the newer one back
(kafka-python 3.0.12 would, left to itself); the resume scan sees committed records only,
once every transaction begun before it is decided."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date

import pytest
from kafka import KafkaProducer

from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.localday import day_start
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.publisher import Fenced, publisher_for
from foot_traffic.records.events import H_EVENT_ID
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.resume import KafkaDayScanner
from foot_traffic.settings import Settings
from tests.support.kafka_read import read_topic

pytestmark = pytest.mark.integration

DAY = date(2025, 6, 2)
CLIENTS = ["kafka-python", "confluent"]


def make_settings(bootstrap, topics, client, **extra):
    env = {
        "KAFKA_BROKER": bootstrap, "KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1],
        "SEED": "7", "DAILY_CUSTOMERS": "300", "KAFKA_CLIENT": client, "MAX_RETRIES": "2",
        "RETRY_BACKOFF_SECONDS": "0.2",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return Settings.from_env(env)


def day_records(settings, day=DAY):
    plan = plan_store_day(implicit_store(settings, load_profile(None)), day, settings)
    return [r for m in StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic) for r in m.records]


def publishers(settings, run):
    pubs = publisher_for(settings, KafkaOptions.from_settings(settings), owner={"run": run, "host": "here", "pid": 0})
    pubs.ensure_topics([settings.kafka_topic, settings.kafka_topic_realistic])
    return pubs


def event_ids(bootstrap, topics, isolation_level="read_committed"):
    return [r.header(H_EVENT_ID) for t in topics for r in read_topic(bootstrap, t, isolation_level=isolation_level)]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_newer_writer_fences_the_older_one_which_stops_and_never_fences_back(kafka_bootstrap, topics, client):
    s = make_settings(kafka_bootstrap, topics, client)
    records = day_records(s)
    old, new = publishers(s, "older run"), publishers(s, "newer run")
    try:
        old_day = old.open_day(DAY)
        for r in records[:100]:
            old_day.send(r)
        old.flush()  # 100 committed
        for r in records[100:150]:
            old_day.send(r)  # an open transaction: 50 records the newer writer will abort
        old._writers[(None, DAY)].producer.flush()  # acknowledged, not committed

        new_day = new.open_day(DAY)  # fences the older writer, aborts its open transaction
        with pytest.raises(Fenced) as err:
            for r in records[150:200]:  # the zombie keeps going
                old_day.send(r)
            # ... and looks again only later (a live run waits for its next record): meanwhile
            # its client must not do anything on its own, such as bumping the epoch.
            time.sleep(1.5)
            old.flush()
        assert err.value.day == DAY and err.value.by is not None and err.value.by["run"] == "newer run"
        assert "fenced by a newer run" in str(err.value) and "newer run" in str(err.value)
        with pytest.raises(Fenced):  # and stays stopped
            old_day.send(records[200])

        # The newer writer commits, again and again: the older one did not take the id back.
        for chunk in (records[100:200], records[200:]):
            for r in chunk:
                new_day.send(r)
            new.flush()
        new_day.finish()
    finally:
        old.close()
        new.close()
    committed = event_ids(kafka_bootstrap, topics)
    want = [dict(r.headers)[H_EVENT_ID].decode() for r in records]
    assert sorted(committed) == sorted(want), "every record exactly once for read_committed consumers"
    # the aborted 50 are in the log (read_uncommitted consumers see them); nothing after the fencing is
    raw = event_ids(kafka_bootstrap, topics, "read_uncommitted")
    assert len(raw) == len(want) + 50


@pytest.mark.parametrize("client", CLIENTS)
def test_other_days_and_other_topics_are_other_writers(kafka_bootstrap, topics, client):
    s = make_settings(kafka_bootstrap, topics, client)
    other_topics = (topics[0] + "_b", topics[1] + "_b")
    s_other = make_settings(kafka_bootstrap, other_topics, client)
    a, b, c = publishers(s, "a"), publishers(s, "b"), publishers(s_other, "c")
    try:
        day = a.open_day(DAY)
        b.open_day(date(2025, 6, 3))  # the next day
        c.open_day(DAY)  # the same day of another data set
        for r in day_records(s)[:50]:
            day.send(r)
        a.flush()  # not fenced
    finally:
        for p in (a, b, c):
            p.close()
    assert len(event_ids(kafka_bootstrap, topics)) == 50


def test_the_scan_waits_for_a_transaction_begun_before_it(kafka_bootstrap, topics):
    """Records of the day committed by another transactional writer after the scan began are
    counted: the scan reads up to the high watermark once the last stable offset reaches it."""
    s = make_settings(kafka_bootstrap, topics, "kafka-python")
    records = day_records(s)
    publishers(s, "setup").close()  # creates the topics
    other = KafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"other-{topics[0]}", acks="all")
    other.init_transactions()
    other.begin_transaction()
    for r in records[:40]:
        other.send(r.topic, r.value, r.key, headers=list(r.headers), timestamp_ms=r.timestamp_ms)
    other.flush()
    scanner = KafkaDayScanner(KafkaOptions.from_settings(s))
    found: dict = {}
    scan = threading.Thread(target=lambda: found.update(scanner.scan(DAY, list(topics), int(day_start(DAY).timestamp() * 1000))))
    scan.start()
    time.sleep(1.5)
    assert scan.is_alive(), "the scan must wait while a transaction begun before it is open"
    other.commit_transaction()
    scan.join(10)
    other.close()
    assert not scan.is_alive()
    [holdings] = found.values()
    assert holdings.total == 40


@pytest.mark.parametrize("client", CLIENTS)
def test_a_clean_run_leaves_no_aborted_records(kafka_bootstrap, topics, client):
    """Without a fight, read_uncommitted consumers see exactly what read_committed ones see;
    the transaction markers only leave gaps in the offsets."""
    s = make_settings(kafka_bootstrap, topics, client)
    pubs = publishers(s, "solo")
    try:
        day = pubs.open_day(DAY)
        for n, r in enumerate(day_records(s)):
            day.send(r)
            if n % 97 == 0:
                pubs.idle(1.0)  # a live stream commits whenever it waits
        day.finish()
    finally:
        pubs.close()
    committed = event_ids(kafka_bootstrap, topics)
    assert len(committed) == 900 and sorted(committed) == sorted(event_ids(kafka_bootstrap, topics, "read_uncommitted"))
    landed = read_topic(kafka_bootstrap, topics[0])
    count = Counter(r.partition for r in landed)
    last = {r.partition: r.offset for r in landed}
    assert all(last[p] + 1 > count[p] for p in count), "commit markers occupy offsets"


def store_records(settings, catalogue, store_id, day=DAY):
    from foot_traffic.plan.storeday import plan_store_day
    from foot_traffic.records.stream import StoreDayStream

    store = next(s for s in catalogue.stores if s.id == store_id)
    plan = plan_store_day(store, day, settings, settings.seed)
    return [r for m in StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic) for r in m.records]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_chain_shares_one_producer_per_day_and_another_sharding_fences_it_by_its_id(kafka_bootstrap, topics, client):
    """A chain run writes its stores' day through one producer (its store set's id). A run
    whose shard differs (the catalogue was re-sharded) reads the store-days' owner records,
    fences the older producer by its id (its open transaction aborted, so the resume scan
    that follows sees all it will ever commit), and the older run stops, naming it; a retry
    of the same store set, in any order, is fenced by Kafka itself."""
    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.settings import EXAMPLE_CHAIN

    s = make_settings(kafka_bootstrap, topics, client)
    chain = load_catalogue(EXAMPLE_CHAIN)
    a_id, b_id, c_id = (st.id for st in chain.stores[:3])
    rec = {sid: store_records(s, chain, sid) for sid in (a_id, b_id, c_id)}
    assert all(rec.values())
    first, second, retry = publishers(s, "first sharding"), publishers(s, "second sharding"), publishers(s, "retry")
    try:
        writers = first.open_stores_day(DAY, [a_id, b_id])
        assert writers[a_id].shared is writers[b_id].shared, "one producer for the shard's stores"
        for sid in (a_id, b_id):
            for r in rec[sid][:30]:
                writers[sid].send(r)
        first.flush()  # 60 committed
        for r in rec[b_id][30:40]:
            writers[b_id].send(r)  # an open transaction: the fencer aborts these 10
        writers[b_id].shared.producer.flush()

        taken = second.open_stores_day(DAY, [b_id, c_id])  # another shard holding b: fences the first
        with pytest.raises(Fenced) as err:
            writers[a_id].send(rec[a_id][30])
            first.flush()
        assert err.value.by is not None and err.value.by["run"] == "second sharding"
        assert set(err.value.stores) == {a_id, b_id}

        for sid in (b_id, c_id):
            for r in rec[sid][30:60] if sid == b_id else rec[sid][:20]:
                taken[sid].send(r)
        second.flush()

        again = retry.open_stores_day(DAY, [c_id, b_id])  # the same store set: the same id, fenced by Kafka
        assert again[b_id].shared.transactional_id == taken[b_id].shared.transactional_id
        with pytest.raises(Fenced):
            taken[c_id].send(rec[c_id][20])
            second.flush()
        for r in rec[c_id][20:25]:
            again[c_id].send(r)
        again[b_id].finish()
        again[c_id].finish()  # the last store-day: commits and closes the shared producer
        assert again[c_id].shared.producer.in_transaction is False
    finally:
        for pubs in (first, second, retry):
            pubs.close()
    committed = Counter(event_ids(kafka_bootstrap, topics))
    want = [dict(r.headers)[H_EVENT_ID].decode()
            for r in rec[a_id][:30] + rec[b_id][:60] + rec[c_id][:25]]
    assert sorted(committed) == sorted(want), "exactly what each writer committed before it was fenced, once"
