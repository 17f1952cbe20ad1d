"""The default output is a contract: without a store catalogue the records stay byte-identical.

The digests below were computed from the engine *before* store catalogues existed (issue 10),
for ``SEED=7 DAILY_CUSTOMERS=500 foot-traffic produce --date 2025-11-07``: every record's
key, JSON value, headers and Kafka timestamp, in send order, per topic. Any change to the
records of a run without a catalogue (field order, time format, headers, seeds, ordering)
changes a digest and fails here. ``tests/integration/test_cli_produce.py`` checks that the
command sends exactly what the engine plans, so this pins the command's output too.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime

from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryKafka, memory_delivery

GOLDEN = {
    "foot_traffic": (500, "376049a787938766fc5cef3466515df0cdc84edb2b02a9ffb893c30d2498b0dc"),
    "foot_traffic_realistic": (1000, "5d13efa493dc448e4b19fb91f0307345652a22d38bf99539ef5ea53a90f30d55"),
}
FIRST_SESSION = (
    '{"event_type": "foot_traffic", "customer_id": "878eacb1-2de3-47b5-8e43-ec617dc821a2", '
    '"entry_time": "2025-11-07T00:03:13+00:00", "exit_time": "2025-11-07T01:07:13+00:00", '
    '"trip_duration_minutes": 64, "weekday": "Friday", "time_slot": "00:00\u201306:59"}'
)


def record_digest(records) -> str:
    """sha256 over each record's key, value, headers and timestamp, length-prefixed, in order."""
    h = hashlib.sha256()
    for r in records:
        parts = [r.key, r.value, *(name.encode() + b"\x00" + value for name, value in r.headers), str(r.timestamp_ms).encode()]
        h.update(len(parts).to_bytes(2, "big"))
        for part in parts:
            h.update(len(part).to_bytes(4, "big") + part)
    return h.hexdigest()


def default_day_records(environ=None):
    settings = Settings.from_env(environ or {"SEED": "7", "DAILY_CUSTOMERS": "500"})
    kafka = MemoryKafka()
    Runner(settings, memory_delivery(kafka, settings), clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
           stop=threading.Event()).run([date(2025, 11, 7)])
    return kafka.records


def test_records_without_a_catalogue_are_byte_identical_to_before():
    records = default_day_records()
    for topic, (count, digest) in GOLDEN.items():
        mine = [r for r in records if r.topic == topic]
        assert len(mine) == count, topic
        assert record_digest(mine) == digest, f"{topic}: the default records changed"
    assert records[0].value.decode("utf-8") == FIRST_SESSION
    assert [name for name, _ in records[1].headers] == ["ft-event-id", "ft-seq", "ft-day", "ft-plan"]
