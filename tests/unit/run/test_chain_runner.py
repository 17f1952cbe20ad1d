"""A chain through the one runner: determinism per store, resume per store, one merged
stream, closed days, lazy opening of store-days (memory follows the stores under way)."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from foot_traffic.delivery.errors import DeliveryError, PlanMismatch
from foot_traffic.plan.localday import local_instant
from foot_traffic.plan.store_days import store_days
from foot_traffic.plan.stores import Catalogue, load_catalogue
from foot_traffic.run.runner import Runner, days_from
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryKafka, memory_delivery

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = load_catalogue(ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml")
DAY = date(2026, 11, 27)
LATER = datetime(2027, 6, 1, tzinfo=UTC)


def small(catalogue: Catalogue, factor=10) -> Catalogue:
    """The same stores with a tenth of the customers (fast tests)."""
    import dataclasses

    return Catalogue(
        tuple(dataclasses.replace(s, base_daily_customers=max(1, (s.base_daily_customers or 100) // factor))
              for s in catalogue.stores),
        catalogue.source,
    )


CHAIN = small(EXAMPLE)


def settings(**env):
    base = {"SEED": "7", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e"}
    base.update({k: str(v) for k, v in env.items()})
    return Settings.from_env(base)


def play(catalogue, days=(DAY,), pub=None, clock=None, s=None, **kw):
    pub = pub if pub is not None else MemoryKafka()
    s = s or settings()
    runner = Runner(s, memory_delivery(pub, s), clock=clock or FakeClock(LATER), stop=threading.Event(),
                    catalogue=catalogue)
    return runner.run(list(days), **kw), pub


def by_store(pub):
    out: dict[str, list] = {}
    for r in pub.records:
        out.setdefault(dict(r.headers)["ft-store"].decode(), []).append((r.topic, r.key, r.value, r.headers, r.timestamp_ms))
    return out


def test_records_name_their_store_first_with_local_times():
    summaries, pub = play(CHAIN)
    assert len(summaries) == 10 and all(s.finished and s.store_id for s in summaries)
    for r in pub.records:
        doc = json.loads(r.value)
        assert list(doc)[0] == "store_id"
        headers = dict(r.headers)
        assert doc["store_id"] == headers["ft-store"].decode()
        assert [k for k, _ in r.headers] == ["ft-event-id", "ft-seq", "ft-day", "ft-plan", "ft-store"]
        assert r.key.decode() == headers["ft-event-id"].decode().split(":")[0]  # the key stays the customer
        text = doc.get("time") or doc["entry_time"]
        assert datetime.fromisoformat(text).timestamp() * 1000 == r.timestamp_ms
    tokyo = next(json.loads(r.value) for r in pub.records if b"tokyo" in dict(r.headers)["ft-store"])
    assert tokyo["time_slot"] == "00:00\u201306:59" and tokyo["entry_time"].endswith("+09:00")
    rome = next(json.loads(r.value) for r in pub.records if dict(r.headers)["ft-store"] == b"rome-centro")
    assert rome["entry_time"].startswith("2026-11-27T08:") and rome["entry_time"].endswith("+01:00")
    assert list(rome) == ["store_id", "event_type", "customer_id", "entry_time", "exit_time",
                          "trip_duration_minutes", "weekday", "time_slot"]


def test_one_stream_merged_by_due_time_through_one_publisher():
    summaries, pub = play(CHAIN, days=days_from(DAY, 2))
    assert [r.due for r in pub.records] == sorted(r.due for r in pub.records)
    assert len(summaries) == 20
    assert sum(s.sent for s in summaries) == len(pub.records)
    assert all(s.sent == 3 * s.total_visits for s in summaries)
    # each store-day is its own stream: consecutive ft-seq per topic from 0
    seqs: dict[tuple, list[int]] = {}
    for r in pub.records:
        h = dict(r.headers)
        seqs.setdefault((h["ft-store"], h["ft-day"], r.topic), []).append(r.seq)
    assert all(v == list(range(len(v))) for v in seqs.values())


def test_a_stores_bytes_do_not_depend_on_the_other_stores_their_order_or_shards():
    _, whole = play(CHAIN)
    reference = by_store(whole)
    stores = list(CHAIN.stores)
    _, reversed_ = play(Catalogue(tuple(reversed(stores))))
    assert by_store(reversed_) == reference
    shards = [stores[i:i + 3] for i in range(0, len(stores), 3)]
    merged = {}
    for shard in shards:
        _, pub = play(Catalogue(tuple(shard)))
        merged.update(by_store(pub))
    assert merged == reference
    # Changing (or removing) another store changes nothing of rome-centro.
    import dataclasses

    changed = [dataclasses.replace(s, base_daily_customers=5) if s.id == "milano-duomo" else s for s in stores]
    _, pub = play(Catalogue(tuple(changed[:1] + changed[1:5])))
    assert by_store(pub)["rome-centro"] == reference["rome-centro"]
    assert by_store(pub)["milano-duomo"] != reference["milano-duomo"]


def test_different_stores_draw_different_customers():
    _, pub = play(CHAIN)
    keys = {}
    for store, recs in by_store(pub).items():
        keys[store] = {r[1] for r in recs}
    for a, b in itertools.combinations(keys.values(), 2):
        assert not a & b


def test_a_closed_store_day_sends_nothing_and_says_so(caplog):
    sunday = date(2026, 11, 29)
    with caplog.at_level("INFO", logger="foot_traffic.runner"):
        summaries, pub = play(CHAIN, days=[sunday])
    berlin = next(s for s in summaries if s.store_id == "berlin-mitte")
    assert berlin.closed and berlin.total_visits == 0 and berlin.sent == 0 and berlin.finished
    assert berlin.as_dict()["closed"] is True
    assert b"berlin-mitte" not in {dict(r.headers)["ft-store"] for r in pub.records}
    assert "store berlin-mitte is closed on 2026-11-29 (Sunday, no opening hours on Sundays)" in caplog.text


@pytest.mark.parametrize("transactions", ["1", "0"])
def test_resume_per_store_after_a_failure_sends_exactly_the_rest(transactions):
    _, full = play(CHAIN)
    pub = MemoryKafka(fail_after=4321)
    with pytest.raises(DeliveryError):
        play(CHAIN, pub=pub, s=settings(MAX_RETRIES=0, KAFKA_TRANSACTIONS=transactions))
    there = len(pub.records)
    assert there <= 4321
    pub.fail_after = None
    summaries, _ = play(CHAIN, pub=pub, s=settings(KAFKA_TRANSACTIONS=transactions))
    assert sum(s.already_present for s in summaries) == there
    assert sorted(map(repr, pub.records)) == sorted(map(repr, full.records))  # nothing lost, nothing twice
    again, _ = play(CHAIN, pub=pub, s=settings(KAFKA_TRANSACTIONS=transactions))
    assert sum(s.sent for s in again) == 0 and len(pub.records) == len(full.records)


def test_a_shard_resumes_only_its_own_stores():
    stores = list(CHAIN.stores)
    pub = MemoryKafka()
    play(Catalogue(tuple(stores[:5])), pub=pub)  # another shard wrote its stores first
    summaries, _ = play(Catalogue(tuple(stores[5:])), pub=pub)
    assert all(s.already_present == 0 and s.sent == 3 * s.total_visits for s in summaries)


def test_another_plan_for_one_store_is_refused_naming_it():
    pub = MemoryKafka()
    play(CHAIN, pub=pub)
    import dataclasses

    changed = Catalogue(tuple(dataclasses.replace(s, hours=((( 600, 1200),),) * 7) if s.id == "london-soho" else s
                              for s in CHAIN.stores))
    with pytest.raises(PlanMismatch, match="store london-soho: 2026-11-27 already holds records of another plan"):
        play(changed, pub=pub)


def test_unseeded_restart_keeps_the_first_attempts_seed():
    s = Settings.from_env({"KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e", "MAX_RETRIES": "0"})
    pub = MemoryKafka(fail_after=1000)
    with pytest.raises(DeliveryError):
        play(CHAIN, pub=pub, s=s)
    there = len(pub.records)
    pub.fail_after = None
    summaries, _ = play(CHAIN, pub=pub, s=s)
    assert len({dict(r.headers)["ft-plan"].split(b":")[1] for r in pub.records}) == 1
    assert sum(x.already_present for x in summaries) == there


def test_store_days_open_in_the_order_of_their_local_midnights_lazily():
    endless = store_days(CHAIN, (DAY + timedelta(days=i) for i in itertools.count()))
    first = list(itertools.islice(endless, 25))  # an endless run yields without reading all days
    starts = [sd.start for sd in first]
    assert starts == sorted(starts)
    assert first[0].store.id == "sydney-george-st"  # UTC+11 in November: the first midnight
    assert first[0].start == local_instant(DAY, 0, first[0].store.tz)


def test_memory_follows_the_store_days_under_way_not_the_run(monkeypatch):
    from foot_traffic.run.taking import DayTaker

    open_now = peak = 0
    real_open, real_close = DayTaker.open, Runner.close_day

    def opened(self, *a):
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        return real_open(self, *a)

    def closed(self, open_day):
        nonlocal open_now
        open_now -= 1
        return real_close(self, open_day)

    monkeypatch.setattr(DayTaker, "open", opened)
    monkeypatch.setattr(Runner, "close_day", closed)
    summaries, _ = play(small(EXAMPLE, 100), days=days_from(DAY, 6), keep_summaries=False)
    assert open_now == 0 and 10 <= peak <= 20  # at most a store's day and its next at once
    assert summaries == []  # an endless run keeps no finished summaries


def test_live_chain_waits_for_each_stores_local_midnight():
    t0 = local_instant(DAY, 0, EXAMPLE.get("sydney-george-st").tz)  # the first midnight of the day
    clock = FakeClock(datetime.fromtimestamp(t0, UTC))
    first_sent: dict[str, float] = {}
    import foot_traffic.testing as testing

    real_send = testing.MemoryProducer.send

    def send(self, record):
        sim_now = t0 + (clock.now().timestamp() - t0) * 1000  # TIME_SCALE=1000 from t0
        first_sent.setdefault(dict(record.headers)["ft-store"].decode(), sim_now)
        real_send(self, record)

    testing.MemoryProducer.send = send
    try:
        summaries, pub = play(small(EXAMPLE, 100), clock=clock, s=settings(TIME_SCALE=1000))
    finally:
        testing.MemoryProducer.send = real_send
    assert all(s.finished for s in summaries)
    for store in EXAMPLE.stores:
        first_due = min(r.due for r in pub.records if dict(r.headers)["ft-store"] == store.id.encode())
        assert first_due >= local_instant(DAY, 0, store.tz)
        # released at its due time on the simulated clock: not before, not much after
        assert first_due - 0.01 <= first_sent[store.id] < first_due + 1
    assert max(s.max_lag_seconds for s in summaries) < 1e-6


# -- one producer per local day, positions in the ledger (transactions) ----------------------------
def test_a_day_is_taken_for_every_store_at_once_and_plays_the_plain_runs_records():
    """With transactions the first store-day of a day looks at the ledger, takes every store's
    day with one producer, and plays the same records as a run without transactions."""
    plain, plain_kafka = play(CHAIN, s=settings(KAFKA_TRANSACTIONS=0))
    fenced_run, kafka = play(CHAIN)
    assert [s.as_dict() for s in fenced_run] == [s.as_dict() for s in plain]
    assert sorted(map(repr, kafka.records)) == sorted(map(repr, plain_kafka.records))
    assert len(kafka.epochs) == 1  # one transactional producer for the day's ten stores
    ledger = kafka.ledger("s_writers")
    assert len(ledger) == len(CHAIN.stores)
    assert all(records[0]["kind"] == "take" and records[-1]["kind"] == "finished" for records in ledger.values())


def test_a_store_day_holding_another_plan_is_refused_before_the_day_is_taken():
    pub = MemoryKafka()
    play(CHAIN, pub=pub)
    epochs = dict(pub.epochs)
    with pytest.raises(PlanMismatch):
        play(CHAIN, pub=pub, s=settings(SEED=8))
    assert pub.epochs == epochs


def test_a_reshard_fences_the_earlier_producer_of_a_store_day_by_its_id():
    """Stores first played in two shards, then the whole chain as one: the new producer
    fences each earlier one whose store-day it takes over unfinished, and resumes it."""
    stores = list(CHAIN.stores)
    pub = MemoryKafka(fail_after=1500)
    with pytest.raises(DeliveryError):
        play(Catalogue(tuple(stores[:5])), pub=pub, s=settings(MAX_RETRIES=0))
    pub.fail_after = None
    play(Catalogue(tuple(stores[5:])), pub=pub)
    before = dict(pub.epochs)
    summaries, _ = play(CHAIN, pub=pub)
    _, full = play(CHAIN)
    assert sorted(map(repr, pub.records)) == sorted(map(repr, full.records))
    first_shard = [tid for tid in before if tid in pub.epochs and pub.epochs[tid] > before[tid]]
    assert len(first_shard) == 1  # the unfinished shard's producer was fenced; the finished one left alone
    assert all(s.finished for s in summaries)
