"""``foot-traffic``: the original standalone producer, as a command.

    foot-traffic produce                 # day after day, from now (like the original)
    foot-traffic produce --date 2025-11-07 [--days N]
    foot-traffic preview [--date 2025-11-07]

Settings come from the original environment variables (see README). Exit codes: 0 on
success or a clean stop (SIGTERM/SIGINT), 1 when delivery failed, 2 on invalid settings,
3 when a newer run of one of the days took it over (fenced: this run stopped, the newer
one continues the day; nothing was sent twice).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import date

from foot_traffic.build import build_runner
from foot_traffic.ownership import describe_owner, describe_run
from foot_traffic.pacing import SystemClock
from foot_traffic.plan import plan_from_settings, today
from foot_traffic.profile import Profile, ProfileError, load_profile
from foot_traffic.publisher import Fenced, PublishError
from foot_traffic.resume import PlanMismatch
from foot_traffic.runner import days_from
from foot_traffic.settings import Settings, SettingsError

log = logging.getLogger("foot_traffic")

EXIT_OK, EXIT_DELIVERY, EXIT_SETTINGS, EXIT_FENCED = 0, 1, 2, 3


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foot-traffic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"), help="default: INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    produce = sub.add_parser("produce", help="stream foot traffic to Kafka")
    produce.add_argument("--date", type=_day, help="play this whole day (YYYY-MM-DD, UTC) and exit")
    produce.add_argument("--days", type=_positive, help="play this many days (from --date, or today)")
    produce.add_argument(
        "--from-midnight",
        action="store_true",
        help="start the simulated clock at the first day's midnight instead of now "
        "(with TIME_SCALE=1440 a whole day plays in a minute)",
    )
    produce.add_argument("--summary-json", help="also write the per-day summaries to this file")
    preview = sub.add_parser("preview", help="show a day's plan without Kafka")
    preview.add_argument("--date", type=_day, help="the day to plan (default: today, UTC)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings; command-line flags win."""
    flags = {"from_midnight": True} if getattr(args, "from_midnight", False) else {}
    return Settings.from_sources(os.environ, overrides=flags)


def cmd_preview(settings: Settings, profile: Profile, args: argparse.Namespace) -> int:
    day = args.date or today(SystemClock().now())
    plan = plan_from_settings(day, settings, profile)
    seeded = "" if settings.seed is not None else "  (SEED unset: a random plan; set SEED to reproduce it)"
    print(f"{day} ({plan.weekday}): {plan.total} visits, seed {plan.seed}, profile {profile.name}{seeded}")
    widest = max(plan.slot_counts) or 1
    for slot, count in zip(profile.slots, plan.slot_counts):
        print(f"  {slot.label}  {count:7d}  {'█' * round(40 * count / widest)}")
    return EXIT_OK


def cmd_produce(settings: Settings, profile: Profile, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum, _frame):
        if not stop.is_set():
            log.warning("%s received: no new events; flushing what was sent, then exiting", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    clock = SystemClock()
    first = args.date or today(clock.now())
    count = args.days if args.days else (1 if args.date else None)
    command = "foot-traffic produce" + (f" --date {args.date}" if args.date else "")
    runner = build_runner(settings, first, stop=stop, profile=profile, clock=clock, owner=describe_run(command))
    log.info(
        "foot-traffic produce: %s, TIME_SCALE=%g, topics %s and %s",
        f"{count} day(s) from {first}" if count else f"continuously from {first}",
        settings.time_scale, settings.kafka_topic, settings.kafka_topic_realistic,
    )
    summaries = runner.run(days_from(first, count), first_from_now=args.date is None and not settings.from_midnight)
    result = [s.as_dict() for s in summaries]
    for s in summaries:
        log.info("summary %s", json.dumps(s.as_dict(), ensure_ascii=False))
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=2)
    if runner.fenced is not None:
        log.error(
            "fenced: %s now writes %s; this run stopped (what it committed stays, once)",
            describe_owner(runner.fenced.by), runner.fenced.day,
        )
        return EXIT_FENCED
    if stop.is_set():
        log.info("stopped cleanly: every record sent was acknowledged")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        settings = settings_from(args)
        profile = load_profile(settings.profile_file)
    except SettingsError as exc:
        print(f"foot-traffic: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    except ProfileError as exc:
        print(f"foot-traffic: invalid settings:\n  - FOOT_TRAFFIC_PROFILE: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    try:
        if args.command == "preview":
            return cmd_preview(settings, profile, args)
        return cmd_produce(settings, profile, args)
    except Fenced as exc:
        log.error("fenced: %s", exc)
        return EXIT_FENCED
    except (PublishError, PlanMismatch) as exc:
        log.error("%s: %s", "delivery failed" if isinstance(exc, PublishError) else "cannot produce", exc)
        return EXIT_DELIVERY
    except InterruptedError:
        log.info("stopped before anything was sent")
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
