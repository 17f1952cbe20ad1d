"""The self-healing runner on a fake clock: outages mid-stream are recovered in-process, with
nothing lost and nothing twice; the retries per outage are bounded; fencing is not healed."""

import random
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from foot_traffic.delivery.connect import backoff_delays
from foot_traffic.delivery.errors import BrokerUnavailable, DeliveryError
from foot_traffic.plan.localday import day_start
from foot_traffic.run.runner import Runner, days_from
from foot_traffic.settings import EXAMPLE_CHAIN, Settings
from foot_traffic.plan.stores import load_catalogue
from foot_traffic.testing import FakeClock, MemoryKafka, Outage, memory_delivery

DAY = date(2025, 11, 7)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def settings(**env):
    base = {"SEED": "7", "DAILY_CUSTOMERS": "200", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e",
            "MAX_RETRIES": "4", "RETRY_BACKOFF_SECONDS": "2"}
    base.update({k: str(v) for k, v in env.items()})
    return Settings.from_env(base)


def runner(s, kafka, clock, stop=None, **kw):
    return Runner(s, memory_delivery(kafka, s), clock=clock, stop=stop or threading.Event(), rng=random.Random(1), **kw)


@pytest.fixture(params=["1", "0"], ids=["transactions", "plain"])
def delivery(request):
    return {"KAFKA_TRANSACTIONS": request.param}


def dump(kafka):
    return sorted((r.topic, r.key, r.value, r.headers, r.timestamp_ms) for r in kafka.records)


def in_order(kafka) -> bool:
    """Per partition and store-day, sequence numbers only grow."""
    last: dict[tuple, int] = defaultdict(lambda: -1)
    for topic in ("s", "e"):
        for p, _, r in kafka.committed(topic):
            h = dict(r.headers)
            where = (topic, p, h["ft-day"], h.get("ft-store"))
            if r.seq <= last[where]:
                return False
            last[where] = r.seq
    return True


def test_outages_mid_stream_heal_in_process_nothing_lost_nothing_twice(delivery):
    full = MemoryKafka()
    runner(settings(**delivery), full, FakeClock(T0)).run(list(days_from(DAY, 3)))
    # three outages: one plain, one losing acknowledged writes, one refusing 2 connections
    kafka = MemoryKafka(outages={300: Outage(), 900: Outage(lose=37), 1500: Outage(refused=2, lose=5)})
    clock = FakeClock(T0)
    r = runner(settings(**delivery), kafka, clock)
    summaries = r.run(list(days_from(DAY, 3)))
    assert dump(kafka) == dump(full) and len(kafka.records) == 1800
    assert in_order(kafka)
    assert [s.finished for s in summaries] == [True, True, True] and not any(s.stopped for s in summaries)
    assert [s.sent for s in summaries] == [600, 600, 600] and all(s.already_present == 0 for s in summaries)
    assert [sum(s.entries_per_slot.values()) for s in summaries] == [200, 200, 200]
    assert [o["attempts"] for o in r.outages] == [1, 1, 3]
    # the waits are the back-off: 2 s (+-20 %), then 2, 4, 8 s for the third outage
    assert len(clock.waits) == 5 and 1.6 <= clock.waits[0] <= 2.4 and 6.4 <= clock.waits[4] <= 9.6


def test_a_finished_day_whose_tail_the_broker_lost_is_refilled(delivery):
    full = MemoryKafka()
    runner(settings(**delivery), full, FakeClock(T0)).run([DAY, DAY + timedelta(days=1)])
    last_of_first = max(i for i, r in enumerate(full.records) if dict(r.headers)["ft-day"] == DAY.isoformat().encode())
    # the broker loses 40 records, some of the first day's, after that day was finished
    kafka = MemoryKafka(outages={last_of_first + 20: Outage(lose=40)})
    r = runner(settings(**delivery), kafka, FakeClock(T0))
    summaries = r.run([DAY, DAY + timedelta(days=1)])
    assert dump(kafka) == dump(full) and in_order(kafka)
    assert r.outages[0]["days"] == 2
    assert [s.finished for s in summaries] == [True, True] and [s.sent for s in summaries] == [600, 600]


def test_a_restarted_day_still_counts_what_was_there_before(delivery):
    kafka = MemoryKafka(fail_after=250)
    with pytest.raises(DeliveryError):
        runner(settings(MAX_RETRIES=0, **delivery), kafka, FakeClock(T0)).run([DAY])
    there = len(kafka.records)
    kafka.fail_after = None
    kafka.outages = {400: Outage(lose=10)}
    [summary] = runner(settings(**delivery), kafka, FakeClock(T0)).run([DAY])
    assert summary.already_present == there and summary.sent == 600 - there and len(kafka.records) == 600


def test_retries_spent_give_up_naming_what_was_delivered():
    kafka = MemoryKafka(outages={700: Outage(refused=100)})
    clock = FakeClock(T0)
    clock.on_wait = lambda c: connects.append(kafka.connects)
    connects: list[int] = []
    with pytest.raises(BrokerUnavailable, match=r"gave up after 3 attempts") as caught:
        runner(settings(MAX_RETRIES=3), kafka, clock).run(list(days_from(DAY, 3)))
    message = str(caught.value)
    assert "1 store-day(s) complete (2025-11-07 600 records)" in message
    assert "2025-11-08 (" in message and "a restart sends exactly the rest" in message
    assert clock.waits == backoff_delays(3, 2, random.Random(1)) and kafka.connects - connects[0] == 3


def test_an_outage_without_progress_shares_the_previous_budget(delivery):
    """A record that can never be delivered ends the run after MAX_RETRIES attempts in all."""
    kafka = MemoryKafka(fail_after=300)
    clock = FakeClock(T0)
    with pytest.raises(DeliveryError, match="gave up"):
        runner(settings(MAX_RETRIES=4, **delivery), kafka, clock).run([DAY])
    assert len(clock.waits) <= 4 + 1  # a first outage that made progress gets a fresh budget after it
    assert len(kafka.records) <= 300


def test_max_retries_zero_fails_at_once_as_before():
    kafka = MemoryKafka(outages={100: Outage()})
    clock = FakeClock(T0)
    with pytest.raises(DeliveryError, match="broker down") as caught:
        runner(settings(MAX_RETRIES=0), kafka, clock).run([DAY])
    assert "gave up" not in str(caught.value) and clock.waits == []


def test_fencing_by_another_run_is_not_healed():
    def newer_run(kafka):
        for tid in list(kafka.epochs):
            kafka.init(tid)

    kafka = MemoryKafka(take_over={300: newer_run})
    r = runner(settings(), kafka, FakeClock(T0))
    [summary] = r.run([DAY])
    assert r.fenced is not None and summary.fenced and r.outages == []


def test_a_stop_during_the_outage_ends_the_run_as_stopped():
    kafka = MemoryKafka(outages={100: Outage(refused=100)})
    clock = FakeClock(T0)
    stop = threading.Event()
    clock.on_wait = lambda c: stop.set()
    r = runner(settings(), kafka, clock, stop)
    [summary] = r.run([DAY])
    assert summary.stopped and not summary.finished and len(clock.waits) == 1
    assert r.stopped_in_outage  # the CLI says so instead of "stopped cleanly"


def test_pacing_after_an_outage_catches_up_then_keeps_real_time():
    """The simulated clock runs on during the outage: what fell due goes out at once, and the
    day still ends when it would have without the outage."""
    s = settings(TIME_SCALE=1000, RETRY_BACKOFF_SECONDS=5)
    plain_clock = FakeClock(day_start(DAY))
    runner(s, MemoryKafka(), plain_clock).run([DAY])
    clock = FakeClock(day_start(DAY))
    kafka = MemoryKafka(outages={200: Outage(refused=1)})
    r = runner(s, kafka, clock)
    [summary] = r.run([DAY])
    assert summary.finished and len(kafka.records) == 600
    outage = r.outages[0]["seconds"]
    assert 12 <= outage <= 18  # 5 s then 10 s of back-off (+-20 %)
    # the day ends at the same (wall) time as without the outage: no shift
    assert abs(clock.monotonic() - plain_clock.monotonic()) < 1


def test_a_day_taken_by_a_newer_run_during_the_outage_is_not_taken_back():
    """The failure did not say "fenced" (the broker was down), but the day ledger does."""
    s = settings()
    kafka = MemoryKafka(outages={300: Outage(refused=1)})

    def newer_run_takes_it(_clock):
        if kafka.down and not getattr(newer_run_takes_it, "done", False):
            newer_run_takes_it.done = True
            kafka.down, kafka.refusing = False, 0
            other = Runner(s, memory_delivery(kafka, s), clock=FakeClock(T0), stop=threading.Event())
            other.run([DAY])

    clock = FakeClock(T0)
    clock.on_wait = newer_run_takes_it
    r = runner(s, kafka, clock)
    [summary] = r.run([DAY])
    assert r.fenced is not None and summary.fenced and summary.fenced_by["run"] == "test"
    assert len(kafka.records) == 600 and len({(x.topic, x.seq) for x in kafka.records}) == 600


def test_a_broker_that_lost_this_runs_take_is_not_a_newer_run():
    """Issue 22, 3: after the broker lost this run's latest take record, the run still knows
    its older take records as its own and takes the day back (it never fences itself)."""
    kafka = MemoryKafka(outages={300: Outage(), 320: Outage(lose=40)})
    r = runner(settings(), kafka, FakeClock(T0))
    [summary] = r.run([DAY])
    assert r.fenced is None and summary.finished and len(r.outages) == 2
    assert len(kafka.records) == 600 and len({(x.topic, x.seq) for x in kafka.records}) == 600


# -- a chain of stores: the same healing, store-day by store-day ---------------------------------
def test_a_chain_heals_in_process_every_store_day_exactly_once(delivery):
    """Outages while 10 stores in 9 time zones play two days: each local day under way is taken
    again for the whole store set, and each open (or lately finished) store-day replayed from its
    position; store-days not begun yet begin with the new writers; nothing lost, nothing twice."""
    chain = load_catalogue(EXAMPLE_CHAIN)
    days = [DAY, DAY + timedelta(days=1)]
    full = MemoryKafka()
    plain = {(x.store_id, x.day): x for x in runner(settings(**delivery), full, FakeClock(T0), catalogue=chain).run(days)}
    n = len(full.records)
    assert n > 20_000
    kafka = MemoryKafka(outages={n // 5: Outage(), n // 2: Outage(lose=37), 4 * n // 5: Outage(refused=2, lose=500)})
    r = runner(settings(**delivery), kafka, FakeClock(T0), catalogue=chain)
    summaries = r.run(days)
    assert dump(kafka) == dump(full) and in_order(kafka)
    assert len(r.outages) == 3 and r.outages[2]["attempts"] == 3
    assert len(summaries) == len(plain)
    for x in summaries:
        assert x.finished and not x.stopped and x.already_present == 0, x
        assert x.sent == plain[(x.store_id, x.day)].sent, x.store_id


def test_a_chain_day_taken_by_a_newer_run_during_the_outage_is_not_taken_back():
    chain = load_catalogue(EXAMPLE_CHAIN)
    s = settings()
    kafka = MemoryKafka(outages={2000: Outage(refused=1)})

    def newer_run_takes_it(_clock):
        if kafka.down and not getattr(newer_run_takes_it, "done", False):
            newer_run_takes_it.done = True
            kafka.down, kafka.refusing = False, 0
            Runner(s, memory_delivery(kafka, s), clock=FakeClock(T0), catalogue=chain.select(["berlin-mitte"])).run([DAY])

    clock = FakeClock(T0)
    clock.on_wait = newer_run_takes_it
    r = runner(s, kafka, clock, catalogue=chain)
    summaries = r.run([DAY])
    assert r.fenced is not None
    assert any(x.fenced for x in summaries) and not all(x.finished for x in summaries)


def test_a_broker_that_refuses_the_runs_first_connections_is_waited_for_like_an_outage():
    """The front door found a broker, which then restarts before the run's own first connection:
    the run backs off and connects as after any outage (it does not fail at once)."""
    kafka = MemoryKafka()
    kafka.refusing = 2
    clock = FakeClock(T0)
    r = runner(settings(), kafka, clock)
    [summary] = r.run([DAY])
    assert summary.finished and len(kafka.records) == 600 and len(clock.waits) == 2
