"""One store's local day of visits: opening hours, local time and DST, deterministic per store.

The day is the store's local calendar day D. Its opening periods (those that *open* on D,
including one that runs past midnight) are cut along the profile's time slots into
segments of real time (instants), so a 23- or 25-hour day has exactly the time it has.

* Weights: a segment keeps its slot's weight times the share of the slot that is open
  (open seconds / the slot's nominal length), so a slot open half the time carries half
  its weight, and a slot stretched by the repeated autumn hour carries more.
* Total: the store's average open day (``base_daily_customers``) x this day's open weight
  / the mean open weight of the weekdays it opens x U[1-pct, 1+pct] x the special-day
  factor; 0 on a closed day. ``daily_customers`` fixes the total of every open day instead.
* Entries are uniform over the open time of each segment (sorted order statistics drawn
  one at a time: O(1) memory); nobody enters while closed.
* Whoever is inside at closing leaves by closing + grace (``CLOSING_GRACE_MINUTES``):
  the trip is cut to the whole minutes that fit, so exit - entry stays the trip duration.
  A period that ends at midnight and continues into the next day's period that opens at
  that minute is not a closing.

Every draw comes from random streams derived from (seed, store id, local day), so a
store's records do not depend on any other store, on the catalogue's order or on shards.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

from foot_traffic.plan.localday import MINUTES_PER_DAY, local_instant
from foot_traffic.plan.visits import Visit, split_largest_remainder, trip_and_customer
from foot_traffic.model.profile import WEEKDAYS, Profile, Slot
from foot_traffic.plan.stores import Store

STORE_PLAN_VERSION = "s1"


def derive_store_seed(seed: int, store_id: str, day: date, stream: str) -> int:
    """An independent 128-bit seed per (seed, store, local day, stream)."""
    text = f"foot-traffic/{STORE_PLAN_VERSION}/{seed}/{store_id}/{day.isoformat()}/{stream}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


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
        from foot_traffic.plan import curve_plan

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


def segments_of(store: Store, day: date, grace_minutes: int) -> tuple[Segment, ...]:
    """The day's open segments in time order (slots of D, then of D+1 for a late period)."""
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
        from foot_traffic.plan import curve_plan

        masses = curve_plan.segment_masses(store.profile, day, segments, tz)
        segments = [Segment(seg.slot, seg.pieces, m) for seg, m in zip(segments, masses)]
    return tuple(segments)


@dataclass(frozen=True)
class StoreDayPlan:
    """What one store's local day will hold. ``visits()`` regenerates the same stream."""

    store: Store
    day: date
    seed: int
    total: int
    segments: tuple[Segment, ...]
    slot_counts: tuple[int, ...]
    grace_minutes: int

    @property
    def profile(self) -> Profile:
        return self.store.profile

    @property
    def store_id(self) -> str:
        return self.store.id

    @property
    def weekday(self) -> str:
        return WEEKDAYS[self.day.weekday()]

    @property
    def labels(self) -> tuple[str, ...]:
        """The ``time_slot`` label of each segment (index = ``Visit.slot``)."""
        return tuple(seg.slot.label for seg in self.segments)

    @property
    def closed(self) -> bool:
        return not self.segments

    @property
    def start(self) -> int:
        """Local midnight of the day, epoch seconds."""
        return local_instant(self.day, 0, self.store.tz)

    @property
    def opens_at(self) -> int | None:
        return self.segments[0].pieces[0][0] if self.segments else None

    @property
    def last_exit_bound(self) -> int:
        """No exit of this day is later than this (epoch seconds)."""
        if not self.segments:
            return self.start
        start, end, leave = self.segments[-1].pieces[-1]
        return leave or end + 60 * self.profile.max_trip_minutes

    @cached_property
    def plan_id(self) -> str:
        """Identifies the plan in record headers: same id, same records. Computed once: a
        chain run reads it several times per store-day (summary, resume, headers) and it
        hashes the store's hours and profile."""
        doc = {
            "store": self.store.digest(),
            "pieces": [[list(p) for p in seg.pieces] for seg in self.segments],
            "grace": self.grace_minutes,
        }
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
        return f"{STORE_PLAN_VERSION}:{self.seed}:{self.total}:{digest}"

    def visits(self) -> Iterator[Visit]:
        """All visits of the day in entry order; ``Visit.slot`` is the segment index."""
        if self.profile.model is not None:  # a curve profile (retail): arrivals.py
            from foot_traffic.model import arrivals
            from foot_traffic.plan import curve_plan

            yield from arrivals.visits(
                self.profile.model,
                curve_plan.store_intensity(self.profile, self.day, self.segments, self.store.tz),
                self.weekday,
                self.total,
                curve_plan.store_seeds(self.seed, self.store.id, self.day, derive_store_seed),
            )
            return
        # The same hot loop as DayPlan.visits (see there), over the open pieces of each
        # segment, with the trip cut at closing + grace.
        rng = random.Random(derive_store_seed(self.seed, self.store.id, self.day, "visits"))
        rand = rng.random
        draw = trip_and_customer(rng, self.profile.durations)
        new_visit = tuple.__new__
        index = 0
        for seg_index, (segment, count) in enumerate(zip(self.segments, self.slot_counts)):
            if not count:
                continue
            pieces = segment.pieces
            width = segment.open_seconds
            last = width - 1
            piece = 0
            p_start, p_end, leave_by = pieces[0]
            before = 0  # open seconds of the pieces before the current one
            remaining_gap = 1.0
            for k in range(count, 0, -1):
                remaining_gap *= rand() ** (1.0 / k)
                offset = int((1.0 - remaining_gap) * width)
                if offset > last:
                    offset = last
                while offset >= before + (p_end - p_start):
                    before += p_end - p_start
                    piece += 1
                    p_start, p_end, leave_by = pieces[piece]
                entry = p_start + offset - before
                duration, customer = draw()
                if leave_by and entry + 60 * duration > leave_by:
                    duration = (leave_by - entry) // 60
                yield new_visit(Visit, (index, customer, entry, duration, seg_index))
                index += 1


def store_daily_total(
    store: Store,
    day: date,
    seed: int,
    segments: tuple[Segment, ...],
    default_variation: float,
    variation_enabled: bool = True,
) -> int:
    """The store's total for ``day``: 0 when closed, else the formula in the module doc."""
    day_weight = sum(seg.weight for seg in segments)
    if day_weight <= 0:  # closed, or open only in slots of weight 0
        return 0
    factor = store.special_factor(day)
    if store.daily_customers is not None:
        return max(1, round(store.daily_customers * factor))
    mean = mean_open_weight(store)
    expected = store.base_daily_customers * day_weight / mean
    pct = default_variation if store.daily_variation_pct is None else store.daily_variation_pct
    if variation_enabled and pct > 0:
        rng = random.Random(derive_store_seed(seed, store.id, day, "total"))
        expected *= rng.uniform(1.0 - pct, 1.0 + pct)
    return max(1, round(expected * factor))


def plan_store_day(
    store: Store,
    day: date,
    *,
    seed: int,
    variation_pct: float = 0.10,
    variation_enabled: bool = True,
    grace_minutes: int = 15,
) -> StoreDayPlan:
    """Plan ``store``'s local ``day``. ``variation_pct`` applies when the store sets none;
    ``variation_enabled`` False (DISABLE_DAILY_VARIATION) turns variation off for every store."""
    segments = segments_of(store, day, grace_minutes)
    total = store_daily_total(store, day, seed, segments, variation_pct, variation_enabled)
    if store.profile.model is not None and total:  # a curve profile: counts follow from the draws
        from foot_traffic.model import arrivals
        from foot_traffic.plan import curve_plan

        intensity = curve_plan.store_intensity(store.profile, day, segments, store.tz)
        seeds = curve_plan.store_seeds(seed, store.id, day, derive_store_seed)
        counts = arrivals.slot_counts(store.profile.model, intensity, total, seeds, len(segments))
    else:
        counts = split_largest_remainder(total, tuple(seg.weight for seg in segments)) if total else (0,) * len(segments)
    return StoreDayPlan(store, day, seed, total, segments, counts, grace_minutes)


def plan_store_from_settings(store: Store, day: date, settings, seed: int) -> StoreDayPlan:
    """Plan ``store``'s ``day`` with the global settings (variation default, grace)."""
    return plan_store_day(
        store,
        day,
        seed=seed,
        variation_pct=settings.daily_variation_pct,
        variation_enabled=not settings.disable_daily_variation,
        grace_minutes=settings.closing_grace_minutes,
    )
