"""Where a day's records lie: per-day offset segments in the owner records (bounded resume scan).

Why: without them the resume scan of day D reads every record timestamped at or after
D's start, so re-running an old day reads every later day too (see ``resume``). A
timestamp bound on the other side is unsafe (records are appended in send order, not
timestamp order), and the data topics may not gain records (golden contract). So the
writers of D say where they wrote, in the owner record each of them already commits to
the compacted writers topic (``ownership``), keyed by D's transactional id:

* When a writer takes D (``init_transactions`` has fenced every older writer, so nothing
  more of theirs can land), it reads D's latest owner record and the data topics' high
  watermarks H. Every record of D so far lies in the segments that record lists; an open
  one (its writer never finished) ends below H. Its own records will land at or after H.
  Its owner record lists those segments (the open one closed at H) plus its own
  ``[H, open)``.
* When it finishes D it commits the owner record again: the earlier segments narrowed to
  the records of D its scan found there (first to last offset, per partition), and its own
  closed at the high watermarks after its last commit.
* The scan of D reads only those segments (an open end: up to the scan's end offsets).

A chain's store-days (``--stores``) are written by one producer per shard, and each
store-day has its own owner record (``writes_with`` names the producer): the same
segments per store-day, recorded once the take has fenced every earlier producer of them
(``transactional.DayPublishers.open_stores_day``) and again when the shard's last store-day
is finished. A chain's day D is scanned once for all of the run's stores: the union of
their segments, when every one of them lists segments.

A day without an owner record, or whose latest one lists no segments (written before this
existed), is scanned as before, from its start by timestamp; its first writer that
finishes records the segments, so later re-runs are bounded. Only with transactions (the
default): a run with ``KAFKA_TRANSACTIONS=0`` writes no owner
record, so it must not write a day that transactional runs write too (nor should it: it
would not be fenced either).
"""

from __future__ import annotations

import json
import time
from typing import Any

Segments = dict[str, list[list[int | None]]]  # "topic:partition" -> [[start, end or None (open)], ...]


def key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def split(name: str) -> tuple[str, int]:
    topic, _, partition = name.rpartition(":")
    return topic, int(partition)


def high_watermarks(consumer, topics: list[str]) -> dict[str, int]:
    """End offsets (read_uncommitted: the high watermarks) of every partition of ``topics``."""
    from kafka import TopicPartition

    tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
    if not tps:
        return {}
    return {key(tp.topic, tp.partition): end for tp, end in consumer.end_offsets(tps).items()}


def latest_owner(consumer, writers_topic: str, tid: str, settle_seconds: float = 30.0) -> dict[str, Any] | None:
    """The latest committed owner record of ``tid`` (``consumer`` reads committed records).

    Waits until the writers topic's last stable offset reaches its high watermark taken
    first (owner transactions are short), so that a record committed before is seen."""
    return owner_history(consumer, writers_topic, [tid], None, settle_seconds).get(tid, (None, None, False))[1]


def owner_history(
    consumer, writers_topic: str, tids, writer: str | None, settle_seconds: float = 30.0
) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None, bool]]:
    """Per id of ``tids`` found: (its last owner record before ``writer``'s first one, its
    latest owner record, whether ``writer``'s was seen), in one read of the writers topic up to
    the consumer's end offset (read_committed: the last stable offset; see ``latest_owner``)."""
    from kafka import TopicPartition

    tp = TopicPartition(writers_topic, 0)
    if not consumer.partitions_for_topic(writers_topic):
        return {}
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    deadline = time.monotonic() + settle_seconds
    end = consumer.end_offsets([tp])[tp]
    wanted = {t.encode(): t for t in tids}
    before: dict[str, dict[str, Any] | None] = {}
    latest: dict[str, dict[str, Any]] = {}
    mine_seen: set[str] = set()
    while consumer.position(tp) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read {writers_topic} up to offset {end} within {settle_seconds:g} s")
        for messages in consumer.poll(timeout_ms=200, max_records=10_000).values():
            for message in messages:
                tid = wanted.get(message.key)
                if tid is None or message.offset >= end:
                    continue
                try:
                    value = json.loads(message.value)
                except ValueError:
                    continue
                if writer is not None and value.get("writer") == writer:
                    if tid not in mine_seen:
                        mine_seen.add(tid)
                        before[tid] = latest.get(tid)
                latest[tid] = value
    return {tid: (before[tid] if tid in mine_seen else value, value, tid in mine_seen) for tid, value in latest.items()}


def at_open(previous: dict[str, Any] | None, high: dict[str, int]) -> Segments | None:
    """The segments a writer taking the day records: the previous ones (an open one closed at
    ``high``) and its own from ``high``; None when the day's history is unknown (no owner
    record with segments: the scan reads by timestamp)."""
    before = (previous or {}).get("segments")
    if before is None:
        return None
    out = closed(before, high)
    for name, h in high.items():
        out.setdefault(name, []).append([h, None])
    return out


def closed(segments: Segments, high: dict[str, int]) -> Segments:
    """``segments`` with open ends closed at ``high`` (nothing more of their writers can land)."""
    out: Segments = {}
    for name, parts in segments.items():
        ends = [[s, e if e is not None else max(s, high.get(name, s))] for s, e in parts]
        out[name] = [r for r in ends if r[1] > r[0]]
    return out


def union(owners: dict[str, dict[str, Any] | None], tids) -> Segments | None:
    """The segments to read for the store-days ``tids`` together (a chain's day): every one's
    latest owner record must list segments, else None (the scan reads by timestamp)."""
    out: Segments = {}
    for tid in tids:
        segments = (owners.get(tid) or {}).get("segments")
        if segments is None:
            return None
        for name, parts in segments.items():
            out.setdefault(name, []).extend([list(p) for p in parts])
    return {name: merge(parts) for name, parts in out.items()}


def at_finish(found: dict[str, tuple[int, int]], start: dict[str, int], end: dict[str, int]) -> Segments:
    """The segments a writer that finished the day records: where its scan found the day's
    earlier records (``found``: first and last offset per partition), and its own
    ``[start, end)``."""
    out: Segments = {}
    for name, (first, last) in found.items():
        out.setdefault(name, []).append([first, last + 1])
    for name, s in start.items():
        e = end.get(name, s)
        if e > s:
            out.setdefault(name, []).append([s, e])
    return {name: merge(ranges) for name, ranges in out.items() if ranges}


def merge(ranges: list[list[int | None]]) -> list[list[int | None]]:
    """Sorted, overlapping or touching ranges joined (an open end swallows what follows)."""
    out: list[list[int | None]] = []
    for s, e in sorted(ranges, key=lambda r: r[0]):
        if out and (out[-1][1] is None or s <= out[-1][1]):
            if out[-1][1] is not None:
                out[-1][1] = None if e is None else max(out[-1][1], e)
            continue
        out.append([s, e])
    return out


def ranges(segments: Segments, end: dict[str, int]) -> dict[str, list[tuple[int, int]]]:
    """Offsets to read per partition: the segments, open ends at ``end``, empty ones dropped."""
    out: dict[str, list[tuple[int, int]]] = {}
    for name, parts in segments.items():
        limit = end.get(name, 0)
        todo = []
        for s, e in merge([list(r) for r in parts]):
            e = limit if e is None else min(e, limit)
            if e > s:
                todo.append((s, e))
        if todo:
            out[name] = todo
    return out
