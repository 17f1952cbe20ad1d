"""Draw the docs' week chart (README and docs/index.md): a week's arrivals per hour of `retail` beside `seed`.

    .venv/bin/python scripts/readme_charts.py [--out docs/week-retail-vs-seed.png]

From the plans alone (the records a run sends are exactly these visits): SEED=42, an
average day of 1,000 customers with the default daily variation, Monday 2026-11-23 to
Sunday 2026-11-29, hours in UTC (no store catalogue). The day charts of the docs come
from the commands themselves (`foot-traffic validate --chart`, see docs/traffic-model.md).
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import date, timedelta

from foot_traffic.analysis.charts import week_chart
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import plan_day

FIRST = date(2026, 11, 23)


def hourly(profile_name: str) -> list[int]:
    profile = load_profile(profile_name)
    counts: list[int] = []
    for i in range(7):
        plan = plan_day(FIRST + timedelta(days=i), profile, seed=42, baseline=1000)
        day0 = int(plan.start.timestamp())
        per_hour = Counter((v.entry_ts - day0) // 3600 for v in plan.visits())
        counts += [per_hour.get(h, 0) for h in range(24)]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/week-retail-vs-seed.png")
    args = parser.parse_args()
    series = {name: hourly(name) for name in ("seed", "retail")}
    labelled = {
        f"seed: six flat slots ({sum(series['seed'])} customers)": series["seed"],
        f"retail: smooth curves, weekend peak, parties ({sum(series['retail'])} customers)": series["retail"],
    }
    week_chart(labelled, FIRST, args.out, "Customers entering per hour, one week (SEED=42, 1,000 on an average day, UTC)")
    print(args.out)


if __name__ == "__main__":
    main()
