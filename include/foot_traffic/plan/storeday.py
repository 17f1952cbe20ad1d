"""One store's local day of visits, deterministic per (seed, store, day): the one plan type.

Every store-day is planned the same way, the implicit store's (no catalogue: the UTC day,
open around the clock) included:

* Segments: the day's open time cut along the profile's slots (``segments.py``).
* Total: 0 on a closed day; a fixed ``daily_customers`` x the special-day factor; else
  the store's average day x this day's weight x U[1-pct, 1+pct] x the special-day factor.
  A catalogue store's average day is ``base_daily_customers``, this day's weight its open
  weight / the mean open weight of the weekdays it opens; the implicit store keeps the
  original producer's formula: baseline x the weekday factor of the profile.
* Counts: split over the segments by largest remainder (seed-shaped profiles), or what
  the arrivals of a curve profile give (``model/arrivals.py``).
* Visits: uniform entries over the open time of each segment (``visits.py``), or the
  curve's arrivals; nobody enters while closed. Whoever is inside at closing leaves by
  closing + grace (``CLOSING_GRACE_MINUTES``): the trip is cut to the whole minutes that
  fit, so exit - entry stays the trip duration.

Every draw comes from random streams derived from (seed, store, local day)
(``seeds.py``), so a store's records do not depend on any other store, on the
catalogue's order or on shards.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

from foot_traffic.model import arrivals
from foot_traffic.model.intensity import DayIntensity
from foot_traffic.model.profile import WEEKDAYS, Profile
from foot_traffic.model.visit import Visit
from foot_traffic.plan import curve_plan
from foot_traffic.plan.localday import local_instant
from foot_traffic.plan.seeds import PLAN_VERSION, STORE_PLAN_VERSION, curve_seeds, derive_seed, random_seed
from foot_traffic.plan.segments import Segment, mean_open_weight, segments_of
from foot_traffic.plan.stores import Store
from foot_traffic.plan.visits import uniform_visits

if TYPE_CHECKING:
    from foot_traffic.settings import SimulationSettings

DEFAULT_VARIATION_PCT = 0.10  # DAILY_VARIATION_PCT's default
DEFAULT_GRACE_MINUTES = 15  # CLOSING_GRACE_MINUTES's default


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
    def store_id(self) -> str | None:
        """The catalogue store's id; None for the implicit store."""
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

    @cached_property
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
        hashes the store's hours and profile. The implicit store's names its profile."""
        if self.store.is_implicit:
            return f"{PLAN_VERSION}:{self.seed}:{self.total}:{self.profile.digest()}"
        doc = {
            "store": self.store.digest(),
            "pieces": [[list(p) for p in seg.pieces] for seg in self.segments],
            "grace": self.grace_minutes,
        }
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
        return f"{STORE_PLAN_VERSION}:{self.seed}:{self.total}:{digest}"

    @cached_property
    def intensity(self) -> DayIntensity | None:
        """A curve profile's arrival intensity over the open segments; None for a seed-shaped
        profile or a closed day."""
        if self.profile.model is None or not self.segments:
            return None
        return curve_plan.day_intensity(self.profile, self.day, self.segments, self.store.tz)

    def visits(self) -> Iterator[Visit]:
        """All visits of the day in entry order; ``Visit.slot`` is the segment index."""
        if self.profile.model is not None:  # a curve profile (retail): arrivals.py
            if self.intensity is None:
                return iter(())
            seeds = curve_seeds(self.seed, self.day, self.store.id)
            return arrivals.visits(self.profile.model, self.intensity, self.weekday, self.total, seeds)
        rng_seed = derive_seed(self.seed, self.day, "visits", self.store.id)
        return uniform_visits(self.segments, self.slot_counts, self.profile.durations, rng_seed)


def variation_pct(store: Store, day: date, default: float) -> float:
    """The day-to-day variation of ``store`` on ``day``: its own, else ``default``
    (DAILY_VARIATION_PCT). For the implicit store a fitted profile's own variation of the
    weekday comes before the default (a catalogue store's entry says its own)."""
    if store.daily_variation_pct is not None:
        return store.daily_variation_pct
    if store.is_implicit:
        own = store.profile.variation_pct(WEEKDAYS[day.weekday()])
        if own is not None:
            return own
    return default


def daily_total(
    store: Store, day: date, seed: int, day_weight: float, default_variation: float, variation_enabled: bool = True
) -> int:
    """The store's total for ``day`` (see the module doc); ``day_weight``: the sum of the
    day's segment weights (0: closed)."""
    if day_weight <= 0:  # closed, or open only in slots of weight 0
        return 0
    factor = store.special_factor(day)
    if store.daily_customers is not None:
        return max(1, round(store.daily_customers * factor))
    if store.is_implicit:
        expected = store.base_daily_customers * store.profile.weekday_factor(WEEKDAYS[day.weekday()])
    else:
        expected = store.base_daily_customers * day_weight / mean_open_weight(store)
    pct = variation_pct(store, day, default_variation)
    if variation_enabled and pct > 0:
        rng = random.Random(derive_seed(seed, day, "total", store.id))
        expected *= rng.uniform(1.0 - pct, 1.0 + pct)
    return max(1, round(expected * factor))


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


def plan_store_day(
    store: Store,
    day: date,
    settings: SimulationSettings | None = None,
    seed: int | None = None,
    *,
    variation_pct: float | None = None,
    variation_enabled: bool | None = None,
    grace_minutes: int | None = None,
) -> StoreDayPlan:
    """Plan ``store``'s local ``day`` (the implicit store's: its UTC day).

    ``settings`` gives SEED when ``seed`` is None (a
    random seed when neither has one), DAILY_VARIATION_PCT (for a store without its own),
    DISABLE_DAILY_VARIATION (for every store) and CLOSING_GRACE_MINUTES; a keyword given
    overrides the setting; without settings the defaults (0.10, on, 15)."""
    if settings is not None:
        seed = settings.seed if seed is None else seed
        variation_pct = settings.daily_variation_pct if variation_pct is None else variation_pct
        variation_enabled = (not settings.disable_daily_variation) if variation_enabled is None else variation_enabled
        grace_minutes = settings.closing_grace_minutes if grace_minutes is None else grace_minutes
    seed = random_seed() if seed is None else seed
    variation_pct = DEFAULT_VARIATION_PCT if variation_pct is None else variation_pct
    variation_enabled = True if variation_enabled is None else variation_enabled
    grace_minutes = DEFAULT_GRACE_MINUTES if grace_minutes is None else grace_minutes

    segments = segments_of(store, day, grace_minutes)
    total = daily_total(store, day, seed, sum(seg.weight for seg in segments), variation_pct, variation_enabled)
    if not total:
        counts = (0,) * len(segments)
    elif store.profile.model is not None:  # a curve profile: counts follow from the draws
        intensity = curve_plan.day_intensity(store.profile, day, segments, store.tz)
        counts = arrivals.slot_counts(store.profile.model, intensity, total, curve_seeds(seed, day, store.id), len(segments))
    else:
        counts = split_largest_remainder(total, tuple(seg.weight for seg in segments))
    return StoreDayPlan(store, day, seed, total, segments, counts, grace_minutes)
