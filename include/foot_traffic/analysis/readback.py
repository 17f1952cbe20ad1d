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

from foot_traffic.records.events import H_DAY, H_STORE
from foot_traffic.delivery.options import KafkaOptions

log = logging.getLogger(__name__)


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
    """``topic -> records of day`` (in partition, offset order), committed records only."""
    from foot_traffic.delivery.scan import KafkaDayScanner, ScanStats

    wanted = day.isoformat().encode()
    out: dict[str, list[Landed]] = {t: [] for t in topics}

    def keep(records) -> None:
        for m in records:
            headers = tuple(m.headers or ())
            if dict(headers).get(H_DAY) != wanted:
                continue
            if stores is not None and (dict(headers).get(H_STORE) or b"").decode() not in stores:
                continue
            out[m.topic].append(Landed(m.topic, m.partition, m.offset, m.key, m.value, headers, m.timestamp))

    stats = ScanStats()
    scanner = KafkaDayScanner(options, stop, client_id="foot-traffic-validate")
    # Not settled: validate reads what is committed now, without waiting for a live writer.
    scanner.read(list(out), since_ms, keep, stats, settled=False)
    for records in out.values():
        records.sort(key=lambda r: (r.partition, r.offset))
    if stats.partitions:
        log.info(
            "read back %s: %d records scanned, %s of the day",
            day, stats.records, ", ".join(f"{t} {len(r)}" for t, r in out.items()),
        )
    return out
