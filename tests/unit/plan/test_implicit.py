"""The implicit store: a run without a catalogue plays a catalogue of one, planned like any store."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, date, datetime, timedelta

import yaml

from foot_traffic.model.profile import builtin_profile_path, load_profile, original_profile, profile_from_dict
from foot_traffic.plan.implicit import implicit_catalogue, implicit_store, plan_day
from foot_traffic.plan.seeds import derive_seed
from foot_traffic.plan.store_days import StoreDay, store_days
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import catalogue_from_dict
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings

FRIDAY = date(2025, 11, 7)


def midnight(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp())


def test_the_catalogue_of_one_holds_the_settings_store():
    settings = Settings.from_env({"FOOT_TRAFFIC_PROFILE": "retail", "BASE_DAILY_CUSTOMERS": "700", "DAILY_CUSTOMERS": "300"})
    catalogue = implicit_catalogue(settings)
    (store,) = catalogue.stores
    assert catalogue.is_implicit and store.is_implicit and store.id is None
    assert store.timezone == "UTC" and store.hours_text(FRIDAY) == "00:00-24:00"
    assert store.profile.name == "retail" and store.base_daily_customers == 700 and store.daily_customers == 300
    named = catalogue_from_dict({"stores": [{"id": "s1", "timezone": "UTC", "base_daily_customers": 5, "opening_hours": {"daily": "00:00-24:00"}}]})
    assert not named.is_implicit


def test_store_days_of_the_implicit_catalogue_are_its_utc_days():
    catalogue = implicit_catalogue(Settings.from_env({}))
    days = [FRIDAY + timedelta(days=i) for i in range(3)]
    units = list(store_days(catalogue, days))
    assert units == [StoreDay(midnight(d), 0, d, catalogue.stores[0]) for d in days]
    assert [u.day for u in units] == days
    later = list(store_days(catalogue, days, from_now=midnight(days[1]) + 3600))  # in the second day
    assert [u.day for u in later] == days[1:]


def test_its_plan_has_the_original_ids_and_integer_bounds():
    settings = Settings.from_env({"SEED": "7", "DAILY_CUSTOMERS": "500"})
    plan = plan_store_day(implicit_store(settings), FRIDAY, settings)
    profile = original_profile()
    assert plan.plan_id == f"v1:7:500:{profile.digest()}" and plan.store_id is None and not plan.closed
    assert plan.start == midnight(FRIDAY) and isinstance(plan.start, int)
    assert plan.last_exit_bound == midnight(FRIDAY) + 86_400 + 60 * profile.max_trip_minutes
    assert plan.labels == tuple(s.label for s in profile.slots) and sum(plan.slot_counts) == 500
    assert plan == plan_day(FRIDAY, profile, seed=7, baseline=settings.baseline, fixed_total=500)


def test_one_seed_derivation_keeps_each_kind_of_stores_streams():
    def sha(text: str) -> int:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")

    assert derive_seed(7, FRIDAY, "visits") == sha("foot-traffic/v1/7/2025-11-07/visits")
    assert derive_seed(7, FRIDAY, "visits", "rome-centro") == sha("foot-traffic/s1/7/rome-centro/2025-11-07/visits")


def test_its_records_carry_no_store():
    settings = Settings.from_env({"SEED": "3", "DAILY_CUSTOMERS": "20"})
    plan = plan_store_day(implicit_store(settings), FRIDAY, settings)
    records = [r for m in StoreDayStream(plan, "s", "e") for r in m.records]
    assert len(records) == 60
    assert all(b'"store_id"' not in r.value and "ft-store" not in dict(r.headers) for r in records)
    assert all(b"+00:00" in r.value for r in records)


def fitted_saturday(pct: float):
    doc = copy.deepcopy(yaml.safe_load(builtin_profile_path("retail").read_text(encoding="utf-8")))
    doc["days"]["Saturday"]["variation_pct"] = pct
    return profile_from_dict(doc, "fitted.yaml")


def test_a_fitted_profiles_own_variation_and_daily_variation_pct_zero():
    """DAILY_VARIATION_PCT 0 turns the variation off, the profile's own included; the numbers
    door (``plan_day``, the fit's round trip) asks for the profile's own with 0."""
    profile = fitted_saturday(0.5)
    saturdays = [date(2026, 1, 3) + timedelta(weeks=k) for k in range(8)]
    off = Settings.from_env({"SEED": "1", "DAILY_VARIATION_PCT": "0"})
    assert len({plan_store_day(implicit_store(off, profile), d, off).total for d in saturdays}) == 1
    on = Settings.from_env({"SEED": "1"})
    assert len({plan_store_day(implicit_store(on, profile), d, on).total for d in saturdays}) > 1
    own = {plan_day(d, profile, seed=1, baseline=1000, variation_pct=0.0).total for d in saturdays}
    assert len(own) > 1
    assert load_profile("retail").variation_pct("Saturday") is None
