"""A curve profile's own day-to-day variation (``days.<weekday>.variation_pct``, written by
``foot-traffic fit``) replaces DAILY_VARIATION_PCT for that day; without it nothing changes."""

from __future__ import annotations

import copy
import math
import statistics
from datetime import date, timedelta

import pytest
import yaml

from foot_traffic.model.profile import ProfileError, builtin_profile, builtin_profile_path, profile_from_dict
from foot_traffic.plan.implicit import implicit_daily_total as daily_total

RETAIL = yaml.safe_load(builtin_profile_path("retail").read_text(encoding="utf-8"))


def with_variation(**pct: float):
    doc = copy.deepcopy(RETAIL)
    for day, value in pct.items():
        doc["days"][day]["variation_pct"] = value
    return profile_from_dict(doc, "fitted.yaml")


def totals(profile, weekday_offset: int, *, pct: float = 0.10, enabled: bool = True, weeks: int = 2000) -> list[int]:
    first = date(2030, 1, 7) + timedelta(days=weekday_offset)  # 2030-01-07 is a Monday
    return [
        daily_total(first + timedelta(weeks=k), 3, profile, baseline=1000, fixed_total=None, variation_pct=pct,
                    variation_enabled=enabled)
        for k in range(weeks)
    ]


def test_the_profile_variation_replaces_the_setting_for_its_day():
    profile = with_variation(Saturday=0.5)
    saturday = totals(profile, 5)
    monday = totals(profile, 0)
    mean_sat = 1000 * profile.weekday_factor("Saturday")
    # U[1-p, 1+p] has CV p / sqrt(3); 2000 draws: the CV's standard error is about 0.006 (p = 0.5)
    assert statistics.pstdev(saturday) / statistics.fmean(saturday) == pytest.approx(0.5 / math.sqrt(3), abs=0.03)
    assert min(saturday) >= round(mean_sat * 0.5) - 1 and max(saturday) <= round(mean_sat * 1.5) + 1
    # Monday has none of its own: DAILY_VARIATION_PCT (0.10) as before
    assert statistics.pstdev(monday) / statistics.fmean(monday) == pytest.approx(0.10 / math.sqrt(3), abs=0.01)


def test_days_without_it_are_planned_exactly_as_before():
    plain = builtin_profile("retail")
    fitted = with_variation(Saturday=0.5)
    assert totals(plain, 0, weeks=50) == totals(fitted, 0, weeks=50)  # Monday: same draws, same totals
    assert plain.variation_pct("Monday") is None and fitted.variation_pct("Monday") is None


def test_the_retail_digest_is_unchanged_and_a_variation_changes_it():
    assert profile_from_dict(copy.deepcopy(RETAIL), "retail.yaml").digest() == builtin_profile("retail").digest()
    assert with_variation(Saturday=0.5).digest() != builtin_profile("retail").digest()


def test_disabling_the_variation_still_disables_it():
    profile = with_variation(Saturday=0.5)
    assert len(set(totals(profile, 5, enabled=False, weeks=20))) == 1


@pytest.mark.parametrize("bad", [1, 1.5, -0.1, "0.2", True, float("nan")])
def test_a_bad_variation_is_named(bad):
    doc = copy.deepcopy(RETAIL)
    doc["days"]["Sunday"]["variation_pct"] = bad
    with pytest.raises(ProfileError) as err:
        profile_from_dict(doc, "fitted.yaml")
    assert "days.Sunday.variation_pct" in str(err.value) and "[0, 1)" in str(err.value)
