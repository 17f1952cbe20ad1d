"""A chain run's store-days (``plan.store_days``) planned in batches, one resume scan per day.

The resume scan of the topics is done once per day D for all stores of the run (one pass
from the earliest local midnight), not once per store. With transactions (one writer per
store-day, see ``foot_traffic.ownership``) a store-day's scan must come after its writer
fenced the older ones: the runner takes the writers of all of a day's store-days when the
first of them opens, then calls :meth:`ChainPlanner.rescan` -- still one scan per day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from foot_traffic.plan.localday import local_instant
from foot_traffic.plan.seeds import random_seed
from foot_traffic.plan.store_days import StoreDay, store_days
from foot_traffic.plan.storeday import StoreDayPlan, plan_store_day
from foot_traffic.plan.stores import Catalogue
from foot_traffic.resume import DayHoldings, PlanMismatch

log = logging.getLogger(__name__)


@dataclass
class DayBatch:
    """The plans of one day D for every store of the run: one seed, one resume scan."""

    day: date
    seed: int
    found: dict[str, dict[str, DayHoldings]]


class ChainPlanner:
    """Plans store-days; scans the topics once per day for all of the run's stores."""

    def __init__(self, catalogue: Catalogue, settings, scanner, topics: list[str]):
        self.catalogue = catalogue
        self.settings = settings
        self.scanner = scanner
        self.topics = topics
        self._batches: dict[date, DayBatch] = {}

    def batch(self, day: date) -> DayBatch:
        batch = self._batches.get(day)
        if batch is not None:
            return batch
        found: dict[str, dict[str, DayHoldings]] = {}
        if self.settings.resume and self.scanner is not None:
            since = min(local_instant(day, 0, s.tz) for s in self.catalogue.stores)
            found = self.scanner.scan_stores(day, self.topics, since * 1000, [s.id for s in self.catalogue.stores])
        seed = self._seed(day, found)
        batch = self._batches[day] = DayBatch(day, seed, found)
        # Keep the batches of the last few days only (a run goes forward in time).
        for old in [d for d in self._batches if (day - d).days > 3]:
            del self._batches[old]
        return batch

    def check(self, day: date) -> None:
        """Look before taking the store-days of ``day``: refuse (``PlanMismatch``) if one
        holds another plan, reading what is committed now, without waiting and without
        changing anything (the run writing those days must not be stopped by a run that
        refuses them)."""
        since = min(local_instant(day, 0, s.tz) for s in self.catalogue.stores)
        ids = [s.id for s in self.catalogue.stores]
        found = self.scanner.scan_stores(day, self.topics, since * 1000, ids, settled=False)
        batch = self._batches.get(day)
        seed = batch.seed if batch is not None else self._seed(day, found, quiet=True)
        for store_day in store_days(self.catalogue, [day]):
            plan = plan_store_day(store_day.store, day, self.settings, seed)
            self._refuse_other_plans(store_day, plan, found.get(store_day.store.id, {}))

    def rescan(self, day: date, seed: int | None = None) -> None:
        """Scan ``day`` afresh (settled): its writers were just taken, fencing older ones.
        ``seed``: the seed this run already plays the day with (after an outage)."""
        self._batches.pop(day, None)
        batch = self.batch(day)
        if seed is not None:
            batch.seed = seed

    def _seed(self, day: date, found: dict[str, dict[str, DayHoldings]], quiet: bool = False) -> int:
        seed = self.settings.seed
        if seed is None:
            seeds = {h.seed for plans in found.values() for h in plans.values()}
            if len(seeds) == 1:
                seed = seeds.pop()
                if not quiet:
                    log.info("SEED unset: continuing %s with the seed of its earlier attempt, %d", day, seed)
            else:
                seed = random_seed()
        return seed

    def plan(self, store_day: StoreDay) -> tuple[StoreDayPlan, DayHoldings | None]:
        """Plan one store-day; with resume on, adopt and check what the topics already hold."""
        batch = self.batch(store_day.day)
        store = store_day.store
        plan = plan_store_day(store, store_day.day, self.settings, batch.seed)
        plans = batch.found.get(store.id, {})
        self._refuse_other_plans(store_day, plan, plans)
        return plan, plans.get(plan.plan_id)

    @staticmethod
    def _refuse_other_plans(store_day: StoreDay, plan: StoreDayPlan, plans: dict[str, DayHoldings]) -> None:
        store = store_day.store
        others = {pid: h for pid, h in plans.items() if pid != plan.plan_id}
        if others:
            described = "; ".join(f"plan {pid}: {h.total} records" for pid, h in others.items())
            raise PlanMismatch(
                f"store {store.id}: {store_day.day} already holds records of another plan ({described}); "
                f"this run's plan is {plan.plan_id} (SEED, the store's entry in the catalogue, "
                "CLOSING_GRACE_MINUTES or its profile differ). Run with the original settings, delete the "
                "day's records, or set FOOT_TRAFFIC_RESUME=0 to send the day again regardless."
            )
