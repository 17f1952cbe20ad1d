#!/usr/bin/env python3
"""``make run``: one whole simulated store day through Airflow on a local Kafka broker.

    python scripts/run_local.py [--date YYYY-MM-DD] [--seed N] [--time-scale 1440] [--verbose]

1. starts the local Kafka-protocol broker (noida-db) on a free port, data under
   ``.data/run/`` (wiped first: every run starts from empty topics);
2. prepares a fresh Airflow home under ``.airflow/run/`` (SQLite) with the DAGs folder and
   the ``kafka_default`` connection given through ``AIRFLOW_CONN_KAFKA_DEFAULT``, and runs
   ``airflow db migrate``;
3. runs ``airflow dags test foot_traffic_daily <date>`` with ``time_scale`` 1440 and
   ``from_midnight``: the whole day plays in about a minute, its progress shown live;
4. reads both topics back and prints a summary: records per topic, visits per slot
   against the engine's plan, occupancy over the day as a terminal chart, and where the
   records went (bootstrap, topics, partitions, offsets);
5. stops everything it started, also on Ctrl-C or SIGTERM.

Exit code 0 when the topics hold exactly the planned day, 1 when they do not or a step
failed, 130 when interrupted. Nothing keeps running afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _proc import (
    BIN, CONN_ENV, DAG_ID, ROOT, Interrupted, airflow_env, colour, group_alive, ignore_stop_signals, info,
    install_signal_handlers, run_checked, spawn, step, stop_group
)

BUCKET_MINUTES = 30
CHART_ROWS = 10


# Lines of `airflow dags test` shown while it runs (everything goes to the log file).
SHOWN = (
    "Task started", "playing ", "plan for", " slot ", "progress:", "finished:", "Kafka from",
    "resuming", "[error", "[warning", "ERROR", "Traceback", "Exception", "ParamValidationError",
    "Task instance state updated", "DagRun Finished", "on_kill",
)


# Airflow's own warnings the first time an asset alias resolves to an asset it has never
# seen, here on every run (its home is fresh): "AssetModel ... not found; cannot create
# asset event", then it creates the asset ("Dynamically creating AssetModel") and records
# the event anyway, warning that the new asset is not active yet. Nothing is wrong: the
# announce_topics task's events are recorded. They stay in the log file, off the screen.
FIRST_ALIAS_EVENT = ("cannot create asset event", "Emitting event for inactive AssetModel")
LINE_WIDTH = 220  # a shown line is cut at a word, not mid-word, past this


def _shown(line: str) -> bool:
    if "DeprecationWarning" in line or "FutureWarning" in line or "graphviz" in line:
        return False
    if any(expected in line for expected in FIRST_ALIAS_EVENT):
        return False
    return any(marker in line for marker in SHOWN)


def _shorten(text: str, width: int = LINE_WIDTH) -> str:
    """``text`` cut after its last whole word within ``width`` characters, marked " …"."""
    if len(text) <= width:
        return text
    cut = text[: width - 2].rsplit(" ", 1)[0]
    return f"{cut} …"


_STRUCTLOG = re.compile(
    r"^\d{4}-\d\d-\d\dT(?P<time>\d\d:\d\d:\d\d)\S*\s+\[(?P<level>\w+)\s*\]\s+(?P<msg>.*?)(?:\s+\[[\w.]+\](?:\s.*)?)?$"
)
_CLASSIC = re.compile(r"^\[\d{4}-\d\d-\d\dT(?P<time>\d\d:\d\d:\d\d)[^\]]*\]\s+\{[^}]*\}\s+(?P<level>\w+)\s+-\s+(?P<msg>.*)$")


def _trim(line: str) -> str:
    """Airflow's log line without its logger name and key=value tail: "HH:MM:SS message"."""
    match = _STRUCTLOG.match(line) or _CLASSIC.match(line)
    if not match:
        return line
    level = match["level"].lower()
    prefix = "" if level == "info" else f"{level.upper()}: "
    text = f"{match['time']} {prefix}{match['msg']}"
    state = re.search(r"\bnew_state=(\w+)", line)
    return f"{text}: {state[1]}" if state else text


# `airflow dags test` answers SIGTERM by calling the task's on_kill (the runner stops and
# flushes what it sent); the task then waits for a retry, which these lines announce.
STOPPED_MARKERS = ("FootTrafficStopped", "up_for_retry", "No tasks to run")


def run_dag_test(env: dict[str, str], day: date, conf: dict, log_path: Path, verbose: bool, timeout: float) -> None:
    """``airflow dags test`` with its progress lines shown live and all of it in ``log_path``."""
    command = [str(BIN / "airflow"), "dags", "test", DAG_ID, day.isoformat(), "-c", json.dumps(conf)]
    info(f"$ airflow dags test {DAG_ID} {day.isoformat()} -c '{json.dumps(conf)}'")
    info(f"(full output in {log_path})")
    process = spawn(command, env, None, text=True, bufsize=1, errors="replace")
    task_stopped = threading.Event()
    stopping = threading.Event()

    def drain() -> None:
        # A thread, so that the output keeps flowing while the main thread stops the run.
        with open(log_path, "w", encoding="utf-8") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                line = line.rstrip("\n")
                if any(marker in line for marker in STOPPED_MARKERS):
                    task_stopped.set()
                if stopping.is_set() and not verbose and not ("on_kill" in line or "state updated" in line):
                    continue  # the stop's traceback and retry wait are in the log file
                if verbose or _shown(line):
                    print(f"    {colour('2', '│')} {_shorten(_trim(line))}", flush=True)

    reader = threading.Thread(target=drain, name="dags-test-output", daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"airflow dags test did not finish in {timeout:g} s")
            time.sleep(0.2)
        reader.join(10)
    except BaseException:
        stopping.set()
        if process.poll() is None:
            info("stopping airflow dags test: SIGTERM (the task stops and flushes what it sent)")
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            until = time.monotonic() + 20
            while process.poll() is None and not task_stopped.is_set() and time.monotonic() < until:
                time.sleep(0.2)
            time.sleep(0.5)
        stop_group(process, "airflow dags test", grace=0.5, first=signal.SIGKILL)
        reader.join(5)
        raise
    finally:
        if group_alive(process.pid):
            stop_group(process, "airflow dags test", grace=0.5, first=signal.SIGKILL)
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise RuntimeError(
            f"airflow dags test failed (exit {process.returncode}); last lines of {log_path}:\n" + "\n".join(tail)
        )


# -- reading the topics back -------------------------------------------------------------
@dataclass(frozen=True)
class Landed:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: dict
    headers: dict[str, str]


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> tuple[list[Landed], dict[int, int]]:
    """Every committed record of ``topic`` up to its end offsets now (read_committed, as
    consumers should read it); also the end offset per partition."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000, isolation_level="read_committed"
    )
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return [], {}
        end = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Landed] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic} up to its end offsets {end} in {timeout:g} s")
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for m in messages:
                    if m.offset < end[tp]:
                        headers = {k: v.decode("utf-8", "replace") for k, v in (m.headers or ())}
                        out.append(Landed(m.topic, m.partition, m.offset, m.timestamp, json.loads(m.value), headers))
        out.sort(key=lambda r: (r.partition, r.offset))
        return out, {tp.partition: end[tp] for tp in tps}
    finally:
        consumer.close()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# -- summary -----------------------------------------------------------------------------
BLOCKS = " ▁▂▃▄▅▆▇█"


def spark(values: list[int], top: int | None = None) -> str:
    top = top or max(values or [0]) or 1
    return "".join(BLOCKS[min(8, round(8 * v / top))] if v else " " for v in values)


def occupancy_chart(day: date, events: list[Landed], rows: int = CHART_ROWS) -> list[str]:
    """Peak customers in the store per 30-minute bucket, as a column chart, with the
    entries and exits per bucket as two sparklines under it."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    moves: list[tuple[datetime, int]] = []
    for record in events:
        kind = record.value.get("event_type")
        if kind in ("entry", "exit"):
            moves.append((_parse_time(record.value["time"]), 1 if kind == "entry" else -1))
    if not moves:
        return ["(no entry/exit events)"]
    # exits before entries at the same second: the peak is not overstated
    moves.sort(key=lambda m: (m[0], m[1]))
    last = max(t for t, _ in moves)
    buckets = max(24 * 60 // BUCKET_MINUTES, int((last - start).total_seconds() // (BUCKET_MINUTES * 60)) + 1)
    entries, exits, peak = [0] * buckets, [0] * buckets, [0] * buckets
    inside = 0
    index = 0
    for bucket in range(buckets):
        peak[bucket] = inside
        edge = start + timedelta(minutes=BUCKET_MINUTES * (bucket + 1))
        while index < len(moves) and moves[index][0] < edge:
            inside += moves[index][1]
            if moves[index][1] > 0:
                entries[bucket] += 1
            else:
                exits[bucket] += 1
            peak[bucket] = max(peak[bucket], inside)
            index += 1
    top = max(peak) or 1
    lines = []
    for row in range(rows, 0, -1):
        cells = []
        for value in peak:
            level = value * rows / top - (row - 1)  # how much of this row the column fills
            cells.append("█" if level >= 1 else (BLOCKS[max(0, min(8, round(level * 8)))] if level > 0 else " "))
        label = f"{round(top * row / rows):>4}" if row in (rows, (rows + 1) // 2, 1) else "    "
        lines.append(f"{label} ┤{''.join(cells)}")
    per_hour = 60 // BUCKET_MINUTES
    axis = "".join("┬" if i % (3 * per_hour) == 0 else "─" for i in range(buckets))
    lines.append(f"     └{axis}")
    labels = [" "] * (buckets + 2)
    for i in range(0, buckets, 3 * per_hour):
        text = f"{(i // per_hour) % 24:02d}"
        labels[i : i + 2] = list(text)
    lines.append("      " + "".join(labels).rstrip() + f"   (UTC, {BUCKET_MINUTES}-min columns)")
    lines.append(f"in   │{spark(entries)}   entries per {BUCKET_MINUTES} min, max {max(entries)}")
    lines.append(f"out  │{spark(exits)}   exits per {BUCKET_MINUTES} min, max {max(exits)}")
    peak_at = peak.index(top)
    when = start + timedelta(minutes=BUCKET_MINUTES * peak_at)
    lines.append(
        f"peak: {top} customers in the store, {when:%H:%M}–{when + timedelta(minutes=BUCKET_MINUTES):%H:%M}; "
        f"in the store at the end: {inside}"
    )
    return lines


def summarize(day: date, plan, bootstrap: str, topics: tuple[str, str]) -> bool:
    """Print the summary; True when the topics hold exactly the planned day."""
    session_topic, event_topic = topics
    sessions, session_end = read_topic(bootstrap, session_topic)
    events, event_end = read_topic(bootstrap, event_topic)
    ok = True
    checks: list[tuple[bool, str]] = []

    step("Summary: records per topic")
    expected = {session_topic: plan.total, event_topic: 2 * plan.total}
    for topic, records in ((session_topic, sessions), (event_topic, events)):
        kinds = Counter(r.value.get("event_type") for r in records)
        good = len(records) == expected[topic]
        checks.append((good, f"{topic}: {len(records)} records, plan {expected[topic]}"))
        kinds_text = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        info(f"{topic:<24} {len(records):>7} records  ({kinds_text})  expected {expected[topic]}  {_mark(good)}")
    plan_ids = Counter(r.headers.get("ft-plan") for r in sessions + events)
    days = Counter(r.headers.get("ft-day") for r in sessions + events)
    ids = [r.headers.get("ft-event-id") for r in sessions + events]
    good = set(plan_ids) == {plan.plan_id}
    checks.append((good, f"plan id {plan.plan_id}"))
    info(f"plan id (header ft-plan) {', '.join(str(p) for p in plan_ids)}  {_mark(good)}")
    good = set(days) == {day.isoformat()}
    checks.append((good, f"day {day}"))
    info(f"day (header ft-day)      {', '.join(str(d) for d in days)}  {_mark(good)}")
    good = len(set(ids)) == len(ids)
    checks.append((good, "event ids unique"))
    info(f"event ids (ft-event-id)  {len(set(ids))} distinct of {len(ids)}  {_mark(good)}")

    step(f"Visits per slot against the plan ({day}, {plan.weekday}, seed {plan.seed})")
    landed_sessions = Counter(r.value.get("time_slot") for r in sessions)
    landed_entries = Counter(r.value.get("time_slot") for r in events if r.value.get("event_type") == "entry")
    landed_exits = Counter(r.value.get("time_slot") for r in events if r.value.get("event_type") == "exit")
    widest = max(plan.slot_counts) or 1
    info(f"{'slot':<13} {'plan':>6} {'sessions':>9} {'entries':>8} {'exits':>6}")
    for slot, planned in zip(plan.profile.slots, plan.slot_counts):
        label = slot.label
        got = (landed_sessions[label], landed_entries[label], landed_exits[label])
        good = all(g == planned for g in got)
        checks.append((good, f"slot {label}"))
        bar = "█" * round(30 * got[0] / widest)
        info(f"{label:<13} {planned:>6} {got[0]:>9} {got[1]:>8} {got[2]:>6}  {_mark(good)} {bar}")
    info(f"{'total':<13} {plan.total:>6} {len(sessions):>9} {sum(landed_entries.values()):>8} {sum(landed_exits.values()):>6}")

    step("Occupancy over the day (customers in the store, from the entry/exit topic)")
    for line in occupancy_chart(day, events):
        info(line)

    step("Where the records went")
    info(f"bootstrap servers        {bootstrap}   (Airflow connection kafka_default, from {CONN_ENV})")
    for topic, records, end in ((session_topic, sessions, session_end), (event_topic, events, event_end)):
        per_partition: dict[int, list[int]] = defaultdict(list)
        for r in records:
            per_partition[r.partition].append(r.offset)
        info(f"topic {topic}: {len(end)} partitions, keyed by customer id (transaction markers take offsets too)")
        for partition in sorted(end):
            offsets = per_partition.get(partition, [])
            span = f"offsets {min(offsets)}–{max(offsets)}" if offsets else "empty"
            info(f"  partition {partition}: {len(offsets):>6} records, {span}, end offset {end[partition]}")
        if records:
            stamps = [r.timestamp_ms for r in records]
            first = datetime.fromtimestamp(min(stamps) / 1000, UTC).isoformat(timespec="seconds")
            last = datetime.fromtimestamp(max(stamps) / 1000, UTC).isoformat(timespec="seconds")
            info(f"  record timestamps {first} … {last}")
            sample = records[0]
            info(f"  e.g. {sample.topic}[{sample.partition}]@{sample.offset}: {json.dumps(sample.value, ensure_ascii=False)}")

    failed = [text for good, text in checks if not good]
    ok = not failed
    step("Result")
    if ok:
        info(colour("1;32", f"OK: {len(sessions) + len(events)} records of {plan.total} planned visits landed, per slot as planned"))
    else:
        info(colour("1;31", "MISMATCH: " + "; ".join(failed)))
    return ok


def _mark(good: bool) -> str:
    return colour("32", "✓") if good else colour("31", "✗")


# -- main --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", type=date.fromisoformat, help="day to play (default: today, UTC)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("RUN_SEED", "42")), help="default 42 (RUN_SEED)")
    parser.add_argument(
        "--time-scale", type=float, default=float(os.environ.get("RUN_TIME_SCALE", "1440")),
        help="simulated seconds per second (default 1440: the day in a minute; RUN_TIME_SCALE)",
    )
    parser.add_argument("--customers", type=int, default=1000, help="customers on an average day (default 1000)")
    parser.add_argument(
        "--workdir", type=Path, default=ROOT,
        help="where .data/run and .airflow/run are made (default: the repository)",
    )
    parser.add_argument("--verbose", action="store_true", help="show all of Airflow's output")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on the DAG run after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    from foot_traffic.local_broker import LocalBroker
    from foot_traffic.model.profile import load_profile
    from foot_traffic.plan.implicit import implicit_store
    from foot_traffic.plan.storeday import plan_store_day
    from foot_traffic.settings import Settings

    day = args.date or datetime.now(UTC).date()
    conf = {
        "time_scale": args.time_scale,
        "from_midnight": True,
        "seed": args.seed,
        "base_daily_customers": args.customers,
        "daily_variation_pct": 0.1,
        "disable_daily_variation": False,
        "topic": "foot_traffic",
        "topic_realistic": "foot_traffic_realistic",
    }
    # The plan the run must produce: the Params read as the operator reads them (Airflow's
    # environment holds none of the producer's variables, see airflow_env).
    settings = Settings.from_sources({}, params=conf)
    plan = plan_store_day(implicit_store(settings, load_profile(None)), day, settings)
    workdir = args.workdir.resolve()
    data_dir = workdir / ".data" / "run"
    airflow_home = workdir / ".airflow" / "run"
    broker = None
    started = time.monotonic()
    try:
        step(f"Plan: {day} ({plan.weekday}), {plan.total} visits, seed {plan.seed}, time scale {args.time_scale:g}")
        widest = max(plan.slot_counts) or 1
        for slot, count in zip(plan.profile.slots, plan.slot_counts):
            info(f"{slot.label}  {count:6d}  {'█' * round(30 * count / widest)}")

        step("Starting the local Kafka broker")
        shutil.rmtree(data_dir, ignore_errors=True)
        broker = LocalBroker(data_dir / "kafka", log_file=data_dir / "broker.log")
        broker.start()
        info(f"ready at {broker.bootstrap} (data {broker.data_dir.relative_to(workdir)}, log {broker.log_file.relative_to(workdir)})")

        step("Preparing Airflow (fresh home, airflow db migrate)")
        shutil.rmtree(airflow_home, ignore_errors=True)
        airflow_home.mkdir(parents=True)
        env = airflow_env(airflow_home, broker.bootstrap)
        info(f"AIRFLOW_HOME={airflow_home.relative_to(workdir)}, DAGs from dags/, {CONN_ENV} -> {broker.bootstrap}")
        run_checked([str(BIN / "airflow"), "db", "migrate"], env, airflow_home / "db-migrate.log", "airflow db migrate", 300)
        info("metadata database ready")

        seconds = 86400 / args.time_scale
        step(f"Running {DAG_ID} for {day} through Airflow (the day plays in about {seconds:.0f} s)")
        run_dag_test(env, day, conf, airflow_home / "dags-test.log", args.verbose, args.timeout)

        ok = summarize(day, plan, broker.bootstrap, (conf["topic"], conf["topic_realistic"]))
        return 0 if ok else 1
    except Interrupted:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line for a person, not a traceback
        print(f"\n{colour('1;31', 'make run failed:')} {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        ignore_stop_signals()
        if broker is not None:
            broker.stop()
            info(f"broker stopped; everything stopped ({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    sys.exit(main())
