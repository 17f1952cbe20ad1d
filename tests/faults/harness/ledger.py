"""The harness's ledger: one JSON line per schedule run, and a summary of many.

``python -m tests.faults.harness.ledger FILE`` prints the summary of a ledger file (the
figures BENCHMARKS.md and the guarantees page quote).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from tests.faults.harness.execute import Outcome


def append(path: Path, outcome: Outcome) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(outcome.as_dict(), sort_keys=True) + "\n")


def summarize(lines: list[dict]) -> dict:
    faults: Counter[str] = Counter()
    for line in lines:
        faults.update(line["faults"])
    return {
        "schedules": len(lines),
        "failures": sum(1 for line in lines if not line["ok"]),
        "failing_seeds": [line["seed"] for line in lines if not line["ok"]],
        "faults_by_kind": dict(sorted(faults.items())),
        "faults": sum(faults.values()),
        "data_losing_schedules": sum(1 for line in lines if line.get("data_losing")),
        "records_lost_to_broker": sum(line.get("lost_to_broker", 0) for line in lines),
        "broker_remedies": sum(line.get("broker_remedies", 0) for line in lines),
        "runs": sum(line["runs"] for line in lines),
        "records_checked": sum(line["records_checked"] for line in lines),
        "wall_seconds": round(sum(line["seconds"] for line in lines), 1),
        "chains": sum(1 for line in lines if "chain of" in line["description"]),
        "confluent": sum(1 for line in lines if ", confluent," in line["description"]),
    }


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    print(json.dumps(summarize(read(Path(sys.argv[1]))), indent=2))
