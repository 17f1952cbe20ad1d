"""The runner's unit of work, a store's local day, and the plan layer's calls it needs.

Every run plays store-days: a run without a catalogue plays the implicit store's days
(``store`` None: UTC days, the original's records), a chain run its stores' local days.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from foot_traffic.chain import StoreDay, store_days
from foot_traffic.events import DayStream, StoreDayStream
from foot_traffic.localday import local_date, local_instant
from foot_traffic.plan import day_start, plan_from_settings
from foot_traffic.profile import Profile
from foot_traffic.storeplan import plan_store_from_settings
from foot_traffic.stores import Catalogue

__all__ = ["StoreDay", "units", "plan_of", "stream_of", "midnight", "local_day_now", "store_id_of"]


def units(catalogue: Catalogue | None, days: Iterable[date], *, from_now: float | None = None) -> Iterator[StoreDay]:
    """Every store-day of ``days`` (possibly endless) in the order of their local midnights;
    with ``from_now`` (epoch seconds) those already over locally are left out."""
    if catalogue is not None:
        yield from store_days(catalogue, days, from_now=from_now)
        return
    for day in days:
        if from_now is not None and day < local_day_now(from_now, None):
            continue
        yield StoreDay(int(day_start(day).timestamp()), 0, day, None)


def store_id_of(store) -> str | None:
    """A store's id; None for the implicit store."""
    return None if store is None else store.id


def midnight(day: date, store) -> int:
    """Epoch seconds of ``store``'s local midnight of ``day`` (the implicit store: UTC)."""
    return int(day_start(day).timestamp()) if store is None else local_instant(day, 0, store.tz)


def local_day_now(now: float, store) -> date:
    """``store``'s local date at epoch seconds ``now``."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(now, UTC).date() if store is None else local_date(now, store.tz)


def plan_of(unit: StoreDay, settings, profile: Profile | None, seed: int):
    """The store-day's plan with ``seed``."""
    if unit.store is None:
        return plan_from_settings(unit.day, settings, profile, seed=seed)
    return plan_store_from_settings(unit.store, unit.day, settings, seed)


def stream_of(plan, settings):
    """The store-day's record stream (before the sensor's flaws)."""
    kind = DayStream if getattr(plan, "store", None) is None else StoreDayStream
    return kind(plan, settings.kafka_topic, settings.kafka_topic_realistic)
