"""Benchmark: where a run resumes a store-day, with a year of ledger records in the writers topic.

    python bench/resume_scan.py BOOTSTRAP [VISITS_PER_DAY] [REPEATS] [CHAIN_STORES]

A run that takes a store-day reads the day ledger (``<topic>_writers``, one partition per
day of the year: ``foot_traffic.delivery.ledger``) and continues from the position it
finds; it reads the data topics back only for a store-day whose ledger records predate
positions (the resume scan, ``KafkaDayScanner.scan``). This case measures both reads for
the same store-days in a writers topic holding a year:

1. a chain of CHAIN_STORES [20] stores round-robin over 5 time zones, VISITS_PER_DAY
   split between them, is produced for REAL_DAYS [BENCH_SCAN_REAL_DAYS, 30] consecutive
   days through ``foot-traffic produce --stores --days`` (librdkafka, transactions on:
   its real take, progress and finished records);
2. the writers topic is filled up to LEDGER_DAYS [BENCH_SCAN_LEDGER_DAYS, 365] days:
   for every other day of the year, the same stores' take, progress and finished records
   (``ledger.take_value``/``progress_value``, as many per store-day as the real days hold
   on average), each in its day's partition;
3. for the first and the last real day, alternating, REPEATS times: the ledger read of one
   shard's store-days (SHARD [10] stores: ``KafkaLedgerIO.read``, what a take reads) and
   the resume scan of the same store-days (what a run without positions reads), the
   records each reads and its wall time, and whether the ledger's positions equal the
   records the scan found;
4. the last real day produced again (every store-day finished: nothing to send), timed
   whole: the CLI's take with a year in the ledger.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta

from common import DAY, PYTHON, ROOT, SEED, TOPIC, TOPIC_REALISTIC, WORK, emit, env_for, topic_counts

REAL_DAYS = int(os.environ.get("BENCH_SCAN_REAL_DAYS", "30"))
LEDGER_DAYS = int(os.environ.get("BENCH_SCAN_LEDGER_DAYS", "365"))
SHARD = 10


def main() -> None:
    bootstrap = sys.argv[1]
    visits = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    stores = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    emit(run(bootstrap, visits, repeats, stores))


def run(bootstrap: str, visits: int, repeats: int, stores: int) -> dict:
    from chain import ZONES, catalogue_doc, write_catalogue

    from foot_traffic.delivery import ledger
    from foot_traffic.delivery.ledger_io import KafkaLedgerIO
    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.delivery.scan import KafkaDayScanner
    from foot_traffic.plan.localday import local_instant
    from foot_traffic.plan.stores import load_catalogue

    first = DAY - timedelta(days=REAL_DAYS - 1)
    per_store = max(1, visits // stores)
    path = write_catalogue(WORK / "resume-scan-chain.yaml", catalogue_doc(stores, per_store, zones=ZONES[::2]))
    topics = [TOPIC, TOPIC_REALISTIC]
    writers = ledger.ledger_topic(TOPIC)
    env = env_for(bootstrap, KAFKA_CLIENT="confluent")
    env.pop("DAILY_CUSTOMERS", None)

    def produce(day: date, days: int) -> float:
        t0 = time.perf_counter()
        subprocess.run([PYTHON, "-m", "foot_traffic", "produce", "-q", "--stores", str(path), "--date", day.isoformat(),
                        "--days", str(days)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=3600)
        return time.perf_counter() - t0

    fill_s = produce(first, REAL_DAYS)
    catalogue = load_catalogue(path)
    ids = [s.id for s in catalogue.stores]
    options = KafkaOptions(bootstrap_servers=bootstrap)
    io = KafkaLedgerIO(options, writers, fencer=None)
    partitions = io.partitions()

    def partition_records(day: date) -> int:
        return _end_offsets(bootstrap, writers, [ledger.partition_of(day, partitions)])

    real_ledger = sum(partition_records(first + timedelta(days=i)) for i in range(REAL_DAYS))
    per_store_day = max(3, round(real_ledger / (REAL_DAYS * stores)))
    pad_s, padded = _pad_year(bootstrap, writers, partitions, first, ids, per_store_day)
    out: dict = {
        "stores": stores, "visits_per_store": per_store, "real_days": REAL_DAYS, "ledger_days": REAL_DAYS + padded,
        "fill_s": fill_s, "pad_s": pad_s, "ledger_records_per_store_day": real_ledger / (REAL_DAYS * stores),
        "records_in_topics": sum(topic_counts(bootstrap).values()),
        "ledger_records_in_topic": _end_offsets(bootstrap, writers, list(range(partitions))),
        "ledger_partitions": partitions, "shard": SHARD,
    }
    shard = ids[:SHARD]
    for name, day in (("old_day", first), ("last_day", first + timedelta(days=REAL_DAYS - 1))):
        keys = {store: ledger.transactional_id(topics, day, store) for store in shard}
        since = min(local_instant(day, 0, s.tz) for s in catalogue.stores) * 1000
        case: dict = {"day": day.isoformat(), "seed": SEED, "ledger": {"wall_s": []}, "scan": {"wall_s": []},
                      "ledger_records_read": partition_records(day)}
        positions = totals = None
        for _ in range(repeats):
            w0 = time.perf_counter()
            found = io.read(day, list(keys.values()))
            case["ledger"]["wall_s"].append(time.perf_counter() - w0)
            states = {store: ledger.state_of(key, found.get(key, ())) for store, key in keys.items()}
            positions = {store: state.position for store, state in states.items()}
            scanner = KafkaDayScanner(options)
            w0 = time.perf_counter()
            holds = scanner.scan(day, topics, since, shard)
            case["scan"]["wall_s"].append(time.perf_counter() - w0)
            case["scan_records_read"] = scanner.last.records
            totals = {store: sum(h.total for h in holds.get(store, {}).values()) for store in shard}
        case["day_records"] = sum(totals.values())
        case["finished"] = sum(1 for store in shard if positions[store] is not None)
        case["same"] = positions == totals
        out[name] = case
    io.close()
    out["rerun_last_day_s"] = produce(first + timedelta(days=REAL_DAYS - 1), 1)
    return out


def _end_offsets(bootstrap: str, topic: str, partitions: list[int]) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        return sum(consumer.end_offsets([TopicPartition(topic, p) for p in partitions]).values())
    finally:
        consumer.close()


def _pad_year(bootstrap: str, topic: str, partitions: int, first: date, stores: list[str], per_store_day: int
              ) -> tuple[float, int]:
    """Ledger records for the year's days before ``first`` and after the real days (up to
    LEDGER_DAYS in all): per store-day a take, ``per_store_day - 2`` progress records and a
    finished record, in its day's partition, as one writer per day would commit them."""
    from kafka import KafkaProducer

    from foot_traffic.delivery import ledger

    topics = [TOPIC, TOPIC_REALISTIC]
    owner = ledger.describe_run("bench year of ledger records")
    days = [first + timedelta(days=i) for i in range(REAL_DAYS, LEDGER_DAYS)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024, acks="all")
    t0 = time.perf_counter()
    for day in days:
        partition = ledger.partition_of(day, partitions)
        tid = ledger.writer_id(topics, day, stores)
        for store in stores:
            key = ledger.transactional_id(topics, day, store)
            values = [ledger.take_value(owner, key=key, day=day, store=store, take=1, writes_with=tid,
                                        plan=f"bench:{SEED}", seed=SEED, skip_before=None, scan=False)]
            values += [ledger.progress_value(owner["writer"], 1, 300 * (i + 1), finished=False)
                       for i in range(per_store_day - 2)]
            values.append(ledger.progress_value(owner["writer"], 1, 300 * per_store_day, finished=True,
                                                sent={TOPIC: 100 * per_store_day, TOPIC_REALISTIC: 200 * per_store_day}))
            for value in values:
                producer.send(topic, key=key.encode(), value=ledger.encode(value), partition=partition)
    producer.flush()
    producer.close()
    return time.perf_counter() - t0, len(days)


if __name__ == "__main__":
    main()
