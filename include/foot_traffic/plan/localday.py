"""Local wall-clock time of a store: its days, their instants and ISO times with the UTC offset.

A store's day is its local calendar day, which lasts 23, 24 or 25 hours. The engine keeps
working in whole epoch seconds (instants); this module maps local wall-clock minutes to
instants and back, with one rule for the times a DST change makes special:

* a wall time that does not exist (the hour skipped in spring) maps to the first instant
  after the gap (02:30 on a day that jumps from 02:00 to 03:00 is 03:00 new time);
* a wall time that exists twice (the hour repeated in autumn) maps to its first
  occurrence.

Everything between two such instants is drawn in instant space, so the repeated hour
holds twice the time and the skipped hour none: no visit at a time that does not exist,
none lost or doubled.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raises ValueError naming it when unknown."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name or "\x00" in name:
        raise ValueError(f"{name!r} is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Europe/Rome, America/New_York)") from None


def _wall(ts: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz).replace(tzinfo=None)


def local_instant(day: date, minute: int, tz: ZoneInfo) -> int:
    """Epoch seconds of wall time ``minute`` (may exceed 1440: later days) of ``day`` in ``tz``.

    The earliest instant at which the local clock shows that time or, if the clock skips
    it, the first instant after the skip.
    """
    days, minute = divmod(minute, MINUTES_PER_DAY)
    wall = datetime.combine(day + timedelta(days=days), time(minute // 60, minute % 60))
    first = int(wall.replace(tzinfo=tz, fold=0).timestamp())
    if _wall(first, tz) == wall:
        return first
    # In a gap: fold=0 reads the wall time with the offset before the change (an instant
    # after the gap), fold=1 with the offset after it (an instant before the gap). The
    # answer is the first instant between them whose wall time is not earlier than ``wall``.
    low, high = sorted((first, int(wall.replace(tzinfo=tz, fold=1).timestamp())))
    while high - low > 1:
        mid = (low + high) // 2
        if _wall(mid, tz) >= wall:
            high = mid
        else:
            low = mid
    return high


def day_start(day: date) -> datetime:
    """Midnight UTC of ``day``: where the implicit store's day (no catalogue) begins."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def today(now: datetime) -> date:
    """The UTC date at ``now``: the implicit store's day."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: every time in this project is timezone-aware")
    return now.astimezone(UTC).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` of the local calendar ``day`` in epoch seconds (23, 24 or 25 hours)."""
    return local_instant(day, 0, tz), local_instant(day, MINUTES_PER_DAY, tz)


def local_date(ts: float, tz: ZoneInfo) -> date:
    """The local calendar date at instant ``ts``."""
    return datetime.fromtimestamp(ts, tz).date()


def _offset_text(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return text + f":{secs:02d}" if secs else text


class LocalClockText:
    """ISO 8601 texts of instants in one zone, e.g. ``2026-03-28T10:00:00+01:00``.

    The same text as ``datetime.fromtimestamp(ts, tz).isoformat()``, several times faster
    for the instants of one window (a store's day and its late exits): the UTC offsets
    of the window are found once (sampled every 3 hours, DST changes located by
    bisection), and each wall time is formatted as a UTC time shifted by its offset.
    Instants outside the window take the slow, always-right path.
    """

    STEP = 3 * 3600

    def __init__(self, tz: ZoneInfo, start: int, end: int):
        self.tz = tz
        self.start, self.end = start, end
        edges = [start]
        offsets = [self._offset(start)]
        t = start
        while t < end:
            nxt = min(t + self.STEP, end)
            off = self._offset(nxt)
            if off != offsets[-1]:
                low, high = t, nxt  # offset changes in (low, high]
                while high - low > 1:
                    mid = (low + high) // 2
                    if self._offset(mid) == offsets[-1]:
                        low = mid
                    else:
                        high = mid
                edges.append(high)
                offsets.append(off)
            t = nxt
        self._edges = edges
        self._offsets = offsets
        self._suffixes = [_offset_text(o) for o in offsets]

    def _offset(self, ts: int) -> int:
        return int(datetime.fromtimestamp(ts, self.tz).utcoffset().total_seconds())

    def period(self, ts: int) -> int:
        """The index of the UTC offset in force at ``ts`` (``offsets``, ``suffixes``); -1 outside the window."""
        if not self.start <= ts <= self.end:
            return -1
        edges = self._edges
        i = len(edges) - 1
        while edges[i] > ts:
            i -= 1
        return i

    @property
    def offsets(self) -> list[int]:
        """The window's UTC offsets (seconds), in time order."""
        return self._offsets

    @property
    def suffixes(self) -> list[str]:
        """The ISO texts of ``offsets`` (``+01:00``)."""
        return self._suffixes

    def offset_at(self, ts: int) -> int:
        """UTC offset in seconds at instant ``ts``."""
        i = self.period(ts)
        return self._offset(ts) if i < 0 else self._offsets[i]

    def __call__(self, ts: int) -> str:
        i = self.period(ts)
        if i < 0:
            return datetime.fromtimestamp(ts, self.tz).isoformat()
        return _utc_wall_text(ts + self._offsets[i]) + self._suffixes[i]


@lru_cache(maxsize=16384)
def _utc_wall_text(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat()
