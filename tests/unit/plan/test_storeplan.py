"""A store's local day: DST days, opening hours, closing grace, closed and special days.

Statistical checks are binomial z-tests at the 0.1 % level (|z| < 3.29) on fixed seeds.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from foot_traffic.plan.localday import day_bounds, local_instant, zone
from foot_traffic.plan.segments import mean_open_weight
from foot_traffic.plan.storeday import plan_store_day, split_largest_remainder
from foot_traffic.plan.stores import catalogue_from_dict
from foot_traffic.records.stream import StoreDayStream

Z_0_1_PERCENT = 3.29


def make_store(hours, tz="Europe/Rome", **fields):
    doc = {"id": fields.pop("id", "s1"), "timezone": tz, "opening_hours": hours}
    if "daily_customers" not in fields:
        doc["base_daily_customers"] = fields.pop("base_daily_customers", 1000)
    doc.update(fields)
    return catalogue_from_dict({"stores": [doc]}).stores[0]


def local(ts, tz):
    return datetime.fromtimestamp(ts, zone(tz))


def records(plan):
    return [r for m in StoreDayStream(plan, "s", "e") for r in m.records]


def binomial_ok(hits, n, p):
    z = (hits - n * p) / math.sqrt(n * p * (1 - p))
    return abs(z) < Z_0_1_PERCENT, z


DST_DAYS = [
    ("Europe/Rome", date(2026, 3, 29), 23, (2, 3)),  # 02:00 -> 03:00: 02:xx does not exist
    ("Europe/Rome", date(2026, 10, 25), 25, (2, 3)),  # 03:00 -> 02:00: 02:xx twice
    ("America/New_York", date(2026, 3, 8), 23, (2, 3)),
    ("America/New_York", date(2026, 11, 1), 25, (1, 2)),  # 02:00 -> 01:00: 01:xx twice
]


@pytest.mark.parametrize(("tz", "day", "hours", "special"), DST_DAYS, ids=[f"{t}-{d}" for t, d, _, _ in DST_DAYS])
def test_dst_day_holds_every_visit_at_times_that_exist(tz, day, hours, special):
    store = make_store({"daily": "00:00-24:00"}, tz=tz, daily_customers=20000)
    plan = plan_store_day(store, day, seed=11, variation_enabled=False)
    start, end = day_bounds(day, zone(tz))
    assert end - start == hours * 3600
    visits = list(plan.visits())
    assert len(visits) == plan.total == 20000  # every planned visit is there
    assert len({v.customer_id for v in visits}) == 20000
    assert all(start <= v.entry_ts < end for v in visits)
    assert [v.entry_ts for v in visits] == sorted(v.entry_ts for v in visits)

    # Every time written is a time that exists and reads back as the same instant.
    recs = records(plan)
    assert len(recs) == 3 * 20000
    for r in recs[:6000] + recs[-6000:] + [r for r in recs if special[0] <= local(r.due, tz).hour < special[1]]:
        doc = json.loads(r.value)
        text = doc.get("time") or doc["entry_time"]
        parsed = datetime.fromisoformat(text)
        assert parsed.timestamp() == r.due == r.timestamp_ms // 1000
        # (compared field by field: Python never calls a time of the repeated hour equal
        # to one in another tzinfo)
        want = local(r.due, tz)
        assert parsed.replace(tzinfo=None) == want.replace(tzinfo=None) and parsed.utcoffset() == want.utcoffset()
        assert doc["weekday"] == day.strftime("%A")

    in_special = [v for v in visits if special[0] <= local(v.entry_ts, tz).hour < special[1]]
    first_slot = sum(1 for v in visits if local(v.entry_ts, tz).hour < 7 and local(v.entry_ts, tz).date() == day)
    if hours == 23:
        assert in_special == []  # the skipped hour holds nobody
        slot_seconds = 6 * 3600
        assert plan.slot_counts[0] < plan.slot_counts[1] * 7 / 3  # 6 of 7 hours open: less weight
    else:
        # The repeated hour is there twice: both UTC offsets, twice an hour's share.
        offsets = Counter(local(v.entry_ts, tz).utcoffset() for v in in_special)
        assert len(offsets) == 2 and min(offsets.values()) > 0
        slot_seconds = 8 * 3600
        ok, z = binomial_ok(len(in_special), first_slot, 2 * 3600 / slot_seconds)
        assert ok, z
    # The slot's weight follows its real length (6, 7 or 8 hours of the 7 nominal).
    weights = store.profile.weights[day.strftime("%A")]
    want = split_largest_remainder(20000, (weights[0] * slot_seconds / (7 * 3600), *weights[1:]))
    assert plan.slot_counts == want
    assert sum(1 for v in visits if v.slot == 0) == want[0] == first_slot


def test_an_opening_time_inside_the_skipped_hour_opens_when_the_clock_gets_there():
    store = make_store({"daily": "02:30-06:00"}, tz="Europe/Rome", daily_customers=500)
    plan = plan_store_day(store, date(2026, 3, 29), seed=1)
    first = min(v.entry_ts for v in plan.visits())
    assert first >= local_instant(date(2026, 3, 29), 180, zone("Europe/Rome"))  # 03:00 CEST
    assert local(first, "Europe/Rome").hour == 3


def test_no_entry_outside_opening_hours_and_the_open_share_of_a_slot():
    store = make_store({"mon-fri": "08:30-20:00"}, daily_customers=100_000)
    day = date(2025, 11, 7)  # a Friday
    plan = plan_store_day(store, day, seed=3)
    visits = list(plan.visits())
    for v in visits:
        t = local(v.entry_ts, "Europe/Rome")
        assert t.date() == day and 8 * 60 + 30 <= t.hour * 60 + t.minute < 20 * 60
    # Friday's seed weights 19,17,25,24,23,15: slot 07:00-09:59 is open 1.5 of 3 hours.
    assert plan.labels == ("07:00\u201309:59", "10:00\u201313:59", "14:00\u201316:59", "17:00\u201319:59")
    assert plan.slot_counts == split_largest_remainder(100_000, (17 * 0.5, 25, 24, 23))
    # Entries are uniform over the open part: 08:30-09:59 holds the whole slot's share.
    early = [v for v in visits if v.slot == 0]
    before_nine = sum(1 for v in early if local(v.entry_ts, "Europe/Rome").hour < 9)
    ok, z = binomial_ok(before_nine, len(early), 30 / 90)
    assert ok, z


def test_everyone_leaves_by_closing_plus_grace():
    tz = zone("Europe/Rome")
    day = date(2025, 11, 7)
    for grace in (0, 15, 40):
        store = make_store({"daily": ["08:00-12:00", "14:00-20:00"]}, daily_customers=5000)
        plan = plan_store_day(store, day, seed=5, grace_minutes=grace)
        visits = list(plan.visits())
        noon, close = local_instant(day, 720, tz), local_instant(day, 1200, tz)
        morning = [v for v in visits if v.entry_ts < noon]
        afternoon = [v for v in visits if v.entry_ts >= noon]
        assert all(v.exit_ts <= noon + 60 * grace for v in morning)
        assert all(v.exit_ts <= close + 60 * grace for v in afternoon)
        assert all(v.duration_minutes >= 0 and v.exit_ts == v.entry_ts + 60 * v.duration_minutes for v in visits)
        cut = [v for v in afternoon if v.exit_ts > close - 60]
        assert cut, "some customers were still inside at closing"
        assert max(v.exit_ts for v in afternoon) > close + 60 * grace - 120
        assert not any(local_instant(day, 720, tz) <= v.entry_ts < local_instant(day, 840, tz) for v in visits)
        assert plan.last_exit_bound == close + 60 * grace


def test_the_cut_trips_are_the_only_ones_changed():
    day = date(2025, 11, 7)
    long = plan_store_day(make_store({"daily": "08:00-20:00"}, daily_customers=3000), day, seed=9, grace_minutes=1440)
    short = plan_store_day(make_store({"daily": "08:00-20:00"}, daily_customers=3000), day, seed=9, grace_minutes=10)
    close = local_instant(day, 1200, zone("Europe/Rome"))
    for a, b in zip(long.visits(), short.visits()):
        assert (a.customer_id, a.entry_ts) == (b.customer_id, b.entry_ts)
        if a.exit_ts <= close + 600:
            assert a.duration_minutes == b.duration_minutes
        else:
            assert b.duration_minutes == (close + 600 - b.entry_ts) // 60


def test_a_round_the_clock_store_does_not_close_at_midnight():
    store = make_store({"daily": "00:00-24:00"}, daily_customers=5000)
    plan = plan_store_day(store, date(2025, 11, 7), seed=2)
    midnight = local_instant(date(2025, 11, 8), 0, zone("Europe/Rome"))
    assert any(v.exit_ts > midnight + 30 * 60 for v in plan.visits())  # trips run on past 00:15
    # ... but one that closes at midnight on Saturday sends them home by 00:15.
    store = make_store({"mon-fri": "00:00-24:00"}, daily_customers=5000)
    plan = plan_store_day(store, date(2025, 11, 7), seed=2)
    assert max(v.exit_ts for v in plan.visits()) <= midnight + 15 * 60


def test_hours_past_midnight_belong_to_the_day_they_open():
    tz = "America/Los_Angeles"
    store = make_store({"sun-thu": "10:00-22:00", "fri-sat": "10:00-02:00"}, tz=tz, daily_customers=4000)
    friday = date(2026, 11, 27)
    plan = plan_store_day(store, friday, seed=4)
    visits = list(plan.visits())
    after_midnight = [v for v in visits if local(v.entry_ts, tz).date() == friday + timedelta(days=1)]
    assert after_midnight and all(local(v.entry_ts, tz).hour < 2 for v in after_midnight)
    assert all(plan.labels[v.slot] == "00:00\u201306:59" for v in after_midnight)
    two_am = local_instant(friday, 26 * 60, zone(tz))
    assert max(v.exit_ts for v in visits) <= two_am + 15 * 60
    recs = records(plan)
    late = [json.loads(r.value) for r in recs if r.due >= local_instant(friday, 1440, zone(tz)) and r.kind == "entry"]
    assert late and all(d["weekday"] == "Friday" and d["time"].startswith("2026-11-28T0") for d in late)
    assert {dict(r.headers)["ft-day"] for r in recs} == {b"2026-11-27"}
    # Saturday's own day starts at 10:00, not at midnight.
    saturday = plan_store_day(store, friday + timedelta(days=1), seed=4)
    first = min(v.entry_ts for v in saturday.visits())
    assert first >= local_instant(friday, 34 * 60, zone(tz)) and local(first, tz).hour == 10


@pytest.mark.parametrize("how", ["weekday", "closed_on"])
def test_a_closed_day_plans_nothing(how):
    day = date(2026, 11, 29)  # a Sunday
    if how == "weekday":
        store = make_store({"mon-sat": "08:00-20:00"})
    else:
        store = make_store({"daily": "08:00-20:00"}, closed_on=[day.isoformat()])
    plan = plan_store_day(store, day, seed=1)
    assert plan.closed and plan.total == 0 and list(plan.visits()) == [] and records(plan) == []


def test_special_days_scale_the_total_and_totals_follow_open_hours():
    store = make_store(
        {"mon-fri": "08:00-20:00", "sat": "08:00-20:00", "sun": "10:00-13:00"},
        base_daily_customers=2000, special_days={"2026-11-27": 2.5},
    )
    friday, next_friday = date(2026, 11, 27), date(2026, 12, 4)
    special = plan_store_day(store, friday, seed=1, variation_enabled=False)
    normal = plan_store_day(store, next_friday, seed=1, variation_enabled=False)
    assert special.total == round(normal.total * 2.5) or abs(special.total - normal.total * 2.5) <= 2.5
    sunday = plan_store_day(store, date(2026, 11, 29), seed=1, variation_enabled=False)
    assert sunday.total < normal.total / 3  # three hours of Sunday against twelve of Friday
    # base_daily_customers is the average open day: over a plain week, the mean is it.
    week = [plan_store_day(store, next_friday + timedelta(days=i), seed=1, variation_enabled=False).total for i in range(7)]
    assert abs(sum(week) / 7 - 2000) < 2
    assert mean_open_weight(store) > 0


def test_daily_variation_per_store_and_its_switch():
    store = make_store({"daily": "08:00-20:00"}, base_daily_customers=1000, daily_variation_pct=0.3)
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(0, 70, 7)]  # Thursdays
    fixed = {plan_store_day(store, d, seed=8, variation_enabled=False).total for d in days}
    assert len(fixed) == 1
    (plain,) = fixed
    totals = {plan_store_day(store, d, seed=8).total for d in days}
    assert len(totals) > 5 and all(0.7 * plain - 1 <= t <= 1.3 * plain + 1 for t in totals)


def test_plan_id_changes_with_what_changes_the_records():
    day = date(2026, 11, 27)
    base = plan_store_day(make_store({"daily": "08:00-20:00"}), day, seed=1)
    assert base.plan_id.startswith("s1:1:")
    assert plan_store_day(make_store({"daily": "08:00-20:00"}), day, seed=1).plan_id == base.plan_id
    assert plan_store_day(make_store({"daily": "08:00-21:00"}), day, seed=1).plan_id != base.plan_id
    assert plan_store_day(make_store({"daily": "08:00-20:00"}, tz="Europe/Berlin"), day, seed=1).plan_id != base.plan_id
    assert plan_store_day(make_store({"daily": "08:00-20:00"}), day, seed=1, grace_minutes=5).plan_id != base.plan_id
