"""``foot-traffic preview`` and ``validate``: a day's plan without Kafka, and a produced day
read back and tested against its plan and model."""

from __future__ import annotations

import argparse
import json
import sys

from foot_traffic.build import first_day
from foot_traffic.model.profile import Profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.localday import local_date, today
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import Catalogue
from foot_traffic.run.outcome import EXIT_DELIVERY, EXIT_OK
from foot_traffic.run.pacing import SystemClock
from foot_traffic.settings import Settings


def cmd_preview_chain(settings: Settings, catalogue: Catalogue, args: argparse.Namespace) -> int:
    from foot_traffic.plan.seeds import random_seed

    now = SystemClock().now().timestamp()
    seed = settings.seed if settings.seed is not None else random_seed()
    seeded = "" if settings.seed is not None else "  (SEED unset: a random plan; set SEED to reproduce it)"
    first = args.date or first_day(catalogue, now)
    print(f"{catalogue.source}: {len(catalogue)} stores, local day {first}, seed {seed}{seeded}")
    total = 0
    for store in catalogue:
        day = args.date or local_date(now, store.tz)
        plan = plan_store_day(store, day, settings, seed)
        total += plan.total
        hours = store.hours_text(day)
        print(f"  {store.id:<24} {store.timezone:<22} {day} {plan.weekday[:3]}  {hours:<26} {plan.total:7d} visits")
        if plan.closed:
            continue
        counts: dict[str, int] = {}
        for label, count in zip(plan.labels, plan.slot_counts):
            counts[label] = counts.get(label, 0) + count
        print("      " + "  ".join(f"{label} {count}" for label, count in counts.items()))
    print(f"  {'all stores':<24} {'':<22} {'':<10} {'':<4} {'':<26} {total:7d} visits")
    return EXIT_OK


def cmd_preview(settings: Settings, profile: Profile, args: argparse.Namespace) -> int:
    day = args.date or today(SystemClock().now())
    plan = plan_store_day(implicit_store(settings, profile), day, settings)
    seeded = "" if settings.seed is not None else "  (SEED unset: a random plan; set SEED to reproduce it)"
    print(f"{day} ({plan.weekday}): {plan.total} visits, seed {plan.seed}, profile {profile.name}{seeded}")
    widest = max(plan.slot_counts) or 1
    for slot, count in zip(profile.slots, plan.slot_counts):
        print(f"  {slot.label}  {count:7d}  {'█' * round(40 * count / widest)}")
    return EXIT_OK


def cmd_validate(settings: Settings, profile: Profile, args: argparse.Namespace, catalogue: Catalogue | None) -> int:
    from foot_traffic.analysis.validate import read_and_validate
    from foot_traffic.delivery.options import KafkaOptions

    day = args.date or today(SystemClock().now())
    reports = read_and_validate(settings, profile, day, KafkaOptions.from_settings(settings), catalogue=catalogue)
    document = [r.as_dict() for r in reports] if catalogue is not None else reports[0].as_dict()
    # With --json, standard output holds the JSON document and nothing else.
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    for report in reports:
        say(report.table())
        say()
    if len(reports) > 1:
        failed = [r.store for r in reports if not r.passed]
        say(f"{len(reports) - len(failed)} of {len(reports)} store-days pass" + (f"; failed: {', '.join(failed)}" if failed else ""))
    if args.json:
        json.dump(document, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    if args.json_file:
        with open(args.json_file, "w", encoding="utf-8") as fh:
            json.dump(document, fh, ensure_ascii=False, indent=2)
    if args.chart:
        from foot_traffic.analysis.charts import day_chart

        for report in reports:
            if report.data is None or not report.data.customers:
                continue
            path = args.chart
            if report.store:
                stem, dot, ext = args.chart.rpartition(".")
                path = f"{stem}-{report.store}.{ext}" if dot else f"{args.chart}-{report.store}"
            day_chart(report.data, path)
            say(f"chart: {path}")
    return EXIT_OK if all(r.passed for r in reports) else EXIT_DELIVERY
