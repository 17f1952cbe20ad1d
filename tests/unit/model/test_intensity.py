"""The intensity over open time, its inverse CDF, and the arrivals drawn from it."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from foot_traffic.model import arrivals
from foot_traffic.model.intensity import Curve, DayIntensity, Window
from foot_traffic.model.profile import load_profile
from foot_traffic.plan import curve_plan
from foot_traffic.plan.implicit import plan_day
from foot_traffic.plan.localday import day_bounds, local_instant
from foot_traffic.plan.seeds import curve_seeds

TENT = Curve((0, 43_200, 86_400), (0.0, 2.0, 0.0))  # 0 at midnight, 2 at noon


def test_curve_interpolates_and_integrates_exactly():
    assert TENT.at(21_600) == pytest.approx(1.0)
    assert TENT.integral(0, 86_400) == pytest.approx(86_400.0)
    assert TENT.integral(0, 21_600) == pytest.approx(21_600 / 2)
    flat = Curve((0, 86_400), (1.0, 1.0))
    assert TENT.weighted_mean(flat) == pytest.approx(1.0)
    assert flat.weighted_mean(TENT) == pytest.approx(1.0)


def test_inverse_cdf_inverts_the_cdf_and_never_leaves_open_time():
    day0 = 1_800_000_000 - 1_800_000_000 % 86_400
    windows = [Window(day0 + 8 * 3600, day0 + 12 * 3600, 0), Window(day0 + 14 * 3600, day0 + 20 * 3600, 1, day0 + 20 * 3600 + 900)]
    intensity = DayIntensity(TENT, windows)
    walk = intensity.quantiles()
    for u in [i / 1000 for i in range(1, 1000)]:
        t, piece = walk(u)
        assert intensity.cdf(t) == pytest.approx(u, abs=1e-9)
        assert any(w.start <= t < w.end for w in windows)
        assert piece.slot == (0 if t < day0 + 12 * 3600 else 1)
    assert intensity.piece_at(day0 + 13 * 3600) is None and intensity.rate(day0 + 13 * 3600) == 0
    assert intensity.share(day0, day0 + 86_400) == pytest.approx(1.0)
    # the open share of the mass: 8-12 and 14-20 under the tent
    whole = TENT.integral(8 * 3600, 12 * 3600) + TENT.integral(14 * 3600, 20 * 3600)
    assert intensity.share(day0 + 8 * 3600, day0 + 12 * 3600) == pytest.approx(TENT.integral(8 * 3600, 12 * 3600) / whole)
    # a closing gives leave_by to its pieces, and open_end stops parties at closing
    assert intensity.piece_at(day0 + 19 * 3600).leave_by == day0 + 20 * 3600 + 900
    assert intensity.piece_at(day0 + 19 * 3600).open_end == day0 + 20 * 3600


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_dst_days_follow_the_local_clock(day):
    """On a 23- or 25-hour day the curve is read on the wall clock: the skipped hour has no
    mass, the repeated hour has its mass twice; local noon is the peak."""
    tz = ZoneInfo("Europe/Rome")
    start, end = day_bounds(day, tz)
    intensity = DayIntensity(TENT, [Window(start, end, 0)], curve_plan.zone_offset(tz))
    hours = (end - start) / 3600
    assert hours in (23, 25)
    expected = TENT.integral(0, 86_400) + (1 if hours == 25 else -1) * TENT.integral(2 * 3600, 3 * 3600)
    assert intensity.total_mass == pytest.approx(expected)
    noon = local_instant(day, 12 * 60, tz)
    assert intensity.rate(noon) == pytest.approx(2.0 / expected)
    assert intensity.local_second(noon) == 43_200


def test_arrivals_are_sorted_numbered_and_counted_per_slot():
    retail = load_profile("retail")
    plan = plan_day(date(2026, 11, 28), retail, seed=11, baseline=3000)
    visits = list(plan.visits())
    assert len(visits) == plan.total
    assert [v.index for v in visits] == list(range(plan.total))
    assert all(a.entry_ts <= b.entry_ts for a, b in zip(visits, visits[1:]))
    counts = Counter(v.slot for v in visits)
    assert tuple(counts.get(i, 0) for i in range(24)) == plan.slot_counts
    assert visits == list(plan.visits())  # the same stream every time
    # a different seed, a different day
    assert [v.customer_id for v in plan_day(date(2026, 11, 28), retail, seed=12, baseline=3000).visits()][:5] != [
        v.customer_id for v in visits[:5]
    ]


def test_party_members_enter_seconds_apart_and_leave_together():
    retail = load_profile("retail")
    plan = plan_day(date(2026, 11, 27), retail, seed=3, baseline=4000)
    parties: dict[str, list] = {}
    for v in plan.visits():
        parties.setdefault(v.party_id, []).append(v)
    sizes = Counter(len(m) for m in parties.values())
    assert set(sizes) <= {1, 2, 3, 4, 5} and sizes[2] > sizes[3] > sizes[4]
    for members in parties.values():
        members.sort(key=lambda v: v.party_pos)
        assert [v.party_pos for v in members] == list(range(len(members)))
        assert members[0].customer_id == members[0].party_id
        assert len({v.customer_id for v in members}) == len(members)
        assert all(v.party_size == len(members) for v in members)
        for a, b in zip(members, members[1:]):
            assert 1 <= b.entry_ts - a.entry_ts <= 4
            assert b.duration_minutes == a.duration_minutes  # no closing without a catalogue
            assert b.exit_ts - a.exit_ts == b.entry_ts - a.entry_ts


def test_group_sizes_meet_the_total_exactly():
    mix = load_profile("retail").model.parties
    for total in (1, 2, 7, 1000):
        sizes = list(mix.sizes_until(total, seed=5))
        assert sum(sizes) == total and all(1 <= s <= 5 for s in sizes)
        assert mix.count_groups(total, 5) == len(sizes)
    assert mix.mean_group_size == pytest.approx(0.8 + 0.2 * 2.55)


def test_trip_draws_follow_their_cdf():
    dwell = load_profile("retail").model.dwell
    mu = dwell.mu_at("Monday", 12 * 3600)
    rng = random.Random(1)
    draws = Counter(dwell.draw(mu, rng.random()) for _ in range(20_000))
    assert min(draws) >= dwell.min_minutes and max(draws) <= dwell.max_minutes
    for m in (20, 35, 50, 80):
        assert draws[m] / 20_000 == pytest.approx(dwell.pmf(mu, m), abs=0.004)
    assert sum(dwell.pmf(mu, m) for m in range(dwell.min_minutes, dwell.max_minutes + 1)) == pytest.approx(1.0)


def test_slot_counts_pass_matches_the_generated_visits_with_closing_and_parties():
    retail = load_profile("retail")
    day0 = 1_795_824_000  # 2026-11-28 00:00 UTC
    leave = day0 + 19 * 3600 + 600  # the period 09:00-19:00 closes with 10 minutes' grace
    windows = [Window(day0 + h * 3600, day0 + (h + 1) * 3600, h - 9, leave) for h in range(9, 19)]
    intensity = DayIntensity(retail.model.curve_for("Saturday"), windows)
    seeds = curve_seeds(4, date(2026, 11, 28))
    visits = list(arrivals.visits(retail.model, intensity, "Saturday", 2500, seeds))
    counts = Counter(v.slot for v in visits)
    assert tuple(counts.get(i, 0) for i in range(10)) == arrivals.slot_counts(retail.model, intensity, 2500, seeds, 10)
    assert all(day0 + 9 * 3600 <= v.entry_ts < day0 + 19 * 3600 for v in visits)
    assert max(v.exit_ts for v in visits) <= day0 + 19 * 3600 + 600  # closing + 10 min grace
