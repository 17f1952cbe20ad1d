"""Benchmark 6, what transactions cost a live stream: when its records become visible.

    python bench/transactions.py txn|plain CLIENT BOOTSTRAP SECONDS PREFIX

Plays the dense day of bench/pacing.py (~13 records/s) from its midnight at TIME_SCALE=1
for SECONDS through the producer's own runner and publisher -- ``txn``: the default,
``KAFKA_TRANSACTIONS=1`` (one transactional producer for the day, a commit whenever the
stream waits); ``plain``: ``KAFKA_TRANSACTIONS=0`` (one idempotent producer, no
transactions) -- while a ``read_committed`` consumer in the same process reads both
topics. Per record, on one monotonic clock:

  send lateness  send time - due time (the pacer; with transactions it commits while it waits)
  visible after  time the consumer received it - send time: what a read_committed consumer
                 waits beyond the send (acknowledgement, commit, markers, its fetch)

The consumer is the same in both modes (fetch_max_wait_ms 10), so the difference between
the modes is the cost of transactions. Also: records never seen (must be 0), commits.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from common import DAY, SEED, cpu_seconds, emit
from pacing import VISITS, profile_path


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run(mode: str, client: str, bootstrap: str, seconds: float, prefix: str) -> dict:
    from kafka import KafkaConsumer, TopicPartition

    from foot_traffic.run import runner as runner_module
    from foot_traffic.build import build_runner
    from foot_traffic.records.events import H_EVENT_ID
    from foot_traffic.run.pacing import Pacer, SystemClock
    from foot_traffic.delivery.topics import ensure_topics
    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.settings import Settings

    settings = Settings.from_env(
        {
            "KAFKA_BROKER": bootstrap,
            "KAFKA_TOPIC": f"{prefix}_sessions",
            "KAFKA_TOPIC_REALISTIC": f"{prefix}_events",
            "SEED": str(SEED),
            "DAILY_CUSTOMERS": str(VISITS),
            "TIME_SCALE": "1",
            "SLEEP": "0.5",
            "FOOT_TRAFFIC_PROFILE": str(profile_path()),
            "FOOT_TRAFFIC_FROM_MIDNIGHT": "1",
            "KAFKA_TRANSACTIONS": "1" if mode == "txn" else "0",
            "KAFKA_CLIENT": client,
        }
    )
    topics = [settings.kafka_topic, settings.kafka_topic_realistic]
    stop, done = threading.Event(), threading.Event()
    ensure_topics(KafkaOptions.from_settings(settings), topics, stop)

    # The consumer: from the end, read_committed, short fetch waits.
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed", fetch_max_wait_ms=10
    )
    tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(tps)
    consumer.seek_to_end(*tps)
    for tp in tps:
        consumer.position(tp)
    seen: dict[bytes, float] = {}

    def consume():
        while not done.is_set():
            for messages in consumer.poll(timeout_ms=50).values():
                now = time.monotonic()
                for m in messages:
                    for key, value in m.headers or ():
                        if key == H_EVENT_ID:
                            seen.setdefault(value, now)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()

    # The send side: every record's send time, and the pacer (its t0 and anchor).
    sent: dict[bytes, tuple[float, int]] = {}
    pacers: list[Pacer] = []

    class RecordingPacer(Pacer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pacers.append(self)

    runner_module.Pacer = RecordingPacer
    if client == "confluent":
        from foot_traffic.delivery.confluent import ConfluentPublisher as cls
    else:
        from foot_traffic.delivery.kafka_python import KafkaPublisher as cls
    real_send = cls.send

    def timed_send(self, record):
        if record.headers:  # not the owner record
            sent[record.headers[0][1]] = (time.monotonic(), record.due)
        real_send(self, record)

    cls.send = timed_send
    runner = build_runner(settings, DAY, stop=stop, clock=SystemClock(), progress_every=3600)
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    c0 = cpu_seconds()
    w0 = time.perf_counter()
    [summary] = runner.run([DAY])
    cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
    timer.cancel()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(k not in seen for k in sent):
        time.sleep(0.1)
    done.set()
    reader.join(5)
    consumer.close()

    pacer = pacers[0]
    first = min(t for t, _ in sent.values())
    lateness, visible, startup = [], [], 0
    for event_id, (t_sent, due) in sent.items():
        due_wall = pacer._t0 + (due - pacer.sim0) / pacer.time_scale
        if due_wall <= first:  # already due when the stream began: the startup burst
            startup += 1
            continue
        lateness.append(t_sent - due_wall)
        if event_id in seen:
            visible.append(seen[event_id] - t_sent)
    delivery = runner.delivery
    return {
        "mode": mode,
        "client": client,
        "sends": len(sent),
        "records_per_s": len(sent) / seconds,
        "startup_sends": startup,
        "never_seen": sum(1 for k in sent if k not in seen),
        "late_p50_ms": 1e3 * pct(lateness, 0.5),
        "late_p99_ms": 1e3 * pct(lateness, 0.99),
        "visible_p50_ms": 1e3 * pct(visible, 0.5),
        "visible_p90_ms": 1e3 * pct(visible, 0.9),
        "visible_p99_ms": 1e3 * pct(visible, 0.99),
        "visible_max_ms": 1e3 * max(visible),
        "transactions": getattr(delivery, "transactions", 0),
        "seconds": seconds,
        "producing_wall_s": wall,
        "cpu_s": cpu,  # the whole process: producer and the measuring consumer
        "records_sent": summary.sent,
    }


def main() -> None:
    mode, client, bootstrap, seconds, prefix = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import logging

    logging.basicConfig(level=logging.WARNING)
    emit(run(mode, client, bootstrap, seconds, prefix))


if __name__ == "__main__":
    main()
