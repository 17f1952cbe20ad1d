"""The implicit store: a run without a store catalogue plays a catalogue of one.

Its store (``Store.id`` None) is open around the clock in UTC, with the profile, the
baseline (BASE_DAILY_CUSTOMERS or DEFAULT_DAILY_CUSTOMERS), DAILY_CUSTOMERS and the
variation of the settings; it is planned, streamed and checked like any store, and its
records, seeds, totals and plan ids are byte for byte the original producer's
(``tests/unit/test_golden_default.py``).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from foot_traffic.model.profile import WEEKDAYS, Profile, load_profile
from foot_traffic.plan.localday import MINUTES_PER_DAY
from foot_traffic.plan.storeday import DEFAULT_VARIATION_PCT, StoreDayPlan, daily_total, plan_store_day
from foot_traffic.plan.stores import Catalogue, Store

if TYPE_CHECKING:
    from foot_traffic.settings import SimulationSettings

IMPLICIT_SOURCE = "no catalogue"  # Catalogue.source of the implicit catalogue
ALL_DAY = tuple(((0, MINUTES_PER_DAY),) for _ in range(7))


def _store(profile: Profile, baseline: int, daily_customers: int | None, variation_pct: float | None) -> Store:
    return Store(
        id=None, name="", timezone="UTC", base_daily_customers=baseline, daily_customers=daily_customers,
        daily_variation_pct=variation_pct, profile=profile, hours=ALL_DAY,
    )


def implicit_store(settings: SimulationSettings, profile: Profile | None = None) -> Store:
    """The store of a run without a catalogue, from ``settings``;
    ``profile``: FOOT_TRAFFIC_PROFILE's, when the caller has loaded it already.

    DAILY_VARIATION_PCT 0 turns the day-to-day variation off, a fitted profile's own
    included (as before catalogues); else the profile's own variation of a weekday comes
    first (``storeday.variation_pct``)."""
    profile = profile if profile is not None else load_profile(settings.profile_file)
    own = 0.0 if settings.daily_variation_pct == 0 else None
    return _store(profile, settings.baseline, settings.daily_customers, own)


def implicit_catalogue(settings: SimulationSettings, profile: Profile | None = None) -> Catalogue:
    """The catalogue of one of a run without a catalogue (see :func:`implicit_store`)."""
    return Catalogue((implicit_store(settings, profile),), IMPLICIT_SOURCE)


def plan_day(
    day: date,
    profile: Profile,
    *,
    seed: int,
    baseline: int,
    fixed_total: int | None = None,
    variation_pct: float = DEFAULT_VARIATION_PCT,
    variation_enabled: bool = True,
) -> StoreDayPlan:
    """The implicit store's ``day`` from these numbers rather than settings (the fit's
    round trip, the UI's plans read from records' headers, benchmarks, tests)."""
    store = _store(profile, baseline, fixed_total, None)
    return plan_store_day(store, day, seed=seed, variation_pct=variation_pct, variation_enabled=variation_enabled)


def implicit_daily_total(
    day: date,
    seed: int,
    profile: Profile,
    *,
    baseline: int,
    fixed_total: int | None,
    variation_pct: float,
    variation_enabled: bool,
) -> int:
    """The implicit store's total of ``day`` alone, without planning its visits (cheap:
    the fit's round trip draws thousands). The store is open all day: its day weight is
    the weekday's."""
    store = _store(profile, baseline, fixed_total, None)
    day_weight = sum(profile.weights[WEEKDAYS[day.weekday()]])
    return daily_total(store, day, seed, day_weight, variation_pct, variation_enabled)
