"""Who writes a day: its transactional id, and the owner record each writer leaves.

One writer per day (per store and day, with a catalogue), enforced by Kafka itself:
every writer of a day uses the same ``transactional.id``, derived here from what
identifies the day's records -- the two topics, the store and the day -- and not from
the run. Kafka lets only the newest producer of an id write: its ``init_transactions``
aborts the older one's open transaction and fences it (its next send or commit fails).
Two runs of the same day, whatever started them (a schedule, a manual trigger, a retry
while a zombie still sends, two shell commands), therefore never write side by side.

The topics are hashed (a transactional id must stay short and names may be long); the
brokers are not part of the id (ids are per cluster anyway). Another pair of topics is
another data set: its writers do not fence these.

Kafka does not tell a fenced producer who fenced it. So each writer, right after taking
its id, commits an *owner record* (who: the run, host, pid, client, when) keyed by the
id to the writers topic (``<KAFKA_TOPIC>_writers``, one partition, compacted). A fenced
run reads the newest owner record of its id written after its own and names that run.

A chain run writes all its stores' day D through *one* producer (one connection, one
sender thread, transactions spanning stores): its id is the run's store set's
(``shard_id``), so a retry of the same shard fences the attempt before it, by Kafka.
Each store-day still gets its own owner record (key: the store-day's id, ``writes_with``:
the producer's id); a run whose shard differs (the catalogue or ``shard_size`` changed)
reads them and fences the producers that wrote its stores' day before (see
``transactional.DayPublishers.open_stores_day``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from foot_traffic.kafka_options import KafkaOptions

log = logging.getLogger(__name__)

WRITERS_SUFFIX = "_writers"
TOPIC_MAX_LENGTH = 249  # Kafka's limit
# The writers topic: one partition (owner records of an id in the order writers took it), compacted.
WRITERS_LAYOUT: tuple[int, dict[str, str]] = (1, {"cleanup.policy": "compact"})


def transactional_id(topics: Sequence[str], day: date, store: str | None = None) -> str:
    """``foot-traffic/<topics digest>/<day>``, or ``foot-traffic/<topics digest>/<store>/<day>``.

    A function of what the records belong to, never of the run, so every attempt at the
    same day (and store) fences the ones before it.
    """
    digest = hashlib.sha256("\n".join(topics).encode()).hexdigest()[:16]
    where = digest if store is None else f"{digest}/{store}"
    return f"foot-traffic/{where}/{day.isoformat()}"


def shard_id(topics: Sequence[str], day: date, stores: Sequence[str]) -> str:
    """The transactional id of one producer writing ``stores``' day: ``foot-traffic/<topics
    digest>/stores:<store set digest>/<day>`` (``:`` is not allowed in a store id, so it never
    equals a store-day's id). The set, not its order: the same shard fences its retries."""
    digest = hashlib.sha256("\n".join(sorted(set(stores))).encode()).hexdigest()[:16]
    return transactional_id(topics, day, f"stores:{digest}")


def writes_with(owner: dict[str, Any]) -> str:
    """The transactional id of the producer that writes an owner record's day (a store-day
    written by a chain's shard producer names it; otherwise the day's own id)."""
    return owner.get("writes_with") or owner.get("transactional_id", "")


def writers_topic(session_topic: str) -> str:
    """The owner records' topic: ``<KAFKA_TOPIC>_writers`` (shortened to fit Kafka's 249 characters)."""
    return session_topic[: TOPIC_MAX_LENGTH - len(WRITERS_SUFFIX)] + WRITERS_SUFFIX


def describe_run(run: str, **extra: Any) -> dict[str, Any]:
    """This process as a writer: ``run`` names it (an Airflow run and try, a command)."""
    return {"run": run, "host": socket.gethostname(), "pid": os.getpid(), **extra}


def owner_record(owner: dict[str, Any], tid: str, day: date, store: str | None, client: str) -> tuple[dict[str, Any], int]:
    """The owner record's value for one writer of ``tid``, and its timestamp (ms)."""
    now = datetime.now(UTC)
    value = {
        "transactional_id": tid,
        "day": day.isoformat(),
        "store": store,
        "writer": uuid.uuid4().hex,
        "client": client,
        "since": now.isoformat(timespec="milliseconds"),
        **owner,
    }
    return value, int(now.timestamp() * 1000)


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()


def describe_owner(owner: dict[str, Any] | None) -> str:
    """One line naming a writer, for logs and error messages."""
    if not owner:
        return "a newer run (its owner record was not found)"
    where = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
    return f"{owner.get('run', 'a run')} ({where}, {owner.get('client', '?')}, since {owner.get('since', '?')})"


def newer_owner(
    options: KafkaOptions,
    topic: str,
    tid: str,
    mine: dict[str, Any],
    since_ms: int,
    *,
    wait: float = 5.0,
    stop: threading.Event | None = None,
    keys: Collection[str] = (),
) -> dict[str, Any] | None:
    """The newest committed owner record of ``tid`` after ``mine`` (None if none within ``wait`` s).
    ``keys``: look at the owner records of these ids too (a shard producer: its store-days').

    The newer writer commits its owner record right after it took the id, so it is
    normally there by the time the older one notices it was fenced; ``wait`` covers the
    few milliseconds between the two.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    stop = stop or threading.Event()
    deadline = time.monotonic() + wait
    try:
        consumer = KafkaConsumer(
            client_id="foot-traffic-owners",
            enable_auto_commit=False,
            isolation_level="read_committed",
            **options.common(),
        )
    except KafkaError as exc:
        log.warning("cannot read the owner records of %s: %s", tid, exc)
        return None
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        start = consumer.offsets_for_times({tp: since_ms}).get(tp)
        if start is None:
            consumer.seek_to_end(tp)
        else:
            consumer.seek(tp, start.offset)
        wanted = {k.encode() for k in (tid, *keys)}
        seen_mine = False
        newest = None  # a writer after ours: in the log after our record, or begun later
        latest_other = None  # the last other writer seen (after our record, once it is seen)
        while time.monotonic() < deadline and not stop.is_set():
            for messages in consumer.poll(timeout_ms=200).values():
                for message in messages:
                    if message.key not in wanted:
                        continue
                    try:
                        value = json.loads(message.value)
                    except ValueError:
                        continue
                    if value.get("writer") == mine.get("writer"):
                        seen_mine = True
                        newest = latest_other = None  # only writers after this one count
                        continue
                    latest_other = value
                    if seen_mine or value.get("since", "") > mine.get("since", ""):
                        newest = value
            if newest is not None and consumer.position(tp) >= consumer.end_offsets([tp])[tp]:
                return newest
        # Our own record never landed (fenced while writing it) and no writer begun after us
        # showed up: the fencer began first but took the id last (two runs started together);
        # it is the last writer whose record committed.
        return newest if newest is not None else latest_other
    except KafkaError as exc:
        log.warning("cannot read the owner records of %s: %s", tid, exc)
        return None
    finally:
        consumer.close()
