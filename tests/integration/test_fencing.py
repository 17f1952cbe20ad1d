"""One writer per day, on the real broker, with both clients: a newer writer of a day fences
the older one, which stops at its first fencing error and never fences the newer one back
(kafka-python 3.0.12 would, left to itself); the newer one resumes from the position the
day ledger holds; a re-sharded chain fences the earlier producer by its id."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date

import pytest

from foot_traffic.delivery import delivery_for
from foot_traffic.delivery.errors import Fenced
from foot_traffic.delivery.ledger import describe_run
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.transactions import Plan
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import load_catalogue
from foot_traffic.records.events import H_EVENT_ID
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import EXAMPLE_CHAIN, Settings
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
    return plan.plan_id, [r for m in StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic)
                          for r in m.records]


def store_records(settings, catalogue, store_id, day=DAY):
    plan = plan_store_day(catalogue.get(store_id), day, settings, settings.seed)
    return plan.plan_id, [r for m in StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic)
                          for r in m.records]


def delivery(settings, run):
    d = delivery_for(settings, KafkaOptions.from_settings(settings), threading.Event(), describe_run(run))
    d.connect()
    return d


class Unit:
    """What a writer reads of a store-day the runner plays: its position, done, counts."""

    def __init__(self, position=0):
        self.position, self.done, self.sent, self.finished = position, False, Counter(), False

    def committed(self):
        self.finished = True


def take(d, plans: dict):
    looked = d.look(DAY, list(plans))
    writer = d.take(DAY, {s: Plan(pid, 7) for s, pid in plans.items()}, looked)
    units = {}
    for store, link in writer.links.items():
        link.unit = units[store] = Unit(link.state.position or 0)
    return writer, units


def play(writer, unit, store, records):
    link = writer.links[store]
    for r in records:
        writer.send(r)
        unit.position += 1
        unit.sent[r.topic] += 1
        writer.touch(link)


def event_ids(bootstrap, topics, isolation_level="read_committed"):
    return [r.header(H_EVENT_ID) for t in topics for r in read_topic(bootstrap, t, isolation_level=isolation_level)]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_newer_writer_fences_the_older_one_which_stops_and_the_newer_resumes_from_the_ledger(
        kafka_bootstrap, topics, client):
    s = make_settings(kafka_bootstrap, topics, client)
    plan_id, records = day_records(s)
    old, new = delivery(s, "older run"), delivery(s, "newer run")
    try:
        old_day, old_units = take(old, {None: plan_id})
        old_unit = old_units[None]
        play(old_day, old_unit, None, records[:100])
        old.flush()  # 100 committed, with position 100
        play(old_day, old_unit, None, records[100:150])  # an open transaction the newer writer will abort
        old_day.producer.flush()  # acknowledged, not committed

        new_day, units = take(new, {None: plan_id})  # fences the older writer, aborts its open transaction
        assert new_day.links[None].state.position == 100
        with pytest.raises(Fenced) as err:
            play(old_day, old_unit, None, records[150:200])  # the zombie keeps going ...
            time.sleep(1.5)  # ... and looks again only later: meanwhile its client must not bump the epoch
            old.flush()
        assert err.value.day == DAY and err.value.by is not None and err.value.by["run"] == "newer run"
        assert "fenced by a newer run" in str(err.value)

        unit = units[None]
        play(new_day, unit, None, records[100:])  # the newer writer commits the rest, again and again
        new.flush()
        unit.done = True
        new_day.finish(new_day.links[None])
        assert unit.finished
    finally:
        old.shutdown()
        new.shutdown()
    committed = event_ids(kafka_bootstrap, topics)
    want = [dict(r.headers)[H_EVENT_ID].decode() for r in records]
    assert sorted(committed) == sorted(want), "every record exactly once for read_committed consumers"
    # the aborted 50 are in the log (read_uncommitted consumers see them); nothing after the fencing is
    assert len(event_ids(kafka_bootstrap, topics, "read_uncommitted")) == len(want) + 50


@pytest.mark.parametrize("client", CLIENTS)
def test_other_days_and_other_topics_are_other_writers(kafka_bootstrap, topics, client):
    s = make_settings(kafka_bootstrap, topics, client)
    other = make_settings(kafka_bootstrap, (topics[0] + "_b", topics[1] + "_b"), client)
    plan_id, records = day_records(s)
    a, b, c = delivery(s, "a"), delivery(s, "b"), delivery(other, "c")
    try:
        day, units = take(a, {None: plan_id})
        b.take(date(2025, 6, 3), {None: Plan(plan_id, 7)}, b.look(date(2025, 6, 3), [None]))  # the next day
        take(c, {None: plan_id})  # the same day of another data set
        play(day, units[None], None, records[:50])
        a.flush()  # not fenced
    finally:
        for d in (a, b, c):
            d.shutdown()
    assert len(event_ids(kafka_bootstrap, topics)) == 50


@pytest.mark.parametrize("client", CLIENTS)
def test_a_clean_run_leaves_no_aborted_records(kafka_bootstrap, topics, client):
    """Without a fight, read_uncommitted consumers see exactly what read_committed ones see;
    the transaction markers only leave gaps in the offsets."""
    s = make_settings(kafka_bootstrap, topics, client)
    plan_id, records = day_records(s)
    d = delivery(s, "solo")
    try:
        day, units = take(d, {None: plan_id})
        for n in range(0, len(records), 97):
            play(day, units[None], None, records[n:n + 97])
            d.idle(1.0)  # a live stream commits whenever it waits
        units[None].done = True
        day.finish(day.links[None])
    finally:
        d.shutdown()
    committed = event_ids(kafka_bootstrap, topics)
    assert len(committed) == 900 and sorted(committed) == sorted(event_ids(kafka_bootstrap, topics, "read_uncommitted"))
    landed = read_topic(kafka_bootstrap, topics[0])
    count = Counter(r.partition for r in landed)
    last = {r.partition: r.offset for r in landed}
    assert all(last[p] + 1 > count[p] for p in count), "commit markers occupy offsets"


@pytest.mark.parametrize("client", CLIENTS)
def test_a_chain_shares_one_producer_per_day_and_another_sharding_fences_it_by_its_id(kafka_bootstrap, topics, client):
    """A chain run writes its stores' day through one producer (its store set's id). A run
    whose shard differs (the catalogue was re-sharded) reads the store-days' take records,
    fences the earlier producer by its id (its open transaction aborted, so the positions it
    reads next are final), and the earlier run stops, naming it; a retry of the same store
    set, in any order, is fenced by Kafka itself."""
    s = make_settings(kafka_bootstrap, topics, client)
    chain = load_catalogue(EXAMPLE_CHAIN)
    a_id, b_id, c_id = (st.id for st in chain.stores[:3])
    rec = {sid: store_records(s, chain, sid) for sid in (a_id, b_id, c_id)}
    plans = {sid: pid for sid, (pid, _) in rec.items()}
    first, second, retry = delivery(s, "first sharding"), delivery(s, "second sharding"), delivery(s, "retry")
    try:
        writer, units = take(first, {a_id: plans[a_id], b_id: plans[b_id]})
        for sid in (a_id, b_id):
            play(writer, units[sid], sid, rec[sid][1][:30])
        first.flush()  # 60 committed
        play(writer, units[b_id], b_id, rec[b_id][1][30:40])  # an open transaction: the fencer aborts these 10
        writer.producer.flush()

        taken, taken_units = take(second, {b_id: plans[b_id], c_id: plans[c_id]})  # holds b: fences the first
        assert taken.links[b_id].state.position == 30
        with pytest.raises(Fenced) as err:
            play(writer, units[a_id], a_id, rec[a_id][1][30:31])
            first.flush()
        assert set(err.value.stores) == {a_id, b_id}

        play(taken, taken_units[b_id], b_id, rec[b_id][1][30:60])
        play(taken, taken_units[c_id], c_id, rec[c_id][1][:20])
        second.flush()

        again, again_units = take(retry, {c_id: plans[c_id], b_id: plans[b_id]})  # the same set: fenced by Kafka
        assert again.transactional_id == taken.transactional_id
        assert again.links[c_id].state.position == 20
        with pytest.raises(Fenced):
            play(taken, taken_units[c_id], c_id, rec[c_id][1][20:21])
            second.flush()
        play(again, again_units[c_id], c_id, rec[c_id][1][20:25])
        for sid in (b_id, c_id):
            again_units[sid].done = True
            again.finish(again.links[sid])  # the last store-day: commits and closes the shared producer
        assert again.producer.in_transaction is False and again_units[c_id].finished
    finally:
        for d in (first, second, retry):
            d.shutdown()
    committed = Counter(event_ids(kafka_bootstrap, topics))
    want = [dict(r.headers)[H_EVENT_ID].decode()
            for r in rec[a_id][1][:30] + rec[b_id][1][:60] + rec[c_id][1][:25]]
    assert sorted(committed) == sorted(want), "exactly what each writer committed before it was fenced, once"
