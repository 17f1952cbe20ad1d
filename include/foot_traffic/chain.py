"""Which store-days a chain run plays, in the order they begin, and their plans in batches.

A chain run plays, for each day D it is given, every store's *local* day D. Store-days
are opened lazily in the order of their local midnights (Tokyo's D begins 17 hours before
Los Angeles' D), so the runner holds only the store-days under way: memory follows the
customers inside the stores, not the number of stores' days.

The resume scan of the topics is done once per day D for all stores of the run (one pass
from the earliest local midnight), not once per store. With transactions (one writer per
store-day, see ``foot_traffic.ownership``) a store-day's scan must come after its writer
fenced the older ones: the runner takes the writers of all of a day's store-days when the
first of them opens, then calls :meth:`ChainPlanner.rescan` -- still one scan per day.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from foot_traffic.plan.localday import local_date, local_instant
from foot_traffic.plan.visits import random_seed
from foot_traffic.resume import DayHoldings, PlanMismatch
from foot_traffic.plan.storeday import StoreDayPlan, plan_store_from_settings
from foot_traffic.plan.stores import Catalogue, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class StoreDay:
    """One store's local day; ``start`` is its local midnight (epoch seconds)."""

    start: int
    order: int  # position in the catalogue: ties of ``start`` in catalogue order
    day: date = field(compare=False)
    store: Store = field(compare=False)


def store_days(catalogue: Catalogue, days: Iterable[date], *, from_now: float | None = None) -> Iterator[StoreDay]:
    """Every (store, day) for ``days`` (possibly endless), in the order of their local midnights.

    With ``from_now`` (epoch seconds), store-days that ended locally before it are left
    out (a run started without a date plays each store's local today onwards).
    """
    def batch_of(day: date | None) -> list[StoreDay] | None:
        if day is None:
            return None
        return sorted(StoreDay(local_instant(day, 0, s.tz), i, day, s) for i, s in enumerate(catalogue.stores))

    pending: list[StoreDay] = []
    day_iter = iter(days)
    upcoming = batch_of(next(day_iter, None))
    while True:
        # A day's store-days join once its earliest local midnight is not after the next
        # pending one: at most two days are held, whatever the number of days.
        while upcoming is not None and (not pending or upcoming[0].start <= pending[0].start):
            for item in upcoming:
                heapq.heappush(pending, item)
            upcoming = batch_of(next(day_iter, None))
        if not pending:
            return
        item = heapq.heappop(pending)
        if from_now is not None and item.day < local_date(from_now, item.store.tz):
            continue
        yield item


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
            plan = plan_store_from_settings(store_day.store, day, self.settings, seed)
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
        plan = plan_store_from_settings(store, store_day.day, self.settings, batch.seed)
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
