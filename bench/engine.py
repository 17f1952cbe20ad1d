"""The engine's CPU per record: a whole day played at full speed into a counting publisher.

    python bench/engine.py [VISITS [REPEATS]] [--profile]

Plan, event stream and runner, with the records handed to a publisher that only counts
them (no Kafka): what the engine itself costs per record, the Python work that shares the
GIL with the Kafka client's own thread in a real run. Each repeat plays the bench day
(SEED=7, 2025-11-07) in this process; CPU is this thread's time (``time.thread_time``),
so a busy machine stretches the wall time but not the figure. ``--profile`` prints the
hottest functions of one more run (cProfile) to stderr.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from common import DAY, SEED, counting_delivery, emit

def play(settings) -> tuple[int, float, float]:
    """One day: (records, CPU seconds, wall seconds)."""
    from foot_traffic.run.runner import Runner

    cpu0, wall0 = time.thread_time(), time.perf_counter()
    summaries = Runner(settings, counting_delivery()[0]).run([DAY])
    return summaries[0].sent, time.thread_time() - cpu0, time.perf_counter() - wall0


def parts(settings) -> dict[str, float]:
    """Where the CPU per record goes: planning alone (the visits), planning and making the
    records (the event stream, no runner), and the whole engine (the runner playing it);
    thread CPU per record, best of 3 (the least disturbed)."""
    from foot_traffic.model.profile import load_profile
    from foot_traffic.plan.implicit import implicit_store
    from foot_traffic.plan.storeday import plan_store_day
    from foot_traffic.records.stream import StoreDayStream

    plan = plan_store_day(implicit_store(settings, load_profile(settings.profile_file)), DAY, settings)
    records = 3 * plan.total

    def cpu(work) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.thread_time()
            work()
            best = min(best, time.thread_time() - start)
        return 1e6 * best / records

    def plan_only():
        for _ in plan.visits():
            pass

    def stream():
        for _ in StoreDayStream(plan, "s", "e"):
            pass

    return {
        "plan_us_per_record": cpu(plan_only),
        "stream_us_per_record": cpu(stream),
        "engine_us_per_record": cpu(lambda: play(settings)),
    }


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    visits = int(args[0]) if args else 100_000
    repeats = int(args[1]) if len(args) > 1 else 3
    from foot_traffic.settings import Settings

    settings = Settings.from_env(dict(os.environ, SEED=str(SEED), DAILY_CUSTOMERS=str(visits), FOOT_TRAFFIC_RESUME="0"))
    runs = [play(settings) for _ in range(repeats)]
    records = runs[0][0]
    cpu_us = [1e6 * cpu / n for n, cpu, _ in runs]
    wall_us = [1e6 * wall / n for n, _, wall in runs]
    if "--profile" in sys.argv:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(play, settings)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)
    emit(
        {
            "visits": visits,
            "records": records,
            "cpu_us_per_record": cpu_us,
            "wall_us_per_record": wall_us,
            "cpu_us_per_record_median": statistics.median(cpu_us),
            "cpu_us_per_record_min": min(cpu_us),  # the least disturbed run, on a shared machine
            "parts": parts(settings),
        }
    )


if __name__ == "__main__":
    main()
