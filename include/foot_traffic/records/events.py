"""The two JSON records of the original producer, their headers, and the record types.

Contract with downstream consumers (do not change): field names and order as below,
``event_type`` values ``foot_traffic``/``entry``/``exit``, slot labels with an EN DASH
(written as UTF-8), ISO 8601 times with ``+00:00``, ``json.dumps`` separators, both
topics keyed by the customer UUID. Headers add what consumers and resume need without
touching the JSON. ``stream.py`` writes a store-day's records in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring as _json_str  # what json.dumps(..., ensure_ascii=False) quotes with

from foot_traffic.model.visit import Visit

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


# The plain writers of the two records: the same bytes as json.dumps(dict,
# ensure_ascii=False) with its default separators, strings quoted by json's own encoder,
# numbers by repr(). A stream writes the same bytes faster from its RecordTemplates
# (stream.py); tests compare the two.


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


# Record and Moment are plain slotted classes, not frozen dataclasses: a frozen
# dataclass sets each field through object.__setattr__, which cost ~0.7 µs per record on
# the hot path. They are never changed once made (sensor.py copies with ``replace``).
@dataclass(slots=True, unsafe_hash=True)
class Record:
    """One Kafka record, ready to send. ``due`` is its event time (epoch seconds). Read-only by convention."""

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


@dataclass(slots=True)
class Moment:
    """What happens at one instant for one customer: an entry (session + entry) or an exit."""

    due: int
    visit: Visit
    records: tuple[Record, ...]
    entering: bool
