"""A store-day's open time, cut along the profile's time slots: its segments.

The day is the store's local calendar day D. Its opening periods (those that *open* on D,
including one that runs past midnight) are cut along the profile's time slots into
segments of real time (instants), so a 23- or 25-hour day has exactly the time it has.
A segment keeps its slot's weight times the share of the slot that is open (open
seconds / the slot's nominal length), so a slot open half the time carries half its
weight, and a slot stretched by the repeated autumn hour carries more. A period that
ends at midnight and continues into the next day's period that opens at that minute is
not a closing.

The implicit store (no catalogue) is open around the clock in UTC: its segments are the
profile's slots, whole, at the profile's weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from foot_traffic.model.profile import WEEKDAYS, Profile, Slot
from foot_traffic.plan import curve_plan
from foot_traffic.plan.localday import MINUTES_PER_DAY, local_instant
from foot_traffic.plan.stores import Store


@dataclass(frozen=True)
class Segment:
    """The open part of one time slot of the day, as instants.

    ``pieces`` are ``(start, end, leave_by)`` in epoch seconds; ``leave_by`` is closing +
    grace of the period the piece belongs to, or 0 when the store does not close then.
    """

    slot: Slot
    pieces: tuple[tuple[int, int, int], ...]
    weight: float

    @property
    def open_seconds(self) -> int:
        return sum(end - start for start, end, _ in self.pieces)


def _open_weight(profile: Profile, weekday: int, periods: tuple[tuple[int, int], ...]) -> float:
    """Sum of slot weights x nominal open share, for a weekday's template hours."""
    if profile.model is not None:  # a curve profile: the curve's own share of the hours
        return curve_plan.open_weight(profile, weekday, periods)
    weights = profile.weights[WEEKDAYS[weekday]]
    total = 0.0
    for offset in (0, MINUTES_PER_DAY):
        for slot, w in zip(profile.slots, weights):
            lo, hi = slot.start_minute + offset, slot.end_minute + offset
            open_minutes = sum(max(0, min(hi, b) - max(lo, a)) for a, b in periods)
            total += w * open_minutes / (slot.end_minute - slot.start_minute)
    return total


def mean_open_weight(store: Store) -> float:
    """The mean open weight of the weekdays the store opens (its average open day)."""
    sums = [_open_weight(store.profile, w, store.hours[w]) for w in range(7) if store.hours[w]]
    sums = [s for s in sums if s > 0]
    return sum(sums) / len(sums) if sums else 0.0


def _whole_slots(store: Store, day: date) -> tuple[Segment, ...]:
    """The implicit store's day: every slot of the UTC day, whole, at its profile weight."""
    profile = store.profile
    start = local_instant(day, 0, store.tz)
    weights = profile.weights[WEEKDAYS[day.weekday()]]
    return tuple(
        Segment(slot, ((start + 60 * slot.start_minute, start + 60 * slot.end_minute, 0),), w)
        for slot, w in zip(profile.slots, weights)
    )


def segments_of(store: Store, day: date, grace_minutes: int) -> tuple[Segment, ...]:
    """The day's open segments in time order (slots of D, then of D+1 for a late period)."""
    if store.is_implicit:
        return _whole_slots(store, day)
    tz = store.tz
    periods = store.periods(day)
    if not periods:
        return ()
    nxt = store.periods(day + timedelta(days=1))
    weights = store.profile.weights[WEEKDAYS[day.weekday()]]
    timed = []
    for a, b in periods:
        start, end = local_instant(day, a, tz), local_instant(day, b, tz)
        continues = b >= MINUTES_PER_DAY and any(o == b - MINUTES_PER_DAY for o, _ in nxt)
        timed.append((start, end, 0 if continues else end + 60 * grace_minutes))
    segments = []
    for offset in (0, MINUTES_PER_DAY):
        for slot, w in zip(store.profile.slots, weights):
            lo = local_instant(day, slot.start_minute + offset, tz)
            hi = local_instant(day, slot.end_minute + offset, tz)
            pieces = tuple(
                (max(lo, start), min(hi, end), leave)
                for start, end, leave in timed
                if min(hi, end) > max(lo, start)
            )
            if not pieces:
                continue
            seconds = sum(e - s for s, e, _ in pieces)
            segments.append(Segment(slot, pieces, w * seconds / slot.seconds))
    if store.profile.model is not None:  # a curve profile: the curve's mass, not the open share
        masses = curve_plan.segment_masses(store.profile, day, segments, tz)
        segments = [Segment(seg.slot, seg.pieces, m) for seg, m in zip(segments, masses)]
    return tuple(segments)

