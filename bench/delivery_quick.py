"""A quick delivery comparison: a few delivery cases of ``run_all.py``, round by round.

    python bench/delivery_quick.py [CASE ...]     (default: cli kafka_python cli_confluent confluent)

Same cases, brokers and checks as ``run_all.py``'s delivery section (BENCH_VISITS,
BENCH_REPEATS, BENCH_WORK_DIR apply), without the rest of ``make bench``: for checking a
change to the hot path against the raw client loops; ratios are taken within each round.
Prints one line per run and the ratios; writes nothing else.
"""

from __future__ import annotations

import statistics
import sys

from common import REPEATS, VISITS, count_records, create_topics, fresh_broker, records_file, topic_counts
from run_all import TRANSACTIONAL, delivery_case, log, migrate_airflow

PAIRS = (
    ("cli", "kafka_python"), ("cli_confluent", "confluent"), ("dag", "cli"), ("dag_running", "cli"),
    ("cli_plain", "kafka_python"),
)


def main() -> int:
    cases = sys.argv[1:] or ["cli", "kafka_python", "cli_confluent", "confluent"]
    rf = records_file(VISITS)
    home = migrate_airflow() if "dag" in cases else None
    runs: dict[str, list[float]] = {c: [] for c in cases}
    for r in range(REPEATS):
        for case in cases:
            with fresh_broker(case) as broker:
                create_topics(broker.bootstrap)
                result = delivery_case(case, broker.bootstrap, rf, home, f"{r}/{REPEATS}", 0.0)
                landed = sum((count_records if case in TRANSACTIONAL else topic_counts)(broker.bootstrap).values())
                if landed != 3 * VISITS or result["records"] != 3 * VISITS:
                    raise RuntimeError(f"{case}: {result['records']} reported, {landed} landed, {3 * VISITS} expected")
            runs[case].append(result["records_per_s"])
            if case == "dag":  # the same run, timed from the task's own start (see run_all.dags_test)
                runs.setdefault("dag_running", []).append(3 * VISITS / result["running_seconds"])
                log(f"round {r + 1} dag: {result['startup_seconds']:.1f} s before the task's own start")
            log(f"round {r + 1} {case}: {result['records_per_s']:,.0f} records/s ({result['seconds']:.2f} s)")
    for a, b in PAIRS:
        if a in runs and b in runs:
            ratios = [x / y for x, y in zip(runs[a], runs[b])]
            log(f"{a} / {b}: per round {', '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
