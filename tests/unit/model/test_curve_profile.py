"""Curve profiles: the built-in retail profile, built-in names, the loader's problems."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from foot_traffic.model import profile as profile_mod
from foot_traffic.model.profile import BUILTIN, ProfileError, builtin_profile_path, load_profile, original_profile, profile_from_dict
from foot_traffic.settings import BUILTIN_PROFILES, Settings, SettingsError


def retail_doc() -> dict:
    return yaml.safe_load(builtin_profile_path("retail").read_text(encoding="utf-8"))


def test_builtin_names_match_the_shipped_files_and_the_settings():
    assert BUILTIN == BUILTIN_PROFILES
    shipped = {p.name.removesuffix(".yaml") for p in (Path(profile_mod.__file__).parent / "profiles").glob("*.yaml")}
    assert shipped == set(BUILTIN)


def test_seed_stays_the_default_and_the_same_object():
    assert load_profile(None) is original_profile()
    assert load_profile("seed") is original_profile()
    assert original_profile().model is None
    assert original_profile().digest() == "c52c6b05960d5dfd"  # the plan id's profile part, unchanged


def test_retail_loads_with_hourly_slots_weights_and_parties():
    retail = load_profile("retail")
    assert retail.name == "retail" and retail.model is not None
    assert len(retail.slots) == 24 and retail.slots[10].label == "10:00\u201310:59"
    # the weekday volumes are the day weights; the slot weights spread them like the curve
    assert retail.weekday_factor("Saturday") / retail.weekday_factor("Monday") == pytest.approx(41 / 29)
    assert sum(retail.weights["Saturday"]) == pytest.approx(41)
    assert max(range(24), key=lambda h: retail.weights["Saturday"][h]) in (10, 11, 12)
    assert retail.model.parties.share == 0.2 and retail.max_trip_minutes == 180
    assert retail.digest() != original_profile().digest()


def test_a_store_profile_file_of_curve_shape_loads_like_the_builtin(tmp_path):
    path = tmp_path / "grocery.yaml"
    doc = retail_doc()
    doc["name"] = "grocery"
    doc["parties"]["share"] = 0.05
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    grocery = load_profile(path)
    assert grocery.name == "grocery" and grocery.model.parties.share == 0.05
    assert Settings.from_env({"FOOT_TRAFFIC_PROFILE": str(path)}).profile_file == str(path)


def test_settings_take_a_builtin_name_or_an_existing_file(tmp_path):
    assert Settings.from_env({"FOOT_TRAFFIC_PROFILE": "retail"}).profile_file == "retail"
    assert Settings.from_env({"FOOT_TRAFFIC_PROFILE": "seed"}).profile_file == "seed"
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"FOOT_TRAFFIC_PROFILE": "retial"})
    (problem,) = info.value.problems
    assert problem.startswith("FOOT_TRAFFIC_PROFILE='retial'") and "seed, retail" in problem


def test_every_problem_of_a_curve_profile_is_reported_at_once():
    doc = retail_doc()
    doc["curves"]["weekday"]["07:00"] = -1
    doc["curves"]["weekend"] = {"01:00": 1, "02:00": 2}
    doc["days"]["Monday"]["curve"] = "workday"
    doc["days"]["Tuesday"]["weight"] = 0
    del doc["days"]["Sunday"]
    doc["dwell"]["sigma"] = 0
    doc["dwell"]["min_minutes"] = 200
    doc["parties"]["sizes"] = {2: 0.5, 3: 0.2, 1: 0.3}
    doc["parties"]["gap_seconds"] = {"min": 5, "max": 2}
    doc["colour"] = "blue"
    with pytest.raises(ProfileError) as info:
        profile_from_dict(doc, "bad.yaml")
    text = "\n".join(info.value.problems)
    for expected in (
        "curves.weekday['07:00']: -1 must be a finite number >= 0",
        "curves.weekend: the first point must be \"00:00\"",
        "days.Monday.curve: 'workday' is not one of the curves",
        "days.Tuesday.weight: 0 must be a number > 0",
        "days: missing Sunday",
        "dwell.sigma: 0 must be a number in (0, 3]",
        "dwell: min_minutes (200) must be below max_minutes (180)",
        "parties.sizes[1]: a party has 2-20 people",
        "parties.gap_seconds: need whole seconds 0 <= min <= max <= 60",
        "profile: unknown key 'colour'",
    ):
        assert expected in text, expected
    assert all(p.startswith("bad.yaml: ") for p in info.value.problems)
    assert str(info.value).startswith("bad.yaml: ") and "problem(s)" in str(info.value)


def test_unquoted_times_are_explained():
    doc = retail_doc()
    doc["curves"]["weekday"] = {"00:00": 1, 630: 2, "24:00": 1}  # YAML reads 10:30 as 630
    with pytest.raises(ProfileError) as info:
        profile_from_dict(doc, "x.yaml")
    assert "write times as quoted \"HH:MM\" strings" in str(info.value)


def test_a_curve_without_24_00_wraps_to_its_midnight_value_and_parties_are_optional():
    doc = copy.deepcopy(retail_doc())
    doc["curves"]["weekday"] = {"00:00": 1, "12:00": 3}
    del doc["parties"]
    p = profile_from_dict(doc, "x.yaml")
    curve = p.model.curve_for("Monday")
    assert curve.at(86_400) == 1 and curve.at(43_200) == 3 and curve.at(64_800) == pytest.approx(2)
    assert not p.model.has_parties


def test_dwell_means_are_the_days_means_whatever_the_hour_factor():
    retail = load_profile("retail")
    dwell = retail.model.dwell
    for day in ("Monday", "Saturday"):
        curve = retail.model.curve_for(day)
        mean = curve.weighted_mean(type(curve)(dwell.hour_factor.knots, tuple(
            dwell.mean_at(day, k) for k in dwell.hour_factor.knots)))
        assert mean == pytest.approx(dwell.mean_minutes[day], rel=1e-9)
