"""Shared pieces of the benchmarks: the day under test, fresh brokers, topics, records.

Every benchmark case runs in its own Python process (so imports, RSS and CPU time are
its own) against a broker started for it alone (the embedded broker keeps all data in
one JSON snapshot: its cost grows with what it holds, so cases never share one).

The bench modules are run as ``python bench/<module>.py`` (by ``run_all.py``), which puts
this directory first on ``sys.path``: they import this module without any path set-up.
"""

from __future__ import annotations

import json
import marshal
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
WORK = Path(os.environ.get("BENCH_WORK_DIR", ROOT / ".data" / "bench"))

# The day every delivery case sends: a past Friday, fixed seed and size.
DAY = date(2025, 11, 7)
SEED = 7
VISITS = int(os.environ.get("BENCH_VISITS", "100000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
TOPIC = "foot_traffic"
TOPIC_REALISTIC = "foot_traffic_realistic"
PARTITIONS = 3


def without_settings(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: ours) less every producer variable: a case's settings are its own."""
    from foot_traffic.settings import Settings

    names = set(Settings.env_names())
    return {k: v for k, v in (os.environ if environ is None else environ).items() if k not in names}


def env_for(bootstrap: str, **extra: str) -> dict[str, str]:
    """The environment of a producer process: the original variables, the bench day."""
    env = without_settings()
    env.update(
        KAFKA_BROKER=bootstrap,
        KAFKA_TOPIC=TOPIC,
        KAFKA_TOPIC_REALISTIC=TOPIC_REALISTIC,
        SEED=str(SEED),
        DAILY_CUSTOMERS=str(VISITS),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def airflow_env(home: Path) -> dict[str, str]:
    """An Airflow command's environment: this repo's DAGs, none of the producer's variables."""
    env = {
        k: v for k, v in without_settings().items() if not k.startswith("AIRFLOW_CONN_") and k != "AIRFLOW_CONFIG"
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__PARALLELISM="4",
        PYTHONWARNINGS="ignore",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


@contextmanager
def fresh_broker(name: str):
    """A LocalBroker on a free port with an empty data directory, removed afterwards."""
    from foot_traffic.local_broker import LocalBroker

    WORK.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=WORK))
    broker = LocalBroker(base / "data", log_file=base / "broker.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


def create_topics(bootstrap: str, topics=(TOPIC, TOPIC_REALISTIC), partitions: int = PARTITIONS) -> None:
    """Create topics the way our producer does (retention.ms=-1: old timestamps kept)."""
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    try:
        admin.create_topics(
            [NewTopic(t, partitions, 1, topic_configs={"retention.ms": "-1"}) for t in topics]
        )
    finally:
        admin.close()


def topic_counts(bootstrap: str, topics=(TOPIC, TOPIC_REALISTIC)) -> dict[str, int]:
    """Records each topic holds now (sum of end offsets): proof that everything landed."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        out = {}
        for topic in topics:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            out[topic] = sum(consumer.end_offsets(tps).values()) if tps else 0
        return out
    finally:
        consumer.close()


def committed_records(bootstrap: str, topics, timeout: float = 300):
    """Every committed record of ``topics`` (read_committed, from the beginning up to the end
    offsets when the read began), one topic after the other: (topic, message) pairs."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed",
        max_poll_records=50_000, fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    try:
        for topic in topics:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not tps:
                continue
            end = consumer.end_offsets(tps)
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            deadline = time.monotonic() + timeout
            while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
                for tp, messages in consumer.poll(timeout_ms=500).items():
                    for m in messages:
                        if m.offset < end[tp]:
                            yield topic, m
    finally:
        consumer.close()


def count_records(bootstrap: str, topics=(TOPIC, TOPIC_REALISTIC)) -> dict[str, int]:
    """Committed records each topic holds, counted by reading them (read_committed): with
    transactions the end offsets also count the commit markers."""
    out = dict.fromkeys(topics, 0)
    for topic, _ in committed_records(bootstrap, topics):
        out[topic] += 1
    return out


def fingerprint(bootstrap: str, topics=(TOPIC, TOPIC_REALISTIC)) -> dict[str, dict]:
    """What each topic holds, read back (read_committed): its record count, its distinct
    event ids (header ``ft-event-id``) and a digest of every record (key, value, headers,
    timestamp) in a canonical order: two runs wrote the same records when these are equal."""
    import hashlib

    from foot_traffic.records.events import H_EVENT_ID

    rows: dict[str, list[tuple]] = {topic: [] for topic in topics}
    ids: dict[str, set[bytes]] = {topic: set() for topic in topics}
    for topic, m in committed_records(bootstrap, topics, timeout=600):
        headers = tuple(m.headers or ())
        ids[topic].update(v for k, v in headers if k == H_EVENT_ID)
        rows[topic].append((m.key or b"", m.value or b"", headers, m.timestamp))
    out = {}
    for topic in topics:
        digest = hashlib.sha256()
        for row in sorted(rows[topic]):
            digest.update(repr(row).encode())
        out[topic] = {"records": len(rows[topic]), "event_ids": len(ids[topic]), "digest": digest.hexdigest()}
    return out


def records_file(visits: int = VISITS) -> Path:
    """The day's records, pre-serialized by the engine once (marshal: fast to load)."""
    path = WORK / f"records-{DAY}-{SEED}-{visits}.marshal"
    if path.exists():
        return path
    from foot_traffic.model.profile import load_profile
    from foot_traffic.plan.implicit import plan_day
    from foot_traffic.records.stream import StoreDayStream

    plan = plan_day(DAY, load_profile(None), seed=SEED, baseline=1000, fixed_total=visits)
    rows = []
    for moment in StoreDayStream(plan, TOPIC, TOPIC_REALISTIC):
        for r in moment.records:
            rows.append((r.topic, r.key, r.value, r.headers, r.timestamp_ms))
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(marshal.dumps(rows))
    tmp.replace(path)
    return path


def load_records(path: Path) -> list[tuple[str, bytes, bytes, tuple, int]]:
    return marshal.loads(Path(path).read_bytes())


def run_json(args: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> dict:
    """Run a bench worker (a Python module in bench/) and parse the JSON on its last stdout line."""
    started = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(args)} printed no result:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    result.setdefault("process_wall_s", wall)
    return result


def emit(result: dict) -> None:
    """A worker's result: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


def counting_delivery(keep: list | None = None):
    """The runner's delivery into a producer that only counts what it is handed (and, with
    ``keep``, keeps the records there): no Kafka, no scan, no ledger. The engine's cost,
    not a broker's: ``Direct`` (the delivery of ``KAFKA_TRANSACTIONS=0``) on a
    ``MemoryProducer`` whose ``send`` only counts. Returns (delivery, producer);
    ``producer.acked_by_topic`` counts the records per topic."""
    from foot_traffic.delivery.direct import Direct
    from foot_traffic.testing import MemoryKafka, MemoryProducer

    class Counting(MemoryProducer):
        def send(self, record) -> None:
            self.acked_by_topic[record.topic] += 1
            if keep is not None:
                keep.append(record)

    producer = Counting(MemoryKafka())
    return Direct(producer, None, lambda: None), producer


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _status_mb(field: str) -> float:
    """A ``kB`` field of /proc/self/status, in MB (Linux: the bench's platform)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"/proc/self/status has no {field}")


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: on Linux that survives exec, so a
    worker would report its parent's peak when the parent was bigger."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    """This process's RSS now (VmRSS)."""
    return _status_mb("VmRSS")


def cpu_seconds() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load": load,
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "foot-traffic-producer",
        "kafka-python",
        "confluent-kafka",
        "apache-airflow",
        "apache-airflow-providers-apache-kafka",
        "noida-db",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    try:
        import confluent_kafka

        out["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    return out
