"""Benchmark: the resume scan of one day among 30 days in the topics, before and after segments.

    python bench/resume_scan.py BOOTSTRAP [VISITS_PER_DAY] [REPEATS] [CHAIN_STORES]

Fills both topics with 30 consecutive days (``foot-traffic produce --days 30``,
librdkafka, fixed seed, transactions: each day's writer records its segments in the
day's owner record), then times ``KafkaDayScanner.scan`` of the first day (an old day
re-run: what a restart of day 1 reads) and of the last day, both ways in the same run,
alternating: ``before`` reads from the day's start by timestamp (``segments=False``, the
scan until now), ``after`` only the day's segments (``foot_traffic.checkpoint``). Reports
the records each read, the seconds, and whether both found the same (the resume marks).

The chain case does the same with a chain of CHAIN_STORES [20] stores round-robin over 12 time zones
(``--stores``, one shard producer per day, VISITS_PER_DAY split between them) in topics of
its own: ``KafkaDayScanner.scan_stores`` of the first local day for all stores, before
(from the earliest local midnight by timestamp) and after (the union of the store-days'
segments, recorded in their owner records).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

from common import DAY, PYTHON, ROOT, SEED, TOPIC, TOPIC_REALISTIC, WORK, emit, env_for, topic_counts

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

    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.plan.localday import day_start
    from foot_traffic.delivery.scan import KafkaDayScanner

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
    stores = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    if stores:
        out["chain_old_day"] = chain_case(bootstrap, first, visits, repeats, stores)
    emit(out)


def chain_case(bootstrap: str, first, visits: int, repeats: int, stores: int) -> dict:
    from chain import ZONES, catalogue_doc, write_catalogue

    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.plan.localday import local_instant
    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.delivery.scan import KafkaDayScanner

    per_store = max(1, visits // stores)
    path = write_catalogue(WORK / "resume-scan-chain.yaml", catalogue_doc(stores, per_store, zones=ZONES[::2]))
    topics = [f"{TOPIC}_chain", f"{TOPIC_REALISTIC}_chain"]
    env = env_for(bootstrap, KAFKA_CLIENT="confluent", KAFKA_TOPIC=topics[0], KAFKA_TOPIC_REALISTIC=topics[1])
    env.pop("DAILY_CUSTOMERS", None)
    t0 = time.perf_counter()
    subprocess.run([PYTHON, "-m", "foot_traffic", "produce", "-q", "--stores", str(path), "--date", first.isoformat(),
                    "--days", str(DAYS)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=1800)
    fill_s = time.perf_counter() - t0
    catalogue = load_catalogue(path)
    ids = [s.id for s in catalogue.stores]
    since = min(local_instant(first, 0, s.tz) for s in catalogue.stores) * 1000
    options = KafkaOptions(bootstrap_servers=bootstrap)
    case: dict = {"day": first.isoformat(), "stores": stores, "visits_per_store": per_store, "fill_s": fill_s,
                  "records_in_topics": sum(topic_counts(bootstrap, tuple(topics)).values())}
    found: dict = {}
    for _ in range(repeats):
        for way, segments in (("before", False), ("after", True)):
            scanner = KafkaDayScanner(options, segments=segments)
            w0 = time.perf_counter()
            holds = scanner.scan_stores(first, topics, since, ids)
            wall = time.perf_counter() - w0
            entry = case.setdefault(way, {"wall_s": [], "records_read": 0, "bounded": scanner.last.bounded})
            entry["wall_s"].append(wall)
            entry["records_read"] = scanner.last.records
            found[way] = {sid: {pid: (h.total, sorted(h.high.items())) for pid, h in plans.items()}
                          for sid, plans in holds.items()}
    case["day_records"] = sum(t for plans in found["after"].values() for t, _ in plans.values())
    case["same_marks"] = found["before"] == found["after"]
    return case


if __name__ == "__main__":
    main()
