"""Benchmark 1, full-speed delivery of a past day: one case per process.

    python bench/delivery.py CASE BOOTSTRAP [RECORDS_FILE [EXTRA]]

Cases (each prints one JSON line: records, seconds, records_per_s):
  cli             ours: ``foot-traffic produce --date DAY`` (cli.main in this process, timed
                  from the call to its return: connect, resume scan, plan, send, flush);
                  ``KAFKA_CLIENT`` in the environment selects its client, as for a user
  kafka_python    raw kafka-python loop: the same records, pre-built (key, value, headers,
                  timestamp), through a KafkaProducer built by our KafkaPublisher.connect()
                  (our settings), futures checked after flush; EXTRA = BUSY_US adds that
                  many µs of busy Python work per record to the loop (a control: the
                  engine's own CPU per record, without the engine)
  confluent       raw confluent-kafka loop: the same pre-built records through a librdkafka
                  Producer with our librdkafka settings (producer_settings)
  operator        Airflow's ProduceToTopicOperator at its defaults (synchronous, one log
                  line per record), one operator per topic, key and value only, run
                  in-process (operator.execute: its fastest setting); EXTRA = PART/PARTS
                  sends one consecutive slice of the day
  operator_async  the same with synchronous=False
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from common import DAY, emit, load_records, peak_rss_mb


def _settings():
    from foot_traffic.settings import Settings

    return Settings.from_env(os.environ)


def case_cli(bootstrap: str) -> dict:
    from foot_traffic import cli

    summary = Path(tempfile.mkstemp(suffix=".json")[1])
    started = time.perf_counter()
    rc = cli.main(["--log-level", "WARNING", "produce", "--date", DAY.isoformat(), "--summary-json", str(summary)])
    elapsed = time.perf_counter() - started
    if rc != 0:
        raise SystemExit(f"foot-traffic produce exited {rc}")
    days = json.loads(summary.read_text())
    summary.unlink()
    return {"records": sum(d["records_sent"] for d in days), "seconds": elapsed}


def _our_producer():
    """A KafkaProducer with exactly the settings KafkaPublisher uses (it built it)."""
    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.delivery.kafka_python import KafkaPublisher

    publisher = KafkaPublisher(KafkaOptions.from_settings(_settings()))
    publisher.connect()
    return publisher._producer


def case_kafka_python(bootstrap: str, records_file: str, busy_us: str | None = None) -> dict:
    rows = load_records(records_file)
    busy = float(busy_us or 0) / 1e6
    clock = time.perf_counter
    started = time.perf_counter()
    producer = _our_producer()
    send = producer.send
    if busy:
        # Control: the same loop doing `busy` seconds of Python work per record in the
        # sending thread (the engine's own CPU per record), holding the GIL like it does.
        futures = []
        for topic, key, value, headers, ts in rows:
            until = clock() + busy
            while clock() < until:
                pass
            futures.append(send(topic, value=value, key=key, headers=list(headers), timestamp_ms=ts))
    else:
        futures = [
            send(topic, value=value, key=key, headers=list(headers), timestamp_ms=ts)
            for topic, key, value, headers, ts in rows
        ]
    producer.flush()
    elapsed = time.perf_counter() - started
    failed = sum(1 for f in futures if not f.succeeded())
    producer.close()
    if failed:
        raise SystemExit(f"{failed} records not acknowledged")
    return {"records": len(futures), "seconds": elapsed}


def case_confluent(bootstrap: str, records_file: str) -> dict:
    from confluent_kafka import Producer

    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.delivery.confluent import producer_settings

    rows = load_records(records_file)
    errors = []

    def on_delivery(err, _msg):  # our settings report failures only
        if err is not None:
            errors.append(err)

    started = time.perf_counter()
    config = {**producer_settings(KafkaOptions.from_settings(_settings())), "client.id": "bench-confluent"}
    producer = Producer({"bootstrap.servers": bootstrap, **config})
    produce, poll = producer.produce, producer.poll
    for topic, key, value, headers, ts in rows:
        while True:
            try:
                produce(topic, value, key, headers=list(headers), timestamp=ts, on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: serve callbacks, then retry
                poll(0.05)
        poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - started
    if left or errors:
        raise SystemExit(f"confluent: {len(errors)} errors ({errors[:1]}), {left} left of {len(rows)}")
    return {"records": len(rows), "seconds": elapsed}


def _part(rows: list, part: str | None) -> list:
    """``"i/n"``: the i-th of n consecutive slices of the day (all of it when None)."""
    if not part:
        return rows
    i, n = (int(x) for x in part.split("/"))
    return rows[i * len(rows) // n : (i + 1) * len(rows) // n]


def _operator(bootstrap: str, records_file: str, synchronous: bool, part: str | None = None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-airflow-"))
    os.environ.setdefault("AIRFLOW_HOME", str(work))
    os.environ["AIRFLOW_CONN_KAFKA_DEFAULT"] = json.dumps(
        {"conn_type": "kafka", "extra": {"bootstrap.servers": bootstrap}}
    )
    from airflow.providers.apache.kafka.operators.produce import ProduceToTopicOperator

    # A task writes its log lines to a file: so do we (the default callback logs every record).
    handler = logging.FileHandler(work / "task.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"))
    airflow_log = logging.getLogger("airflow")
    airflow_log.handlers[:] = [handler]
    airflow_log.setLevel(logging.INFO)
    airflow_log.propagate = False

    rows = _part(load_records(records_file), part)
    by_topic: dict[str, list[tuple[bytes, bytes]]] = {}
    for topic, key, value, _headers, _ts in rows:
        by_topic.setdefault(topic, []).append((key, value))

    started = time.perf_counter()
    for topic, pairs in by_topic.items():
        op = ProduceToTopicOperator(
            task_id=f"produce_{topic}",
            topic=topic,
            producer_function=lambda pairs=pairs: iter(pairs),
            synchronous=synchronous,
        )
        op.execute(context={})
    elapsed = time.perf_counter() - started
    handler.flush()
    lines = sum(1 for line in open(work / "task.log", encoding="utf-8") if "Produced record" in line)
    if lines != len(rows):
        raise SystemExit(f"operator: {lines} delivery reports of {len(rows)} records")
    return {"records": len(rows), "seconds": elapsed}


def case_operator(bootstrap: str, records_file: str, part: str | None = None) -> dict:
    return _operator(bootstrap, records_file, synchronous=True, part=part)


def case_operator_async(bootstrap: str, records_file: str, part: str | None = None) -> dict:
    return _operator(bootstrap, records_file, synchronous=False, part=part)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main() -> None:
    case, bootstrap = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    result = CASES[case](bootstrap, *args)
    result["case"] = case
    result["records_per_s"] = result["records"] / result["seconds"]
    result["peak_rss_mb"] = peak_rss_mb()
    emit(result)


if __name__ == "__main__":
    main()
