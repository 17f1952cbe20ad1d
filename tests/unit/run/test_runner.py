"""The runner on a fake clock with Kafka in memory: whole days in milliseconds."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from foot_traffic.delivery.errors import DeliveryError, PlanMismatch
from foot_traffic.plan.localday import day_start
from foot_traffic.run.runner import Runner, days_from
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryKafka, memory_delivery

DAY = date(2025, 11, 7)
JAN1 = datetime(2026, 1, 1, tzinfo=UTC)


def settings(**env):
    base = {"SEED": "7", "DAILY_CUSTOMERS": "400", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e"}
    base.update({k: str(v) for k, v in env.items()})
    return Settings.from_env(base)


def runner(s, kafka, clock, stop=None, **kw):
    return Runner(s, memory_delivery(kafka, s), clock=clock, stop=stop or threading.Event(), **kw)


def dump(kafka):
    return [(r.topic, r.key, r.value, r.headers, r.timestamp_ms) for r in kafka.records]


@pytest.fixture(params=["1", "0"], ids=["transactions", "plain"])
def delivery(request):
    """KAFKA_TRANSACTIONS: the day ledger's positions, or the original's read-back."""
    return {"KAFKA_TRANSACTIONS": request.param}


def test_a_past_day_goes_out_at_once_with_its_own_timestamps(delivery):
    clock = FakeClock(JAN1)
    kafka = MemoryKafka()
    [summary] = runner(settings(**delivery), kafka, clock).run([DAY])
    assert clock.waits == []  # no sleeping for a past day
    assert summary.finished and not summary.stopped
    assert summary.sent_per_topic == {"s": 400, "e": 800}
    assert sum(summary.entries_per_slot.values()) == 400
    assert all(day_start(DAY).timestamp() * 1000 <= r.timestamp_ms for r in kafka.records)
    assert [r.due for r in kafka.records] == sorted(r.due for r in kafka.records)


def test_same_seed_same_day_identical_records_whatever_the_start_time():
    a, b = MemoryKafka(), MemoryKafka()
    runner(settings(), a, FakeClock(JAN1)).run([DAY])
    runner(settings(), b, FakeClock(datetime(2027, 6, 3, 17, 45, tzinfo=UTC))).run([DAY])
    assert dump(a) == dump(b)


def test_live_day_is_paced_and_time_scale_compresses_it():
    clock = FakeClock(day_start(DAY))
    [summary] = runner(settings(TIME_SCALE=1440), MemoryKafka(), clock).run([DAY])
    assert summary.finished
    waited = sum(clock.waits)
    # The day plus its late exits (<= 75 min) in 1/1440 of the time: about a minute.
    assert 59 <= waited <= 65
    assert max(clock.waits) <= 0.5
    assert summary.max_lag_seconds < 1e-6  # every record went out at (or after) its due time, never before


def test_fresh_start_mid_day_plays_the_rest_of_today_like_the_original(delivery):
    clock = FakeClock(day_start(DAY) + timedelta(hours=15))
    kafka = MemoryKafka()
    [summary] = runner(settings(TIME_SCALE=100000, **delivery), kafka, clock).run([DAY], first_from_now=True)
    cutoff = (day_start(DAY) + timedelta(hours=15)).timestamp()
    sessions = [r for r in kafka.records if r.topic == "s"]
    assert sessions and all(r.due >= cutoff for r in sessions)
    assert summary.skipped_before_start > 0
    assert len(kafka.records) + summary.skipped_before_start == 1200


def test_a_retry_of_a_fresh_start_mid_day_keeps_its_first_starting_point():
    """The take record keeps where the first attempt began: its retry hours later sends the
    records due in between, never the morning the first attempt left out."""
    s = settings(TIME_SCALE=100000, MAX_RETRIES=0)
    kafka = MemoryKafka(fail_after=50)
    with pytest.raises(DeliveryError):
        runner(s, kafka, FakeClock(day_start(DAY) + timedelta(hours=15))).run([DAY], first_from_now=True)
    kafka.fail_after = None
    [summary] = runner(s, kafka, FakeClock(day_start(DAY) + timedelta(hours=20))).run([DAY], first_from_now=True)
    cutoff = (day_start(DAY) + timedelta(hours=15)).timestamp()
    sessions = [r for r in kafka.records if r.topic == "s"]
    assert min(r.due for r in sessions) >= cutoff
    assert any(r.due < cutoff + 5 * 3600 for r in sessions)
    assert len({(r.topic, r.seq) for r in kafka.records}) == len(kafka.records)


def test_restart_after_failure_sends_exactly_the_rest(delivery):
    full = MemoryKafka()
    runner(settings(**delivery), full, FakeClock(JAN1)).run([DAY])

    kafka = MemoryKafka(fail_after=517)
    with pytest.raises(DeliveryError):
        runner(settings(MAX_RETRIES=0, **delivery), kafka, FakeClock(JAN1)).run([DAY])
    there = len(kafka.records)
    assert there <= 517
    kafka.fail_after = None
    [summary] = runner(settings(**delivery), kafka, FakeClock(datetime(2026, 1, 2, tzinfo=UTC))).run([DAY])
    assert summary.already_present == there and summary.sent == 1200 - there
    assert sorted(dump(kafka)) == sorted(dump(full))  # nothing lost, nothing twice


def test_completed_day_rerun_sends_nothing(delivery):
    kafka = MemoryKafka()
    runner(settings(**delivery), kafka, FakeClock(JAN1)).run([DAY])
    [summary] = runner(settings(**delivery), kafka, FakeClock(JAN1)).run([DAY])
    assert summary.sent == 0 and summary.already_present == 1200 and len(kafka.records) == 1200
    assert summary.finished


def test_a_day_resumed_after_a_crash_is_not_sent_again_by_later_reruns():
    """Issue 22, 1: a killed run, its retry, then plain re-runs: the day once, every time."""
    s = settings(MAX_RETRIES=0)
    kafka = MemoryKafka(fail_after=700)
    with pytest.raises(DeliveryError):
        runner(s, kafka, FakeClock(JAN1)).run([DAY])
    kafka.fail_after = None
    for _ in range(3):
        runner(s, kafka, FakeClock(JAN1)).run([DAY])
        assert len(kafka.records) == 1200
        assert len({(r.topic, r.seq) for r in kafka.records}) == 1200


def test_unseeded_restart_keeps_the_first_attempts_seed(delivery):
    s = Settings.from_env({"DAILY_CUSTOMERS": "300", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e",
                           "MAX_RETRIES": "0", **delivery})
    kafka = MemoryKafka(fail_after=100)
    with pytest.raises(DeliveryError):
        runner(s, kafka, FakeClock(JAN1)).run([DAY])
    there = len(kafka.records)
    kafka.fail_after = None
    [summary] = runner(s, kafka, FakeClock(JAN1)).run([DAY])
    assert summary.already_present == there and len(kafka.records) == 900
    assert len({dict(r.headers)["ft-plan"] for r in kafka.records}) == 1


def test_another_plan_in_the_day_is_refused_before_sending(delivery):
    kafka = MemoryKafka()
    runner(settings(**delivery), kafka, FakeClock(JAN1)).run([DAY])
    with pytest.raises(PlanMismatch, match="another plan"):
        runner(settings(SEED=8, **delivery), kafka, FakeClock(JAN1)).run([DAY])
    assert len(kafka.records) == 1200


def test_a_run_that_would_refuse_the_day_refuses_it_before_taking_it():
    """Another plan in the day: refused before the take, so the run writing it is not fenced."""
    kafka = MemoryKafka()
    runner(settings(), kafka, FakeClock(JAN1)).run([DAY])
    epochs = dict(kafka.epochs)
    with pytest.raises(PlanMismatch):
        runner(settings(SEED=8), kafka, FakeClock(JAN1)).run([DAY])
    assert kafka.epochs == epochs


def test_stop_mid_day_commits_and_reports_stopped_then_resume_completes_it(delivery):
    clock = FakeClock(day_start(DAY))
    stop = threading.Event()
    # TIME_SCALE=1000: 40 wall seconds are about 11 simulated hours.
    clock.on_wait = lambda c: stop.set() if c.now() > day_start(DAY) + timedelta(seconds=40) else None
    kafka = MemoryKafka()
    [summary] = runner(settings(TIME_SCALE=1000, **delivery), kafka, clock, stop).run([DAY])
    assert summary.stopped and not summary.finished
    assert 0 < len(kafka.records) < 1200
    assert summary.sent == len(kafka.records)  # what was sent before the stop is committed
    [again] = runner(settings(**delivery), kafka, FakeClock(JAN1)).run([DAY])
    assert again.finished and len(kafka.records) == 1200
    assert len({(r.topic, r.seq) for r in kafka.records}) == 1200


def test_consecutive_days_interleave_late_exits_with_the_next_morning():
    kafka = MemoryKafka()
    summaries = runner(settings(), kafka, FakeClock(JAN1)).run(days_from(DAY, 2))
    assert [s.day for s in summaries] == [DAY, DAY + timedelta(days=1)]
    assert [r.due for r in kafka.records] == sorted(r.due for r in kafka.records)
    days = [dict(r.headers)["ft-day"] for r in kafka.records]
    first_next = days.index(b"2025-11-08")
    assert b"2025-11-07" in days[first_next:]  # a late exit of the 7th after the 8th began
    assert all(s.sent == 1200 for s in summaries)


def test_a_live_stream_commits_while_it_waits_a_past_day_in_bounded_transactions():
    live = MemoryKafka()
    runner(settings(TIME_SCALE=1440), live, FakeClock(day_start(DAY))).run([DAY])
    assert live.commits > 100  # a live record is visible at once: committed before each wait
    past = MemoryKafka()
    runner(settings(), past, FakeClock(JAN1)).run([DAY])
    assert past.commits <= 2


def test_every_commit_carries_the_days_position_and_the_last_says_finished():
    kafka = MemoryKafka()
    runner(settings(TIME_SCALE=1440), kafka, FakeClock(day_start(DAY))).run([DAY])
    [records] = kafka.ledger("s_writers").values()
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "take" and kinds[-1] == "finished" and set(kinds[1:-1]) == {"progress"}
    positions = [r["position"] for r in records[1:]]
    assert positions == sorted(positions) and positions[-1] == 1200
    assert records[-1]["sent"] == {"s": 400, "e": 800}


def test_a_fenced_run_stops_says_so_and_raises_nothing():
    def newer_run(kafka):
        kafka.init("foot-traffic/" + "x")  # another transactional id: nobody
        for tid in list(kafka.epochs):
            if tid.endswith(DAY.isoformat()):
                kafka.init(tid)  # a newer run of the day took its transactional id

    kafka = MemoryKafka(take_over={300: newer_run})
    r = runner(settings(), kafka, FakeClock(JAN1))
    [summary] = r.run([DAY])
    assert r.fenced is not None
    assert summary.fenced and not summary.finished and not summary.stopped
    assert summary.as_dict()["fenced"] is True
    assert len(kafka.records) <= 300  # its open transaction was aborted by the newer run


def test_a_fenced_day_stops_the_other_open_days_too():
    def newer_run_of_the_8th(kafka):
        for tid in list(kafka.epochs):
            if tid.endswith("2025-11-08"):
                kafka.init(tid)

    kafka = MemoryKafka()
    r = runner(settings(), kafka, FakeClock(JAN1))
    real_take = r.delivery.take

    def take(day, plans, looked):
        writer = real_take(day, plans, looked)
        if day == DAY + timedelta(days=1):
            kafka.take_over[kafka.data_records() + 2] = newer_run_of_the_8th
        return writer

    r.delivery.take = take
    summaries = r.run(days_from(DAY, 3))
    # at the 8th's first visit the 7th still had late exits to send: it stops, unfinished
    assert [(s.day, s.fenced, s.stopped, s.finished) for s in summaries] == [
        (DAY, False, True, False), (DAY + timedelta(days=1), True, False, False),
    ]


def test_summaries_say_not_fenced_by_default():
    [summary] = runner(settings(), MemoryKafka(), FakeClock(JAN1)).run([DAY])
    assert summary.as_dict()["fenced"] is False and "fenced_by" not in summary.as_dict()


def test_a_sensor_flawed_day_is_complete_when_its_rerun_ends(caplog, delivery):
    """With a sensor's flaws the day's record count is not three per visit; a re-run of a
    complete day sends nothing, a re-run of a partial one exactly the rest."""
    flawed = settings(SENSOR_DOUBLE_RATE="0.3", SENSOR_MISS_RATE="0.01", MAX_RETRIES=0, **delivery)
    kafka = MemoryKafka()
    runner(flawed, kafka, FakeClock(JAN1)).run([DAY])
    total = len(kafka.records)
    assert total > 1200, "double counts add records"
    [again] = runner(flawed, kafka, FakeClock(JAN1)).run([DAY])
    assert again.sent == 0 and again.already_present == total and again.finished

    partial = MemoryKafka(fail_after=1250)
    with pytest.raises(DeliveryError):
        runner(flawed, partial, FakeClock(JAN1)).run([DAY])
    there = len(partial.records)
    partial.fail_after = None
    [rest] = runner(flawed, partial, FakeClock(JAN1)).run([DAY])
    assert rest.already_present == there and rest.sent == total - there
    assert sorted(dump(partial)) == sorted(dump(kafka))


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
    runner(settings(), MemoryKafka(), clock, stop, progress=progress, progress_every=60).run([DAY], first_from_now=True)
    waits = [snap for kind, snap in progress.calls if kind == "waiting"]
    assert len(waits) >= 1000  # a call every 0.5 s of waiting, 600 s
    assert all(s.slot == "14:00–16:59" for s in waits)  # the clock's slot, before any entry too
    times = [s.sim_time for s in waits]
    assert times == sorted(times) and times[-1] - times[0] > 590
    ticks = [snap.sim_time for kind, snap in progress.calls if kind == "tick"]
    assert ticks and all(b - a >= 60 for a, b in zip(ticks, ticks[1:]))  # the regular progress: at most once a minute
