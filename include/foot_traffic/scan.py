"""Read partitions of topics from a timestamp to the end offsets taken when reading began.

One loop for the two readers of what the topics hold: the resume scan (``resume.py``)
and ``validate``'s read-back (``readback.py``). No consumer group, nothing committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.retry import retry_connect


@dataclass
class ScanStats:
    """What one read covered: records yielded and partitions that had any to read."""

    records: int = 0
    partitions: int = 0


def read_since(
    options: KafkaOptions,
    topics: Iterable[str],
    since_ms: int,
    *,
    stop: threading.Event | None = None,
    client_id: str = "foot-traffic-scan",
    stats: ScanStats | None = None,
    what: str = "reading the topics",
) -> Iterator:
    """Every record of ``topics`` from ``offsets_for_times(since_ms)`` to the end offsets
    taken now, per partition in offset order (kafka-python ``ConsumerRecord``s).

    A set ``stop`` raises ``InterruptedError`` ("stopped while ``what``"). The consumer
    is closed when the iteration ends or the generator is closed.
    """
    from kafka import KafkaConsumer, TopicPartition

    stop = stop or threading.Event()
    stats = stats if stats is not None else ScanStats()
    consumer = retry_connect(
        lambda: KafkaConsumer(
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            consumer_timeout_ms=1000,
            **options.common(),
        ),
        options,
        stop,
        "Kafka consumer",
    )
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not partitions:
            return
        end = consumer.end_offsets(partitions)
        starts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
        remaining = {}
        for tp in partitions:
            found = starts.get(tp)
            if found is not None and found.offset < end[tp]:
                remaining[tp] = (found.offset, end[tp])
        if not remaining:
            return
        stats.partitions = len(remaining)
        consumer.assign(list(remaining))
        for tp, (start, _) in remaining.items():
            consumer.seek(tp, start)
        while remaining:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for tp, messages in batch.items():
                stop_at = remaining.get(tp, (0, -1))[1]
                for message in messages:
                    if message.offset >= stop_at:
                        break
                    stats.records += 1
                    yield message
            for tp in list(remaining):
                if consumer.position(tp) >= remaining[tp][1]:
                    del remaining[tp]
                    consumer.pause(tp)
            if stop.is_set():
                raise InterruptedError(f"stopped while {what}")
    finally:
        consumer.close()
