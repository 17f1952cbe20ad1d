"""``foot-traffic``: the original standalone producer, as a command.

Settings come from the original environment variables (see the README); flags choose
what to play and how much to say. Exit codes: 0 on success or a clean stop
(SIGTERM/SIGINT), 1 when delivery failed, 2 on invalid settings.
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

from foot_traffic import __version__
from foot_traffic.build import build_runner
from foot_traffic.pacing import SystemClock
from foot_traffic.plan import plan_from_settings, today
from foot_traffic.profile import Profile, ProfileError, load_profile
from foot_traffic.publisher import PublishError
from foot_traffic.resume import PlanMismatch
from foot_traffic.runner import days_from
from foot_traffic.settings import Settings, SettingsError

log = logging.getLogger("foot_traffic")

EXIT_OK, EXIT_DELIVERY, EXIT_SETTINGS = 0, 1, 2

DESCRIPTION = "Simulated retail-store foot traffic streamed to Kafka: the original standalone producer."
EPILOG = """\
Settings are the original environment variables (KAFKA_BROKER, KAFKA_TOPIC, SEED,
DAILY_CUSTOMERS, TIME_SCALE, ...; see the README). Exit codes: 0 success or clean stop,
1 delivery failed, 2 invalid settings.

examples:
  foot-traffic produce                                  day after day, from now
  SEED=7 foot-traffic produce --date 2025-11-07         one past day, at full speed
  foot-traffic produce --date 2025-01-01 --days 30      a month's backfill, with progress
  foot-traffic preview --date 2025-11-07                a day's plan, without Kafka
"""
PRODUCE_EPILOG = """\
examples:
  foot-traffic produce                                  stream from now on, day after day (like the original)
  SEED=7 DAILY_CUSTOMERS=500 foot-traffic produce --date 2025-11-07
                                                        one past day at full speed, then exit
  foot-traffic produce --date 2025-01-01 --days 30      a month's backfill: progress bar, then a table
  TIME_SCALE=1440 foot-traffic produce --date 2025-11-07 --from-midnight
                                                        a day paced from its midnight: about a minute
  foot-traffic produce --date 2025-11-07 --json | jq '.days[0].records_sent'
                                                        the summary as JSON for scripts
"""
PREVIEW_EPILOG = """\
examples:
  foot-traffic preview                                  today's plan (UTC)
  SEED=7 foot-traffic preview --date 2025-11-07         a reproducible day's plan per slot
"""


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
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="foot-traffic", description=DESCRIPTION, epilog=EPILOG, formatter_class=raw)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _verbosity(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{produce,preview}")
    produce = sub.add_parser(
        "produce", help="stream foot traffic to Kafka", description="Stream foot traffic to Kafka.",
        epilog=PRODUCE_EPILOG, formatter_class=raw,
    )
    _verbosity(produce, argparse.SUPPRESS)
    produce.add_argument("--date", type=_day, help="play this whole day (YYYY-MM-DD, UTC) and exit")
    produce.add_argument("--days", type=_positive, help="play this many days (from --date, or today)")
    produce.add_argument(
        "--from-midnight",
        action="store_true",
        help="start the simulated clock at the first day's midnight instead of now "
        "(with TIME_SCALE=1440 a whole day plays in a minute)",
    )
    produce.add_argument(
        "--json", action="store_true", help="print the summary as one JSON document on standard output (only that)"
    )
    produce.add_argument("--summary-json", metavar="FILE", help="also write the per-day summaries to FILE")
    preview = sub.add_parser(
        "preview", help="show a day's plan without Kafka", description="Show a day's plan without Kafka.",
        epilog=PREVIEW_EPILOG, formatter_class=raw,
    )
    _verbosity(preview, argparse.SUPPRESS)
    preview.add_argument("--date", type=_day, help="the day to plan (default: today, UTC)")
    return parser


def _verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    """-v/-q/--log-level, before or after the subcommand (the subcommand's wins)."""
    talk = parser.add_argument_group("output").add_mutually_exclusive_group()
    flag = {} if default is None else {"default": default}
    talk.add_argument("-v", "--verbose", action="store_true", help="more detail: per-slot lines, DEBUG logs", **flag)
    talk.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only; no progress display", **flag)
    talk.add_argument(
        "--log-level", default=default if default is not None else os.environ.get("LOG_LEVEL"),
        help="DEBUG, INFO (default, or LOG_LEVEL), WARNING, ERROR",
    )


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
    backfill = count is not None and count > 1
    progress, progress_every = None, None
    if sys.stderr.isatty() and not args.quiet:
        from foot_traffic.terminal import TerminalProgress

        paced = count is None or settings.from_midnight
        progress, progress_every = TerminalProgress(sys.stderr, paced=paced), 0.25
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(progress.log_handler())
    runner = build_runner(
        settings, first, stop=stop, profile=profile, clock=clock, progress=progress, progress_every=progress_every,
        detail_level=logging.DEBUG if backfill else logging.INFO,
    )
    log.info(
        "foot-traffic produce: %s, TIME_SCALE=%g, topics %s and %s",
        f"{count} day(s) from {first}" if count else f"continuously from {first}",
        settings.time_scale, settings.kafka_topic, settings.kafka_topic_realistic,
    )
    summaries = runner.run(
        days_from(first, count), first_from_now=args.date is None and not settings.from_midnight, days_total=count
    )
    result = [s.as_dict() for s in summaries]
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=2)
    if args.json:
        json.dump({"days": result}, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    elif not args.quiet:
        from foot_traffic.terminal import summary_table

        summary_table(result, sys.stdout)
    if stop.is_set():
        log.info("stopped cleanly: every record sent was acknowledged")
    return EXIT_OK


def log_level(args: argparse.Namespace) -> int:
    if args.verbose:
        return logging.DEBUG
    if args.quiet:
        return logging.WARNING
    return getattr(logging, str(args.log_level or "INFO").upper(), logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=log_level(args), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
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
    except (PublishError, PlanMismatch) as exc:
        log.error("%s: %s", "delivery failed" if isinstance(exc, PublishError) else "cannot produce", exc)
        return EXIT_DELIVERY
    except InterruptedError:
        log.info("stopped before anything was sent")
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
