"""One calendar day of visits, deterministic from (seed, date), streamed in entry order.

The total follows the original formula (baseline x weekday factor x uniform variation,
or a fixed ``DAILY_CUSTOMERS``), is split over the slots by largest remainder, and each
slot's entry times are drawn as sorted uniform order statistics one at a time, so a day
of any size is generated with O(1) memory.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from foot_traffic.model.profile import WEEKDAYS, Profile

PLAN_VERSION = "v1"


def derive_seed(seed: int, day: date, stream: str) -> int:
    """An independent 128-bit seed per (seed, day, stream): different days never correlate."""
    digest = hashlib.sha256(f"foot-traffic/{PLAN_VERSION}/{seed}/{day.isoformat()}/{stream}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


def random_seed() -> int:
    """The effective seed of a run without SEED; logged and carried in headers."""
    return secrets.randbits(63)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class Visit(NamedTuple):
    """One customer's trip. Times are whole epoch seconds (UTC)."""

    index: int
    customer_id: str
    entry_ts: int
    duration_minutes: int
    slot: int

    @property
    def exit_ts(self) -> int:
        return self.entry_ts + 60 * self.duration_minutes


@dataclass(frozen=True)
class DayPlan:
    """What a day will hold. ``visits()`` regenerates the same stream every time."""

    day: date
    seed: int
    total: int
    slot_counts: tuple[int, ...]
    profile: Profile

    @property
    def weekday(self) -> str:
        return WEEKDAYS[self.day.weekday()]

    @property
    def labels(self) -> tuple[str, ...]:
        """The ``time_slot`` label of each slot (index = ``Visit.slot``)."""
        return tuple(slot.label for slot in self.profile.slots)

    @property
    def plan_id(self) -> str:
        """Identifies the plan in record headers: same id, same records."""
        return f"{PLAN_VERSION}:{self.seed}:{self.total}:{self.profile.digest()}"

    @property
    def start(self) -> datetime:
        return day_start(self.day)

    def visits(self) -> Iterator[Visit]:
        """All visits of the day in entry order (ties kept in generation order)."""
        if self.profile.model is not None:  # a curve profile (retail): arrivals.py
            from foot_traffic.plan import curve_plan

            yield from curve_plan.visits(self.profile, self.day, self.total, curve_plan.seeds_for(self.seed, self.day, derive_seed))
            return
        # The hot loop of every run (a 1,000,000-visit day must plan in <= 2 s): locals
        # only, and the same draws in the same order as the plain version, so the same
        # plan (see ``trip_and_customer``).
        rng = random.Random(derive_seed(self.seed, self.day, "visits"))
        rand = rng.random
        draw = trip_and_customer(rng, self.profile.durations)
        new_visit = tuple.__new__  # Visit(...) without the namedtuple's Python-level __new__
        day0 = int(self.start.timestamp())
        index = 0
        for slot, count in zip(self.profile.slots, self.slot_counts):
            start = day0 + slot.start_minute * 60
            width = slot.seconds
            last = width - 1
            slot_index = slot.index
            remaining_gap = 1.0  # 1 - (the previous order statistic)
            for k in range(count, 0, -1):
                # Ascending uniform order statistics: next = 1 - (1 - prev) * U^(1/k).
                remaining_gap *= rand() ** (1.0 / k)
                offset = int((1.0 - remaining_gap) * width)
                if offset > last:
                    offset = last
                duration, customer = draw()
                yield new_visit(Visit, (index, customer, start + offset, duration, slot_index))
                index += 1

    @property
    def last_exit_bound(self) -> datetime:
        """No exit of this day is later than this (last second of the day + longest trip)."""
        return self.start + timedelta(days=1, minutes=self.profile.max_trip_minutes)


def trip_and_customer(rng: random.Random, durations) -> Callable[[], tuple[int, str]]:
    """The draws of a visit after its entry time, as one call of the visit loops (the day's
    and a store-day's): its trip length in whole minutes from the ``durations`` bands, then
    its customer id, a version-4 UUID text (RFC 4122 variant).

    The same draws in the same order as ``randint`` and ``uuid.UUID(int=...)`` would make,
    for the same plans: CPython's randint(a, b) is a + _randbelow(b - a + 1), which draws
    getrandbits(n.bit_length()) until the value is below n; inlined here."""
    rand, getrandbits = rng.random, rng.getrandbits
    # (cumulative probability, min minutes, number of possible minutes, its bit length)
    bands = []
    running = 0.0
    for band in durations:
        running += band.probability
        span = band.max_minutes - band.min_minutes + 1
        bands.append((running, band.min_minutes, span, span.bit_length()))
    bands[-1] = (1.0, *bands[-1][1:])  # no gap from float rounding
    keep = ~(0xF000 << 64) & ~(0xC000 << 48)  # version 4, RFC 4122 variant
    mark = (0x4000 << 64) | (0x8000 << 48)

    def draw() -> tuple[int, str]:
        u = rand()
        for edge, low, span, nbits in bands:
            if u < edge:
                break
        r = getrandbits(nbits)
        while r >= span:
            r = getrandbits(nbits)
        # 32 hex digits in groups of 4 ("xxxx-xxxx-...-xxxx"), regrouped 8-4-4-4-12.
        h = ((getrandbits(128) & keep) | mark).to_bytes(16, "big").hex("-", 2)
        return low + r, h[:4] + h[5:29] + h[30:34] + h[35:]

    return draw


def daily_total(
    day: date,
    seed: int,
    profile: Profile,
    *,
    baseline: int,
    fixed_total: int | None,
    variation_pct: float,
    variation_enabled: bool,
) -> int:
    """The original producer's formula: a fixed total, or baseline x weekday factor x U[1-pct, 1+pct].

    ``pct`` is the profile's own variation for the weekday when it has one (a profile
    fitted from door counts), else ``variation_pct`` (DAILY_VARIATION_PCT).
    """
    if fixed_total is not None:
        return fixed_total
    weekday = WEEKDAYS[day.weekday()]
    mean = baseline * profile.weekday_factor(weekday)
    own = profile.variation_pct(weekday)
    if own is not None:
        variation_pct = own
    if variation_enabled and variation_pct > 0:
        rng = random.Random(derive_seed(seed, day, "total"))
        mean *= rng.uniform(1.0 - variation_pct, 1.0 + variation_pct)
    return max(1, round(mean))


def split_largest_remainder(total: int, weights: tuple[float, ...]) -> tuple[int, ...]:
    """Split ``total`` in proportion to ``weights``; the parts always add up to ``total``."""
    weight_sum = sum(weights)
    quotas = [total * w / weight_sum for w in weights]
    counts = [math.floor(q) for q in quotas]
    short = total - sum(counts)
    # Largest fractional part first; ties go to the earlier slot.
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:short]:
        counts[i] += 1
    return tuple(counts)


def plan_day(
    day: date,
    profile: Profile,
    *,
    seed: int,
    baseline: int,
    fixed_total: int | None = None,
    variation_pct: float = 0.10,
    variation_enabled: bool = True,
) -> DayPlan:
    total = daily_total(
        day,
        seed,
        profile,
        baseline=baseline,
        fixed_total=fixed_total,
        variation_pct=variation_pct,
        variation_enabled=variation_enabled,
    )
    if profile.model is not None:  # a curve profile: slot counts follow from the draws
        from foot_traffic.plan import curve_plan

        counts = curve_plan.slot_counts(profile, day, total, curve_plan.seeds_for(seed, day, derive_seed))
    else:
        counts = split_largest_remainder(total, profile.weights[WEEKDAYS[day.weekday()]])
    return DayPlan(day=day, seed=seed, total=total, slot_counts=counts, profile=profile)


def plan_from_settings(day: date, settings, profile: Profile, seed: int | None = None) -> DayPlan:
    """Plan ``day`` with ``settings`` (a foot_traffic.settings.Settings); ``seed`` overrides."""
    effective = seed if seed is not None else settings.seed
    if effective is None:
        effective = random_seed()
    return plan_day(
        day,
        profile,
        seed=effective,
        baseline=settings.baseline,
        fixed_total=settings.daily_customers,
        variation_pct=settings.daily_variation_pct,
        variation_enabled=settings.variation_enabled,
    )


def today(now: datetime) -> date:
    if now.tzinfo is None:
        raise ValueError("naive datetime: every time in this project is timezone-aware")
    return now.astimezone(UTC).date()
