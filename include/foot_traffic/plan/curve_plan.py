"""A curve profile's store-day: its intensity over the open segments, and their weights.

A store-day's visits go through ``model/arrivals.py`` over the open pieces of its
segments, in the store's zone, closing + grace as ``leave_by`` (the implicit store: the
whole UTC day, one window per time slot, no closing), with the streams of
``plan.seeds.curve_seeds``.

For a catalogue store the curve also weighs the open time: a segment's weight is the
day's volume times the share of the curve's mass it covers (the open share of its
weight, exactly, however the curve runs inside the slot), so a store open 08:30-20:00
gets the curve's share of those hours.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from foot_traffic.model.intensity import SECONDS_PER_DAY, DayIntensity, Window
from foot_traffic.model.profile import WEEKDAYS, Profile


def zone_offset(tz) -> Callable[[int], int]:
    """UTC offset (seconds) of zone ``tz`` at an instant."""
    return lambda ts: int(datetime.fromtimestamp(ts, tz).utcoffset().total_seconds())


def day_intensity(profile: Profile, day: date, segments, tz) -> DayIntensity:
    """The curve over a store-day's open pieces; a window's ``slot`` is its segment index."""
    windows = [
        Window(start, end, index, leave)
        for index, segment in enumerate(segments)
        for start, end, leave in segment.pieces
    ]
    return DayIntensity(profile.model.curve_for(WEEKDAYS[day.weekday()]), windows, zone_offset(tz))


def segment_masses(profile: Profile, day: date, segments, tz) -> list[float]:
    """Each segment's weight: the day's volume x its share of the whole day's curve."""
    intensity = day_intensity(profile, day, segments, tz)
    weekday = WEEKDAYS[day.weekday()]
    whole = profile.model.curve_for(weekday).integral(0, SECONDS_PER_DAY)
    masses = [0.0] * len(segments)
    for piece in intensity.pieces:
        masses[piece.slot] += piece.mass
    return [profile.model.day_weight[weekday] * m / whole for m in masses]


def open_weight(profile: Profile, weekday: int, periods) -> float:
    """The curve's share of a weekday's template opening hours (minutes, possibly past
    midnight), times the day's volume: ``segments``' open weight for curve profiles."""
    name = WEEKDAYS[weekday]
    curve = profile.model.curve_for(name)
    whole = curve.integral(0, SECONDS_PER_DAY)
    total = 0.0
    for a, b in periods:
        for lo, hi in ((a, min(b, 1440)), (max(a, 1440) - 1440, b - 1440)):
            if hi > lo:
                total += curve.integral(60 * lo, 60 * hi)
    return profile.model.day_weight[name] * total / whole
