"""Write ``examples/door-counts.csv``: a door counter's export for the `foot-traffic fit` example.

    .venv/bin/python scripts/example_door_counts.py [--out examples/door-counts.csv]

The counts are made by this project, not measured: eight weeks (Monday 2026-01-05 to Sunday
2026-03-01) of the built-in ``retail`` profile's plans (SEED=42, 600 customers on an average
day, the default daily variation), counted the way a door counter reports them: per
30-minute bin, the entries (``in``) at each visit's entry time and the exits (``out``) at
its exit time, timestamps naive (the bin's start). Exits after the last midnight are left
out, as a counter export ending at that midnight would. The real door counts the docs
also fit (UCI CalIt2) are not in this repository: see docs/fit.md for where to get them.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from foot_traffic.plan.implicit import plan_day
from foot_traffic.model.profile import load_profile

FIRST, WEEKS, BIN_SECONDS = date(2026, 1, 5), 8, 1800
SEED, BASELINE, PROFILE = 42, 600, "retail"


def door_counts() -> str:
    """The CSV text: ``timestamp,in,out``, one row per bin of the eight weeks."""
    profile = load_profile(PROFILE)
    start = int(datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=UTC).timestamp())
    end = start + WEEKS * 7 * 86400
    ins: Counter[int] = Counter()
    outs: Counter[int] = Counter()
    for offset in range(WEEKS * 7):
        plan = plan_day(FIRST + timedelta(days=offset), profile, seed=SEED, baseline=BASELINE)
        for visit in plan.visits():
            ins[(visit.entry_ts - start) // BIN_SECONDS] += 1
            if visit.exit_ts < end:
                outs[(visit.exit_ts - start) // BIN_SECONDS] += 1
    lines = ["timestamp,in,out"]
    for index in range((end - start) // BIN_SECONDS):
        moment = datetime.fromtimestamp(start + index * BIN_SECONDS, UTC).strftime("%Y-%m-%dT%H:%M")
        lines.append(f"{moment},{ins[index]},{outs[index]}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "examples" / "door-counts.csv"))
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(door_counts(), encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main()
