"""The day ledger: who writes each store-day, and how many of its records are committed.

Why a ledger: a day's records are deterministic (plan and stream from the seed), so "how
far is this store-day" is one number, its *position*: how many records of its stream
are done. Each transaction that carries records of a store-day also carries a ledger
record with the store-day's new position, so the two are committed together or not at
all (the consume-transform-produce pattern of Kafka's exactly-once, with the stream's
position as the source offset). A run that takes a store-day reads its latest ledger
record and continues from that position: it never reads the data topics back. A
store-day nobody took has no ledger record and costs nothing; a finished one costs one
read of its ledger record.

Where: the compacted topic ``<KAFKA_TOPIC>_writers``, keyed by the store-day's
transactional id (``transactional_id``), in the partition of its day
(``day.toordinal() % partitions``; the topic is created with ``LEDGER_PARTITIONS``, a
year's days each in its own partition): reading a day's ledger reads one partition, whose
size does not grow with the number of other days written. Reads start at the partition's
beginning (exact on any broker; see tests/integration/test_embedded_broker_flaw.py for a
broker where a read begun mid-partition is not).

Records (JSON, ``"v": 2``):

* ``take``: a run takes the store-day (after its producer fenced older attempts of its
  store set): who (``writer``, the run; ``run``/``host``/``pid``/``since`` to name it),
  its producer (``writes_with``), a take counter (``take``: one more than the highest
  seen), the plan (``plan``, ``seed``) and where a fresh start mid-day began
  (``skip_before``). The later take wins: a run that finds a take newer than its own stops
  (``Fenced``); a run that finds an older take by another producer fences that producer
  by its id before it reads the position (``transactions``).
* ``progress`` and ``finished``: the position after the transaction they are committed
  in (``finished``: the stream's end; with ``sent``, the records per topic).

A ledger record written before version 2 (an owner record without a position) marks a
store-day whose position is unknown: it is resumed by reading the data back (``scan``).

One writer per day is also Kafka's doing: a run writes its store-days of local day D
through one transactional producer whose id is its store set's (``writer_id``), so a
retry of the same run (an Airflow retry, the same command again) fences the attempt
before it. Another store set (a re-sharded chain) is fenced through the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

WRITERS_SUFFIX = "_writers"
TOPIC_MAX_LENGTH = 249  # Kafka's limit
LEDGER_PARTITIONS = 366
# The ledger topic: a partition per day of a year, compacted (the latest record per store-day).
LEDGER_LAYOUT: tuple[int, dict[str, str]] = (LEDGER_PARTITIONS, {"cleanup.policy": "compact"})
VERSION = 2

TAKE, PROGRESS, FINISHED = "take", "progress", "finished"


def transactional_id(topics: Sequence[str], day: date, store: str | None = None) -> str:
    """A store-day's id, its ledger key: ``foot-traffic/<topics digest>/<day>`` for the implicit
    store, ``foot-traffic/<topics digest>/<store>/<day>`` for a catalogue's store. A function
    of what the records belong to, never of the run."""
    digest = hashlib.sha256("\n".join(topics).encode()).hexdigest()[:16]
    where = digest if store is None else f"{digest}/{store}"
    return f"foot-traffic/{where}/{day.isoformat()}"


def writer_id(topics: Sequence[str], day: date, stores: Sequence[str | None]) -> str:
    """The transactional id of the one producer that writes ``stores``' day ``day``: the
    implicit store's day id, or ``.../stores:<store set digest>/<day>`` (``:`` is not allowed
    in a store id, so it never equals a store-day's id). The set, not its order: the same
    shard fences its retries."""
    if list(stores) == [None]:
        return transactional_id(topics, day)
    digest = hashlib.sha256("\n".join(sorted({s for s in stores if s is not None})).encode()).hexdigest()[:16]
    return transactional_id(topics, day, f"stores:{digest}")


def ledger_topic(session_topic: str) -> str:
    """``<KAFKA_TOPIC>_writers`` (shortened to fit Kafka's 249 characters)."""
    return session_topic[: TOPIC_MAX_LENGTH - len(WRITERS_SUFFIX)] + WRITERS_SUFFIX


def partition_of(day: date, partitions: int) -> int:
    """The ledger partition of ``day``'s records."""
    return day.toordinal() % partitions


def describe_run(run: str, **extra: Any) -> dict[str, Any]:
    """This run as a writer (one identity for the whole run, across reconnections): ``run``
    names it (an Airflow run and try, a command)."""
    return {
        "writer": uuid.uuid4().hex,
        "run": run,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **extra,
    }


def describe_owner(owner: dict[str, Any] | None) -> str:
    """One line naming a writer, for logs and error messages."""
    if not owner:
        return "a newer run (its take record was not found)"
    where = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
    return f"{owner.get('run', 'a run')} ({where}, {owner.get('client', '?')}, since {owner.get('since', '?')})"


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Entry:
    """One ledger record as read: its key, value and offset."""

    key: str
    value: dict[str, Any]
    offset: int

    @property
    def legacy(self) -> bool:
        return self.value.get("v") != VERSION

    @property
    def kind(self) -> str:
        return self.value.get("kind", TAKE)

    @property
    def writer(self) -> str | None:
        return self.value.get("writer")

    @property
    def take(self) -> int:
        return int(self.value.get("take", 0))

    @property
    def rank(self) -> tuple[int, str]:
        """How new a take is: its counter, then its time (ties after a broker lost a take)."""
        return self.take, self.value.get("taken_at", "")


@dataclass
class State:
    """What the ledger says of one store-day."""

    key: str
    position: int | None = 0  # records of its stream done; None: unknown (read the data back)
    finished: bool = False
    plan: str | None = None
    seed: int | None = None
    skip_before: int | None = None
    last_take: Entry | None = None  # the newest take record (``Entry.rank``)
    before_take: Entry | None = None  # with ``mine``: the newest take before this run's first one
    taken: bool = False  # any record at all
    sent: dict[str, int] = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        return not self.taken


def state_of(key: str, entries: Iterable[Entry], mine: str | None = None) -> State:
    """Fold a store-day's records (log order) into its state. ``mine`` (this run's writer id):
    ``before_take`` is then the newest take by another writer, and the position ignores
    nothing (every committed record counts, whoever wrote it: one writer at a time)."""
    state = State(key)
    for entry in entries:
        state.taken = True
        value = entry.value
        if entry.legacy:
            state.position, state.finished = None, False
            state.last_take = _newer(state.last_take, entry)
            if mine is None or entry.writer != mine:
                state.before_take = _newer(state.before_take, entry)
            continue
        if "plan" in value:
            state.plan, state.seed = value["plan"], value.get("seed")
        if entry.kind == TAKE:
            if "skip_before" in value:
                state.skip_before = value["skip_before"]
            state.last_take = _newer(state.last_take, entry)
            if mine is None or entry.writer != mine:
                state.before_take = _newer(state.before_take, entry)
            if value.get("scan"):  # resumed by reading the data back: position unknown until it finishes
                state.position, state.finished = None, False
            continue
        if "position" in value:
            state.position = value["position"]
            state.finished = entry.kind == FINISHED
            if state.finished:
                state.sent = dict(value.get("sent", {}))
    return state


def _newer(current: Entry | None, entry: Entry) -> Entry:
    return entry if current is None or entry.rank >= current.rank else current


def take_value(
    owner: dict[str, Any], *, key: str, day: date, store: str | None, take: int, writes_with: str,
    plan: str, seed: int, skip_before: int | None, scan: bool,
) -> dict[str, Any]:
    """A take record's value."""
    value = {
        "v": VERSION, "kind": TAKE, "transactional_id": key, "day": day.isoformat(), "store": store,
        "take": take, "taken_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "writes_with": writes_with, "plan": plan, "seed": seed, **owner,
    }
    if skip_before is not None:
        value["skip_before"] = skip_before
    if scan:
        value["scan"] = True
    return value


def progress_value(writer: str, take: int, position: int, *, finished: bool, sent: dict[str, int] | None = None) -> dict:
    """A progress (or finished) record's value: small, it rides along with data transactions."""
    value: dict[str, Any] = {"v": VERSION, "kind": FINISHED if finished else PROGRESS, "writer": writer,
                             "take": take, "position": position}
    if finished and sent is not None:
        value["sent"] = sent
    return value


def decode(key: bytes | None, value: bytes | None, offset: int) -> Entry | None:
    """A ledger record as read from Kafka (None: not one of ours, or unreadable)."""
    if key is None or value is None:
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return Entry(key.decode(errors="replace"), doc, offset) if isinstance(doc, dict) else None
