"""Read a day's records back from the topics (for ``foot-traffic validate``).

Each partition is read from the first record timestamped at or after ``since_ms``
(``offsets_for_times``) to the end offset taken when reading began; only the records
whose ``ft-day`` header is the day (and whose ``ft-store`` is one of ``stores``, when
given) are kept. Committed records only (``read_committed``, as consumers should read the
topics): a fenced or crashed run's unfinished transaction is not part of the day. No
consumer group, nothing committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from foot_traffic.events import H_DAY
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.retry import retry_connect

log = logging.getLogger(__name__)
H_STORE = "ft-store"


@dataclass(frozen=True)
class Landed:
    """A record as it landed in Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode()
        return None


def read_day(
    options: KafkaOptions,
    topics: Iterable[str],
    day: date,
    since_ms: int,
    *,
    stores: set[str] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, list[Landed]]:
    """``topic -> records of day`` (in partition, offset order)."""
    from kafka import KafkaConsumer, TopicPartition

    stop = stop or threading.Event()
    consumer = retry_connect(
        lambda: KafkaConsumer(
            client_id="foot-traffic-validate",
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            consumer_timeout_ms=1000,
            **options.common(),
        ),
        options,
        stop,
        "Kafka consumer",
    )
    wanted = day.isoformat().encode()
    out: dict[str, list[Landed]] = {t: [] for t in topics}
    try:
        partitions = [TopicPartition(t, p) for t in out for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not partitions:
            return out
        end = consumer.end_offsets(partitions)
        starts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
        todo = {}
        for tp in partitions:
            found = starts.get(tp)
            if found is not None and found.offset < end[tp]:
                todo[tp] = (found.offset, end[tp])
        if not todo:
            return out
        consumer.assign(list(todo))
        for tp, (start, _) in todo.items():
            consumer.seek(tp, start)
        remaining = dict(todo)
        scanned = 0
        while remaining:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            for tp, messages in batch.items():
                stop_at = remaining.get(tp, (0, -1))[1]
                for m in messages:
                    if m.offset >= stop_at:
                        break
                    scanned += 1
                    headers = tuple(m.headers or ())
                    if dict(headers).get(H_DAY) != wanted:
                        continue
                    if stores is not None and (dict(headers).get(H_STORE) or b"").decode() not in stores:
                        continue
                    out[m.topic].append(
                        Landed(m.topic, m.partition, m.offset, m.key, m.value, headers, m.timestamp)
                    )
            for tp in list(remaining):
                if consumer.position(tp) >= remaining[tp][1]:
                    del remaining[tp]
                    consumer.pause(tp)
            if stop.is_set():
                raise InterruptedError("stopped while reading the day back")
        for records in out.values():
            records.sort(key=lambda r: (r.partition, r.offset))
        log.info(
            "read back %s: %d records scanned, %s of the day",
            day, scanned, ", ".join(f"{t} {len(r)}" for t, r in out.items()),
        )
        return out
    finally:
        consumer.close()
