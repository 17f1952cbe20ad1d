"""A curve profile's day without a store catalogue: the whole UTC day is open.

Builds the day's intensity (one window per time slot, 00:00-24:00 UTC, no closing) and
the random streams of ``arrivals.py`` from (seed, day), for ``plan.DayPlan``. A store of
a catalogue builds its own windows (its opening hours, its zone) and seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time

from foot_traffic import arrivals
from foot_traffic.intensity import DayIntensity, Window
from foot_traffic.profile import WEEKDAYS, Profile


def utc_intensity(profile: Profile, day: date) -> DayIntensity:
    start = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())
    windows = [Window(start + 60 * s.start_minute, start + 60 * s.end_minute, s.index) for s in profile.slots]
    return DayIntensity(profile.model.curve_for(WEEKDAYS[day.weekday()]), windows)


def seeds_for(seed: int, day: date, derive: Callable[[int, date, str], int]) -> Callable[[str], int]:
    return lambda stream: derive(seed, day, f"curve/{stream}")


def slot_counts(profile: Profile, day: date, total: int, seeds: Callable[[str], int]) -> tuple[int, ...]:
    return arrivals.slot_counts(profile.model, utc_intensity(profile, day), total, seeds, len(profile.slots))


def visits(profile: Profile, day: date, total: int, seeds: Callable[[str], int]) -> Iterator[arrivals.PartyVisit]:
    return arrivals.visits(profile.model, utc_intensity(profile, day), WEEKDAYS[day.weekday()], total, seeds)
