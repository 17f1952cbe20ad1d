"""Benchmark: the resume scan of one day among 30 days in the topics.

    python bench/resume_scan.py BOOTSTRAP [VISITS_PER_DAY] [REPEATS]

Fills both topics with 30 consecutive days (``foot-traffic produce --days 30``,
librdkafka, fixed seed), then times ``KafkaDayScanner.scan`` of the first day (an old day
re-run: what a restart of day 1 reads) and of the last day, and reports how many records
each scan read against how many the day holds.
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
    from foot_traffic.resume import KafkaDayScanner, ScanStats

    options = KafkaOptions(bootstrap_servers=bootstrap)
    out = {"days": DAYS, "visits_per_day": visits, "records_in_topics": held, "fill_s": fill_s}
    for name, day in (("old_day", first), ("last_day", DAY)):
        walls, read = [], None
        for _ in range(repeats):
            scanner = KafkaDayScanner(options)
            stats = ScanStats()
            since = int(day_start(day).timestamp() * 1000)
            w0 = time.perf_counter()
            found = scanner.read([TOPIC, TOPIC_REALISTIC], since, lambda rs: sum(1 for _ in rs), stats)
            walls.append(time.perf_counter() - w0)
            read = stats.records
            assert found == read
        holds = scanner.scan(day, [TOPIC, TOPIC_REALISTIC], int(day_start(day).timestamp() * 1000))
        out[name] = {"day": day.isoformat(), "wall_s": walls, "records_read": read,
                     "day_records": sum(h.total for h in holds.values()), "seed": SEED}
    emit(out)


if __name__ == "__main__":
    main()
