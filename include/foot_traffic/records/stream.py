"""A store-day's records in time order: one stream for every store.

Per visit, the session and entry records at its entry and its exit record at its exit,
merged by due time; memory: the visits inside the store. The JSON is the contract of
``events.py``, rendered from pre-made templates. The records of a catalogue store start
with ``"store_id"``, carry the store's UTC offset at that instant in their times
(``2026-03-28T10:00:00+01:00``), its local ``weekday`` (the day an opening period
started) and the local ``time_slot`` of the entry, and the ``ft-store`` header; the
implicit store's (no catalogue) are the original producer's: UTC times with
``+00:00``, no store field, no ``ft-store``. Kafka timestamps are the instants.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from json.encoder import encode_basestring as _json_str  # what json.dumps(..., ensure_ascii=False) quotes with

from foot_traffic.model.visit import Visit
from foot_traffic.plan.localday import LocalClockText
from foot_traffic.plan.storeday import StoreDayPlan
from foot_traffic.records.events import (
    ENTRY, EXIT, H_DAY, H_EVENT_ID, H_PARTY, H_PLAN, H_SEQ, H_STORE, SESSION, Moment, Record, iso,
)


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


class StoreDayStream:
    """Merges a store-day's entries and exits by due time. Memory: the visits inside the store."""

    # Time texts cached per stream (see _TimeTexts): the implicit store has one stream per
    # day; a chain one per open store-day, each with a smaller cache (an exit's time
    # travels with it).
    TIME_CACHE = 16384
    STORE_TIME_CACHE = 256

    def __init__(self, plan: StoreDayPlan, topic: str, topic_realistic: str):
        self.plan = plan
        self.topic = topic
        self.topic_realistic = topic_realistic
        self._pending: list[tuple[int, int, Visit]] = []  # (exit_ts, index, visit)
        common: tuple[tuple[str, bytes], ...] = ((H_DAY, plan.day.isoformat().encode()), (H_PLAN, plan.plan_id.encode()))
        if not plan.store.is_implicit:
            common = (*common, (H_STORE, plan.store.id.encode()))
        self._common = common
        self._weekday = plan.weekday
        self._labels = list(plan.labels)
        # A curve profile's visits are PartyVisits, whose session records end with their
        # party and whose records carry an ft-party header.
        self._parties = plan.profile.model is not None
        self._templates = self._make_templates()

    def _make_templates(self) -> RecordTemplates:
        """The JSON writers: UTC times for the implicit store, a store's local times and id else."""
        plan = self.plan
        store = plan.store
        if store.is_implicit:
            return RecordTemplates("{", self._weekday, self._labels, _UtcTimeTexts(self.TIME_CACHE), self._parties)
        clock = LocalClockText(store.tz, plan.start, plan.last_exit_bound)
        prefix = f'{{"store_id": {_json_str(store.id)}, '
        return RecordTemplates(prefix, self._weekday, self._labels, _LocalTimeTexts(clock, self.STORE_TIME_CACHE), self._parties)

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
