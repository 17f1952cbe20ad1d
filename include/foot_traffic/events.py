"""The two JSON records of the original producer and the time-ordered stream of them.

Contract with downstream consumers (do not change): field names and order as below,
``event_type`` values ``foot_traffic``/``entry``/``exit``, slot labels with an EN DASH
(written as UTF-8), ISO 8601 times with ``+00:00``, ``json.dumps`` separators, both
topics keyed by the customer UUID. Headers add what consumers and resume need without
touching the JSON.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring as _json_str  # what json.dumps(..., ensure_ascii=False) quotes with

from foot_traffic.localday import LocalClockText
from foot_traffic.plan import DayPlan, Visit
from foot_traffic.profile import WEEKDAYS

SESSION = "session"
ENTRY = "entry"
EXIT = "exit"

# Header names (values are UTF-8 text).
H_EVENT_ID = "ft-event-id"  # "<customer uuid>:<session|entry|exit>", unique and stable
H_DAY = "ft-day"  # the simulated day the record belongs to, YYYY-MM-DD
H_SEQ = "ft-seq"  # position of the record in its topic's stream for that day, from 0
H_PLAN = "ft-plan"  # plan id: version, seed, total and profile digest
H_PARTY = "ft-party"  # the party's id (its first member's customer id); only with a curve profile
H_STORE = "ft-store"  # the store's id; only on records of a store catalogue


@lru_cache(maxsize=8192)  # each time is written twice (session + entry/exit record); bounded
def iso(ts: int) -> str:
    """ISO 8601 UTC with an explicit ``+00:00``, as the original wrote it."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


# The two records are written with templates instead of json.dumps (5x faster, the
# producer's hottest code): the same bytes as json.dumps(dict, ensure_ascii=False) with
# its default separators, strings quoted by json's own encoder, numbers by repr().


def session_json(visit: Visit, weekday: str, slot_label: str) -> bytes:
    """The ``foot_traffic`` session record, byte for byte ``json.dumps(..., ensure_ascii=False)``."""
    return (
        f'{{"event_type": "foot_traffic", "customer_id": {_json_str(visit.customer_id)}, '
        f'"entry_time": {_json_str(iso(visit.entry_ts))}, "exit_time": {_json_str(iso(visit.exit_ts))}, '
        f'"trip_duration_minutes": {visit.duration_minutes!r}, "weekday": {_json_str(weekday)}, '
        f'"time_slot": {_json_str(slot_label)}}}'
    ).encode("utf-8")


def atomic_json(event_type: str, ts: int, weekday: str, slot_label: str) -> bytes:
    """An ``entry`` or ``exit`` record; the exit carries the weekday and slot of the entry."""
    return (
        f'{{"event_type": {_json_str(event_type)}, "time": {_json_str(iso(ts))}, '
        f'"weekday": {_json_str(weekday)}, "time_slot": {_json_str(slot_label)}}}'
    ).encode("utf-8")


def party_fields(visit) -> bytes:
    """The JSON fields a curve profile's session record ends with (a party of 1 is a solo visit)."""
    return f', "party_id": {_json_str(visit.party_id)}, "party_size": {visit.party_size!r}}}'.encode("utf-8")


def with_party(session_writer):
    """A session writer that appends ``party_id`` and ``party_size`` (curve profiles only)."""

    def session(visit, weekday: str, slot_label: str) -> bytes:
        return session_writer(visit, weekday, slot_label)[:-1] + party_fields(visit)

    return session


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record, ready to send. ``due`` is its event time (epoch seconds)."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    due: int
    seq: int
    kind: str
    slot: int

    @property
    def timestamp_ms(self) -> int:
        return self.due * 1000


@dataclass(frozen=True, slots=True)
class Moment:
    """What happens at one instant for one customer: an entry (session + entry) or an exit."""

    due: int
    visit: Visit
    records: tuple[Record, ...]
    entering: bool


class DayStream:
    """Merges a day's entries and exits by due time. Memory: the visits inside the store."""

    def __init__(self, plan: DayPlan, topic: str, topic_realistic: str):
        self.plan = plan
        self.topic = topic
        self.topic_realistic = topic_realistic
        self._pending: list[tuple[int, int, Visit]] = []  # (exit_ts, index, visit)
        day = plan.day.isoformat().encode()
        plan_id = plan.plan_id.encode()
        self._common: tuple[tuple[str, bytes], ...] = ((H_DAY, day), (H_PLAN, plan_id))
        weekday = WEEKDAYS[plan.day.weekday()]
        self._weekday = weekday
        self._labels = list(plan.labels)
        # The JSON writers (a store stream writes its own, with store_id and local time);
        # a curve profile's visits are PartyVisits, whose session records end with their
        # party and whose records carry an ft-party header.
        self._parties = plan.profile.model is not None
        self._session_json = with_party(session_json) if self._parties else session_json
        self._atomic_json = atomic_json

    def _headers(self, customer: str, kind: str, seq: int, visit=None) -> tuple[tuple[str, bytes], ...]:
        if self._parties:
            return (
                (H_EVENT_ID, f"{customer}:{kind}".encode()), (H_SEQ, str(seq).encode()), *self._common,
                (H_PARTY, visit.party_id.encode()),
            )
        return ((H_EVENT_ID, f"{customer}:{kind}".encode()), (H_SEQ, str(seq).encode()), *self._common)

    def atomic_value(self, kind: str, ts: int, visit: Visit) -> bytes:
        """The JSON of an ``entry``/``exit`` event of ``visit`` at instant ``ts`` (the sensor's doubles)."""
        return self._atomic_json(kind, ts, self._weekday, self._labels[visit.slot])

    def __iter__(self) -> Iterator[Moment]:
        weekday = self._weekday
        labels = self._labels
        session_json_, atomic_json_ = self._session_json, self._atomic_json
        pending = self._pending = []
        event_seq = 0
        push, pop = heapq.heappush, heapq.heappop
        for visit in self.plan.visits():
            while pending and pending[0][0] <= visit.entry_ts:
                yield self._exit(pop(pending)[2], event_seq, weekday, labels)
                event_seq += 1
            key = visit.customer_id.encode()
            label = labels[visit.slot]
            session = Record(
                self.topic,
                key,
                session_json_(visit, weekday, label),
                self._headers(visit.customer_id, SESSION, visit.index, visit),
                visit.entry_ts,
                visit.index,
                SESSION,
                visit.slot,
            )
            entry = Record(
                self.topic_realistic,
                key,
                atomic_json_(ENTRY, visit.entry_ts, weekday, label),
                self._headers(visit.customer_id, ENTRY, event_seq, visit),
                visit.entry_ts,
                event_seq,
                ENTRY,
                visit.slot,
            )
            event_seq += 1
            push(pending, (visit.exit_ts, visit.index, visit))
            yield Moment(visit.entry_ts, visit, (session, entry), True)
        while pending:
            yield self._exit(pop(pending)[2], event_seq, weekday, labels)
            event_seq += 1

    @property
    def inside(self) -> int:
        """Customers in the store (entered, exit not yet emitted)."""
        return len(self._pending)

    def _exit(self, visit: Visit, seq: int, weekday: str, labels: list[str]) -> Moment:
        label = labels[visit.slot]
        record = Record(
            self.topic_realistic,
            visit.customer_id.encode(),
            self._atomic_json(EXIT, visit.exit_ts, weekday, label),
            self._headers(visit.customer_id, EXIT, seq, visit),
            visit.exit_ts,
            seq,
            EXIT,
            visit.slot,
        )
        return Moment(visit.exit_ts, visit, (record,), False)


class StoreDayStream(DayStream):
    """A store's local day: the same stream, records written for a store of a catalogue.

    Both JSON records start with ``"store_id"``; times carry the store's UTC offset at
    that instant (``2026-03-28T10:00:00+01:00``); ``weekday`` is the store's local day (the
    day an opening period started); ``time_slot`` the local slot of the entry; headers
    add ``ft-store``. Kafka timestamps stay the instants.
    """

    def __init__(self, plan, topic: str, topic_realistic: str):
        super().__init__(plan, topic, topic_realistic)
        store_id = plan.store.id
        self._common = (*self._common, (H_STORE, store_id.encode()))
        clock = LocalClockText(plan.store.tz, plan.start, plan.last_exit_bound)
        text = lru_cache(maxsize=64)(clock)  # each time is written twice (session + entry/exit)
        prefix = f'{{"store_id": {_json_str(store_id)}, '

        def session(visit: Visit, weekday: str, slot_label: str) -> bytes:
            return (
                f'{prefix}"event_type": "foot_traffic", "customer_id": {_json_str(visit.customer_id)}, '
                f'"entry_time": {_json_str(text(visit.entry_ts))}, "exit_time": {_json_str(text(visit.exit_ts))}, '
                f'"trip_duration_minutes": {visit.duration_minutes!r}, "weekday": {_json_str(weekday)}, '
                f'"time_slot": {_json_str(slot_label)}}}'
            ).encode("utf-8")

        def atomic(event_type: str, ts: int, weekday: str, slot_label: str) -> bytes:
            return (
                f'{prefix}"event_type": {_json_str(event_type)}, "time": {_json_str(text(ts))}, '
                f'"weekday": {_json_str(weekday)}, "time_slot": {_json_str(slot_label)}}}'
            ).encode("utf-8")

        self._session_json = with_party(session) if self._parties else session
        self._atomic_json = atomic
