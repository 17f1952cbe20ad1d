"""The runner on a fake clock with an in-memory publisher: whole days in milliseconds."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from foot_traffic.plan import day_start
from foot_traffic.publisher import DeliveryError
from foot_traffic.resume import PlanMismatch
from foot_traffic.runner import Runner, days_from
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryDayScanner, MemoryPublisher

DAY = date(2025, 11, 7)


def settings(**env):
    base = {"SEED": "7", "DAILY_CUSTOMERS": "400", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e"}
    base.update({k: str(v) for k, v in env.items()})
    return Settings.from_env(base)


def runner(s, pub, clock, stop=None, **kw):
    return Runner(s, pub, MemoryDayScanner(pub), clock=clock, stop=stop or threading.Event(), **kw)


def dump(pub):
    return [(r.topic, r.key, r.value, r.headers, r.timestamp_ms) for r in pub.records]


def test_a_past_day_goes_out_at_once_with_its_own_timestamps():
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    pub = MemoryPublisher()
    [summary] = runner(settings(), pub, clock).run([DAY])
    assert clock.waits == []  # no sleeping for a past day
    assert summary.finished and not summary.stopped
    assert summary.sent_per_topic == {"s": 400, "e": 800}
    assert sum(summary.entries_per_slot.values()) == 400
    assert all(day_start(DAY).timestamp() * 1000 <= r.timestamp_ms for r in pub.records)
    assert [r.due for r in pub.records] == sorted(r.due for r in pub.records)


def test_same_seed_same_day_identical_records_whatever_the_start_time():
    a, b = MemoryPublisher(), MemoryPublisher()
    runner(settings(), a, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    runner(settings(), b, FakeClock(datetime(2027, 6, 3, 17, 45, tzinfo=UTC))).run([DAY])
    assert dump(a) == dump(b)


def test_live_day_is_paced_and_time_scale_compresses_it():
    start = day_start(DAY)
    clock = FakeClock(start)
    pub = MemoryPublisher()
    [summary] = runner(settings(TIME_SCALE=1440), pub, clock).run([DAY])
    assert summary.finished
    waited = sum(clock.waits)
    # The day plus its late exits (<= 75 min) in 1/1440 of the time: about a minute.
    assert 59 <= waited <= 65
    assert max(clock.waits) <= 0.5
    # every record went out at (or after) its due time, never before
    assert summary.max_lag_seconds < 1e-6


def test_fresh_start_mid_day_plays_the_rest_of_today_like_the_original():
    clock = FakeClock(day_start(DAY) + timedelta(hours=15))
    pub = MemoryPublisher()
    [summary] = runner(settings(TIME_SCALE=100000), pub, clock).run([DAY], first_from_now=True)
    cutoff = (day_start(DAY) + timedelta(hours=15)).timestamp()
    sessions = [r for r in pub.records if r.topic == "s"]
    assert sessions and all(r.due >= cutoff for r in sessions)
    assert summary.skipped_before_start > 0
    assert len(pub.records) + summary.skipped_before_start == 1200


def test_restart_after_failure_sends_exactly_the_rest():
    full = MemoryPublisher()
    runner(settings(), full, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])

    pub = MemoryPublisher(fail_after=517)
    with pytest.raises(DeliveryError):
        runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert len(pub.records) == 517
    pub.fail_after = None
    [summary] = runner(settings(), pub, FakeClock(datetime(2026, 1, 2, tzinfo=UTC))).run([DAY])
    assert summary.already_present == 517 and summary.sent == 1200 - 517
    assert sorted(dump(pub)) == sorted(dump(full))  # nothing lost, nothing twice


def test_completed_day_rerun_sends_nothing():
    pub = MemoryPublisher()
    runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    [summary] = runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert summary.sent == 0 and summary.already_present == 1200 and len(pub.records) == 1200


def test_unseeded_restart_keeps_the_first_attempts_seed():
    s = Settings.from_env({"DAILY_CUSTOMERS": "300", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e"})
    pub = MemoryPublisher(fail_after=100)
    with pytest.raises(DeliveryError):
        runner(s, pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    pub.fail_after = None
    [summary] = runner(s, pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert summary.already_present == 100 and len(pub.records) == 900
    assert len({dict(r.headers)["ft-plan"] for r in pub.records}) == 1


def test_another_plan_in_the_day_is_refused_before_sending():
    pub = MemoryPublisher()
    runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    with pytest.raises(PlanMismatch, match="another plan"):
        runner(settings(SEED=8), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert len(pub.records) == 1200


def test_stop_mid_day_flushes_and_reports_stopped_then_resume_completes_it():
    clock = FakeClock(day_start(DAY))
    stop = threading.Event()
    # TIME_SCALE=1000: 40 wall seconds are about 11 simulated hours.
    clock.on_wait = lambda c: stop.set() if c.now() > day_start(DAY) + timedelta(seconds=40) else None
    pub = MemoryPublisher()
    [summary] = runner(settings(TIME_SCALE=1000), pub, clock, stop).run([DAY])
    assert summary.stopped and not summary.finished and pub.flushes >= 1 and pub.closed
    assert 0 < len(pub.records) < 1200
    [again] = runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert again.finished and len(pub.records) == 1200
    assert len({(r.topic, r.seq) for r in pub.records}) == 1200


def test_consecutive_days_interleave_late_exits_with_the_next_morning():
    pub = MemoryPublisher()
    summaries = runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run(days_from(DAY, 2))
    assert [s.day for s in summaries] == [DAY, DAY + timedelta(days=1)]
    assert [r.due for r in pub.records] == sorted(r.due for r in pub.records)
    days = [dict(r.headers)["ft-day"] for r in pub.records]
    first_next = days.index(b"2025-11-08")
    assert b"2025-11-07" in days[first_next:]  # a late exit of the 7th after the 8th began
    assert all(s.sent == 1200 for s in summaries)


# -- one writer per day (the fencing itself runs on the real broker: tests/integration/test_fencing.py)
class OrderedScanner(MemoryDayScanner):
    def __init__(self, pub, events):
        super().__init__(pub)
        self.events = events

    def scan(self, day, topics, since_ms, *, settled=True):
        self.events.append(("scan", day))
        return super().scan(day, topics, since_ms, settled=settled)


def test_each_day_is_opened_before_its_scan_and_finished_at_its_end():
    """The writer fences older writers of the day: only then may the scan read what they left."""
    pub = MemoryPublisher()
    events = []
    real_open = pub.open_day
    pub.open_day = lambda day, store=None: (events.append(("open", day)), real_open(day, store))[1]
    r = Runner(settings(), pub, OrderedScanner(pub, events), clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))
    r.run(days_from(DAY, 2))
    nxt = DAY + timedelta(days=1)
    assert events == [("open", DAY), ("scan", DAY), ("open", nxt), ("scan", nxt)]
    assert pub.finished == [(DAY, None), (nxt, None)]


def test_a_live_stream_announces_its_waits_a_past_day_never_waits():
    live = MemoryPublisher()
    runner(settings(TIME_SCALE=1440), live, FakeClock(day_start(DAY))).run([DAY])
    assert live.idles and all(w > 0 for w in live.idles)
    past = MemoryPublisher()
    runner(settings(), past, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert past.idles == []


def test_a_fenced_run_stops_says_so_and_raises_nothing():
    pub = MemoryPublisher(fence_after=300)
    pub.fenced_by = {"run": "the other run", "host": "h", "pid": 9}
    r = runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))
    [summary] = r.run([DAY])
    assert r.fenced is not None and r.fenced.by == pub.fenced_by
    assert summary.fenced and not summary.finished and not summary.stopped
    assert summary.sent == 300 == len(pub.records)
    as_dict = summary.as_dict()
    assert as_dict["fenced"] is True and as_dict["fenced_by"]["run"] == "the other run"
    assert pub.flushes >= 1 and pub.closed  # what the other days sent is committed


def test_a_fenced_day_stops_the_other_open_days_too():
    pub = MemoryPublisher()
    real_open = pub.open_day

    def open_day(day, store=None):
        writer = real_open(day, store)
        if day == DAY + timedelta(days=1):
            pub.fence_after = len(pub.records) + 2  # fenced at the second day's first visit
        return writer

    pub.open_day = open_day
    summaries = runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run(days_from(DAY, 3))
    # at the 8th's first visit the 7th still had late exits to send: it stops, unfinished
    assert [(s.day, s.fenced, s.stopped, s.finished) for s in summaries] == [
        (DAY, False, True, False), (DAY + timedelta(days=1), True, False, False),
    ]
    assert all(s.day != DAY + timedelta(days=2) for s in summaries)


def test_summaries_say_not_fenced_by_default():
    pub = MemoryPublisher()
    [summary] = runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert summary.as_dict()["fenced"] is False and "fenced_by" not in summary.as_dict()


def test_a_run_that_would_refuse_the_day_refuses_it_before_taking_it():
    """Another plan in the day: refused before open_day, so the run writing it is not fenced."""
    pub = MemoryPublisher()
    runner(settings(), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    pub.fences = True
    pub.opened.clear()
    with pytest.raises(PlanMismatch):
        runner(settings(SEED=8), pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert pub.opened == []


def test_a_sensor_flawed_day_is_said_complete_when_its_rerun_ends_never_before(caplog):
    """With a sensor's flaws the day's record count is not three per visit: a re-run can
    only tell it held everything at the end; a partial day with more than three records
    per visit (double counts) is not called complete when it opens."""
    flawed = settings(SENSOR_DOUBLE_RATE="0.3", SENSOR_MISS_RATE="0.01")
    pub = MemoryPublisher()
    runner(flawed, pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    total = len(pub.records)
    assert total > 1200, "double counts add records"
    caplog.set_level("INFO", logger="foot_traffic.runner")
    [again] = runner(flawed, pub, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert again.sent == 0 and again.already_present == total
    assert f"{DAY} was already complete: nothing sent, {total} records already present" in caplog.text
    assert "is already complete" not in caplog.text

    caplog.clear()
    partial = MemoryPublisher(fail_after=1250)
    with pytest.raises(DeliveryError):
        runner(flawed, partial, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    partial.fail_after = None
    [rest] = runner(flawed, partial, FakeClock(datetime(2026, 1, 1, tzinfo=UTC))).run([DAY])
    assert rest.already_present == 1250 and rest.sent == total - 1250
    assert "already complete" not in caplog.text


class Recorder:
    """A progress reporter that keeps what it was told."""

    def __init__(self):
        self.calls = []

    def started(self, days_total):
        self.calls.append(("started", days_total))

    def tick(self, snap):
        self.calls.append(("tick", snap))

    def waiting(self, snap):
        self.calls.append(("waiting", snap))

    def day_done(self, day, records_sent, records_present):
        self.calls.append(("day_done", day))

    def finished(self):
        self.calls.append(("finished", None))


def test_a_live_run_at_time_scale_one_shows_its_clock_and_slot_while_waiting():
    """At TIME_SCALE=1 records come seconds or minutes apart: the display hears of the wait
    (the simulated clock, the slot it is in) every SLEEP seconds, not only when one is sent."""
    start = day_start(DAY) + timedelta(hours=15, minutes=20)
    clock = FakeClock(start)
    stop = threading.Event()
    clock.on_wait = lambda c: stop.set() if c.monotonic() >= 600 else None  # ten minutes of the day
    progress = Recorder()
    runner(settings(), MemoryPublisher(), clock, stop, progress=progress, progress_every=60).run(
        [DAY], first_from_now=True)
    waits = [snap for kind, snap in progress.calls if kind == "waiting"]
    assert len(waits) >= 1000  # a call every 0.5 s of waiting, 600 s
    assert all(s.slot == "14:00–16:59" for s in waits)  # the clock's slot, before any entry too
    times = [s.sim_time for s in waits]
    assert times == sorted(times) and times[-1] - times[0] > 590
    ticks = [snap.sim_time for kind, snap in progress.calls if kind == "tick"]
    assert ticks and all(b - a >= 60 for a, b in zip(ticks, ticks[1:]))  # the regular progress: at most once a minute
