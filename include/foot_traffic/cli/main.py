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
import json
import logging
import math
import os
import sys
from datetime import date

from foot_traffic import __version__
from foot_traffic.cli.exits import EXIT_CODES_TEXT, EXIT_DELIVERY, EXIT_FENCED, EXIT_OK, EXIT_SETTINGS
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.localday import local_date, today
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import Catalogue, CatalogueError, load_catalogue
from foot_traffic.run.pacing import SystemClock
from foot_traffic.cli.schema import add_schema_parser, cmd_schema
from foot_traffic.cli.produce import chain_first_day, cmd_produce
from foot_traffic.model.profile import Profile, ProfileError, load_profile
from foot_traffic.delivery.errors import BrokerUnavailable, Fenced, PlanMismatch, PublishError
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


FIT_EPILOG = """\
COUNTS is a CSV file with a header: a timestamp column (timestamp, time, datetime ...)
and in/out count columns (in, entries ... / out, exits ...), one row per bin; or the UCI
CalIt2 format (flow,MM/DD/YY,HH:MM:SS,count; flow 9 = in, 7 = out), recognised by itself.
The profile is checked with the producer's own loader before it is written; the command
prints the fit's quality and a round trip (simulated weeks from the written profile
against the counts). Exit codes: 0 written, 2 bad input (the message names the problem).

examples:
  foot-traffic fit counts.csv --out store.yaml          15-minute or hourly counts, bins inferred
  foot-traffic fit counts.csv --out store.yaml --timezone Europe/Berlin --exclude-days 2025-12-24,2025-12-26
  foot-traffic fit examples/door-counts.csv --out my-store.yaml --chart fit.png
                                                        the repository's example counts (docs/fit.md)
  foot-traffic fit CalIt2.data --out calit2.yaml --exclude-days CalIt2.events
                                                        leave out the days of a list (first field a date)
  FOOT_TRAFFIC_PROFILE=calit2.yaml BASE_DAILY_CUSTOMERS=184 foot-traffic produce --date 2025-11-07
                                                        play a day of the fitted store
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
    _fit_parser(sub, raw)
    add_schema_parser(sub, raw)
    return parser


def _fit_parser(sub, raw) -> None:
    fit = sub.add_parser(
        "fit", help="fit a store profile from its own door counts",
        description="Fit a store profile (weekday totals, intraday curves, day-to-day variation, dwell) "
        "from a file of door counts, and write it in the curve-profile format FOOT_TRAFFIC_PROFILE reads.",
        epilog=FIT_EPILOG, formatter_class=raw,
    )
    _verbosity(fit, argparse.SUPPRESS)
    fit.add_argument("counts", metavar="COUNTS", help="the door counts (CSV, or CalIt2 format)")
    fit.add_argument("--out", required=True, metavar="PROFILE.yaml", help="where to write the profile")
    fit.add_argument("--format", choices=("auto", "csv", "calit2"), default="auto",
                     help="the file's format (default: auto, CalIt2 recognised by its first line)")
    fit.add_argument("--timezone", metavar="TZ",
                     help="the store's IANA zone (Europe/Berlin): naive timestamps are its local time (a DST "
                     "change is then no gap), aware ones are converted to it")
    fit.add_argument("--bin-minutes", type=_positive, metavar="N", help="bin width in minutes (default: inferred)")
    fit.add_argument("--bin-label", choices=("start", "end"),
                     help="whether a timestamp starts or ends its bin (CSV default: start; CalIt2: end)")
    fit.add_argument("--exclude-days", metavar="FILE|LIST",
                     help="days to leave out (holidays, events): a file with a date first on each line "
                     "(YYYY-MM-DD or MM/DD/YY; CalIt2.events works) or a list 2025-12-24,2025-12-26")
    fit.add_argument("--keep-outliers", action="store_true",
                     help="keep days whose total is far from their weekday's (robust z > --outlier-z); "
                     "by default they are left out and listed")
    fit.add_argument("--outlier-z", type=float, default=4.0, metavar="Z", help="outlier threshold (default 4)")
    fit.add_argument("--min-days", type=_positive, default=4, metavar="N",
                     help="days a weekday needs for its own total and curve; fewer: its weekday/weekend "
                     "group's (default 4)")
    fit.add_argument("--name", help="the profile's name (default: the --out file's name)")
    fit.add_argument("--time-column", metavar="NAME", help="CSV: the timestamp column (default: found by name)")
    fit.add_argument("--in-column", metavar="NAME", help="CSV: the in-count column (default: found by name)")
    fit.add_argument("--out-column", metavar="NAME", help="CSV: the out-count column (default: found by name)")
    fit.add_argument("--time-format", metavar="FMT", help="CSV: strptime format of the timestamps (default: ISO 8601)")
    fit.add_argument("--chart", metavar="FILE.png", help="draw observed vs fitted (weekday totals, curves, occupancy)")
    fit.add_argument("--weeks", type=_positive, default=None, metavar="N",
                     help="simulated weeks of the round trip (default: up to 52, about 200,000 visits)")
    fit.add_argument("--json", action="store_true", help="print the fit's figures as one JSON document (only that)")


def cmd_fit(args: argparse.Namespace) -> int:
    """``foot-traffic fit``: read, fit, write (checked by the loader), round trip, report."""
    from pathlib import Path

    from foot_traffic.analysis.fit.counts import CountsError, parse_exclude
    from foot_traffic.analysis.fit.readers import read_counts
    from foot_traffic.analysis.fit.estimate import FitOptions, fit_counts
    from foot_traffic.analysis.fit.roundtrip import round_trip
    from foot_traffic.analysis.fit.writer import summary, write_profile

    out = Path(args.out)
    problems = []
    if out.suffix.lower() not in (".yaml", ".yml"):
        problems.append(f"--out {args.out}: must end in .yaml or .yml (the profile is YAML)")
    elif out.is_dir():
        problems.append(f"--out {args.out}: is a directory; give the profile's file name")
    elif not out.resolve().parent.is_dir():
        problems.append(f"--out {args.out}: the directory {out.resolve().parent} does not exist")
    if args.chart and Path(args.chart).suffix.lower() != ".png":
        problems.append(f"--chart {args.chart}: must end in .png")
    if not math.isfinite(args.outlier_z) or args.outlier_z <= 0:
        problems.append(f"--outlier-z {args.outlier_z}: must be a number > 0 (e.g. 4)")
    if args.name is not None and not args.name.strip():
        problems.append("--name: must not be empty")
    if problems:
        return _fit_error(problems)
    try:
        exclude = parse_exclude(args.exclude_days) if args.exclude_days else []
        counts = read_counts(
            args.counts, format=args.format, timezone=args.timezone, bin_minutes=args.bin_minutes,
            bin_label=args.bin_label, exclude=exclude, time_column=args.time_column, in_column=args.in_column,
            out_column=args.out_column, time_format=args.time_format,
        )
        options = FitOptions(min_days=args.min_days, outlier_z=args.outlier_z, keep_outliers=args.keep_outliers)
        fit = fit_counts(counts, options)
    except CountsError as exc:
        return _fit_error(exc.problems)
    try:
        profile = write_profile(fit, out, args.name)
    except OSError as exc:
        return _fit_error([f"--out {args.out}: cannot be written ({exc.strerror or exc})"])
    weeks = args.weeks or max(4, min(52, round(200_000 / max(1.0, 7 * fit.level))))
    trip = round_trip(fit, profile, weeks=weeks)
    chart = None
    if args.chart:
        from foot_traffic.analysis.fit.chart import draw

        try:
            chart = draw(fit, args.chart, trip)
        except ImportError:
            return _fit_error([f"--chart {args.chart}: needs matplotlib (pip install 'foot-traffic-producer[validate]'); "
                               f"the profile was written to {out}"])
        except OSError as exc:
            return _fit_error([f"--chart {args.chart}: cannot be written ({exc.strerror or exc})"])
    log.debug("fit: %d days used, hourly shares MAE %.2f pp; profile written to %s", len(fit.days_used), fit.hourly_mae_pp, out)
    if args.json:
        doc = summary(fit)
        doc["profile"] = str(out)
        doc["chart"] = str(chart) if chart else None
        doc["round_trip"] = {
            "weeks": trip.weeks, "visits": trip.visits, "seed": trip.seed, "baseline": trip.baseline,
            "weekday_index": {w: {"observed": round(o, 4), "generated": round(g, 4), "error": round(trip.index_error(w), 4)}
                              for w, (o, g) in trip.weekday_index.items()},
            "hourly": {k: {"mae_pp": round(c.mae_pp, 3), "max_pp": round(c.max_pp, 3), "thin": c.thin}
                       for k, c in trip.curves.items()},
            "variation_cv": {g: {"fitted": round(o, 4), "generated": round(gen, 4)} for g, (o, gen) in trip.variation.items()},
            "dwell_mean_minutes": {g: {"fitted": round(o, 2), "generated": round(gen, 2), "z": round(trip.dwell_z(g), 2)}
                                   for g, (o, gen, _) in trip.dwell_mean.items()},
            "occupancy_mae_pct_of_peak": {g: round(trip.occupancy_mae_pct(g), 2) for g in trip.occupancy},
            "failures": trip.failures(),
        }
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif not args.quiet:
        from foot_traffic.analysis.fit.report import print_report

        print_report(fit, out, sys.stdout, trip, chart)
    for line in trip.failures():
        log.warning("round trip outside tolerance: %s", line)
    return EXIT_OK


def _fit_error(problems: list[str]) -> int:
    print("foot-traffic fit: cannot fit these counts:", file=sys.stderr)
    for line in problems:
        print(f"  - {line}" if not line.startswith("  ") else f"  {line}", file=sys.stderr)
    return EXIT_SETTINGS


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


def catalogue_of(settings: Settings) -> Catalogue | None:
    """The settings' store catalogue, validated (CatalogueError lists every problem)."""
    if settings.stores_file is None:
        return None
    catalogue = load_catalogue(settings.stores_file)
    ignored = [name for name, value in (
        ("DAILY_CUSTOMERS", settings.daily_customers),
        ("BASE_DAILY_CUSTOMERS", settings.base_daily_customers),
        ("FOOT_TRAFFIC_PROFILE", settings.profile_file),
    ) if value is not None]
    if ignored:
        log.warning(
            "%s: not used with a store catalogue (each store has its own base_daily_customers, "
            "daily_customers and profile)", ", ".join(ignored),
        )
    return catalogue


def cmd_preview_chain(settings: Settings, catalogue: Catalogue, args: argparse.Namespace) -> int:
    from foot_traffic.plan.seeds import random_seed

    now = SystemClock().now().timestamp()
    seed = settings.seed if settings.seed is not None else random_seed()
    seeded = "" if settings.seed is not None else "  (SEED unset: a random plan; set SEED to reproduce it)"
    first = args.date or chain_first_day(catalogue, now)
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        level = log_level(args)
    except SettingsError as exc:
        print(f"foot-traffic: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    if args.command == "fit":  # reads a file of counts: no producer settings involved
        return cmd_fit(args)
    if args.command == "schema":  # topic names only: no profile, catalogue or broker involved
        return cmd_schema(args)
    try:
        settings = settings_from(args)
        catalogue = catalogue_of(settings)
        profile = load_profile(None if catalogue is not None else settings.profile_file)
    except SettingsError as exc:
        print(f"foot-traffic: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    except ProfileError as exc:
        print(f"foot-traffic: invalid settings:\n  - FOOT_TRAFFIC_PROFILE: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    except CatalogueError as exc:
        print(f"foot-traffic: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    try:
        if args.command == "preview":
            if catalogue is not None:
                return cmd_preview_chain(settings, catalogue, args)
            return cmd_preview(settings, profile, args)
        if args.command == "validate":
            return cmd_validate(settings, profile, args, catalogue)
        return cmd_produce(settings, profile, args, catalogue)
    except Fenced as exc:
        log.error("fenced: %s", exc)
        return EXIT_FENCED
    except (PublishError, PlanMismatch) as exc:
        if args.command == "validate":
            log.error("cannot read the day back: %s", exc)
        else:
            what = "cannot produce" if isinstance(exc, PlanMismatch) else "delivery failed"
            log.error("%s: %s", "Kafka unavailable" if isinstance(exc, BrokerUnavailable) else what, exc)
        return EXIT_DELIVERY


if __name__ == "__main__":
    sys.exit(main())
