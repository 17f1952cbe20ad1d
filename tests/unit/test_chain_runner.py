"""A chain through the one runner: determinism per store, resume per store, one merged
stream, closed days, lazy opening of store-days (memory follows the stores under way)."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from foot_traffic.plan.localday import local_instant
from foot_traffic.plan.store_days import store_days
from foot_traffic.plan.stores import Catalogue, load_catalogue
from foot_traffic.publisher import DeliveryError
from foot_traffic.resume import PlanMismatch
from foot_traffic.runner import Runner, days_from
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryDayScanner, MemoryPublisher

ROOT = Path(__file__).resolve().parents[2]
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
    pub = pub if pub is not None else MemoryPublisher()
    runner = Runner(s or settings(), pub, MemoryDayScanner(pub), clock=clock or FakeClock(LATER),
                    stop=threading.Event(), catalogue=catalogue)
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


def test_resume_per_store_after_a_failure_sends_exactly_the_rest():
    _, full = play(CHAIN)
    pub = MemoryPublisher(fail_after=4321)
    with pytest.raises(DeliveryError):
        play(CHAIN, pub=pub)
    assert len(pub.records) == 4321
    pub.fail_after = None
    summaries, _ = play(CHAIN, pub=pub)
    assert sum(s.already_present for s in summaries) == 4321
    assert sorted(map(repr, pub.records)) == sorted(map(repr, full.records))  # nothing lost, nothing twice
    again, _ = play(CHAIN, pub=pub)
    assert sum(s.sent for s in again) == 0 and len(pub.records) == len(full.records)


def test_a_shard_resumes_only_its_own_stores():
    stores = list(CHAIN.stores)
    pub = MemoryPublisher()
    play(Catalogue(tuple(stores[:5])), pub=pub)  # another shard wrote its stores first
    summaries, _ = play(Catalogue(tuple(stores[5:])), pub=pub)
    assert all(s.already_present == 0 and s.sent == 3 * s.total_visits for s in summaries)


def test_another_plan_for_one_store_is_refused_naming_it():
    pub = MemoryPublisher()
    play(CHAIN, pub=pub)
    import dataclasses

    changed = Catalogue(tuple(dataclasses.replace(s, hours=((( 600, 1200),),) * 7) if s.id == "london-soho" else s
                              for s in CHAIN.stores))
    with pytest.raises(PlanMismatch, match="store london-soho: 2026-11-27 already holds records of another plan"):
        play(changed, pub=pub)


def test_unseeded_restart_keeps_the_first_attempts_seed():
    s = Settings.from_env({"KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e"})
    pub = MemoryPublisher(fail_after=1000)
    with pytest.raises(DeliveryError):
        play(CHAIN, pub=pub, s=s)
    pub.fail_after = None
    summaries, _ = play(CHAIN, pub=pub, s=s)
    assert len({dict(r.headers)["ft-plan"].split(b":")[1] for r in pub.records}) == 1
    assert sum(x.already_present for x in summaries) == 1000


def test_store_days_open_in_the_order_of_their_local_midnights_lazily():
    endless = store_days(CHAIN, (DAY + timedelta(days=i) for i in itertools.count()))
    first = list(itertools.islice(endless, 25))  # an endless run yields without reading all days
    starts = [sd.start for sd in first]
    assert starts == sorted(starts)
    assert first[0].store.id == "sydney-george-st"  # UTC+11 in November: the first midnight
    assert first[0].start == local_instant(DAY, 0, first[0].store.tz)


def test_memory_follows_the_store_days_under_way_not_the_run(monkeypatch):
    open_now = peak = 0
    real_open, real_close = Runner._open_store_day, Runner._close_day

    def opened(self, *a):
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        return real_open(self, *a)

    def closed(self, open_day):
        nonlocal open_now
        open_now -= 1
        return real_close(self, open_day)

    monkeypatch.setattr(Runner, "_open_store_day", opened)
    monkeypatch.setattr(Runner, "_close_day", closed)
    summaries, _ = play(small(EXAMPLE, 100), days=days_from(DAY, 6), keep_summaries=False)
    assert open_now == 0 and 10 <= peak <= 20  # at most a store's day and its next at once
    assert summaries == []  # an endless run keeps no finished summaries


def test_live_chain_waits_for_each_stores_local_midnight():
    t0 = local_instant(DAY, 0, EXAMPLE.get("sydney-george-st").tz)  # the first midnight of the day
    clock = FakeClock(datetime.fromtimestamp(t0, UTC))
    first_sent: dict[str, float] = {}

    class Recorder(MemoryPublisher):
        def send(self, record):
            sim_now = t0 + (clock.now().timestamp() - t0) * 1000  # TIME_SCALE=1000 from t0
            first_sent.setdefault(dict(record.headers)["ft-store"].decode(), sim_now)
            super().send(record)

    summaries, pub = play(small(EXAMPLE, 100), pub=Recorder(), clock=clock, s=settings(TIME_SCALE=1000))
    assert all(s.finished for s in summaries)
    for store in EXAMPLE.stores:
        first_due = min(r.due for r in pub.records if dict(r.headers)["ft-store"] == store.id.encode())
        assert first_due >= local_instant(DAY, 0, store.tz)
        # released at its due time on the simulated clock: not before, not much after
        assert first_due - 0.01 <= first_sent[store.id] < first_due + 1
    assert max(s.max_lag_seconds for s in summaries) < 1e-6


# -- one writer per store-day (transactions) ---------------------------------------------
class Recording(MemoryDayScanner):
    def __init__(self, pub, events):
        super().__init__(pub)
        self.events = events

    def scan_stores(self, day, topics, since_ms, stores, *, settled=True):
        self.events.append(("scan", day, tuple(sorted(stores)), settled))
        return super().scan_stores(day, topics, since_ms, stores, settled=settled)


def test_with_fencing_a_day_takes_every_store_days_writer_before_its_scan_and_plays_the_same_records():
    """With transactions the first store-day of a day looks (without waiting), takes every
    store's writer for the day, then scans once (settled); the records are the plain run's."""
    plain, _ = play(CHAIN)
    pub = MemoryPublisher()
    pub.fences = True
    events: list = []
    real_open = pub.open_day
    pub.open_day = lambda day, store=None: (events.append(("open", day, store)), real_open(day, store))[1]
    runner = Runner(settings(), pub, Recording(pub, events), clock=FakeClock(LATER), stop=threading.Event(),
                    catalogue=CHAIN)
    fenced_run = runner.run([DAY])
    assert [s.as_dict() for s in fenced_run] == [s.as_dict() for s in plain]
    kinds = [(e[0], e[3] if e[0] == "scan" else None) for e in events]
    n = len(CHAIN.stores)
    # look (not settled), take every store's writer, then one settled scan of every store
    assert kinds == [("scan", False)] + [("open", None)] * n + [("scan", True)], kinds
    assert sorted(e[2] for e in events if e[0] == "open") == sorted(s.id for s in CHAIN.stores)
    assert sorted(events[-1][2]) == sorted(s.id for s in CHAIN.stores)
    assert sorted(pub.finished) == sorted((DAY, s.id) for s in CHAIN.stores)


def test_with_fencing_a_store_day_holding_another_plan_is_refused_before_its_writer_is_taken():
    pub = MemoryPublisher()
    play(CHAIN, pub=pub)
    pub.fences = True
    pub.opened.clear()
    with pytest.raises(PlanMismatch):
        play(CHAIN, pub=pub, s=settings(SEED=8))
    assert pub.opened == []
