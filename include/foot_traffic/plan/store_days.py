"""Which store-days a run plays, in the order they begin.

A run plays, for each day D it is given, every store's *local* day D (the implicit
store's: the UTC day D). Store-days are opened lazily in the order of their local
midnights (Tokyo's D begins 17 hours before Los Angeles' D), so a runner holds only the
store-days under way: memory follows the customers inside the stores, not the number of
stores' days.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from foot_traffic.plan.localday import local_date, local_instant
from foot_traffic.plan.stores import Catalogue, Store


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
