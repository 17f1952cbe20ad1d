"""Read topics back from a real broker, for tests that compare what landed with the plan.

``read_committed`` by default, as consumers of these topics should read them: records of
aborted transactions (a fenced run's last, unfinished transaction) are not part of the
data. Transaction markers occupy offsets, so offsets may have gaps.
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from foot_traffic.analysis.readback import Landed  # the engine's own record-as-landed

__all__ = ["Landed", "read_topic"]


def read_topic(
    bootstrap: str, topic: str, timeout_s: float = 20.0, isolation_level: str = "read_committed"
) -> list[Landed]:
    """Every record of ``topic`` up to its end offset now, in partition/offset order."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000, isolation_level=isolation_level
    )
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        end = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Landed] = []
        import time

        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end offsets {end}")
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for m in messages:
                    if m.offset < end[tp]:
                        out.append(
                            Landed(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers or ()), m.timestamp)
                        )
        out.sort(key=lambda r: (r.partition, r.offset))
        return out
    finally:
        consumer.close()
