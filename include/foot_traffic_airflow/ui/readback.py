"""Counts read back from the topics for a run's page: what the broker holds of the day.

The engine's own resume scan (``KafkaDayScanner``) does the reading: records of the day
grouped by plan id, per topic; a chain run's stores in one scan for all of them. From the API server this is best effort and bounded: one
connection attempt, a deadline (``FOOT_TRAFFIC_UI_READBACK_TIMEOUT``, default 5 s), at
most two scans at a time; ``FOOT_TRAFFIC_UI_READBACK=0`` turns it off. Nothing of the
connection's secrets is returned: errors are reported with secret values removed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from foot_traffic.delivery.options import is_secret

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
_SLOTS = threading.BoundedSemaphore(2)


@dataclass
class Readback:
    """What the topics hold of one day. ``error`` is set when nothing could be read."""

    bootstrap: str | None = None
    source: str = ""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # plan id -> topic -> records
    seconds: float = 0.0
    error: str | None = None

    def for_plan(self, plan_id: str) -> dict[str, int]:
        return self.counts.get(plan_id, {})

    def others(self, plan_id: str) -> dict[str, int]:
        """Other plans' records of the same day (a day holds one plan: this should be empty)."""
        return {pid: sum(c.values()) for pid, c in self.counts.items() if pid != plan_id}


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return (environ.get("FOOT_TRAFFIC_UI_READBACK") or "1").strip().lower() not in {"0", "false", "no", "off"}


def timeout_seconds(environ: Mapping[str, str] | None = None) -> float:
    environ = os.environ if environ is None else environ
    try:
        value = float(environ.get("FOOT_TRAFFIC_UI_READBACK_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT
    return min(max(value, 0.5), 60.0)


def scrub(text: str, options: Mapping[str, Any]) -> str:
    """``text`` with the values of secret client options replaced by ``***``."""
    for key, value in options.items():
        if is_secret(key) and isinstance(value, str) and value:
            text = text.replace(value, "***")
    return text


# A store's local day starts up to 14 h before the UTC day (UTC+14): read from there.
EARLIEST_OFFSET_MS = 14 * 3600 * 1000


def read_back(conn_id: str, day: date, topics: Sequence[str], timeout: float, store: str | None = None) -> Readback:
    """Scan ``topics`` for ``day``'s records within ``timeout`` seconds: the implicit
    store's (no catalogue), or catalogue store ``store``'s local day."""
    return read_back_stores(conn_id, day, topics, timeout, [store])[store]


def read_back_stores(
    conn_id: str, day: date, topics: Sequence[str], timeout: float, stores: Sequence[str | None]
) -> dict[str | None, Readback]:
    """Like ``read_back`` for the local day ``day`` of each of ``stores``, in one scan of the
    topics (a chain run's page: not one scan per store)."""
    from foot_traffic.plan.localday import day_start

    stores = list(dict.fromkeys(stores))
    since_ms = int(day_start(day).timestamp() * 1000) - (0 if stores == [None] else EARLIEST_OFFSET_MS)
    return _read(conn_id, timeout, stores, lambda scanner: scanner.scan(day, list(topics), since_ms, stores))


def _read(conn_id: str, timeout: float, keys: list, scan_with) -> dict[Any, Readback]:
    """Run ``scan_with(scanner)`` (``{key: {plan id: holdings}}``) within ``timeout`` seconds
    and give each of ``keys`` its ``Readback`` (all share the error, if any)."""
    from foot_traffic.delivery.options import KafkaOptions
    from foot_traffic.delivery.scan import KafkaDayScanner
    from foot_traffic_airflow.connection import KafkaConnectionError, resolve_kafka

    started = time.monotonic()
    result = Readback()

    def each() -> dict[Any, Readback]:
        return {key: replace(result) for key in keys}

    try:
        target = resolve_kafka(conn_id)
    except KafkaConnectionError as exc:
        result.error = f"connection {conn_id!r}: {exc}"
        return each()
    except Exception as exc:  # noqa: BLE001 - a secrets backend may fail in many ways
        log.warning("read-back: connection %r could not be read: %s", conn_id, type(exc).__name__)
        result.error = f"connection {conn_id!r} could not be read ({type(exc).__name__})"
        return each()
    bootstrap = target.bootstrap_servers or (os.environ.get("KAFKA_BROKER") or "").strip() or None
    result.bootstrap = bootstrap
    result.source = f"connection {conn_id!r}" if target.found else "KAFKA_BROKER of the API server"
    if bootstrap is None:
        result.error = f"no connection {conn_id!r} and no KAFKA_BROKER on the API server"
        return each()
    if not _SLOTS.acquire(blocking=False):
        result.error = "skipped: two read-backs are already running"
        return each()
    stop = threading.Event()
    options = KafkaOptions(
        bootstrap_servers=bootstrap,
        client_options=target.client_options,
        max_retries=0,
        bootstrap_timeout_ms=int(min(timeout, 3.0) * 1000),
    )
    outcome: dict[str, Any] = {}

    def scan() -> None:
        try:
            found = scan_with(KafkaDayScanner(options, stop))
            outcome["counts"] = {
                key: {pid: dict(h.count) for pid, h in (found.get(key) or {}).items()} for key in keys
            }
        except BaseException as exc:  # noqa: BLE001 - reported on the page, scrubbed
            outcome["error"] = exc
        finally:
            _SLOTS.release()

    worker = threading.Thread(target=scan, name="foot-traffic-readback", daemon=True)
    worker.start()
    worker.join(timeout)
    result.seconds = time.monotonic() - started
    if worker.is_alive():
        stop.set()  # the scan stops at its next poll and releases its slot
        result.error = f"no answer within {timeout:g} s (FOOT_TRAFFIC_UI_READBACK_TIMEOUT)"
        return each()
    if "error" in outcome:
        exc = outcome["error"]
        result.error = scrub(f"{type(exc).__name__}: {exc}", target.client_options)[:300]
        return each()
    counts = outcome.get("counts", {})
    return {key: replace(result, counts=counts.get(key, {})) for key in keys}
