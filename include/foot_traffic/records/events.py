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
from datetime import UTC, date, datetime
from functools import lru_cache
from json.encoder import encode_basestring as _json_str  # what json.dumps(..., ensure_ascii=False) quotes with

from foot_traffic.plan.localday import LocalClockText
from foot_traffic.plan.visits import DayPlan, Visit
from foot_traffic.model.profile import WEEKDAYS

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
# numbers by repr(). A stream writes the same bytes faster from RecordTemplates (below);
# tests compare the two.


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


class _TimeTexts(dict):
    """The UTF-8 text of instants (``ts -> bytes``), made once per instant: visits share
    entry and exit seconds. Cleared when full, so memory stays bounded whatever the day's
    size. (Within a visit each text is made once and used twice: in the session record
    and in the entry or exit event.)"""

    __slots__ = ("_text", "_limit")

    def __init__(self, text, limit: int):
        super().__init__()
        self._text = text
        self._limit = limit

    def __missing__(self, ts: int) -> bytes:
        if len(self) >= self._limit:
            self.clear()
        value = self[ts] = self._text(ts).encode()
        return value


# "SS+00:00": the end of a UTC ISO text, per second of the minute.
_UTC_SECOND_TEXTS = tuple(b"%02d+00:00" % second for second in range(60))


class _UtcTimeTexts(_TimeTexts):
    """``iso(ts)`` as UTF-8, each new instant made from its minute's text (cached) and its
    second's: a few times faster than ``datetime.isoformat`` (most of a day's instants
    are new, as few visits share an entry or exit second)."""

    __slots__ = ("_minutes",)

    def __init__(self, limit: int):
        super().__init__(iso, limit)
        self._minutes: dict[int, bytes] = {}

    def __missing__(self, ts: int) -> bytes:
        if len(self) >= self._limit:
            self.clear()
        minute, second = divmod(ts, 60)
        head = self._minutes.get(minute)
        if head is None:
            if len(self._minutes) >= self._limit:
                self._minutes.clear()
            head = self._minutes[minute] = iso(minute * 60)[:17].encode()  # "YYYY-MM-DDTHH:MM:"
        value = self[ts] = head + _UTC_SECOND_TEXTS[second]
        return value


class _LocalTimeTexts(_TimeTexts):
    """``clock(ts)`` as UTF-8 (a store's local time with its UTC offset), made by arithmetic
    from the offset in force (``LocalClockText.period``): the local date's text (cached), the
    hour, minute and second, the offset's text. The same bytes as ``clock(ts).encode()``;
    instants outside the clock's window take its own (slow, always right) path."""

    __slots__ = ("_clock", "_offsets", "_tails", "_window")

    def __init__(self, clock: LocalClockText, limit: int):
        super().__init__(clock, limit)
        self._clock = clock
        self._offsets = clock.offsets
        # per offset, per second of the minute: b"SS+01:00"
        self._tails = [tuple(b"%02d" % second + suffix.encode() for second in range(60)) for suffix in clock.suffixes]
        # Most store-days have one offset (no DST change): their window needs no search.
        self._window = (clock.start, clock.end) if len(self._offsets) == 1 else None

    def __missing__(self, ts: int) -> bytes:
        if len(self) >= self._limit:
            self.clear()
        window = self._window
        i = 0 if window is not None and window[0] <= ts <= window[1] else self._clock.period(ts)
        if i < 0:
            value = self[ts] = self._clock(ts).encode()
            return value
        days, wall = divmod(ts + self._offsets[i], 86_400)
        minutes, second = divmod(wall, 60)
        value = self[ts] = _date_text(days) + b"T%02d:%02d:" % divmod(minutes, 60) + self._tails[i][second]
        return value


@lru_cache(maxsize=64)
def _date_text(days: int) -> bytes:
    """``YYYY-MM-DD`` of the ``days``-th day after 1970-01-01."""
    return date.fromordinal(_EPOCH_ORDINAL + days).isoformat().encode()


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _format_literal(text: str) -> bytes:
    """``text`` as UTF-8 for a bytes %-template (a ``%`` in it, e.g. in a store id, kept as is)."""
    return text.replace("%", "%%").encode()


class RecordTemplates:
    """A stream's JSON records pre-rendered around their variable parts, per slot.

    The same bytes as ``session_json``/``atomic_json`` (and a store stream's writers),
    i.e. ``json.dumps(..., ensure_ascii=False)``: what is constant for a stream (field
    names, the store id, the weekday) is rendered once, the slot label once per slot,
    and each record only fills in its customer id, times and trip length. Customer and
    party ids are UUID texts the plan made, and times ISO texts: JSON quotes them
    without any escape, so they go between the quotes as they are.
    """

    def __init__(self, prefix: str, weekday: str, labels, times: _TimeTexts, parties: bool):
        """:param prefix: the JSON before ``"event_type"`` (``{`` or ``{"store_id": ..., ``).
        :param times: ``ts -> bytes``, the ISO text of an instant in the stream's zone."""
        head = _format_literal(prefix)
        self.session = head + b'"event_type": "foot_traffic", "customer_id": "%s", "entry_time": "%s", ' \
            b'"exit_time": "%s", "trip_duration_minutes": %d'
        self.entry = head + b'"event_type": "entry", "time": "%s"'
        self.exit = head + b'"event_type": "exit", "time": "%s"'
        tails = [f', "weekday": {_json_str(weekday)}, "time_slot": {_json_str(label)}' for label in labels]
        self.atomic_tails = [(tail + "}").encode() for tail in tails]
        # A curve profile's session record goes on with its party (``party``), then closes.
        self.session_tails = [tail.encode() if parties else (tail + "}").encode() for tail in tails]
        self.party = b', "party_id": "%s", "party_size": %d}'
        self.times = times

    def atomic(self, kind: str, ts: int, slot: int) -> bytes:
        """An ``entry`` or ``exit`` event of a visit of ``slot`` at instant ``ts``."""
        return (self.entry if kind == ENTRY else self.exit) % self.times[ts] + self.atomic_tails[slot]


class DayStream:
    """Merges a day's entries and exits by due time. Memory: the visits inside the store."""

    # Time texts cached per stream (see _TimeTexts); a chain has one stream per open
    # store-day, each with a smaller cache.
    TIME_CACHE = 16384

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
        # A curve profile's visits are PartyVisits, whose session records end with their
        # party and whose records carry an ft-party header.
        self._parties = plan.profile.model is not None
        self._templates = self._make_templates()

    def _make_templates(self) -> RecordTemplates:
        """The JSON writers (a store stream writes its own, with store_id and local time)."""
        return RecordTemplates("{", self._weekday, self._labels, _UtcTimeTexts(self.TIME_CACHE), self._parties)

    def atomic_value(self, kind: str, ts: int, visit: Visit) -> bytes:
        """The JSON of an ``entry``/``exit`` event of ``visit`` at instant ``ts`` (the sensor's doubles)."""
        return self._templates.atomic(kind, ts, visit.slot)

    def __iter__(self) -> Iterator[Moment]:
        """The hot loop of every run: per visit, the session and entry records at its entry
        and its exit record at its exit, from the pre-rendered templates; locals only."""
        t = self._templates
        session_fmt, entry_fmt, party_fmt = t.session, t.entry, t.party
        session_tails, atomic_tails, times = t.session_tails, t.atomic_tails, t.times
        topic, topic_realistic = self.topic, self.topic_realistic
        common, parties = self._common, self._parties
        exit_moment = self._exit
        pending = self._pending = []
        push, pop = heapq.heappush, heapq.heappop
        event_seq = 0
        for visit in self.plan.visits():
            entry_ts = visit.entry_ts
            while pending and pending[0][0] <= entry_ts:
                yield exit_moment(pop(pending), event_seq)
                event_seq += 1
            key = visit.customer_id.encode()
            slot = visit.slot
            minutes = visit.duration_minutes
            exit_ts = entry_ts + 60 * minutes
            entry_time, exit_time = times[entry_ts], times[exit_ts]
            session_value = session_fmt % (key, entry_time, exit_time, minutes) + session_tails[slot]
            headers_end = common
            if parties:
                party = visit.party_id.encode()
                session_value += party_fmt % (party, visit.party_size)
                headers_end = (*common, (H_PARTY, party))
            session = Record(
                topic, key, session_value,
                ((H_EVENT_ID, key + _SESSION_ID), (H_SEQ, b"%d" % visit.index), *headers_end),
                entry_ts, visit.index, SESSION, slot,
            )
            entry = Record(
                topic_realistic, key, entry_fmt % entry_time + atomic_tails[slot],
                ((H_EVENT_ID, key + _ENTRY_ID), (H_SEQ, b"%d" % event_seq), *headers_end),
                entry_ts, event_seq, ENTRY, slot,
            )
            event_seq += 1
            # The exit's record is made when it is due; its time text and headers' end travel with it.
            push(pending, (exit_ts, visit.index, visit, key, exit_time, headers_end))
            yield Moment(entry_ts, visit, (session, entry), True)
        while pending:
            yield exit_moment(pop(pending), event_seq)
            event_seq += 1

    @property
    def inside(self) -> int:
        """Customers in the store (entered, exit not yet emitted)."""
        return len(self._pending)

    def _exit(self, pending: tuple, seq: int) -> Moment:
        exit_ts, _, visit, key, exit_time, headers_end = pending
        record = Record(
            self.topic_realistic,
            key,
            self._templates.exit % exit_time + self._templates.atomic_tails[visit.slot],
            ((H_EVENT_ID, key + _EXIT_ID), (H_SEQ, b"%d" % seq), *headers_end),
            exit_ts,
            seq,
            EXIT,
            visit.slot,
        )
        return Moment(exit_ts, visit, (record,), False)


# ``ft-event-id`` suffixes: "<customer uuid>:<session|entry|exit>".
_SESSION_ID, _ENTRY_ID, _EXIT_ID = (f":{kind}".encode() for kind in (SESSION, ENTRY, EXIT))


class StoreDayStream(DayStream):
    """A store's local day: the same stream, records written for a store of a catalogue.

    Both JSON records start with ``"store_id"``; times carry the store's UTC offset at
    that instant (``2026-03-28T10:00:00+01:00``); ``weekday`` is the store's local day (the
    day an opening period started); ``time_slot`` the local slot of the entry; headers
    add ``ft-store``. Kafka timestamps stay the instants.
    """

    # One stream per open store-day: a smaller cache each (an exit's time travels with it).
    TIME_CACHE = 256

    def __init__(self, plan, topic: str, topic_realistic: str):
        super().__init__(plan, topic, topic_realistic)
        self._common = (*self._common, (H_STORE, plan.store.id.encode()))

    def _make_templates(self) -> RecordTemplates:
        plan = self.plan
        clock = LocalClockText(plan.store.tz, plan.start, plan.last_exit_bound)
        prefix = f'{{"store_id": {_json_str(plan.store.id)}, '
        return RecordTemplates(prefix, self._weekday, self._labels, _LocalTimeTexts(clock, self.TIME_CACHE), self._parties)
