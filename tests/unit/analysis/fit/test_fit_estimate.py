"""The estimator recovers a store it did not see: door counts simulated from a known model
(weekday means, intraday curves, uniform daily variation, log-normal trips) are fitted and
every part of the model must come back within a stated tolerance."""

from __future__ import annotations

import bisect
import math
import random
from datetime import date, timedelta

import pytest

from foot_traffic.analysis.fit.counts import CountsError, DayCounts, DoorCounts
from foot_traffic.analysis.fit.curves import aggregate, knot_values, smooth_circular
from foot_traffic.analysis.fit.estimate import (
    FitOptions,
    fit_counts,
    truncated_mean,
    untruncated_for,
)
from foot_traffic.model.intensity import Curve
from foot_traffic.model.profile import WEEKDAYS

MEANS = {"Monday": 400, "Tuesday": 420, "Wednesday": 440, "Thursday": 460, "Friday": 600, "Saturday": 800, "Sunday": 300}
VARIATION = 0.2  # U[0.8, 1.2]: CV 0.2 / sqrt(3) = 0.1155
WEEKDAY_CURVE = Curve((0, 7 * 3600, 8 * 3600, 12 * 3600, 14 * 3600, 17 * 3600, 21 * 3600, 22 * 3600, 86400),
                      (0.0, 0.0, 1.0, 4.0, 2.5, 4.0, 1.0, 0.0, 0.0))
WEEKEND_CURVE = Curve((0, 8 * 3600, 9 * 3600, 13 * 3600, 20 * 3600, 21 * 3600, 86400), (0.0, 0.0, 1.0, 5.0, 2.0, 0.0, 0.0))
DWELL_MEAN, DWELL_SIGMA, DWELL_MAX = 40.0, 0.5, 240.0
BIN = 900  # 15-minute bins


def true_hourly(curve: Curve) -> list[float]:
    whole = curve.integral(0, 86400)
    return [curve.integral(h * 3600, (h + 1) * 3600) / whole for h in range(24)]


def simulate(weeks: int, seed: int = 5, first: date = date(2025, 1, 6), holiday: date | None = None) -> DoorCounts:
    rng = random.Random(seed)
    n = 86400 // BIN
    grids = {}
    for curve in (WEEKDAY_CURVE, WEEKEND_CURVE):  # inverse CDF on a one-second grid, by minutes
        cum = [curve.integral(0, m * 60) for m in range(1441)]
        grids[curve] = cum
    mu = math.log(untruncated_for(DWELL_MEAN, DWELL_SIGMA, 1, DWELL_MAX)) - DWELL_SIGMA**2 / 2
    ins = {}
    outs = {}
    days = [first + timedelta(days=k) for k in range(weeks * 7)]
    for day in days:
        ins[day], outs[day] = [0] * n, [0] * n
    for day in days:
        weekday = WEEKDAYS[day.weekday()]
        curve = WEEKEND_CURVE if day.weekday() >= 5 else WEEKDAY_CURVE
        total = round(MEANS[weekday] * rng.uniform(1 - VARIATION, 1 + VARIATION))
        if day == holiday:
            total = 12
        cum = grids[curve]
        for _ in range(total):
            target = rng.random() * cum[-1]
            m = bisect.bisect_left(cum, target) - 1
            second = m * 60 + rng.random() * 60
            while True:
                trip = math.exp(rng.gauss(mu, DWELL_SIGMA))
                if 1 <= trip <= DWELL_MAX:
                    break
            ins[day][int(second // BIN)] += 1
            leave = second + trip * 60
            out_day = day + timedelta(days=int(leave // 86400))
            if out_day in outs:
                outs[out_day][int((leave % 86400) // BIN)] += 1
    return DoorCounts(
        source="simulated", sha256="0" * 64, format="csv", bin_seconds=BIN, timezone=None,
        days=tuple(DayCounts(d, tuple(ins[d]), tuple(outs[d])) for d in days),
    )


@pytest.fixture(scope="module")
def twelve_weeks():
    counts = simulate(12, holiday=date(2025, 2, 12))  # a Wednesday with almost no one
    return counts, fit_counts(counts)


def test_weekday_totals_are_the_observed_means_and_near_the_truth(twelve_weeks):
    counts, fit = twelve_weeks
    for w in WEEKDAYS:
        own = [d.total_in for d in counts.days if WEEKDAYS[d.day.weekday()] == w and d.day != date(2025, 2, 12)]
        assert fit.weekdays[w].used_total == pytest.approx(sum(own) / len(own))
        # 11-12 days with CV 0.115: the mean's standard error is 3.5 %; 4 of them
        assert fit.weekdays[w].used_total == pytest.approx(MEANS[w], rel=0.14)
    assert fit.level == pytest.approx(sum(fit.weekdays[w].used_total for w in WEEKDAYS) / 7)
    assert fit.weekday_index_max_err == 0.0


def test_the_holiday_is_found_and_left_out(twelve_weeks):
    _, fit = twelve_weeks
    assert [d for d, _ in fit.outliers] == [date(2025, 2, 12)] and fit.outliers[0][1] < -4
    assert date(2025, 2, 12) not in fit.days_used and len(fit.days_used) == 83


def test_intraday_curves_recover_the_true_hourly_shares(twelve_weeks):
    _, fit = twelve_weeks
    for w in WEEKDAYS:
        truth = true_hourly(WEEKEND_CURVE if w in ("Saturday", "Sunday") else WEEKDAY_CURVE)
        fitted = fit.weekdays[w].fitted_hourly
        mae = 100 * sum(abs(a - b) for a, b in zip(truth, fitted)) / 24
        assert mae < 0.5, (w, mae)  # ~5000 arrivals per weekday: noise alone is ~0.2 pp
        assert fit.weekdays[w].curve == w  # enough data: every weekday its own curve
    curve = fit.curves["Friday"]
    assert curve.knots[0] == 0 and curve.knots[-1] == 86400 and curve.knots[1] == 7 * 60  # 00:07, centre of 00:00-00:15
    assert sum(curve.values[1:-1]) / 96 == pytest.approx(1.0, abs=1e-3)  # relative rate, mean 1


def test_the_day_to_day_variation_is_recovered(twelve_weeks):
    _, fit = twelve_weeks
    truth = VARIATION / math.sqrt(3)
    # 59 weekdays / 24 weekend days: the CV's standard error is about 0.011 / 0.017
    assert fit.variation.cv["weekdays"] == pytest.approx(truth, abs=0.035)
    assert fit.variation.cv["weekend"] == pytest.approx(truth, abs=0.05)
    assert fit.variation.pct["weekdays"] == pytest.approx(math.sqrt(3) * fit.variation.cv["weekdays"])
    assert not fit.variation.capped


def test_the_mean_trip_comes_back_by_littles_law(twelve_weeks):
    _, fit = twelve_weeks
    d = fit.dwell
    for group in ("weekdays", "weekend"):
        assert d.mean_minutes[group] == pytest.approx(DWELL_MEAN, rel=0.05), group
        assert d.balance[group] == pytest.approx(1.0, abs=0.01)
        assert d.occupancy_mae_pct[group] < 5
    assert abs(d.sigma - DWELL_SIGMA) <= 0.2
    assert d.reset_second < 7 * 3600  # the store is empty at night
    assert d.clamped_persons < 0.5


def test_thin_weekdays_are_pooled_into_their_group_and_said():
    fit = fit_counts(simulate(3, seed=9))
    assert all(fit.weekdays[w].curve == "weekdays" for w in WEEKDAYS[:5])
    assert all(fit.weekdays[w].total_from == "weekdays" for w in WEEKDAYS[:5])
    assert fit.weekdays["Saturday"].curve == "weekend"
    notes = "\n".join(fit.notes)
    assert "Monday: 3 day(s) (fewer than 4): its total is the mean of the weekdays group" in notes
    assert "intraday curve of Monday (3 days" in notes and "the weekdays group's pooled curve (15 days" in notes
    assert fit.weekday_index_max_err > 0  # pooled totals differ from each weekday's own mean


def test_without_weekend_days_the_fit_is_refused_naming_them():
    counts = simulate(3)
    weekdays_only = DoorCounts(**{**counts.__dict__, "days": tuple(d for d in counts.days if d.day.weekday() < 5)})
    with pytest.raises(CountsError, match=r"too few Saturday/Sunday days: 0 \(need at least 2 to fit Saturday, Sunday\)"):
        fit_counts(weekdays_only)


def test_keep_outliers_keeps_the_holiday():
    counts = simulate(6, holiday=date(2025, 1, 15))
    fit = fit_counts(counts, FitOptions(keep_outliers=True))
    assert date(2025, 1, 15) in fit.days_used and [d for d, _ in fit.outliers] == [date(2025, 1, 15)]


def test_knot_values_keep_every_bins_mass_exactly():
    rng = random.Random(2)
    masses = [1 + 0.8 * math.sin(2 * math.pi * i / 48) + rng.uniform(-0.05, 0.05) for i in range(48)]
    values = knot_values(masses)
    centres = tuple(i * 1800 + 900 for i in range(48))
    edge = (values[0] + values[-1]) / 2
    curve = Curve((0, *centres, 86400), (edge, *values, edge))
    for i, m in enumerate(masses):
        assert curve.integral(i * 1800, (i + 1) * 1800) / 1800 == pytest.approx(m, rel=1e-6)


def test_knot_values_stay_non_negative_next_to_zeros():
    values = knot_values([0, 0, 0, 5, 0, 0, 0, 0])
    assert min(values) >= 0 and max(values) > 5


def test_smoothing_keeps_the_total_and_wraps_around_midnight():
    shares = [0.0] * 24
    shares[0] = 1.0
    smoothed = smooth_circular(shares, 1.5)
    assert sum(smoothed) == pytest.approx(1.0) and smoothed[23] == pytest.approx(smoothed[1]) and smoothed[23] > 0
    assert aggregate([1, 2, 3, 4], 2) == [3, 7]


def test_truncated_mean_and_its_inverse():
    assert truncated_mean(40, 0.5, 1, 1e9) == pytest.approx(40, rel=1e-6)
    m = untruncated_for(93.4, 1.0, 1, 1200)
    assert m > 93.4 and truncated_mean(m, 1.0, 1, 1200) == pytest.approx(93.4, rel=1e-6)


def test_a_weekday_without_days_takes_its_groups_total_and_curve(tmp_path):
    from foot_traffic.analysis.fit.chart import draw
    from foot_traffic.analysis.fit.roundtrip import round_trip
    from foot_traffic.analysis.fit.writer import write_profile

    counts = simulate(6)
    no_wednesdays = DoorCounts(**{**counts.__dict__, "days": tuple(d for d in counts.days if d.day.weekday() != 2)})
    fit = fit_counts(no_wednesdays)
    wed = fit.weekdays["Wednesday"]
    assert wed.days == 0 and wed.total_from == "weekdays" and wed.curve == "weekdays"
    assert "Wednesday: 0 day(s) (fewer than 4)" in "\n".join(fit.notes)
    profile = write_profile(fit, tmp_path / "p.yaml")
    assert profile.weekday_factor("Wednesday") == pytest.approx(wed.factor, rel=1e-3)
    trip = round_trip(fit, profile, weeks=4, totals_weeks=200)
    assert "Wednesday" not in trip.weekday_index and trip.failures() == []
    assert draw(fit, tmp_path / "c.png", trip).stat().st_size > 10_000


def test_outs_in_the_same_bin_as_ins_give_a_one_minute_trip_and_say_so():
    counts = simulate(3)
    same = DoorCounts(**{**counts.__dict__, "days": tuple(DayCounts(d.day, d.ins, d.ins) for d in counts.days)})
    fit = fit_counts(same)
    assert fit.dwell.mean_minutes == {"weekdays": 1.0, "weekend": 1.0} and fit.dwell.floored == ("weekdays", "weekend")
    assert "shorter than the bins can show; it is set to 1 minute" in "\n".join(fit.notes)
