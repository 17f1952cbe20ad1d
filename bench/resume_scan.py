"""Benchmark: the resume scan of one day among 30 days in the topics, before and after segments.

    python bench/resume_scan.py BOOTSTRAP [VISITS_PER_DAY] [REPEATS]

Fills both topics with 30 consecutive days (``foot-traffic produce --days 30``,
librdkafka, fixed seed, transactions: each day's writer records its segments in the
day's owner record), then times ``KafkaDayScanner.scan`` of the first day (an old day
re-run: what a restart of day 1 reads) and of the last day, both ways in the same run,
alternating: ``before`` reads from the day's start by timestamp (``segments=False``, the
scan until now), ``after`` only the day's segments (``foot_traffic.checkpoint``). Reports
the records each read, the seconds, and whether both found the same (the resume marks).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

from common import DAY, PYTHON, ROOT, SEED, TOPIC, TOPIC_REALISTIC, emit, env_for, topic_counts

DAYS = 30


def main() -> None:
    bootstrap = sys.argv[1]
    visits = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    first = DAY - timedelta(days=DAYS - 1)
    env = env_for(bootstrap, DAILY_CUSTOMERS=str(visits), KAFKA_CLIENT="confluent")
    t0 = time.perf_counter()
    subprocess.run([PYTHON, "-m", "foot_traffic", "produce", "-q", "--date", first.isoformat(), "--days", str(DAYS)],
                   env=env, cwd=ROOT, check=True, capture_output=True, timeout=1800)
    fill_s = time.perf_counter() - t0
    held = sum(topic_counts(bootstrap).values())

    from foot_traffic.kafka_options import KafkaOptions
    from foot_traffic.plan import day_start
    from foot_traffic.resume import KafkaDayScanner

    options = KafkaOptions(bootstrap_servers=bootstrap)
    topics = [TOPIC, TOPIC_REALISTIC]
    out = {"days": DAYS, "visits_per_day": visits, "records_in_topics": held, "fill_s": fill_s}
    for name, day in (("old_day", first), ("last_day", DAY)):
        since = int(day_start(day).timestamp() * 1000)
        case: dict = {"day": day.isoformat(), "seed": SEED}
        found: dict = {}
        for _ in range(repeats):
            for way, segments in (("before", False), ("after", True)):
                scanner = KafkaDayScanner(options, segments=segments)
                w0 = time.perf_counter()
                holds = scanner.scan(day, topics, since)
                wall = time.perf_counter() - w0
                entry = case.setdefault(way, {"wall_s": [], "records_read": scanner.last.records})
                entry["wall_s"].append(wall)
                found[way] = {pid: (h.total, sorted(h.high.items())) for pid, h in holds.items()}
        case["day_records"] = sum(total for total, _ in found["after"].values())
        case["same_marks"] = found["before"] == found["after"]
        # the fields of the earlier report (the scan as it was): "before"
        case["records_read"], case["wall_s"] = case["before"]["records_read"], case["before"]["wall_s"]
        out[name] = case
    emit(out)


if __name__ == "__main__":
    main()
