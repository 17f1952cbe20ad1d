"""``make soak``: as many randomized fault schedules as it is given time or count for.

    python -m tests.faults.harness.soak --minutes 60 [--seed 1000] [--ledger .data/soak.jsonl]
    python -m tests.faults.harness.soak --schedules 200
    python -m tests.faults.harness.soak --replay 4711          # one schedule again, kept on disk
    python -m tests.faults.harness.soak --replay 20261213 --bounded   # one of make test's bounded set

Seeds run in order from ``--seed``; each schedule's outcome is a line of the ledger; a
failing schedule's JSON is written next to the ledger (``failing-<seed>.json``): copy it
into tests/faults/regressions/ under a name that says what broke, and it becomes a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.harness import ledger
from tests.faults.harness.execute import run_schedule
from tests.faults.harness.schedule import draw

BOUNDED_PHASES, BOUNDED_SCALE = 3, 0.35  # make test's bounded set (test_randomized.py)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="stop starting schedules after this long")
    parser.add_argument("--schedules", type=int, default=None, help="run this many schedules")
    parser.add_argument("--seed", type=int, default=1000, help="first seed (the next ones follow)")
    parser.add_argument("--ledger", type=Path, default=Path(".data/soak-ledger.jsonl"))
    parser.add_argument("--replay", type=int, default=None, help="run only this seed, keep its files, print its logs' place")
    parser.add_argument("--client", choices=("kafka-python", "confluent"), default=None, help="only this client")
    parser.add_argument("--bounded", action="store_true",
                        help="draw as make test's bounded set does (smaller days, at most 3 phases)")
    args = parser.parse_args(argv)
    clients = (args.client,) if args.client else ("kafka-python", "confluent")
    if args.replay is not None:
        shape = {"max_phases": BOUNDED_PHASES, "scale": BOUNDED_SCALE} if args.bounded else {}
        schedule = draw(args.replay, clients=clients, **shape)
        print(schedule.describe(), flush=True)
        work = Path(tempfile.mkdtemp(prefix=f"replay-{args.replay}-"))
        outcome = run_schedule(schedule, work, keep=True)
        print(json.dumps(outcome.as_dict(), indent=1))
        print(f"files: {work}")
        return 0 if outcome.ok else 1
    if args.minutes is None and args.schedules is None:
        args.minutes = 30.0
    deadline = time.monotonic() + 60 * args.minutes if args.minutes is not None else float("inf")
    count = args.schedules if args.schedules is not None else 10**9
    failures = 0
    seed = args.seed
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        for n in range(count):
            if time.monotonic() >= deadline:
                break
            schedule = draw(seed, clients=clients)
            outcome = run_schedule(schedule, Path(tmp) / str(seed))
            ledger.append(args.ledger, outcome)
            status = "ok" if outcome.ok else "FAILED"
            print(f"[{n + 1}] {status} {outcome.seconds:5.1f}s {outcome.records_checked:7d} records  {outcome.description}",
                  flush=True)
            if not outcome.ok:
                failures += 1
                (args.ledger.parent / f"failing-{seed}.json").write_text(schedule.to_json())
                kept = args.ledger.parent / f"failing-{seed}"
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(Path(tmp) / str(seed), kept, ignore=shutil.ignore_patterns("broker"),
                                dirs_exist_ok=True)  # the runs' logs and summaries, for the post-mortem
                for failure in outcome.failures:
                    print("    " + failure[:600], flush=True)
            seed += 1
    print(json.dumps(ledger.summarize(ledger.read(args.ledger)), indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
