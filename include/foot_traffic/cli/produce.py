"""``foot-traffic produce``: connect (failing fast without a broker), play the days, say
how the run ended (summary table or JSON, a line for a stop) and exit with its code.

How a run ended and its exit code are ``run.outcome``'s, as for the operators. The first connection follows the seed:
``MAX_RETRIES`` attempts, ``RETRY_BACKOFF_SECONDS`` apart (``retry.first_contact``); an
outage later in the run is healed by the runner with its growing back-off.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from datetime import date

from foot_traffic.build import build_runner, first_day
from foot_traffic.cli.exits import StopSignals
from foot_traffic.delivery.first_contact import NoBroker, first_contact
from foot_traffic.delivery.ledger import describe_run
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.model.profile import Profile
from foot_traffic.plan.localday import today
from foot_traffic.plan.stores import Catalogue
from foot_traffic.run.outcome import EXIT_DELIVERY, Ending, Outcome, play
from foot_traffic.run.pacing import SystemClock
from foot_traffic.run.runner import days_from
from foot_traffic.settings import Settings

log = logging.getLogger("foot_traffic")

LOCAL_BROKER = "127.0.0.1:19092"  # where ``make broker`` listens


def no_broker_text(exc: NoBroker) -> str:
    """The error of a run that found no broker: where, what was tried, how to fix it (80 columns)."""
    head = textwrap.fill(f"foot-traffic: {exc}. Nothing was sent.", width=79, subsequent_indent="  ")
    fix = [
        "  - no broker yet: `make broker` (in a clone of the repository) starts one",
        f"    on {LOCAL_BROKER}; then KAFKA_BROKER={LOCAL_BROKER} foot-traffic produce",
        f"  - another broker: set KAFKA_BROKER to its host:port (now {exc.address})",
    ]
    if exc.address == LOCAL_BROKER:
        fix[0] = "  - is `make broker` running (in another terminal, in a clone of the repository)?"
        del fix[1]
    return "\n".join([head, "To fix it:", *fix])


def cmd_produce(settings: Settings, profile: Profile, args: argparse.Namespace, catalogue: Catalogue | None = None) -> int:
    signals = StopSignals().install()
    stop = signals.event
    clock = SystemClock()
    first = args.date or first_day(catalogue, clock.now().timestamp())
    count = args.days if args.days else (1 if args.date else None)
    command = "foot-traffic produce" + (f" --date {args.date}" if args.date else "")
    backfill = count is not None and count > 1
    progress, progress_every = None, None
    if sys.stderr.isatty() and not args.quiet:
        from foot_traffic.cli.terminal import TerminalProgress

        paced = settings.from_midnight or first >= today(clock.now())  # not a past day at full speed
        unit = "days" if catalogue is None else "store-days"
        progress, progress_every = TerminalProgress(sys.stderr, paced=paced, unit=unit), 0.25
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(progress.log_handler())
    runner = build_runner(
        settings, first, stop=stop, profile=profile, clock=clock, catalogue=catalogue, progress=progress,
        progress_every=progress_every, detail_level=logging.DEBUG if backfill or catalogue is not None else logging.INFO,
        owner=describe_run(command),
    )
    log.info(
        "foot-traffic produce: %s%s, TIME_SCALE=%g, topics %s and %s",
        (f"{count} day{'s' if count > 1 else ''} from {first}") if count else f"continuously from {first}",
        "" if catalogue is None else f" of {len(catalogue)} stores ({catalogue.source}), each its local day",
        settings.time_scale, settings.kafka_topic, settings.kafka_topic_realistic,
    )
    try:
        if progress is not None:
            progress.connecting(settings.bootstrap_servers)
        first_contact(KafkaOptions.from_settings(settings), stop)
    except (NoBroker, InterruptedError) as exc:
        if progress is not None:
            progress.abandon()
        if isinstance(exc, InterruptedError):
            log.warning("stopped by %s before anything was sent", signals.name)
            return signals.exit_code
        print(no_broker_text(exc), file=sys.stderr)
        return EXIT_DELIVERY
    outcome = play(
        runner, days_from(first, count), stopped_by=lambda: signals.name,
        first_from_now=args.date is None and not settings.from_midnight,
        keep_summaries=count is not None or catalogue is None,
        days_total=None if count is None else count * (1 if catalogue is None else len(catalogue)),
    )
    if outcome.summaries is not None:
        _report(outcome.summaries, args, catalogue, (settings.kafka_topic, settings.kafka_topic_realistic))
    _say(outcome)
    if outcome.ending is Ending.DONE and settings.validate_day and count is not None:
        from foot_traffic.analysis.validate import check_delivered

        for day in days_from(first, count):
            checked = check_delivered(settings, profile, day, KafkaOptions.from_settings(settings), catalogue=catalogue)
            if checked["passed"] is None:  # the day could not be read back
                return EXIT_DELIVERY
    return outcome.exit_code(signals.exit_code)


def _say(outcome: Outcome) -> None:
    """How the run ended, in the log: a stop is a warning, a failure an error."""
    if outcome.ending is Ending.STOPPED:
        log.warning("%s", outcome.text)
    elif outcome.ending is not Ending.DONE:
        log.error("%s", outcome.text)


def _report(summaries: list, args: argparse.Namespace, catalogue: Catalogue | None, topics: tuple[str, str]) -> None:
    """The run's summary: a table on standard output (also with -q), or the JSON document."""
    result = [s.as_dict() for s in summaries]
    if catalogue is not None:
        log.info(
            "summary: %d store-days (%d closed), %d visits planned, %d records sent, %d already present",
            len(summaries), sum(s.closed for s in summaries), sum(s.total_visits for s in summaries),
            sum(s.sent for s in summaries), sum(s.already_present for s in summaries),
        )
    if args.summary_json:
        with open(args.summary_json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=2)
    if args.json:
        json.dump({"days": result}, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        from foot_traffic.cli.terminal import summary_table

        summary_table(result, sys.stdout, topics)
