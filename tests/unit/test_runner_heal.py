"""The self-healing runner on a fake clock: outages mid-stream are recovered in-process, with
nothing lost and nothing twice; the retries per outage are bounded; fencing is not healed."""

import random
import threading
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from foot_traffic.plan.localday import day_start
from foot_traffic.publisher import BrokerUnavailable, DeliveryError
from foot_traffic.retry import backoff_delays
from foot_traffic.runner import Runner, days_from
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryDayScanner, MemoryPublisher, Outage

DAY = date(2025, 11, 7)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def settings(**env):
    base = {"SEED": "7", "DAILY_CUSTOMERS": "200", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e",
            "MAX_RETRIES": "4", "RETRY_BACKOFF_SECONDS": "2"}
    base.update({k: str(v) for k, v in env.items()})
    return Settings.from_env(base)


def runner(s, pub, clock, stop=None, **kw):
    return Runner(s, pub, MemoryDayScanner(pub), clock=clock, stop=stop or threading.Event(),
                  rng=random.Random(1), **kw)


def dump(pub):
    return sorted((r.topic, r.key, r.value, r.headers, r.timestamp_ms) for r in pub.records)


def in_order(pub) -> bool:
    """Per partition and day, sequence numbers only grow (each partition holds a prefix)."""
    last: dict[tuple, int] = defaultdict(lambda: -1)
    for r in pub.records:
        where = (r.topic, pub.partition_for(r.topic, r.key), dict(r.headers)["ft-day"])
        if r.seq <= last[where]:
            return False
        last[where] = r.seq
    return True


def test_outages_mid_stream_heal_in_process_nothing_lost_nothing_twice():
    full = MemoryPublisher()
    runner(settings(), full, FakeClock(T0)).run(list(days_from(DAY, 3)))
    # three outages: one plain, one losing acknowledged writes, one refusing 2 connections
    pub = MemoryPublisher(outages={300: Outage(), 900: Outage(lose=37), 1500: Outage(refused=2, lose=5)})
    clock = FakeClock(T0)
    r = runner(settings(), pub, clock)
    summaries = r.run(list(days_from(DAY, 3)))
    assert dump(pub) == dump(full) and len(pub.records) == 1800
    assert in_order(pub)
    assert [s.finished for s in summaries] == [True, True, True] and not any(s.stopped for s in summaries)
    assert [s.sent for s in summaries] == [600, 600, 600] and all(s.already_present == 0 for s in summaries)
    assert [sum(s.entries_per_slot.values()) for s in summaries] == [200, 200, 200]
    assert [o["attempts"] for o in r.outages] == [1, 1, 3]
    assert r.outages[1]["records_rechecked"] > 0
    # the waits are the back-off: 2 s (+-20 %), then 2, 4, 8 s for the third outage
    assert len(clock.waits) == 5 and 1.6 <= clock.waits[0] <= 2.4 and 6.4 <= clock.waits[4] <= 9.6


def test_a_finished_day_whose_tail_the_broker_lost_is_refilled():
    full = MemoryPublisher()
    runner(settings(), full, FakeClock(T0)).run([DAY, DAY + timedelta(days=1)])
    last_of_first = max(i for i, r in enumerate(full.records) if dict(r.headers)["ft-day"] == DAY.isoformat().encode())
    # the broker loses 40 records, some of the first day's, after that day was finished
    pub = MemoryPublisher(outages={last_of_first + 20: Outage(lose=40)})
    r = runner(settings(), pub, FakeClock(T0))
    summaries = r.run([DAY, DAY + timedelta(days=1)])
    assert dump(pub) == dump(full) and in_order(pub)
    assert r.outages[0]["days"] == 2
    assert [s.finished for s in summaries] == [True, True] and [s.sent for s in summaries] == [600, 600]


def test_a_restarted_day_still_counts_what_was_there_before():
    pub = MemoryPublisher(fail_after=250)
    with pytest.raises(DeliveryError):
        runner(settings(MAX_RETRIES=0), pub, FakeClock(T0)).run([DAY])
    pub.fail_after = None
    pub.outages = {400: Outage(lose=10)}
    [summary] = runner(settings(), pub, FakeClock(T0)).run([DAY])
    assert summary.already_present == 250 and summary.sent == 350 and len(pub.records) == 600


def test_retries_spent_give_up_naming_what_was_delivered():
    pub = MemoryPublisher(outages={700: Outage(refused=100)})
    clock = FakeClock(T0)
    with pytest.raises(BrokerUnavailable, match=r"gave up after 3 attempt\(s\)") as caught:
        runner(settings(MAX_RETRIES=3), pub, clock).run(list(days_from(DAY, 3)))
    message = str(caught.value)
    assert "1 day(s) complete (2025-11-07 600 records)" in message
    assert "2025-11-08 (" in message and "a restart sends exactly the rest" in message
    expected = backoff_delays(3, 2, random.Random(1))
    assert clock.waits == expected and pub.connects == 1 + 3


def test_an_outage_without_progress_shares_the_previous_budget():
    """A record that can never be delivered ends the run after MAX_RETRIES attempts in all."""
    pub = MemoryPublisher(fail_after=300)
    clock = FakeClock(T0)
    with pytest.raises(DeliveryError, match="gave up"):
        runner(settings(MAX_RETRIES=4), pub, clock).run([DAY])
    assert len(clock.waits) == 4 + 1  # the first outage made progress: a fresh budget after it
    assert len(pub.records) == 300


def test_max_retries_zero_fails_at_once_as_before():
    pub = MemoryPublisher(outages={100: Outage()})
    clock = FakeClock(T0)
    with pytest.raises(DeliveryError, match="broker down") as caught:
        runner(settings(MAX_RETRIES=0), pub, clock).run([DAY])
    assert "gave up" not in str(caught.value) and clock.waits == [] and pub.connects == 1


def test_fencing_by_another_run_is_not_healed():
    pub = MemoryPublisher(fence_after=300)
    r = runner(settings(), pub, FakeClock(T0))
    [summary] = r.run([DAY])
    assert r.fenced is not None and summary.fenced and r.outages == [] and pub.connects == 1


def test_a_stop_during_the_outage_ends_the_run_as_stopped():
    pub = MemoryPublisher(outages={100: Outage(refused=100)})
    clock = FakeClock(T0)
    stop = threading.Event()
    clock.on_wait = lambda c: stop.set()
    r = runner(settings(), pub, clock, stop)
    [summary] = r.run([DAY])
    assert summary.stopped and not summary.finished and len(clock.waits) == 1
    assert r.stopped_in_outage  # the CLI says so instead of "stopped cleanly"


def test_pacing_after_an_outage_catches_up_then_keeps_real_time():
    """The simulated clock runs on during the outage: what fell due goes out at once, and the
    day still ends when it would have without the outage."""
    s = settings(TIME_SCALE=1000, RETRY_BACKOFF_SECONDS=5)
    plain_clock = FakeClock(day_start(DAY))
    runner(s, MemoryPublisher(), plain_clock).run([DAY])
    clock = FakeClock(day_start(DAY))
    pub = MemoryPublisher(outages={200: Outage(refused=1)})
    r = runner(s, pub, clock)
    sent_at: list[float] = []
    real_send = pub.send

    def send(record):
        real_send(record)
        sent_at.append(clock.monotonic())

    pub.send = send
    [summary] = r.run([DAY])
    assert summary.finished and len(pub.records) == 600
    outage = r.outages[0]["seconds"]
    assert 12 <= outage <= 18  # 5 s then 10 s of back-off (+-20 %)
    # the records due during the outage all went out in the instant it healed ...
    healed = sent_at[200]
    assert sum(1 for t in sent_at if t == healed) > 10
    # ... and the day ends at the same (wall) time as without the outage: no shift
    assert abs(clock.monotonic() - plain_clock.monotonic()) < 1


def test_a_day_taken_by_a_newer_run_during_the_outage_is_not_taken_back():
    """The failure did not say "fenced" (the broker was down), but the owner records do."""
    from foot_traffic.publisher import Fenced

    pub = MemoryPublisher(outages={300: Outage(refused=1)})

    def check_owner(day, store=None):
        raise Fenced(f"{day}: fenced by a newer run (owner record)", day=day, store=store, by={"run": "newer"})

    pub.check_owner = check_owner
    r = runner(settings(), pub, FakeClock(T0))
    [summary] = r.run([DAY])
    assert r.fenced is not None and summary.fenced and summary.fenced_by == {"run": "newer"}
    assert len(pub.records) == 300 and pub.opened == [(DAY, None)]  # never opened again


# -- a chain of stores: the same healing, store-day by store-day ---------------------------------
def chain_in_order(pub) -> bool:
    """Per partition and store-day, sequence numbers only grow."""
    last: dict[tuple, int] = defaultdict(lambda: -1)
    for r in pub.records:
        h = dict(r.headers)
        where = (r.topic, pub.partition_for(r.topic, r.key), h["ft-day"], h["ft-store"])
        if r.seq <= last[where]:
            return False
        last[where] = r.seq
    return True


@pytest.mark.parametrize("fences", [False, True], ids=["idempotent", "transactional"])
def test_a_chain_heals_in_process_every_store_day_exactly_once(fences):
    """Outages while 10 stores in 4 time zones play two days: each store-day open (or finished
    lately) is taken again, scanned once per day for all its stores, and replayed against
    the scan; store-days not begun yet begin with the new writers; nothing lost, nothing twice."""
    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.settings import EXAMPLE_CHAIN

    chain = load_catalogue(EXAMPLE_CHAIN)
    days = [DAY, DAY + timedelta(days=1)]
    full = MemoryPublisher()
    runner(settings(), full, FakeClock(T0), catalogue=chain).run(days)
    n = len(full.records)
    assert n > 20_000
    pub = MemoryPublisher(outages={n // 5: Outage(), n // 2: Outage(lose=37), 4 * n // 5: Outage(refused=2, lose=500)})
    pub.fences = fences
    if fences:
        taken: list = []
        real_open = pub.open_day
        pub.open_day = lambda day, store=None: (taken.append((day, store)), real_open(day, store))[1]
    r = runner(settings(), pub, FakeClock(T0), catalogue=chain)
    summaries = r.run(days)
    assert dump(pub) == dump(full) and chain_in_order(pub)
    assert len(r.outages) == 3 and r.outages[2]["attempts"] == 3 and r.outages[2]["records_rechecked"] > 0
    plain = {(s.store_id, s.day): s for s in runner(settings(), MemoryPublisher(), FakeClock(T0), catalogue=chain).run(days)}
    assert len(summaries) == len(plain)
    for s in summaries:
        assert s.finished and not s.stopped and s.already_present == 0, s
        assert s.sent == plain[(s.store_id, s.day)].sent, s.store_id
    if fences:
        # every outage took each day under way again, for the whole store set (the same producer id)
        per_day = Counter(day for day, _ in taken)
        assert all(count % len(chain.stores) == 0 for count in per_day.values()), per_day
        assert sum(per_day.values()) > 2 * len(chain.stores)


def test_a_chain_day_taken_by_a_newer_run_during_the_outage_is_not_taken_back():
    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.publisher import Fenced
    from foot_traffic.settings import EXAMPLE_CHAIN

    chain = load_catalogue(EXAMPLE_CHAIN)
    pub = MemoryPublisher(outages={2000: Outage()})
    pub.fences = True
    checked: list = []

    def check_stores_owner(day):
        checked.append(day)
        raise Fenced("taken by the newer run", day=day, stores=tuple(s.id for s in chain.stores))

    pub.check_stores_owner = check_stores_owner
    r = runner(settings(), pub, FakeClock(T0), catalogue=chain)
    summaries = r.run([DAY])
    assert checked == [DAY] and r.fenced is not None
    assert any(s.fenced for s in summaries) and not all(s.finished for s in summaries)
