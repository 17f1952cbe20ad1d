"""A day's plan over time: entries per hour and customers inside minute by minute.

Computed from the plan's own visits (``StoreDayPlan.visits()``), so a chart drawn from it is
exactly what the producer will send: the entries of hour *h* are the visits whose entry
time falls in that hour; the occupancy at minute *m* counts the visits with
``entry <= m < exit``. One pass over the visits, memory O(minutes), not O(visits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from foot_traffic.plan.storeday import StoreDayPlan

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class DayTimeline:
    """The plan of ``day`` over time (UTC).

    ``occupancy[m]`` is the number of customers inside at ``00:00 + m`` minutes of the
    day (entry <= t < exit); it runs past midnight until the last exit, so its length is
    1440 + the longest trip of the profile + 1.
    """

    day: date
    total: int
    entries_per_hour: tuple[int, ...]
    exits_per_hour: tuple[int, ...]  # exits by hour of the day; late exits after midnight in ``exits_after_midnight``
    exits_after_midnight: int
    occupancy: tuple[int, ...]
    trip_minutes_total: int

    @property
    def peak(self) -> int:
        return max(self.occupancy, default=0)

    @property
    def peak_minute(self) -> int:
        """First minute of the day (from 00:00) at which the occupancy is at its peak."""
        return self.occupancy.index(self.peak) if self.occupancy else 0

    @property
    def mean_trip_minutes(self) -> float:
        return self.trip_minutes_total / self.total if self.total else 0.0

    def occupancy_every(self, minutes: int) -> list[tuple[int, int]]:
        """``(minute, customers inside)`` every ``minutes`` minutes, the last point included."""
        if minutes < 1:
            raise ValueError("minutes must be >= 1")
        points = [(m, self.occupancy[m]) for m in range(0, len(self.occupancy), minutes)]
        last = len(self.occupancy) - 1
        if points and points[-1][0] != last:
            points.append((last, self.occupancy[last]))
        return points


def day_timeline(plan: StoreDayPlan) -> DayTimeline:
    """Entries, exits and occupancy of ``plan`` from its visits (one pass)."""
    day0 = plan.start
    length = MINUTES_PER_DAY + plan.profile.max_trip_minutes + 1
    change = [0] * (length + 1)
    entries = [0] * 24
    exits = [0] * 24
    late_exits = 0
    trip_total = 0
    count = 0
    for visit in plan.visits():
        offset = visit.entry_ts - day0
        # Inside from the first whole minute at or after the entry, to the first at or after the exit.
        first = -(-offset // 60)
        stay = visit.duration_minutes
        if first + stay >= len(change):  # never with the shipped profiles; kept exact anyway
            change.extend([0] * (first + stay + 1 - len(change)))
        change[first] += 1
        change[first + stay] -= 1
        entries[offset // 3600] += 1
        exit_offset = offset + 60 * stay
        if exit_offset < 86_400:
            exits[exit_offset // 3600] += 1
        else:
            late_exits += 1
        trip_total += stay
        count += 1
    occupancy = []
    inside = 0
    for minute in range(max(length, len(change) - 1)):
        inside += change[minute]
        occupancy.append(inside)
    return DayTimeline(
        day=plan.day,
        total=count,
        entries_per_hour=tuple(entries),
        exits_per_hour=tuple(exits),
        exits_after_midnight=late_exits,
        occupancy=tuple(occupancy),
        trip_minutes_total=trip_total,
    )
