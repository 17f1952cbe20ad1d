"""The day plan: totals, slot split, entry times, trip durations, determinism."""

import math
import statistics
from collections import Counter
from datetime import date, timedelta

import pytest

from foot_traffic.model.profile import WEEKDAYS, original_profile
from foot_traffic.plan.implicit import implicit_daily_total as daily_total
from foot_traffic.plan.implicit import plan_day
from foot_traffic.plan.storeday import split_largest_remainder

PROFILE = original_profile()
FRIDAY = date(2025, 11, 7)


def plan(day=FRIDAY, seed=7, **kw):
    kw.setdefault("baseline", 1000)
    return plan_day(day, PROFILE, seed=seed, **kw)


def test_fixed_total_is_exact_and_slots_add_up():
    p = plan(fixed_total=500)
    assert p.total == 500 and sum(p.slot_counts) == 500
    assert len(list(p.visits())) == 500


@pytest.mark.parametrize("total", [1, 2, 5, 7, 93, 1000, 12345])
def test_largest_remainder_always_adds_up(total):
    for day in WEEKDAYS:
        counts = split_largest_remainder(total, PROFILE.weights[day])
        assert sum(counts) == total
        exact = [total * w / sum(PROFILE.weights[day]) for w in PROFILE.weights[day]]
        assert all(abs(c - e) < 1 for c, e in zip(counts, exact))


def test_daily_totals_stay_within_pct_and_their_mean_follows_the_weekday_formula():
    pct = 0.10
    by_weekday: dict[str, list[int]] = {d: [] for d in WEEKDAYS}
    start = date(2024, 1, 1)
    for n in range(7 * 300):
        day = start + timedelta(days=n)
        total = daily_total(day, 11, PROFILE, baseline=1000, fixed_total=None, variation_pct=pct, variation_enabled=True)
        weekday = WEEKDAYS[day.weekday()]
        mean = 1000 * PROFILE.weekday_factor(weekday)
        assert mean * (1 - pct) - 1 <= total <= mean * (1 + pct) + 1
        by_weekday[weekday].append(total)
    for weekday, totals in by_weekday.items():
        mean = 1000 * PROFILE.weekday_factor(weekday)
        # U[1-pct, 1+pct] has sd pct/sqrt(3); 300 days: standard error ~ mean*0.0033. Allow 4 SE.
        se = mean * pct / math.sqrt(3) / math.sqrt(len(totals))
        assert abs(statistics.fmean(totals) - mean) < 4 * se + 0.5, weekday


def test_variation_off_gives_the_weekday_mean():
    total = daily_total(FRIDAY, 1, PROFILE, baseline=1000, fixed_total=None, variation_pct=0.1, variation_enabled=False)
    assert total == round(1000 * 123 / (754 / 7))


def test_same_seed_and_day_give_identical_visits_different_days_differ():
    a = list(plan().visits())
    b = list(plan().visits())
    assert a == b
    other_day = list(plan(day=FRIDAY + timedelta(days=7)).visits())
    assert {v.customer_id for v in a}.isdisjoint({v.customer_id for v in other_day})
    other_seed = list(plan(seed=8).visits())
    assert a[0].customer_id != other_seed[0].customer_id


def test_visits_stream_in_entry_order_inside_their_slot_and_the_day():
    p = plan(fixed_total=5000)
    day0 = p.start
    previous = -1
    per_slot = Counter()
    for v in p.visits():
        assert v.entry_ts >= previous
        previous = v.entry_ts
        slot = PROFILE.slots[v.slot]
        assert day0 + slot.start_minute * 60 <= v.entry_ts < day0 + slot.end_minute * 60
        assert v.exit_ts - v.entry_ts == 60 * v.duration_minutes
        per_slot[v.slot] += 1
    assert tuple(per_slot[i] for i in range(6)) == p.slot_counts


def test_customer_ids_are_unique_uuid4():
    import uuid

    ids = [v.customer_id for v in plan(fixed_total=3000).visits()]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)


# Critical values at the 1 % level (standard tables).
CHI2_99 = {2: 9.210, 9: 21.666}
KS_99 = 1.628  # times 1/sqrt(n)


def test_trip_duration_mix_passes_chi_square_at_1_percent():
    visits = list(plan(fixed_total=20000, seed=3).visits())
    bands = Counter(0 if v.duration_minutes <= 29 else 1 if v.duration_minutes <= 44 else 2 for v in visits)
    n = len(visits)
    chi2 = sum((bands[i] - n * p) ** 2 / (n * p) for i, p in enumerate((0.35, 0.39, 0.26)))
    assert chi2 < CHI2_99[2], (chi2, bands)
    assert min(v.duration_minutes for v in visits) == 10 and max(v.duration_minutes for v in visits) == 75


def test_entry_times_are_uniform_inside_the_slot_ks_and_chi_square_at_1_percent():
    p = plan(fixed_total=30000, seed=5)
    day0 = p.start
    slot = PROFILE.slots[2]
    xs = sorted(
        (v.entry_ts - day0 - slot.start_minute * 60 + 0.5) / slot.seconds for v in p.visits() if v.slot == 2
    )
    n = len(xs)
    d = max(max((i + 1) / n - x, x - i / n) for i, x in enumerate(xs))
    assert d < KS_99 / math.sqrt(n), d
    deciles = Counter(min(9, int(x * 10)) for x in xs)
    chi2 = sum((deciles[i] - n / 10) ** 2 / (n / 10) for i in range(10))
    assert chi2 < CHI2_99[9], chi2
