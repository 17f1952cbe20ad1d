"""Benchmark 7, a chain of stores: one day of N stores at full speed, through Airflow's
CeleryExecutor with one and with two workers, and N live stores in one process.

Run by ``run_all.py`` (``run(res)``); each case in its own process(es) against its own
fresh local broker:

  chain_cli            ``foot-traffic produce --stores FILE --date DAY`` in one process
                       (this module as a worker: ``python bench/chain.py cli BOOTSTRAP FILE``),
                       records/s against the one-store CLI's rate for the same number of
                       records (section 1's ``cli`` case of the same run, else measured here)
  chain_dag_celery_K   the same catalogue and day through ``foot_traffic_chain_daily`` with
                       CeleryExecutor: a fresh PostgreSQL database (metadata and result
                       backend), an empty Redis DB index (broker), scheduler, dag-processor,
                       api-server and K ``airflow celery worker`` processes; timed from the
                       trigger (``airflow dags trigger -l``) to the run's success
  chain_live           ``foot-traffic produce --stores FILE`` live (TIME_SCALE=1, each store's
                       local today from now), N stores and, side by side, a few stores: CPU
                       (share of one core) and RSS sampled with psutil after a warm-up; bytes
                       per live store = the RSS difference / the difference in store-days open

The generated catalogues use the format of ``include/foot_traffic/chains/example_chain.yaml``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from common import (
    DAY, PYTHON, ROOT, SEED, TOPIC, TOPIC_REALISTIC, VISITS, WORK, committed_records, counting_delivery, emit, peak_rss_mb,
)

STORES = int(os.environ.get("BENCH_CHAIN_STORES", "1000"))
# Visits of each store's day at full speed: the chain's day totals section 1's day.
VISITS_PER_STORE = int(os.environ.get("BENCH_CHAIN_VISITS_PER_STORE", str(max(1, VISITS // STORES))))
LIVE_SECONDS = float(os.environ.get("BENCH_CHAIN_LIVE_SECONDS", "120"))
LIVE_WARMUP = float(os.environ.get("BENCH_CHAIN_LIVE_WARMUP", "30"))
LIVE_VISITS_PER_STORE = int(os.environ.get("BENCH_CHAIN_LIVE_VISITS_PER_STORE", "1000"))
LIVE_FEW = int(os.environ.get("BENCH_CHAIN_LIVE_FEW", "10"))
SHARD_SIZE = int(os.environ.get("BENCH_CHAIN_SHARD_SIZE", "50"))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_CHAIN_WORKER_CONCURRENCY", "1"))
CASES = tuple(c for c in os.environ.get("BENCH_CHAIN_CASES", "cli,dag,live").split(",") if c)
# The Done-when case of issue 24 (``dagstest``): the chain DAG under `airflow dags test` in
# shards of this size against the CLI, alternating, this many rounds.
DAGS_TEST_STORES = int(os.environ.get("BENCH_CHAIN_DAGS_TEST_STORES", "200"))
DAGS_TEST_VISITS_PER_STORE = int(os.environ.get("BENCH_CHAIN_DAGS_TEST_VISITS_PER_STORE", "300"))
DAGS_TEST_SHARD_SIZE = int(os.environ.get("BENCH_CHAIN_DAGS_TEST_SHARD_SIZE", "10"))
DAGS_TEST_ROUNDS = int(os.environ.get("BENCH_CHAIN_DAGS_TEST_ROUNDS", "2"))
DAG_ID = "foot_traffic_chain_daily"

# Time zones of the full-speed catalogue: both sides of UTC, a half-hour offset, DST and not.
ZONES = (
    "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata", "Europe/Rome", "Europe/London",
    "America/Sao_Paulo", "America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu",
)
# Candidates for the live catalogue: those whose local time is mid-day now are used.
LIVE_ZONES = (
    "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo", "Asia/Shanghai", "Asia/Bangkok", "Asia/Dhaka",
    "Asia/Kolkata", "Asia/Karachi", "Asia/Dubai", "Europe/Moscow", "Europe/Athens", "Europe/Rome",
    "Europe/London", "Atlantic/Azores", "America/Sao_Paulo", "America/Halifax", "America/New_York",
    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
)
LIVE_HOURS = "08:00-22:00"


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# -- catalogues ------------------------------------------------------------------------------
def catalogue_doc(stores: int, visits: int, zones=ZONES, hours: str = "00:00-24:00") -> dict:
    """A chain of ``stores`` stores round-robin over ``zones``, each ``visits`` a day (daily_customers)."""
    return {
        "stores": [
            {
                "id": f"bench-{i:05d}",
                "name": f"Bench store {i}",
                "timezone": zones[i % len(zones)],
                "daily_customers": visits,
                "profile": "seed",
                "opening_hours": {"daily": hours},
            }
            for i in range(stores)
        ]
    }


def write_catalogue(path: Path, doc: dict) -> Path:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Generated by bench/chain.py: {len(doc['stores'])} stores (format: include/foot_traffic/chains/example_chain.yaml)\n"
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def live_zones(now: datetime) -> tuple[str, ...]:
    """Zones where ``now`` is between 09:00 and 20:00 local (open 08:00-22:00, far from midnight),
    those of the local date most of them share: a run takes the writers of every store's day D
    when the first store-day of D opens, so stores on two local dates would hold two sets."""
    local = {z: now.astimezone(ZoneInfo(z)) for z in LIVE_ZONES}
    zones = [z for z, t in local.items() if 9 <= t.hour < 20]
    if not zones:
        raise RuntimeError(f"no live zone is mid-day at {now}")
    dates = [local[z].date() for z in zones]
    common_date = max(set(dates), key=dates.count)
    return tuple(z for z in zones if local[z].date() == common_date)


def planned_visits(path: Path, day: date) -> int:
    """The plan's visits of every store's local ``day`` (the engine's own planner)."""
    from foot_traffic.plan.storeday import plan_store_day
    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.settings import Settings

    settings = Settings.from_env({"SEED": str(SEED)})
    return sum(plan_store_day(s, day, settings, SEED).total for s in load_catalogue(path))


# -- worker: the chain's day through the CLI, in this process --------------------------------
class Timers:
    """Where a transactional chain run spends its wall time: taking the store-days (their
    shared producer: connect, init_transactions, the owner records, fencing earlier
    producers) and committing; wrapped around the engine's own methods in this process only."""

    def __init__(self):
        self.open_s = self.commit_s = 0.0
        self.opens = self.commits = 0
        self.producers = 0
        self.max_writers = 0
        self.max_threads = 0

    def install(self) -> None:
        import threading

        from foot_traffic.delivery import day_writer, transactions

        timers = self
        take, commit = transactions.Transactions.take, day_writer.DayWriter.commit

        def timed_take(txns, day, plans, looked):
            started = time.perf_counter()
            try:
                return take(txns, day, plans, looked)
            finally:
                timers.open_s += time.perf_counter() - started
                timers.opens += len(plans)
                timers.producers += 1
                timers.max_writers = max(timers.max_writers, len(txns._writers))
                timers.max_threads = max(timers.max_threads, threading.active_count())

        def timed_commit(writer):
            if not writer.producer.in_transaction:
                return commit(writer)
            started = time.perf_counter()
            try:
                return commit(writer)
            finally:
                timers.commit_s += time.perf_counter() - started
                timers.commits += 1

        transactions.Transactions.take = timed_take
        day_writer.DayWriter.commit = timed_commit

    def as_dict(self) -> dict:
        return {
            "open_day_s": self.open_s, "open_days": self.opens, "producers": self.producers,
            "commit_s": self.commit_s, "commits": self.commits,
            "max_writers": self.max_writers, "max_threads": self.max_threads,
        }


def case_cli(stores_file: str) -> dict:
    from foot_traffic import cli

    timers = Timers()
    timers.install()
    summary = Path(tempfile.mkstemp(suffix=".json")[1])
    started = time.perf_counter()
    rc = cli.main([
        "--log-level", "WARNING", "produce", "--stores", stores_file, "--date", DAY.isoformat(),
        "--summary-json", str(summary), "--quiet",
    ])
    elapsed = time.perf_counter() - started
    if rc != 0:
        raise SystemExit(f"foot-traffic produce --stores exited {rc}")
    days = json.loads(summary.read_text())
    summary.unlink()
    return {
        "records": sum(d["records_sent"] for d in days),
        "store_days": len(days),
        "seconds": elapsed,
        "peak_rss_mb": peak_rss_mb(),
        **timers.as_dict(),
    }


def case_engine(stores_file: str, visits: int) -> dict:
    """The engine alone (plans, records, the runner's merge; a publisher that only counts):
    the chain's day, then one store's day of the same number of visits, in this process."""
    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.run.runner import Runner
    from foot_traffic.settings import Settings
    out = {}
    for name, env, catalogue in (
        ("chain", {"SEED": str(SEED), "FOOT_TRAFFIC_RESUME": "0"}, load_catalogue(stores_file)),
        ("one_store", {"SEED": str(SEED), "DAILY_CUSTOMERS": str(visits), "FOOT_TRAFFIC_RESUME": "0"}, None),
    ):
        settings = Settings.from_env(env)
        delivery, publisher = counting_delivery()
        started = time.perf_counter()
        Runner(settings, delivery, catalogue=catalogue).run([DAY])
        seconds = time.perf_counter() - started
        records = sum(publisher.acked_by_topic.values())
        out[name] = {"records": records, "seconds": seconds, "us_per_record": 1e6 * seconds / records}
    # The cause of the difference: the same store-days' records made one store-day after the
    # other (no merge) against made interleaved, one moment of each store in turn (as the
    # runner's merge by due time does), with no runner at all.
    from foot_traffic.plan.storeday import plan_store_day
    from foot_traffic.records.stream import StoreDayStream

    settings = Settings.from_env({"SEED": str(SEED), "FOOT_TRAFFIC_RESUME": "0"})
    stores = load_catalogue(stores_file).stores
    for name in ("streams_one_after_another", "streams_interleaved"):
        streams = [iter(StoreDayStream(plan_store_day(st, DAY, settings, SEED), TOPIC, TOPIC_REALISTIC))
                   for st in stores]
        started = time.perf_counter()
        records = 0
        if name == "streams_one_after_another":
            for stream in streams:
                for moment in stream:
                    records += len(moment.records)
        else:
            while streams:
                alive = []
                for stream in streams:
                    moment = next(stream, None)
                    if moment is not None:
                        records += len(moment.records)
                        alive.append(stream)
                streams = alive
        seconds = time.perf_counter() - started
        out[name] = {"records": records, "seconds": seconds, "us_per_record": 1e6 * seconds / records}
    return out


def main(argv: list[str]) -> int:
    case = argv[0]
    if case == "engine":
        emit(case_engine(argv[1], int(argv[2])))
        return 0
    if case == "shape":
        emit(case_shape(argv[1], argv[2], int(argv[3])))
        return 0
    if case == "cli":
        _bootstrap, stores_file = argv[1:3]
        result = case_cli(stores_file)
        result["records_per_s"] = result["records"] / result["seconds"]
        emit(result)
        return 0
    raise SystemExit(f"unknown case {case!r}")


def case_shape(bootstrap: str, stores_file: str, visits: int) -> dict:
    """What the chain's records cost the client alone: the chain's day and one store's day of
    the same visits, made by the engine first, then sent by a raw kafka-python loop (the
    producer settings of ``KafkaPublisher``) to topics of their own, alternately, 2 rounds."""
    from delivery import _our_producer

    from common import create_topics
    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.run.runner import Runner
    from foot_traffic.settings import Settings
    made = {}
    for name, env, catalogue in (
        ("chain", {"SEED": str(SEED), "FOOT_TRAFFIC_RESUME": "0"}, load_catalogue(stores_file)),
        ("one_store", {"SEED": str(SEED), "DAILY_CUSTOMERS": str(visits), "FOOT_TRAFFIC_RESUME": "0"}, None),
    ):
        kept: list = []
        Runner(Settings.from_env(env), counting_delivery(kept)[0], catalogue=catalogue).run([DAY])
        made[name] = kept
    out: dict = {name: {"records": len(rs), "value_bytes": sum(len(r.value) for r in rs) / len(rs),
                        "headers": len(rs[0].headers), "records_per_s": []} for name, rs in made.items()}
    os.environ["KAFKA_BROKER"] = bootstrap
    for round_ in range(2):
        for name, rs in made.items():
            topics = {t: f"shape_{name}_{round_}_{t}" for t in (TOPIC, TOPIC_REALISTIC)}
            create_topics(bootstrap, tuple(topics.values()))
            producer = _our_producer()
            send = producer.send
            started = time.perf_counter()
            futures = [send(topics[r.topic], value=r.value, key=r.key, headers=list(r.headers), timestamp_ms=r.due * 1000)
                       for r in rs]
            producer.flush()
            seconds = time.perf_counter() - started
            producer.close()
            if any(not f.succeeded() for f in futures):
                raise SystemExit(f"shape {name}: records not acknowledged")
            out[name]["records_per_s"].append(len(rs) / seconds)
    for name in made:
        out[name]["records_per_s"] = max(out[name]["records_per_s"])
    out["ratio"] = out["chain"]["records_per_s"] / out["one_store"]["records_per_s"]
    return out


# -- the cases (run_all.py's side) -------------------------------------------------------------
def twice(name: str, case, *args) -> dict:
    """Run a case; if it fails, once more, keeping the first failure's last line in the result.

    A case that fails once is a finding, not noise: the report says when it happened and
    why. (The first such finding: the end-of-day check compared end offsets with records
    acknowledged after it asked, a false LostAcknowledgedWrites; fixed in ``verify``.)"""
    from services import Unavailable

    try:
        return case(*args)
    except Unavailable:
        raise
    except RuntimeError as exc:
        first = [line for line in str(exc).splitlines() if line.strip()][-2:]
        log(f"{name} failed, trying once more: {' / '.join(first)}")
        result = case(*args)
        result["failed_attempt"] = " / ".join(first)
        return result


def full_speed_catalogue() -> Path:
    return write_catalogue(WORK / f"chain-{STORES}-{VISITS_PER_STORE}.yaml", catalogue_doc(STORES, VISITS_PER_STORE))


def chain_cli(path: Path, visits: int, client: str = "kafka-python") -> dict:
    from common import count_records, create_topics, env_for, fresh_broker, run_json

    with fresh_broker("chain-cli") as broker:
        create_topics(broker.bootstrap)
        env = env_for(broker.bootstrap, KAFKA_CLIENT=client)
        env.pop("DAILY_CUSTOMERS")  # each store has its own
        result = run_json(["bench/chain.py", "cli", broker.bootstrap, str(path)], env=env, timeout=7200)
        landed = sum(count_records(broker.bootstrap).values())
    if landed != 3 * visits or result["records"] != 3 * visits:
        raise RuntimeError(f"chain_cli: {result['records']} reported, {landed} landed, {3 * visits} planned")
    result["landed"] = landed
    return result


def one_store_cli(visits: int) -> dict:
    """The one-store CLI at full speed for ``visits`` visits (the baseline, when section 1 has none)."""
    from common import count_records, create_topics, env_for, fresh_broker, run_json

    with fresh_broker("chain-baseline") as broker:
        create_topics(broker.bootstrap)
        result = run_json(["bench/delivery.py", "cli", broker.bootstrap], env=env_for(broker.bootstrap, DAILY_CUSTOMERS=str(visits)))
        landed = sum(count_records(broker.bootstrap).values())
    if landed != 3 * visits:
        raise RuntimeError(f"one-store baseline: {landed} landed, {3 * visits} planned")
    result["records_per_s"] = result["records"] / result["seconds"]
    return result


def airflow_celery_env(home: Path, db_url: str, redis_url: str, bootstrap: str, api_port: int) -> dict[str, str]:
    """CeleryExecutor with PostgreSQL and Redis, as in tests/airflow/test_chain_celery.py."""
    from common import airflow_env

    env = airflow_env(home)
    env.update(
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=db_url,
        AIRFLOW__CELERY__BROKER_URL=redis_url,
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + db_url,
        AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="1",
        AIRFLOW__CORE__PARALLELISM="8",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",  # only the triggered run
        # Each worker names itself (task_instance.hostname): which worker ran which shard.
        AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.support.worker_name.hostname",
        AIRFLOW_CONN_KAFKA_DEFAULT=json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": bootstrap}}),
        PYTHONPATH=str(ROOT),
    )
    return env


def _log_time(line: str) -> datetime | None:
    """The time of a task log line (Airflow 3 writes JSON lines with a ``timestamp``)."""
    try:
        value = json.loads(line).get("timestamp")
    except (ValueError, AttributeError):
        value = line[:32].split(" ")[0] if line[:4].isdigit() else None
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def operator_spans(home: Path, task_id: str) -> list[float]:
    """Each shard's time once its task has started, from its task log: the operator's first
    line ("playing the local day ...", after the task process started, parsed the DAG file
    and built the operator) to its last ("topics written: ..."): connect, take, sends, commits."""
    spans = []
    for path in sorted((home / "logs").glob(f"dag_id={DAG_ID}/run_id=*/task_id={task_id}/**/*.log")):
        start = end = None
        for line in path.read_text(errors="replace").splitlines():
            if start is None and '"event":"playing ' in line.replace(": ", ":"):
                start = _log_time(line)
            if "topics written: " in line:
                end = _log_time(line)
        if start and end:
            spans.append((end - start).total_seconds())
    return spans


def celery_home(db_url: str, redis_url: str, bootstrap: str) -> tuple[Path, Path, dict[str, str]]:
    """A fresh Airflow home for the Celery cases (the topics created, the metadata database
    migrated, the DAGs serialized): (home, its component logs' folder, the environment)."""
    import services
    from common import BIN, create_topics
    from foot_traffic.local_broker import free_port

    create_topics(bootstrap)
    home = Path(tempfile.mkdtemp(prefix="airflow-celery-", dir=WORK))
    logs = home / "component-logs"
    logs.mkdir()
    env = airflow_celery_env(home, db_url, redis_url, bootstrap, free_port())
    services.airflow(BIN, env, "db", "migrate", timeout=600)
    services.airflow(BIN, env, "dags", "reserialize")
    return home, logs, env


def start_celery_stack(env: dict[str, str], logs: Path, workers: int, concurrency: int, started: list) -> None:
    """api-server, scheduler, dag-processor and ``workers`` Celery workers (appended to
    ``started`` as they start, so that the caller stops whatever did), the workers ready."""
    import services
    from common import BIN
    from foot_traffic.local_broker import free_port

    for component in ("api-server", "scheduler", "dag-processor"):
        started.append(services.start(
            BIN, dict(env, AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port())), logs, component, component,
        ))
    names = [f"worker-{i + 1}" for i in range(workers)]
    for name in names:
        worker_env = dict(env, FT_TEST_WORKER_NAME=name, AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()))
        started.append(services.start(
            BIN, worker_env, logs, name, "celery", "worker", "--celery-hostname", f"{name}@%h",
            "--concurrency", str(concurrency),
        ))
    for proc, name in zip(started[-workers:], names):
        services.wait_for_line(logs / f"{name}.log", "ready.", 180, proc)


def chain_dag_celery(path: Path, visits: int, workers: int) -> dict:
    """The chain's day through ``foot_traffic_chain_daily`` on CeleryExecutor with ``workers`` workers."""
    import services
    from common import BIN, count_records, create_topics, fresh_broker
    from foot_traffic.local_broker import free_port

    timeout = float(os.environ.get("BENCH_CHAIN_DAG_TIMEOUT", "5400"))
    with (
        services.postgres_database("ft_bench") as db_url,
        services.redis_database(claim="foot-traffic-bench-claim") as redis_url,
        fresh_broker(f"chain-dag-{workers}") as broker,
    ):
        home, logs, env = celery_home(db_url, redis_url, broker.bootstrap)
        started = []
        try:
            start_celery_stack(env, logs, workers, WORKER_CONCURRENCY, started)
            services.airflow(BIN, env, "dags", "unpause", DAG_ID)
            conf = {
                "seed": SEED, "stores_file": str(path), "shard_size": SHARD_SIZE,
                "topic": TOPIC, "topic_realistic": TOPIC_REALISTIC,
            }
            t0 = datetime.now(UTC)
            load = os.getloadavg()
            services.airflow(BIN, env, "dags", "trigger", DAG_ID, "--run-id", "bench_chain",
                             "-l", f"{DAY.isoformat()}T00:00:00+00:00", "-c", json.dumps(conf))
            deadline = time.monotonic() + timeout
            state = None
            while time.monotonic() < deadline:
                rows = services.query(db_url, "select state, start_date, end_date from dag_run where dag_id = %s "
                                      "and run_id = %s", (DAG_ID, "bench_chain"))
                if rows and rows[0][0] in ("success", "failed"):
                    state, run_start, run_end = rows[0]
                    break
                time.sleep(1)
            tis = services.query(
                db_url, "select task_id, map_index, state, hostname, start_date, end_date from task_instance "
                "where dag_id = %s and run_id = %s order by task_id, map_index", (DAG_ID, "bench_chain"),
            )
        finally:
            for proc in reversed(started):
                services.kill_tree(proc)
            spans = operator_spans(home, "produce_shard")
            if state == "success":  # a failed run's logs stay for a look
                shutil.rmtree(home, ignore_errors=True)
        if state != "success":
            raise RuntimeError(f"chain DAG run with {workers} worker(s): state {state}\n{tis}\n{services.tails(logs)}")
        landed = sum(count_records(broker.bootstrap).values())
    if landed != 3 * visits:
        raise RuntimeError(f"chain_dag_celery_{workers}: {landed} landed, {3 * visits} planned")
    seconds = (run_end - t0).total_seconds()
    shards = [t for t in tis if t[0] == "produce_shard"]
    per_worker: dict[str, int] = {}
    for t in shards:
        per_worker[t[3]] = per_worker.get(t[3], 0) + 1
    task_seconds = [(t[5] - t[4]).total_seconds() for t in shards]
    return {
        "workers": workers,
        "concurrency": WORKER_CONCURRENCY,
        "shard_size": SHARD_SIZE,
        "shards": len(shards),
        "shards_per_worker": per_worker,
        "records": 3 * visits,
        "landed": landed,
        "seconds": seconds,
        "records_per_s": 3 * visits / seconds,
        "run_seconds": (run_end - run_start).total_seconds(),
        "shard_seconds_sum": sum(task_seconds),
        "shard_seconds_max": max(task_seconds),
        "operator_seconds": spans,  # per shard, once its task started (task logs)
        "load": load,
        "load_after": os.getloadavg(),
    }


def _airflow_home() -> Path:
    """A fresh Airflow home with its metadata database (SQLite)."""
    from common import BIN, airflow_env

    home = Path(tempfile.mkdtemp(prefix="airflow-home-", dir=WORK))
    proc = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=airflow_env(home), capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed (rc {proc.returncode}):\n{proc.stderr[-1500:]}")
    return home


def _stamp(line: str) -> datetime | None:
    import re

    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
    return datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC) if m else None


def chain_dags_test(path: Path, visits: int, shard_size: int) -> dict:
    """The chain's day through ``airflow dags test foot_traffic_chain_daily DAY`` (SQLite, tasks
    in the test process one after the other), shards of ``shard_size``: the process's wall,
    and the run's (the first task's start to the run's end, the test command's own start-up
    left out); what the topics hold afterwards (``fingerprint``)."""
    from common import BIN, airflow_env, create_topics, fingerprint, fresh_broker

    home = _airflow_home()
    try:
        with fresh_broker("chain-dagstest") as broker:
            create_topics(broker.bootstrap)
            env = airflow_env(home)
            env["AIRFLOW_CONN_KAFKA_DEFAULT"] = json.dumps({"conn_type": "kafka",
                                                           "extra": {"bootstrap.servers": broker.bootstrap}})
            conf = {"seed": SEED, "stores_file": str(path), "shard_size": shard_size,
                    "topic": TOPIC, "topic_realistic": TOPIC_REALISTIC}
            started = time.perf_counter()
            proc = subprocess.run([str(BIN / "airflow"), "dags", "test", DAG_ID, DAY.isoformat(), "-c", json.dumps(conf)],
                                  env=env, capture_output=True, text=True, timeout=7200, cwd=ROOT)
            wall = time.perf_counter() - started
            out = proc.stdout + "\n" + proc.stderr
            if proc.returncode != 0 or "DagRun Finished" not in out or "state=failed" in out:
                raise RuntimeError(f"airflow dags test of the chain failed (rc {proc.returncode}):\n{out[-4000:]}")
            lines = out.splitlines()
            first = next(_stamp(line) for line in lines if "Task started" in line and _stamp(line))
            last = max(t for t in map(_stamp, lines) if t is not None)
            held = fingerprint(broker.bootstrap)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    records = sum(t["records"] for t in held.values())
    if records != 3 * visits:
        raise RuntimeError(f"chain dags test: {records} landed, {3 * visits} planned")
    run_seconds = (last - first).total_seconds()
    return {
        "records": records, "shard_size": shard_size, "shards": out.count("starting task_id=produce_shard"),
        "skipped_backfill_shard": "backfill_shard" in out and "skipped" in out,
        "process_wall_s": wall, "seconds": run_seconds, "records_per_s": records / run_seconds,
        "startup_s": wall - run_seconds, "held": held,
    }


def chain_cli_held(path: Path, visits: int) -> dict:
    """``chain_cli`` and what its topics hold afterwards (``fingerprint``)."""
    from common import create_topics, env_for, fingerprint, fresh_broker, run_json

    with fresh_broker("chain-cli") as broker:
        create_topics(broker.bootstrap)
        env = env_for(broker.bootstrap)
        env.pop("DAILY_CUSTOMERS")
        started = time.perf_counter()
        result = run_json(["bench/chain.py", "cli", broker.bootstrap, str(path)], env=env, timeout=7200)
        result["process_wall_s"] = time.perf_counter() - started
        result["held"] = fingerprint(broker.bootstrap)
    if sum(t["records"] for t in result["held"].values()) != 3 * visits:
        raise RuntimeError(f"chain cli: {result['held']} landed, {3 * visits} planned")
    return result


def run_dags_test(out: dict) -> None:
    """Issue 24's Done-when: a catalogue of DAGS_TEST_STORES stores (10 time zones) of
    DAGS_TEST_VISITS_PER_STORE visits, the chain DAG in shards of DAGS_TEST_SHARD_SIZE under
    ``airflow dags test`` against ``foot-traffic produce --stores`` in one process, same
    catalogue and day, alternating, DAGS_TEST_ROUNDS rounds; the same records (counts,
    event ids, digest)."""
    from common import median

    path = write_catalogue(WORK / f"chain-{DAGS_TEST_STORES}-{DAGS_TEST_VISITS_PER_STORE}.yaml",
                           catalogue_doc(DAGS_TEST_STORES, DAGS_TEST_VISITS_PER_STORE))
    visits = planned_visits(path, DAY)
    rounds = []
    for index in range(DAGS_TEST_ROUNDS):
        load = os.getloadavg()
        cli = chain_cli_held(path, visits)
        dag = chain_dags_test(path, visits, DAGS_TEST_SHARD_SIZE)
        same = cli["held"] == dag["held"]
        rounds.append({"cli": cli, "dag": dag, "same_records": same, "load": load, "load_after": os.getloadavg(),
                       "ratio": dag["records_per_s"] / cli["records_per_s"],
                       "ratio_process": cli["process_wall_s"] / dag["process_wall_s"]})
        log(f"chain dags test round {index + 1}: {dag['shards']} shards of {DAGS_TEST_SHARD_SIZE}: "
            f"{dag['records_per_s']:,.0f}/s (run), CLI {cli['records_per_s']:,.0f}/s: {rounds[-1]['ratio']:.2f} ×; "
            f"same records: {same}; load {load[0]:.1f}")
        if not same:
            raise RuntimeError(f"chain dags test: not the CLI's records:\n{cli['held']}\n{dag['held']}")
    out["dagstest"] = {"rounds": rounds, "shard_size": DAGS_TEST_SHARD_SIZE, "stores": DAGS_TEST_STORES,
                       "visits_per_store": DAGS_TEST_VISITS_PER_STORE, "visits": visits,
                       "ratio": median([r["ratio"] for r in rounds]),
                       "ratio_process": median([r["ratio_process"] for r in rounds])}


# The multi-day backfill (``backfill``): a chain of BACKFILL_STORES stores at
# BACKFILL_VISITS_PER_STORE visits a store-day, `airflow backfill create` of BACKFILL_DAYS days
# on CeleryExecutor with 2 workers (BACKFILL_WORKER_CONCURRENCY slots each), shards of
# BACKFILL_SHARD_SIZE in a backfill pool of BACKFILL_POOL_SLOTS slots, --max-active-runs
# BACKFILL_MAX_ACTIVE_RUNS; stopped (the DAG paused, the runs under way let finish) after
# BACKFILL_BUDGET_SECONDS.
BACKFILL_STORES = int(os.environ.get("BENCH_BACKFILL_STORES", "100"))
BACKFILL_VISITS_PER_STORE = int(os.environ.get("BENCH_BACKFILL_VISITS_PER_STORE", "100"))
BACKFILL_DAYS = int(os.environ.get("BENCH_BACKFILL_DAYS", "365"))
BACKFILL_SHARD_SIZE = int(os.environ.get("BENCH_BACKFILL_SHARD_SIZE", "50"))
BACKFILL_POOL_SLOTS = int(os.environ.get("BENCH_BACKFILL_POOL_SLOTS", "2"))
BACKFILL_MAX_ACTIVE_RUNS = int(os.environ.get("BENCH_BACKFILL_MAX_ACTIVE_RUNS", "2"))
BACKFILL_WORKER_CONCURRENCY = int(os.environ.get("BENCH_BACKFILL_WORKER_CONCURRENCY", "2"))
BACKFILL_BUDGET_SECONDS = float(os.environ.get("BENCH_BACKFILL_BUDGET_SECONDS", "1200"))
BACKFILL_POOL = "foot_traffic_backfill"
# Read every record back afterwards to count each day's (off: the end offsets only). The
# embedded broker holding millions of records answers a fetch with a frame larger than
# kafka-python accepts ("Invalid frame length"), and the read never ends.
BACKFILL_READBACK = os.environ.get("BENCH_BACKFILL_READBACK", "0") == "1"


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


def chain_backfill_celery() -> dict:
    """``airflow backfill create`` of the chain DAG on CeleryExecutor with 2 workers: per day
    (run) its records, wall, shard durations, the workers' and the broker's RSS; what the
    data topics and the writers topic hold afterwards. The first day is the last of the
    range's (2025-11-07, the bench's day) minus BACKFILL_DAYS - 1."""
    import threading
    from datetime import timedelta

    import services
    from common import BIN, create_topics, fresh_broker, topic_counts
    from foot_traffic.delivery.ledger import ledger_topic
    from foot_traffic.local_broker import free_port
    from foot_traffic_airflow.chain import chain_day

    path = write_catalogue(WORK / f"chain-backfill-{BACKFILL_STORES}-{BACKFILL_VISITS_PER_STORE}.yaml",
                           catalogue_doc(BACKFILL_STORES, BACKFILL_VISITS_PER_STORE))
    first = DAY - timedelta(days=BACKFILL_DAYS - 1)
    workers = 2
    with (
        services.postgres_database("ft_bench") as db_url,
        services.redis_database(claim="foot-traffic-bench-claim") as redis_url,
        fresh_broker("chain-backfill") as broker,
    ):
        home, logs, env = celery_home(db_url, redis_url, broker.bootstrap)
        services.airflow(BIN, env, "pools", "set", BACKFILL_POOL, str(BACKFILL_POOL_SLOTS), "bench: chain backfills")
        started, samples, stop = [], [], threading.Event()
        try:
            start_celery_stack(env, logs, workers, BACKFILL_WORKER_CONCURRENCY, started)
            worker_pids = [p.pid for p in started[-workers:]]

            def sample() -> None:  # the workers' (process trees) and the broker's RSS, with the load
                while not stop.wait(5.0):
                    samples.append((datetime.now(UTC), [_tree_rss_mb(pid) for pid in worker_pids],
                                    _tree_rss_mb(broker.process.pid), os.getloadavg()[0]))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            services.airflow(BIN, env, "dags", "unpause", DAG_ID)
            conf = {"seed": SEED, "stores_file": str(path), "shard_size": BACKFILL_SHARD_SIZE,
                    "topic": TOPIC, "topic_realistic": TOPIC_REALISTIC}
            # The run of day D is scheduled at 00:00 UTC+14 of D, i.e. 10:00 UTC of D-1.
            t0 = datetime.now(UTC)
            load0 = os.getloadavg()
            services.airflow(BIN, env, "backfill", "create", "--dag-id", DAG_ID,
                             "--from-date", (first - timedelta(days=1)).isoformat() + "T10:00:00+00:00",
                             "--to-date", (DAY - timedelta(days=1)).isoformat() + "T10:00:00+00:00",
                             "--max-active-runs", str(BACKFILL_MAX_ACTIVE_RUNS), "--dag-run-conf", json.dumps(conf))
            deadline = time.monotonic() + BACKFILL_BUDGET_SECONDS
            paused_at = None
            while True:
                states = services.query(db_url, "select state, count(*) from dag_run where dag_id = %s "
                                        "and run_type = 'backfill' group by state", (DAG_ID,))
                counts = dict(states)
                if sum(counts.values()) and not counts.get("running") and not counts.get("queued"):
                    break
                if paused_at is None and time.monotonic() > deadline:
                    # The budget is spent: the backfill is paused (the scheduler starts none of its
                    # queued runs: what the API's pause does); the runs under way finish.
                    _pause_backfills(db_url)
                    paused_at = datetime.now(UTC)
                    log(f"backfill: budget of {BACKFILL_BUDGET_SECONDS:.0f} s spent, backfill paused: {counts}")
                if paused_at is not None and not counts.get("running"):
                    break
                time.sleep(5)
            t_end = datetime.now(UTC)
            stop.set()
            runs = services.query(
                db_url, "select run_id, logical_date, state, start_date, end_date from dag_run where dag_id = %s "
                "and run_type = 'backfill' order by logical_date", (DAG_ID,))
            tis = services.query(
                db_url, "select run_id, task_id, map_index, state, hostname, start_date, end_date, pool, "
                "priority_weight from task_instance where dag_id = %s order by run_id, task_id, map_index", (DAG_ID,))
            scheduler_warned = "non-existent pool" in (logs / "scheduler.log").read_text(errors="replace")
        finally:
            stop.set()
            for proc in reversed(started):
                services.kill_tree(proc)
        done = [r for r in runs if r[2] == "success"]
        if not done:
            shutil.rmtree(home, ignore_errors=True)
            raise RuntimeError(f"backfill: no run succeeded\n{runs[:5]}\n{tis[:10]}\n{services.tails(logs)}")
        writers = ledger_topic(TOPIC)
        held = topic_counts(broker.bootstrap, (TOPIC, TOPIC_REALISTIC, writers))
        per_day_held = _records_per_day(broker.bootstrap) if BACKFILL_READBACK else None
        ledger_partitions = _nonempty_partitions(broker.bootstrap, writers)
        broker_rss = _tree_rss_mb(broker.process.pid)
        spans = operator_spans(home, "backfill_shard")
        shutil.rmtree(home, ignore_errors=True)
    by_run: dict[str, list] = {}
    for ti in tis:
        by_run.setdefault(ti[0], []).append(ti)
    days = []
    for run_id, logical, state, start, end in runs:
        if state != "success":
            continue
        day = chain_day(logical)
        planned = 3 * planned_visits(path, day)
        shards = [t for t in by_run.get(run_id, []) if t[1] == "backfill_shard" and t[3] == "success"]
        inside = [s for s in samples if start <= s[0] <= end]
        days.append({
            "day": day.isoformat(), "records": planned,
            "landed": per_day_held.get(day.isoformat(), 0) if per_day_held is not None else None,
            "start": start.isoformat(), "end": end.isoformat(), "run_s": (end - start).total_seconds(),
            "shards": len(shards), "shard_s": [(t[6] - t[5]).total_seconds() for t in shards],
            "shard_pools": sorted({t[7] for t in shards}), "shard_priority": sorted({t[8] for t in shards}),
            "skipped_produce_shard": any(t[1] == "produce_shard" and t[3] == "skipped" for t in by_run.get(run_id, [])),
            "workers": sorted({t[4] for t in shards}),
            "worker_rss_mb": [max((s[1][i] for s in inside), default=None) for i in range(workers)],
            "broker_rss_mb": max((s[2] for s in inside), default=None),
            "load": max((s[3] for s in inside), default=None),
        })
    ends = sorted(datetime.fromisoformat(d["end"]) for d in days)
    for d, previous in zip(sorted(days, key=lambda d: d["end"])[1:], ends):
        d["wall_since_previous_s"] = (datetime.fromisoformat(d["end"]) - previous).total_seconds()
    records = sum(d["records"] for d in days)
    wall = (max(ends) - t0).total_seconds()
    return {
        "stores": BACKFILL_STORES, "visits_per_store": BACKFILL_VISITS_PER_STORE, "days_asked": BACKFILL_DAYS,
        "first_day": first.isoformat(), "shard_size": BACKFILL_SHARD_SIZE, "pool_slots": BACKFILL_POOL_SLOTS,
        "max_active_runs": BACKFILL_MAX_ACTIVE_RUNS, "workers": workers, "concurrency": BACKFILL_WORKER_CONCURRENCY,
        "budget_s": BACKFILL_BUDGET_SECONDS, "paused_at": paused_at.isoformat() if paused_at else None,
        "days_done": len(days), "runs": len(runs), "records": records, "wall_s": wall,
        "records_per_s": records / wall, "load_start": load0, "end": t_end.isoformat(),
        "held": held, "ledger_partitions_used": ledger_partitions, "broker_rss_end_mb": broker_rss,
        "all_landed": all(d["landed"] == d["records"] for d in days) if per_day_held is not None else None,
        "data_records_held": held[TOPIC] + held[TOPIC_REALISTIC],
        "scheduler_warned_missing_pool": scheduler_warned, "days": days,
        "operator_seconds_sum": sum(spans), "operator_spans": len(spans),
    }


def _pause_backfills(db_url: str) -> None:
    import psycopg2

    from tests.support.services import PG_HOST, PG_PORT

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=db_url.rsplit("/", 1)[1])
    try:
        conn.autocommit = True
        conn.cursor().execute("update backfill set is_paused = true where dag_id = %s", (DAG_ID,))
    finally:
        conn.close()


def _records_per_day(bootstrap: str) -> dict[str, int]:
    """Committed records of both data topics per local day (header ``ft-day``)."""
    from foot_traffic.records.events import H_DAY

    out: dict[str, int] = {}
    for _, m in committed_records(bootstrap, (TOPIC, TOPIC_REALISTIC), timeout=1800):
        day = next((v.decode() for k, v in m.headers or () if k == H_DAY), "?")
        out[day] = out.get(day, 0) + 1
    return out


def _nonempty_partitions(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return sum(1 for offset in consumer.end_offsets(tps).values() if offset > 0)
    finally:
        consumer.close()


class Due:
    """How many records of a live chain run are due by a time: for every visit entering after
    the run's start (earlier ones are skipped whole), 2 records at its entry, 1 at its exit.
    A live run that takes minutes to open its store-days sends what fell due meanwhile in a
    burst; it has caught up once what it sent reaches what was due."""

    def __init__(self, path: Path, start: float):
        import bisect

        from foot_traffic.plan.localday import local_date
        from foot_traffic.plan.storeday import plan_store_day
        from foot_traffic.plan.stores import load_catalogue
        from foot_traffic.settings import Settings

        settings = Settings.from_env({"SEED": str(SEED)})
        entries, exits = [], []
        for store in load_catalogue(path):
            plan = plan_store_day(store, local_date(start, store.tz), settings, SEED)
            for visit in plan.visits():
                if visit.entry_ts >= start:
                    entries.append(visit.entry_ts)
                    exits.append(visit.exit_ts)
        self.entries, self.exits = sorted(entries), sorted(exits)
        self._right = bisect.bisect_right

    def by(self, when: float) -> int:
        return 2 * self._right(self.entries, when) + self._right(self.exits, when)


def _first_line_time(log_path: Path) -> float | None:
    """Epoch seconds of the ``foot-traffic produce:`` line (the run's start), once logged."""
    for line in log_path.read_text(errors="replace").splitlines():
        if "foot-traffic produce:" in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def _progress(log_path: Path) -> list[tuple[float, int, int]]:
    """(seconds since the epoch, records sent, store-days under way) of each progress line."""
    import re

    pattern = re.compile(r"^(\S+ \S+) INFO .*progress: (\d+) records sent, \d+ store-days done, (\d+) under way")
    out = []
    for line in log_path.read_text(errors="replace").splitlines():
        m = pattern.match(line)
        if m:
            when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((when, int(m.group(2)), int(m.group(3))))
    return out


def chain_live() -> dict:
    """N live stores and, side by side, a few: CPU and RSS of each process after warm-up."""
    import psutil

    from common import env_for, fresh_broker
    from common import BIN

    now = datetime.now(UTC)
    zones = live_zones(now)
    sizes = {"many": STORES, "few": LIVE_FEW}
    out: dict = {"zones": list(zones), "hours": LIVE_HOURS, "visits_per_store": LIVE_VISITS_PER_STORE,
                 "seconds": LIVE_SECONDS, "warmup_s": LIVE_WARMUP}
    with fresh_broker("chain-live-many") as many, fresh_broker("chain-live-few") as few:
        brokers = {"many": many, "few": few}
        procs, logs, paths = {}, {}, {}
        launched, launched_epoch = time.monotonic(), time.time()
        for key, n in sizes.items():
            path = paths[key] = write_catalogue(
                WORK / f"chain-live-{n}.yaml", catalogue_doc(n, LIVE_VISITS_PER_STORE, zones, LIVE_HOURS)
            )
            env = env_for(brokers[key].bootstrap, TIME_SCALE="1", LOG_LEVEL="INFO")
            env.pop("DAILY_CUSTOMERS")
            logs[key] = WORK / f"chain-live-{n}.log"
            procs[key] = subprocess.Popen(
                [str(BIN / "foot-traffic"), "produce", "--stores", str(path)], cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=open(logs[key], "wb"),  # noqa: SIM115 - closed with the process
            )
        try:
            # The run skips visits entering before its start: its first log line (after the
            # imports, seconds after the launch) is when its clock read "now".
            due = {}
            while len(due) < len(paths) and time.monotonic() < launched + 600:
                for key, path in paths.items():
                    first = _first_line_time(logs[key])
                    if key not in due and first is not None:
                        due[key] = Due(path, first)
                time.sleep(0.5)
            # Warm: every store-day of both runs under way and what fell due meanwhile sent
            # (a progress line, every 30 s, says so), then the warm-up.
            deadline = time.monotonic() + 1800
            under_way_at, ready_at, backlog = {}, {}, {}
            while len(ready_at) < len(sizes) and time.monotonic() < deadline:
                for key, proc in procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"live {key} exited {proc.returncode}:\n{logs[key].read_text()[-3000:]}")
                    for when, sent, open_days in _progress(logs[key]):
                        if open_days < sizes[key]:
                            continue
                        at = launched + (when - launched_epoch)
                        if key not in under_way_at:
                            under_way_at[key] = at
                            backlog[key] = due[key].by(when) - sent
                        if key not in ready_at and sent >= 0.99 * due[key].by(when - 5):
                            ready_at[key] = at
                            break
                time.sleep(1)
            if len(ready_at) < len(sizes):
                raise RuntimeError(f"live chain: not caught up within 1800 s ({ready_at}, {under_way_at})")
            log(f"chain live: {STORES} and {LIVE_FEW} stores under way; warm-up {LIVE_WARMUP:.0f} s, then {LIVE_SECONDS:.0f} s")
            time.sleep(LIVE_WARMUP)
            ps = {k: psutil.Process(p.pid) for k, p in procs.items()}
            cpu0 = {k: sum(p.cpu_times()[:2]) for k, p in ps.items()}
            t0, t0_epoch = time.monotonic(), time.time()
            rss: dict[str, list[int]] = {k: [] for k in ps}
            while time.monotonic() - t0 < LIVE_SECONDS:
                for k, p in ps.items():
                    rss[k].append(p.memory_info().rss)
                time.sleep(1.0)
            cpu1 = {k: sum(p.cpu_times()[:2]) for k, p in ps.items()}
            t1, t1_epoch = time.monotonic(), time.time()
            threads = {k: p.num_threads() for k, p in ps.items()}
        finally:
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=300)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for key in sizes:
            lines = _progress(logs[key])
            inside = [ln for ln in lines if t0_epoch <= ln[0] <= t1_epoch]
            # records/s from the progress lines (every 30 s) in the measured window
            after = inside
            window = (after[-1][1] - after[0][1]) / (after[-1][0] - after[0][0]) if len(after) >= 2 else None
            out[key] = {
                "stores": sizes[key],
                "cpu_pct": 100 * (cpu1[key] - cpu0[key]) / (t1 - t0),
                "rss_mean_mb": sum(rss[key]) / len(rss[key]) / 2**20,
                "rss_peak_mb": max(rss[key]) / 2**20,
                "store_days_open": max(ln[2] for ln in inside) if inside else sizes[key],
                "records_per_s": window,
                "threads": threads[key],
                "startup_s": under_way_at[key] - launched,
                "backlog_records": backlog[key],
                "caught_up_s": ready_at[key] - launched,
            }
    m, f = out["many"], out["few"]
    out["bytes_per_store"] = (m["rss_mean_mb"] - f["rss_mean_mb"]) * 2**20 / (m["store_days_open"] - f["store_days_open"])
    return out


def run_cli(res: dict, out: dict, path: Path, visits: int) -> None:
    """The engine alone, the chain through the CLI, and the one-store baseline."""
    from common import median, run_json, without_settings

    out["engine"] = run_json(["bench/chain.py", "engine", str(path), str(visits)], env=without_settings())
    e = out["engine"]
    log(f"engine only: chain {e['chain']['us_per_record']:.2f} µs per record, one store {e['one_store']['us_per_record']:.2f}")
    from common import fresh_broker

    with fresh_broker("chain-shape") as broker:
        out["shape"] = run_json(["bench/chain.py", "shape", broker.bootstrap, str(path), str(visits)], env=without_settings())
    sh = out["shape"]
    log(f"record shape, raw kafka-python loop: chain's records {sh['chain']['records_per_s']:,.0f}/s, one store's "
        f"{sh['one_store']['records_per_s']:,.0f}/s ({sh['ratio']:.2f} ×)")
    out["cli"] = twice("chain_cli", chain_cli, path, visits)
    log(f"chain_cli: {out['cli']['records']:,} records in {out['cli']['seconds']:.1f} s = {out['cli']['records_per_s']:,.0f}/s")
    cli_runs = (res.get("delivery") or {}).get("runs", {}).get("cli")
    if cli_runs and visits == res["setup"]["visits"]:
        out["baseline"] = {"records_per_s": median([r["records_per_s"] for r in cli_runs]), "source": "section 1"}
    else:
        out["baseline"] = {**twice("one-store baseline", one_store_cli, visits), "source": "measured here"}
    log(f"one-store baseline ({out['baseline']['source']}): {out['baseline']['records_per_s']:,.0f}/s")
    # Issue 24, item 5: what the librdkafka path reaches (the chain and its one-store baseline).
    out["cli_confluent"] = twice("chain_cli_confluent", chain_cli, path, visits, "confluent")
    confluent_runs = (res.get("delivery") or {}).get("runs", {}).get("cli_confluent")
    if confluent_runs and visits == res["setup"]["visits"]:
        out["baseline_confluent"] = {"records_per_s": median([r["records_per_s"] for r in confluent_runs]),
                                     "source": "section 1"}
    else:
        out["baseline_confluent"] = {"records_per_s": None, "source": "not measured"}
    log(f"chain_cli confluent: {out['cli_confluent']['records_per_s']:,.0f}/s; one store (confluent): "
        f"{out['baseline_confluent']['records_per_s'] or 0:,.0f}/s")


def run(res: dict) -> dict:
    """Every chain case named by BENCH_CHAIN_CASES; a case whose services are missing is skipped, saying why."""
    from services import Unavailable

    path = full_speed_catalogue()
    visits = planned_visits(path, DAY)
    out: dict = {"stores": STORES, "visits_per_store": VISITS_PER_STORE, "visits": visits, "day": DAY.isoformat(),
                 "zones": list(ZONES), "catalogue": str(path), "skipped": {}}
    log(f"chain: {STORES} stores x {VISITS_PER_STORE} visits = {visits:,} visits on {DAY}, catalogue {path}")
    for case in CASES:  # in the order given
        if case == "cli":
            run_cli(res, out, path, visits)
        elif case == "dag":
            for workers in (1, 2):
                try:
                    out[f"dag_celery_{workers}"] = twice(f"chain_dag_celery_{workers}", chain_dag_celery, path, visits, workers)
                    r = out[f"dag_celery_{workers}"]
                    log(f"chain_dag_celery_{workers}: {r['records']:,} records in {r['seconds']:.1f} s = {r['records_per_s']:,.0f}/s")
                except Unavailable as exc:
                    out["skipped"][f"dag_celery_{workers}"] = str(exc)
                    log(f"chain_dag_celery_{workers}: skipped: {exc}")
        elif case == "backfill":
            try:
                out["backfill"] = chain_backfill_celery()
                b = out["backfill"]
                log(f"chain backfill: {b['days_done']} days, {b['records']:,} records in {b['wall_s']:.0f} s = "
                    f"{b['records_per_s']:,.0f}/s")
            except Unavailable as exc:
                out["skipped"]["backfill"] = str(exc)
                log(f"chain backfill: skipped: {exc}")
        elif case == "dagstest":
            run_dags_test(out)
        elif case == "live":
            out["live"] = chain_live()
            m = out["live"]["many"]
            log(f"chain_live: {m['stores']} stores, CPU {m['cpu_pct']:.2f} %, RSS {m['rss_peak_mb']:.0f} MB, "
                f"{out['live']['bytes_per_store']:,.0f} bytes per store")
        else:
            raise SystemExit(f"BENCH_CHAIN_CASES: unknown case {case!r} (cli, dagstest, dag, backfill, live)")
        # What is measured so far survives a run stopped later (a long case, a deadline).
        (WORK / "chain-partial.json").write_text(json.dumps(out, indent=1, default=str))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
