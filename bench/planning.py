"""Benchmark 4, planning: time to plan a 1,000,000-visit day (no Kafka), in one process.

    python bench/planning.py [VISITS] [REPEATS]

"Plan" = plan_day + generating every visit (StoreDayPlan.visits, the stream the producer
consumes). Prints wall and CPU seconds of each repeat.
"""

from __future__ import annotations

import sys
import time

from common import DAY, SEED, emit


def main() -> None:
    visits = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    from foot_traffic.model.profile import load_profile
    from foot_traffic.plan.implicit import plan_day

    profile = load_profile(None)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        plan = plan_day(DAY, profile, seed=SEED, baseline=1000, fixed_total=visits)
        count = 0
        for _visit in plan.visits():
            count += 1
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        assert count == visits
    emit({"visits": visits, "wall_s": walls, "cpu_s": cpus})


if __name__ == "__main__":
    main()
