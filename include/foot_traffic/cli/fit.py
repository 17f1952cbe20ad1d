"""``foot-traffic fit``: a store profile fitted from its own door counts, written in the
curve-profile format ``FOOT_TRAFFIC_PROFILE`` reads, checked by the loader and by a round
trip (simulated weeks from the written profile against the counts)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys

from foot_traffic.run.outcome import EXIT_OK, EXIT_SETTINGS

log = logging.getLogger("foot_traffic")

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


def add_fit_parser(sub, raw, verbosity, positive) -> None:
    fit = sub.add_parser(
        "fit", help="fit a store profile from its own door counts",
        description="Fit a store profile (weekday totals, intraday curves, day-to-day variation, dwell) "
        "from a file of door counts, and write it in the curve-profile format FOOT_TRAFFIC_PROFILE reads.",
        epilog=FIT_EPILOG, formatter_class=raw,
    )
    verbosity(fit, argparse.SUPPRESS)
    fit.add_argument("counts", metavar="COUNTS", help="the door counts (CSV, or CalIt2 format)")
    fit.add_argument("--out", required=True, metavar="PROFILE.yaml", help="where to write the profile")
    fit.add_argument("--format", choices=("auto", "csv", "calit2"), default="auto",
                     help="the file's format (default: auto, CalIt2 recognised by its first line)")
    fit.add_argument("--timezone", metavar="TZ",
                     help="the store's IANA zone (Europe/Berlin): naive timestamps are its local time (a DST "
                     "change is then no gap), aware ones are converted to it")
    fit.add_argument("--bin-minutes", type=positive, metavar="N", help="bin width in minutes (default: inferred)")
    fit.add_argument("--bin-label", choices=("start", "end"),
                     help="whether a timestamp starts or ends its bin (CSV default: start; CalIt2: end)")
    fit.add_argument("--exclude-days", metavar="FILE|LIST",
                     help="days to leave out (holidays, events): a file with a date first on each line "
                     "(YYYY-MM-DD or MM/DD/YY; CalIt2.events works) or a list 2025-12-24,2025-12-26")
    fit.add_argument("--keep-outliers", action="store_true",
                     help="keep days whose total is far from their weekday's (robust z > --outlier-z); "
                     "by default they are left out and listed")
    fit.add_argument("--outlier-z", type=float, default=4.0, metavar="Z", help="outlier threshold (default 4)")
    fit.add_argument("--min-days", type=positive, default=4, metavar="N",
                     help="days a weekday needs for its own total and curve; fewer: its weekday/weekend "
                     "group's (default 4)")
    fit.add_argument("--name", help="the profile's name (default: the --out file's name)")
    fit.add_argument("--time-column", metavar="NAME", help="CSV: the timestamp column (default: found by name)")
    fit.add_argument("--in-column", metavar="NAME", help="CSV: the in-count column (default: found by name)")
    fit.add_argument("--out-column", metavar="NAME", help="CSV: the out-count column (default: found by name)")
    fit.add_argument("--time-format", metavar="FMT", help="CSV: strptime format of the timestamps (default: ISO 8601)")
    fit.add_argument("--chart", metavar="FILE.png", help="draw observed vs fitted (weekday totals, curves, occupancy)")
    fit.add_argument("--weeks", type=positive, default=None, metavar="N",
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
