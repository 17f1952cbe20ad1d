"""The plan over time: entries/exits per hour and minute-by-minute occupancy, against a
brute-force count over the same visits."""

from datetime import date

import pytest

from foot_traffic.model.profile import load_profile, original_profile, profile_from_dict
from foot_traffic.plan.implicit import plan_day
from foot_traffic.plan.timeline import MINUTES_PER_DAY, day_timeline

PROFILE = original_profile()


@pytest.mark.parametrize(("profile_name", "seed", "total"), [("seed", 7, 300), ("seed", 42, 1000), ("seed", 3, 1),
                                                             ("retail", 5, 800)])
def test_timeline_equals_a_brute_force_count_of_the_visits(profile_name, seed, total):
    plan = plan_day(date(2025, 11, 7), load_profile(profile_name), seed=seed, baseline=1000, fixed_total=total)
    t = day_timeline(plan)
    visits = list(plan.visits())
    day0 = plan.start
    assert t.total == total == sum(t.entries_per_hour)
    assert sum(t.exits_per_hour) + t.exits_after_midnight == total
    for hour in range(24):
        assert t.entries_per_hour[hour] == sum(1 for v in visits if (v.entry_ts - day0) // 3600 == hour)
    assert len(t.occupancy) == MINUTES_PER_DAY + plan.profile.max_trip_minutes + 1
    for minute in range(0, len(t.occupancy), 7):  # every 7th minute: all residues of the hour over the day
        at = day0 + 60 * minute
        assert t.occupancy[minute] == sum(1 for v in visits if v.entry_ts <= at < v.exit_ts), minute
    assert t.occupancy[-1] == 0  # everybody has left by the end
    assert t.trip_minutes_total == sum(v.duration_minutes for v in visits)
    assert t.peak == max(t.occupancy) and t.occupancy[t.peak_minute] == t.peak


def test_occupancy_every_keeps_the_last_point():
    plan = plan_day(date(2025, 11, 8), PROFILE, seed=1, baseline=500)
    t = day_timeline(plan)
    points = t.occupancy_every(5)
    assert points[0] == (0, t.occupancy[0])
    assert points[-1] == (len(t.occupancy) - 1, t.occupancy[-1])
    assert all(t.occupancy[m] == v for m, v in points)
    with pytest.raises(ValueError):
        t.occupancy_every(0)


def test_a_store_open_only_in_the_afternoon_has_nobody_inside_in_the_morning():
    doc = {
        "slots": ["00:00", "12:00", "18:00"],
        "weights": {d: [0, 1, 0] for d in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")},
        "trip_duration_minutes": [{"probability": 1.0, "min": 30, "max": 30}],
    }
    plan = plan_day(date(2025, 11, 7), profile_from_dict(doc, "afternoon"), seed=5, baseline=200, fixed_total=200)
    t = day_timeline(plan)
    assert sum(t.occupancy[: 12 * 60]) == 0
    assert sum(t.entries_per_hour[12:18]) == 200
    assert t.occupancy[18 * 60 + 30] == 0  # the last entry (before 18:00) has left 30 minutes later
    assert t.mean_trip_minutes == 30
