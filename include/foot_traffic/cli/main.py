"""``foot-traffic``: the original standalone producer, as a command.

Settings come from the original environment variables (see the README); flags choose
what to play and how much to say. Exit codes (``foot_traffic.cli.exits``): 0 the days are
done; 1 Kafka could not be reached (produce: ``MAX_RETRIES`` attempts at the start,
``RETRY_BACKOFF_SECONDS`` apart) or did not take the records (outages mid-stream are
healed in-process first; validate: the day fails a check or cannot be read); 2 invalid
settings (fit: bad input); 3 fenced (a newer run of one of the days took it over: this
run stopped, the newer one continues the day; nothing was sent twice); 130 stopped by
Ctrl-C (SIGINT) and 143 by SIGTERM, both after a graceful stop (what was sent is
flushed, the summary printed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date

from foot_traffic import __version__
from foot_traffic.build import load_stores
from foot_traffic.cli.days import cmd_preview, cmd_preview_chain, cmd_validate
from foot_traffic.cli.exits import EXIT_CODES_TEXT
from foot_traffic.cli.fit import add_fit_parser, cmd_fit
from foot_traffic.cli.produce import cmd_produce
from foot_traffic.cli.schema import add_schema_parser, cmd_schema
from foot_traffic.delivery.errors import PlanMismatch, PublishError
from foot_traffic.model.profile import ProfileError, load_profile
from foot_traffic.plan.stores import CatalogueError
from foot_traffic.run.outcome import EXIT_DELIVERY, Outcome, invalid_input
from foot_traffic.settings import Settings, SettingsError

log = logging.getLogger("foot_traffic")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

DESCRIPTION = "Simulated retail-store foot traffic streamed to Kafka: the original standalone producer."
EPILOG = """\
Settings are the original environment variables (KAFKA_BROKER, KAFKA_TOPIC, SEED,
DAILY_CUSTOMERS, TIME_SCALE, ...; see the README). No broker yet? `make broker` (in a
clone of the repository) starts one on 127.0.0.1:19092: KAFKA_BROKER=127.0.0.1:19092.

""" + EXIT_CODES_TEXT.replace("exit codes:", "exit codes of produce:") + """
  validate: 0 every check passes, 1 a check fails or the day cannot be read, 2 invalid settings
  fit: 0 the profile was written, 2 bad input

examples:
  KAFKA_BROKER=127.0.0.1:19092 foot-traffic produce      day after day, from now
  SEED=7 foot-traffic produce --date 2025-11-07         one past day, at full speed
  foot-traffic produce --date 2025-01-01 --days 30      a month's backfill, with progress
  foot-traffic preview --date 2025-11-07                a day's plan, without Kafka
  foot-traffic produce --stores chain.yaml --date 2026-11-27
                                                        a chain of stores, each its own local day
  foot-traffic fit counts.csv --out store.yaml          a store profile fitted from its door counts
  foot-traffic schema foot_traffic                      the session records' JSON Schema
"""
PRODUCE_EPILOG = """\
Kafka: KAFKA_BROKER (default kafka:9092); `make broker` (in a clone of the repository)
starts a local one on 127.0.0.1:19092. Without a broker the command tries MAX_RETRIES
times (6), RETRY_BACKOFF_SECONDS apart (5 s), then exits 1 saying what it found.
Ctrl-C (SIGINT) or SIGTERM stop it gracefully: what was sent is flushed, the summary
printed, and a restart with the same settings sends exactly the rest.

""" + EXIT_CODES_TEXT + """

examples:
  foot-traffic produce                                  stream from now on, day after day (like the original)
  SEED=7 DAILY_CUSTOMERS=500 foot-traffic produce --date 2025-11-07
                                                        one past day at full speed, then exit
  foot-traffic produce --date 2025-01-01 --days 30      a month's backfill: progress bar, then a table
  TIME_SCALE=1440 foot-traffic produce --date 2025-11-07 --from-midnight
                                                        a day paced from its midnight: about a minute
  foot-traffic produce --date 2025-11-07 --json | jq '.days[0].records_sent'
                                                        the summary as JSON for scripts
  foot-traffic produce --stores chain.yaml --date 2026-11-27
                                                        every store of a chain plays its local day
"""
VALIDATE_EPILOG = """\
examples:
  FOOT_TRAFFIC_PROFILE=retail foot-traffic validate --date 2026-11-28 --chart day.png
                                                        check a produced day and draw it
  foot-traffic validate --stores chain.yaml --date 2026-11-27
                                                        every store's local day (one chart per store)
  foot-traffic validate --date 2026-11-28 --json | jq '.checks'
                                                        the report as JSON for scripts
"""
PREVIEW_EPILOG = """\
examples:
  foot-traffic preview                                  today's plan (UTC)
  SEED=7 foot-traffic preview --date 2025-11-07         a reproducible day's plan per slot
  foot-traffic preview --stores chain.yaml              each store's plan for its local day
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
    sub = parser.add_subparsers(dest="command", required=True, metavar="{produce,preview,validate,fit,schema}")
    produce = sub.add_parser(
        "produce", help="stream foot traffic to Kafka", description="Stream foot traffic to Kafka.",
        epilog=PRODUCE_EPILOG, formatter_class=raw,
    )
    _verbosity(produce, argparse.SUPPRESS)
    produce.add_argument(
        "--date", type=_day, help="play this whole day (YYYY-MM-DD; UTC, or each store's local day) and exit"
    )
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
    for command in (produce, preview):  # validate has its own --stores below
        command.add_argument(
            "--stores",
            metavar="PATH",
            help="store catalogue (YAML/JSON, overrides STORES_FILE): play every store's local day",
        )
    check = sub.add_parser(
        "validate",
        help="read a day back from both topics and test it against its plan and model",
        description="Reads both topics back and checks the day: the records are exactly the plan (and the "
        "sensor model), and the arrivals, trips, parties and sensor flaws follow the model (chi-squared, "
        "Kolmogorov-Smirnov, binomial tests at family-wise level 1 %). Prints a table; exit 0 when every "
        "check passes, 1 otherwise. Uses the same settings (environment) as produce.",
        epilog=VALIDATE_EPILOG, formatter_class=raw,
    )
    _verbosity(check, argparse.SUPPRESS)
    check.add_argument("--date", type=_day, help="the day to check (default: today, UTC)")
    check.add_argument("--chart", metavar="PNG", help="also draw the day into this PNG file")
    check.add_argument(
        "--json", action="store_true", help="print the report as one JSON document on standard output (only that)"
    )
    check.add_argument("--json-file", metavar="FILE", help="also write the report as JSON to FILE")
    check.add_argument(
        "--stores",
        metavar="PATH",
        help="store catalogue (YAML/JSON, overrides STORES_FILE): check every store's local day "
        "(--chart then draws one file per store, NAME-<store>.png)",
    )
    add_fit_parser(sub, raw, _verbosity, _positive)
    add_schema_parser(sub, raw)
    return parser


def _verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    """-v/-q/--log-level, before or after the subcommand (the subcommand's wins)."""
    talk = parser.add_argument_group("output").add_mutually_exclusive_group()
    flag = {} if default is None else {"default": default}
    talk.add_argument("-v", "--verbose", action="store_true", help="more detail: per-slot lines, DEBUG logs", **flag)
    talk.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only; no progress display (produce still prints its summary)", **flag)
    talk.add_argument(
        "--log-level", metavar="LEVEL", **flag,
        help="DEBUG, INFO (default, or LOG_LEVEL), WARNING, ERROR or CRITICAL",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings; command-line flags win."""
    flags: dict = {"from_midnight": True} if getattr(args, "from_midnight", False) else {}
    if getattr(args, "stores", None) is not None:
        flags["STORES_FILE"] = args.stores
    try:
        return Settings.from_sources(os.environ, overrides=flags)
    except SettingsError as exc:
        if "STORES_FILE" in flags:
            raise SettingsError([p.replace("STORES_FILE=", "--stores=", 1) for p in exc.problems]) from None
        raise


def log_level(args: argparse.Namespace) -> int:
    """The level -v/-q/--log-level (or LOG_LEVEL) ask for; ``SettingsError`` for an unknown name."""
    if args.verbose:
        return logging.DEBUG
    if args.quiet:
        return logging.WARNING
    name, source = (args.log_level, "--log-level") if args.log_level else (os.environ.get("LOG_LEVEL"), "LOG_LEVEL")
    if not name or not name.strip():
        return logging.INFO
    if name.strip().upper() not in LOG_LEVELS:
        raise SettingsError([f"{source}={name!r}: not a log level; expected one of {', '.join(LOG_LEVELS)}"])
    return getattr(logging, name.strip().upper())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        level = log_level(args)
    except SettingsError as exc:
        return _refused(invalid_input(exc))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    if args.command == "fit":  # reads a file of counts: no producer settings involved
        return cmd_fit(args)
    if args.command == "schema":  # topic names only: no profile, catalogue or broker involved
        return cmd_schema(args)
    try:
        settings = settings_from(args)
        catalogue = load_stores(settings) if settings.stores_file is not None else None
        profile = load_profile(None if catalogue is not None else settings.profile_file)
    except (SettingsError, ProfileError, CatalogueError) as exc:
        return _refused(invalid_input(exc))
    if args.command == "preview":
        if catalogue is not None:
            return cmd_preview_chain(settings, catalogue, args)
        return cmd_preview(settings, profile, args)
    if args.command == "validate":
        try:
            return cmd_validate(settings, profile, args, catalogue)
        except (PublishError, PlanMismatch) as exc:
            log.error("cannot read the day back: %s", exc)
            return EXIT_DELIVERY
    return cmd_produce(settings, profile, args, catalogue)


def _refused(outcome: Outcome) -> int:
    print(f"foot-traffic: {outcome.text}", file=sys.stderr)
    return outcome.exit_code()


if __name__ == "__main__":
    sys.exit(main())
