"""Benchmark 2, pacing accuracy of a live stream at TIME_SCALE=1, one mode per process.

    python bench/pacing.py ours|polling BOOTSTRAP SECONDS TOPIC_PREFIX

Both modes play the same dense day (profile ``dense``: 1,200 of 2,000 visits enter in
the first 3 minutes, i.e. ~13 records/s) from its midnight with the simulated clock
running at wall speed, for SECONDS, through a KafkaPublisher-configured kafka-python
producer, and record each send's lateness = wall time of the send - its due time on
the same (monotonic) schedule:

  ours     the Runner and Pacer (foot-traffic produce --from-midnight, TIME_SCALE=1)
  polling  the original's loop: send whatever is due, sleep SLEEP=0.5 s, repeat

Also the process's CPU time over the run / its wall time (share of one core).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from common import DAY, SEED, WORK, cpu_seconds, emit

DENSE_PROFILE = """\
# Benchmark profile: most of the day's visits enter in its first three minutes.
name: bench-dense
slots: ["00:00", "00:03"]
weights:
  Monday: [60, 40]
  Tuesday: [60, 40]
  Wednesday: [60, 40]
  Thursday: [60, 40]
  Friday: [60, 40]
  Saturday: [60, 40]
  Sunday: [60, 40]
trip_duration_minutes:
  - {probability: 0.35, min: 10, max: 29}
  - {probability: 0.39, min: 30, max: 44}
  - {probability: 0.26, min: 45, max: 75}
"""
VISITS = 2000
PHASE = 0.25  # polling baseline: offset of its polls from the whole seconds


def profile_path() -> Path:
    path = WORK / "dense-profile.yaml"
    WORK.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != DENSE_PROFILE:
        path.write_text(DENSE_PROFILE)
    return path


def settings_for(bootstrap: str, prefix: str):
    from foot_traffic.settings import Settings

    return Settings.from_env(
        {
            "KAFKA_BROKER": bootstrap,
            "KAFKA_TOPIC": f"{prefix}_sessions",
            "KAFKA_TOPIC_REALISTIC": f"{prefix}_events",
            "SEED": str(SEED),
            "DAILY_CUSTOMERS": str(VISITS),
            "TIME_SCALE": "1",
            "SLEEP": "0.5",
            "FOOT_TRAFFIC_PROFILE": str(profile_path()),
            "FOOT_TRAFFIC_RESUME": "0",
        }
    )


def summarize(lateness: list[tuple[float, float]], seconds: float, cpu: float, wall: float) -> dict:
    """lateness: (seconds since the schedule's start, lateness seconds) per send.

    Sends that were already due when the first send happened (the stream started late:
    connecting took that long) are reported apart as the startup burst; the percentiles
    are over the rest (the steady state) and, separately, over all sends.
    """

    def pct(values, q):
        if not values:
            return None
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))]

    first = lateness[0][0] if lateness else 0.0
    startup = [x for t, x in lateness if t - x <= first]  # due at or before the first send
    all_late = [x for _, x in lateness]
    lateness = [(t, x) for t, x in lateness if t - x > first]
    late = [x for _, x in lateness]
    windows = []
    for i in range(3):  # three consecutive windows: a median over repeats within one run
        part = [x for t, x in lateness if i * seconds / 3 <= t < (i + 1) * seconds / 3]
        windows.append({"p50_ms": 1e3 * pct(part, 0.5), "p99_ms": 1e3 * pct(part, 0.99), "max_ms": 1e3 * max(part)} if part else None)
    return {
        "sends": len(late),
        "records_per_s": len(late) / seconds,
        "p50_ms": 1e3 * pct(late, 0.5),
        "p99_ms": 1e3 * pct(late, 0.99),
        "max_ms": 1e3 * max(late),
        "all_p99_ms": 1e3 * pct(all_late, 0.99),
        "all_max_ms": 1e3 * max(all_late),
        "startup_sends": len(startup),
        "startup_max_ms": 1e3 * max(startup) if startup else 0.0,
        "first_send_s": first,
        "windows": windows,
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_share_pct": 100.0 * cpu / wall if wall > 0 else None,
    }


class StartClock:
    """SystemClock that remembers the first monotonic reading after :meth:`arm`.

    Armed when the runner has connected and made its topics: the Pacer, created right
    after that (runner.py), takes that reading as the schedule's start t0. The first
    reading of all (when ``Runner.run`` starts) gives the time spent connecting.
    """

    def __init__(self):
        from foot_traffic.run.pacing import SystemClock

        self._clock = SystemClock()
        self.first: float | None = None
        self.t0: float | None = None
        self._armed = False

    def arm(self) -> None:
        self._armed = True

    def now(self):
        return self._clock.now()

    def monotonic(self) -> float:
        value = self._clock.monotonic()
        if self.first is None:
            self.first = value
        if self._armed:
            self.t0, self._armed = value, False
        return value

    def wait(self, seconds, stop):
        return self._clock.wait(seconds, stop)


def run_ours(bootstrap: str, seconds: float, prefix: str) -> dict:
    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.plan.localday import day_start
    from foot_traffic.delivery import delivery_for
    from foot_traffic.delivery.kafka_python import KafkaPublisher
    from foot_traffic.delivery.ledger import describe_run
    from foot_traffic.run.runner import Runner

    settings = settings_for(bootstrap, prefix)
    stop = threading.Event()
    clock = StartClock()
    sim0 = day_start(DAY).timestamp()
    lateness: list[tuple[float, float]] = []
    monotonic = time.monotonic

    started: list[tuple[float, float]] = []  # (CPU, wall) at the first send
    first_send_ms: dict[str, float] = {}  # how long the first send to each topic took

    real_send = KafkaPublisher.send

    def timed_send(self, record):
        t = monotonic() - clock.t0
        if not started:
            started.append((cpu_seconds(), time.perf_counter()))
        lateness.append((t, t - (record.due - sim0)))
        if record.topic in first_send_ms:
            real_send(self, record)
        else:
            s0 = monotonic()
            real_send(self, record)
            first_send_ms[record.topic] = 1e3 * (monotonic() - s0)

    KafkaPublisher.send = timed_send  # this process's only producer class (the day ledger's records go by send_to)
    delivery = delivery_for(settings, KafkaOptions.from_settings(settings), stop, describe_run("bench pacing"))
    connect = delivery.connect

    def connect_then_arm():
        connect()  # the producer, then the topics made sure of
        clock.arm()

    delivery.connect = connect_then_arm
    runner = Runner(settings, delivery, clock=clock, stop=stop, sim_anchor=sim0, progress_every=60.0)
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    runner.run([DAY])
    timer.cancel()
    if clock.t0 is None:
        raise SystemExit("the runner never read the clock after ensure_topics: no schedule start to measure from")
    c0, w0 = started[0] if started else (cpu_seconds(), time.perf_counter())
    # CPU share while streaming: from the first send to the end (final flush included).
    cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
    return {**summarize(lateness, seconds, cpu, wall), "connect_s": clock.t0 - clock.first, "first_send_ms": first_send_ms}


def run_polling(bootstrap: str, seconds: float, prefix: str) -> dict:
    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.model.profile import load_profile
    from foot_traffic.plan.implicit import implicit_store
    from foot_traffic.plan.storeday import plan_store_day
    from foot_traffic.delivery.kafka_python import KafkaPublisher
    from foot_traffic.delivery.topics import ensure_topics
    from foot_traffic.records.stream import StoreDayStream

    settings = settings_for(bootstrap, prefix)
    plan = plan_store_day(implicit_store(settings, load_profile(settings.profile_file)), DAY, settings)
    publisher = KafkaPublisher(KafkaOptions.from_settings(settings))
    publisher.connect()
    ensure_topics(KafkaOptions.from_settings(settings), [settings.kafka_topic, settings.kafka_topic_realistic],
                  threading.Event())
    for topic in (settings.kafka_topic, settings.kafka_topic_realistic):
        publisher.partition_count(topic)  # metadata first, so the first send keeps the loop's phase
    moments = iter(StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic))
    lateness: list[tuple[float, float]] = []
    # Due times are whole seconds, so a 0.5 s poll's lateness is its phase against them:
    # start a quarter second past (the mean phase; any phase gives lateness in [0, 0.5)).
    sim0 = plan.start - PHASE
    c0, w0 = cpu_seconds(), time.perf_counter()
    t0 = time.monotonic()
    pending = next(moments, None)
    while pending is not None:
        elapsed = time.monotonic() - t0
        if elapsed >= seconds:
            break
        sim_now = sim0 + elapsed
        while pending is not None and pending.due <= sim_now:
            for record in pending.records:
                t = time.monotonic() - t0 - PHASE
                lateness.append((t, t - (record.due - plan.start)))
                publisher.send(record)
            pending = next(moments, None)
        time.sleep(settings.sleep)
    publisher.flush()
    publisher.close()
    cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
    return summarize(lateness, seconds, cpu, wall)


def main() -> None:
    mode, bootstrap, seconds, prefix = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    result = (run_ours if mode == "ours" else run_polling)(bootstrap, seconds, prefix)
    result["mode"] = mode
    emit(result)


if __name__ == "__main__":
    main()
