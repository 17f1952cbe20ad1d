"""``make bench``: every benchmark side by side, rewriting BENCHMARKS.md (see report.py).

Each case runs in its own process against its own fresh local broker; delivery cases
are interleaved round by round (one round = every case once) so that the machine's
noise hits all of them alike, and ratios are taken inside a round, then the median.

Environment knobs (defaults in brackets): BENCH_REPEATS [3], BENCH_VISITS [100000],
BENCH_PACING_SECONDS [126], BENCH_TXN_SECONDS [60] (the live stream with and without
transactions), BENCH_SCAN_VISITS [2000] (visits per day of the resume-scan case's chain, BENCH_SCAN_REAL_DAYS [30]
days produced, its ledger filled to BENCH_SCAN_LEDGER_DAYS [365] days),
BENCH_BUDGET_SECONDS [1080] (after it, delivery rounds past the first are skipped; the
chain cases, run once each after the delivery rounds, are not cut by it),
BENCH_OUTPUT [BENCHMARKS.md], BENCH_WORK_DIR [.data/bench].

The chain of stores (section 7, ``chain.py``): BENCH_CHAIN_CASES [cli,dag,live] (which of
its cases run; empty: none), BENCH_CHAIN_STORES [1000], BENCH_CHAIN_VISITS_PER_STORE
[BENCH_VISITS / BENCH_CHAIN_STORES: the chain's day totals section 1's day],
BENCH_CHAIN_SHARD_SIZE [50] (the DAG's default), BENCH_CHAIN_WORKER_CONCURRENCY [1] (task
slots per Celery worker), BENCH_CHAIN_DAG_TIMEOUT [5400], BENCH_CHAIN_LIVE_SECONDS [120]
(the measured window), BENCH_CHAIN_LIVE_WARMUP [30] (after every store-day is under way),
BENCH_CHAIN_LIVE_VISITS_PER_STORE [1000], BENCH_CHAIN_LIVE_FEW [10] (the small run beside
the big one, for the bytes per live store). The Celery cases need PostgreSQL on
127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379; without them they are
reported as skipped, with the reason. At the defaults, on a quiet 2-core machine, the
one-process chain cases take about 2 minutes, the live case 4, each Celery case several.

``run_all.py --report-only`` rewrites the report from the last run's results.json;
``run_all.py --chain-only`` runs only the chain cases, merged into the last run's
results.json when there is one (the report then shows both); ``run_all.py --scan-only``
likewise the resume-scan case (section 4b).
A quick check that every bench still runs (about 13 minutes on a loaded machine, report elsewhere):

    BENCH_VISITS=5000 BENCH_REPEATS=1 BENCH_PACING_SECONDS=10 BENCH_TXN_SECONDS=10 \
    BENCH_CHAIN_STORES=20 BENCH_CHAIN_LIVE_SECONDS=10 BENCH_CHAIN_LIVE_WARMUP=5 BENCH_CHAIN_LIVE_FEW=2 \
    BENCH_WORK_DIR=/tmp/bench BENCH_OUTPUT=/tmp/bench/BENCHMARKS.md .venv/bin/python bench/run_all.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import (
    BIN,
    DAY,
    PARTITIONS,
    PYTHON,
    REPEATS,
    ROOT,
    SEED,
    TOPIC,
    TOPIC_REALISTIC,
    VISITS,
    WORK,
    airflow_env,
    count_records,
    create_topics,
    env_for,
    fresh_broker,
    machine,
    records_file,
    run_json,
    topic_counts,
    versions,
    without_settings,
)
import chain
from report import checks, render

PACING_SECONDS = float(os.environ.get("BENCH_PACING_SECONDS", "126"))
TXN_SECONDS = float(os.environ.get("BENCH_TXN_SECONDS", "60"))
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", ROOT / "BENCHMARKS.md"))
DAG_ID = "foot_traffic_daily"
MEMORY_VISITS = (10_000, 100_000, 1_000_000)  # engine-only days; the report compares the first and last
ENGINE_VISITS = 100_000  # the one whose time per record is the engine's CPU per record
# Every delivery case, in the order of a round.
DELIVERY_CASES = (
    "cli", "cli_plain", "dag", "cli_confluent", "cli_confluent_plain", "kafka_python", "kafka_python_busy", "confluent",
    "operator_async", "operator",
)
# Ours with transactions (the default) write commit markers, which take offsets: their
# records are counted by reading them (read_committed), the others by their end offsets.
TRANSACTIONAL = {"cli", "dag", "cli_confluent"}


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# -- 1. delivery --------------------------------------------------------------------------
def migrate_airflow() -> Path:
    """A fresh Airflow home with its metadata database (SQLite) for the ``dag`` case."""
    home = Path(tempfile.mkdtemp(prefix="airflow-home-", dir=WORK))
    proc = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=airflow_env(home), capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed (rc {proc.returncode}):\n{proc.stderr[-1500:]}")
    return home


_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", re.M)


def dags_test(bootstrap: str, home: Path) -> dict:
    """Ours through Airflow: ``airflow dags test foot_traffic_daily DAY -c {...}`` (conf: Param names)."""
    env = airflow_env(home)
    env["AIRFLOW_CONN_KAFKA_DEFAULT"] = json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": bootstrap}})
    conf = {"seed": SEED, "daily_customers": VISITS, "topic": TOPIC, "topic_realistic": TOPIC_REALISTIC}
    started = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", DAG_ID, DAY.isoformat(), "-c", json.dumps(conf)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    wall = time.perf_counter() - started
    out = proc.stdout + "\n" + proc.stderr
    if proc.returncode != 0 or "new_state=success" not in out:
        raise RuntimeError(f"airflow dags test failed (rc {proc.returncode}):\n{out[-3000:]}")
    # Task duration: its start_date (in the task's own log lines) to the success report.
    ti_line = next(line for line in out.splitlines() if "RuntimeTaskInstance(" in line and "start_date=datetime" in line)
    start = re.search(r"start_date=datetime\.datetime\((\d+), (\d+), (\d+), (\d+), (\d+), (\d+)(?:, (\d+))?", ti_line)
    end_line = next(line for line in out.splitlines() if "new_state=success" in line)
    end = datetime.fromisoformat(_TS.match(end_line).group(1)).replace(tzinfo=UTC)
    fields = [int(x) if x else 0 for x in start.groups()]
    begin = datetime(*fields[:6], fields[6], tzinfo=UTC)
    seconds = (end - begin).total_seconds()
    # The task instance's start_date comes before `airflow dags test` starts its in-process
    # Execution API server (seconds of imports, a cost of the test command, not of a task
    # under a running Airflow); the task itself starts at the API's "Task started".
    started_line = next(line for line in out.splitlines() if "Task started" in line and _TS.match(line))
    running = (end - datetime.fromisoformat(_TS.match(started_line).group(1)).replace(tzinfo=UTC)).total_seconds()
    return {
        "records": 3 * VISITS, "seconds": seconds, "records_per_s": 3 * VISITS / seconds, "process_wall_s": wall,
        "running_seconds": running, "startup_seconds": seconds - running,
    }


def delivery_case(case: str, bootstrap: str, rf: Path, home: Path, part: str, engine_us: float) -> dict:
    """One run of ``case`` against a broker holding empty topics."""
    worker = ["bench/delivery.py"]
    if case == "dag":
        return dags_test(bootstrap, home)
    if case == "cli":
        return run_json([*worker, "cli", bootstrap], env=env_for(bootstrap))
    if case == "cli_plain":
        return run_json([*worker, "cli", bootstrap], env=env_for(bootstrap, KAFKA_TRANSACTIONS="0"))
    if case == "cli_confluent":
        return run_json([*worker, "cli", bootstrap], env=env_for(bootstrap, KAFKA_CLIENT="confluent"))
    if case == "cli_confluent_plain":
        return run_json(
            [*worker, "cli", bootstrap], env=env_for(bootstrap, KAFKA_CLIENT="confluent", KAFKA_TRANSACTIONS="0")
        )
    if case == "kafka_python_busy":
        result = run_json([*worker, "kafka_python", bootstrap, str(rf), f"{engine_us:.2f}"], env=env_for(bootstrap))
        return {**result, "busy_us": engine_us}
    if case == "operator":
        # Synchronous: a few thousand records/s. Each round sends one consecutive part of
        # the day, the rounds together all of it (the rate does not depend on volume).
        result = run_json([*worker, case, bootstrap, str(rf), part], env=env_for(bootstrap))
        return {**result, "part": part}
    return run_json([*worker, case, bootstrap, str(rf)], env=env_for(bootstrap))


def delivery(rounds: int, budget_end: float, engine_us: float) -> dict:
    rf = records_file(VISITS)
    home = migrate_airflow()
    runs: dict[str, list[dict]] = {c: [] for c in (*DELIVERY_CASES, "dag_running")}
    try:
        for r in range(rounds):
            for case in DELIVERY_CASES:
                if time.monotonic() > budget_end and r > 0:
                    log(f"time budget reached: skipping {case} in round {r + 1}")
                    continue
                with fresh_broker(case) as broker:
                    create_topics(broker.bootstrap)
                    result = delivery_case(case, broker.bootstrap, rf, home, f"{r}/{rounds}", engine_us)
                    expected = result["records"] if case == "operator" else 3 * VISITS
                    landed = sum((count_records if case in TRANSACTIONAL else topic_counts)(broker.bootstrap).values())
                    if landed != expected or result["records"] != expected:
                        raise RuntimeError(f"{case}: {result['records']} reported, {landed} landed, {expected} expected")
                    result["landed"] = landed
                runs[case].append(result)
                if case == "dag":  # the same run, timed from the task's own start (see dags_test)
                    runs["dag_running"].append(
                        {**result, "seconds": result["running_seconds"], "records_per_s": 3 * VISITS / result["running_seconds"]}
                    )
                log(f"round {r + 1} {case}: {result['records']} records in {result['seconds']:.2f} s = {result['records_per_s']:,.0f}/s")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    cases = list(DELIVERY_CASES)
    cases.insert(cases.index("dag") + 1, "dag_running")
    return {"cases": cases, "runs": runs}


# -- 6. transactions: a live stream with and without -------------------------------------
def transactions(seconds: float) -> dict:
    """Per client, the live stream with and without transactions side by side on one broker."""
    out: dict[str, dict] = {}
    for client in ("kafka-python", "confluent"):
        with fresh_broker(f"txn-{client}") as broker:
            procs = {
                mode: subprocess.Popen(
                    [PYTHON, "bench/transactions.py", mode, client, broker.bootstrap, str(seconds),
                     f"lat_{mode}_{client.replace('-', '')}"],
                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=without_settings(),
                )
                for mode in ("txn", "plain")
            }
            for mode, proc in procs.items():
                stdout, stderr = proc.communicate(timeout=seconds + 180)
                if proc.returncode != 0:
                    raise RuntimeError(f"transactions {mode} {client} failed:\n{stderr[-3000:]}")
                result = json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])
                if result["never_seen"]:
                    raise RuntimeError(f"transactions {mode} {client}: {result['never_seen']} records never visible")
                out[f"{client} {mode}"] = result
                log(
                    f"live {client} {mode}: visible after p50 {result['visible_p50_ms']:.1f} ms, "
                    f"p99 {result['visible_p99_ms']:.1f} ms; {result['transactions']} transactions"
                )
    return out


# -- 2. pacing ----------------------------------------------------------------------------
def pacing(seconds: float) -> dict:
    with fresh_broker("pacing") as broker:
        procs = {
            mode: subprocess.Popen(
                [PYTHON, "bench/pacing.py", mode, broker.bootstrap, str(seconds), f"pace_{mode}"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for mode in ("ours", "polling")
        }
        out = {}
        for mode, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=seconds + 120)
            if proc.returncode != 0:
                raise RuntimeError(f"pacing {mode} failed:\n{stderr[-3000:]}")
            out[mode] = json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])
    return out


# -- 3. memory ----------------------------------------------------------------------------
def memory() -> dict:
    out = {"engine": {}, "kafka": {}}
    for visits in MEMORY_VISITS:
        out["engine"][visits] = run_json(["bench/memory.py", str(visits)], env=without_settings())
        log(f"memory engine {visits:,}: peak {out['engine'][visits]['peak_rss_mb']:.1f} MB")
    with fresh_broker("memory") as broker:
        out["kafka"][10_000] = run_json(["bench/memory.py", "10000", broker.bootstrap], env=without_settings())
    log(f"memory kafka 10,000: peak {out['kafka'][10_000]['peak_rss_mb']:.1f} MB")
    return out


def write_report(res: dict) -> None:
    OUTPUT.write_text(render(res), encoding="utf-8")


def load_results() -> dict:
    res = json.loads((WORK / "results.json").read_text())
    if "memory" in res:
        res["memory"] = {kind: {int(k): v for k, v in sizes.items()} for kind, sizes in res["memory"].items()}
    return res


def rerender() -> int:
    """``run_all.py --report-only``: rewrite BENCHMARKS.md from the last run's results.json."""
    res = load_results()
    write_report(res)
    log(f"rewrote {OUTPUT} from {WORK / 'results.json'}")
    return 0


def finish(res: dict, t0: float) -> None:
    total = time.monotonic() - t0
    res["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    partial = "--chain-only" in sys.argv or "--scan-only" in sys.argv
    res["total_seconds"] = res.get("total_seconds", 0.0) if partial else total
    res["checks"] = [vars(check) for check in checks(res)]
    (WORK / "results.json").write_text(json.dumps(res, indent=1, default=str))
    write_report(res)
    log(f"wrote {OUTPUT} in {total / 60:.1f} min")
    for check in res["checks"]:
        log(f"{'met   ' if check['met'] else 'MISSED'} {check['target']}: {check['figure']}")


def chain_only() -> int:
    """``run_all.py --chain-only``: the chain cases alone, merged into the last results if any."""
    t0 = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    res = load_results() if (WORK / "results.json").exists() else {"machine": machine(), "versions": versions()}
    res["chain_machine"] = machine()
    res["chain"] = chain.run(res)
    res["chain_seconds"] = time.monotonic() - t0
    finish(res, t0)
    return 0


def resume_scan_case() -> dict:
    with fresh_broker("resume-scan") as broker:
        return run_json(
            ["bench/resume_scan.py", broker.bootstrap, os.environ.get("BENCH_SCAN_VISITS", "2000"), str(REPEATS)],
            env=without_settings(), timeout=2400,
        )


def scan_only() -> int:
    """``run_all.py --scan-only``: the resume-scan case alone, merged into the last results."""
    t0 = time.monotonic()
    res = load_results()
    res["resume_scan"] = resume_scan_case()
    finish(res, t0)
    return 0


def main() -> int:
    if "--report-only" in sys.argv:
        return rerender()
    if "--scan-only" in sys.argv:
        return scan_only()
    if "--chain-only" in sys.argv:
        return chain_only()
    t0 = time.monotonic()
    budget_end = t0 + float(os.environ.get("BENCH_BUDGET_SECONDS", "1080"))
    WORK.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "machine": machine(),
        "versions": versions(),
        "setup": {"day": DAY.isoformat(), "seed": SEED, "visits": VISITS, "partitions": PARTITIONS},
    }
    log(f"machine {res['machine']}")
    started = time.perf_counter()
    for stale in WORK.glob("records-*.marshal"):  # always the current engine's records
        stale.unlink()
    records_file(VISITS)
    log(f"records of {DAY} ({VISITS:,} visits) ready ({time.perf_counter() - started:.1f} s)")

    res["planning"] = run_json(["bench/planning.py", "1000000", str(REPEATS)])
    log(f"planning 1M visits: wall {res['planning']['wall_s']}")
    parse_home = tempfile.mkdtemp(prefix="airflow-parse-", dir=WORK)
    res["dag_parse"] = run_json(["bench/dag_parse.py", "15"], env=dict(without_settings(), AIRFLOW_HOME=parse_home))
    log(f"DAG parse: median {res['dag_parse']['warm_median_ms']:.1f} ms")
    log(f"pacing: {PACING_SECONDS:.0f} s, ours and polling side by side")
    res["pacing_seconds"] = PACING_SECONDS
    res["pacing"] = pacing(PACING_SECONDS)
    log(f"pacing ours p99 {res['pacing']['ours']['p99_ms']:.2f} ms, CPU {res['pacing']['ours']['cpu_share_pct']:.2f} %")
    res["resume_scan"] = resume_scan_case()
    rs = res["resume_scan"]
    log(f"day ledger with {rs['ledger_days']} days: a take of the first day read {rs['old_day']['ledger_records_read']:,} "
        f"of {rs['ledger_records_in_topic']:,} ledger records ({rs['old_day']['ledger']['wall_s'][0] * 1e3:.1f} ms)")
    res["memory"] = memory()
    # The engine's CPU per record (the control case's busy work): an engine-only day, its
    # thread's CPU time per record (a busy machine stretches wall time, not this), median.
    res["engine_us_visits"] = ENGINE_VISITS
    res["engine"] = run_json(["bench/engine.py", str(ENGINE_VISITS), str(REPEATS)], env=without_settings())
    res["engine_us_per_record"] = res["engine"]["cpu_us_per_record_median"]
    log(f"engine: {res['engine_us_per_record']:.2f} µs of CPU per record (median of {REPEATS})")
    log(f"transactions: a live stream with and without, {TXN_SECONDS:.0f} s per client")
    res["transactions_seconds"] = TXN_SECONDS
    res["transactions"] = transactions(TXN_SECONDS)
    res["delivery"] = delivery(REPEATS, budget_end, res["engine_us_per_record"])
    if chain.CASES:
        started_chain = time.monotonic()
        res["chain"] = chain.run(res)
        res["chain_seconds"] = time.monotonic() - started_chain
    finish(res, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
