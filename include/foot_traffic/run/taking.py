"""Taking a local day for the run's stores, and opening each store-day from where it stands.

The first store-day of local day D to open takes D for every store of the run that plays
it (one producer, one ledger read: ``delivery``), after looking at what D holds: an
unseeded run continues a day with its first attempt's seed, and a run whose plan differs
from the one a store-day holds refuses it before anybody is fenced. Each store-day then
opens at its local midnight from its position (``open_day``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from foot_traffic.delivery.errors import PlanMismatch
from foot_traffic.delivery.ledger import State
from foot_traffic.delivery.scan import DayHoldings
from foot_traffic.delivery.transactions import Plan
from foot_traffic.plan.localday import local_date, local_instant
from foot_traffic.plan.seeds import random_seed
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.run.open_day import HoldingsSkip, OpenDay, PositionSkip
from foot_traffic.run.summary import DaySummary, label
from foot_traffic.records.sensor import day_moments

log = logging.getLogger("foot_traffic.runner")


@dataclass
class TakenDay:
    """A local day this run took: its writer, and per store its plan and starting point."""

    day: date
    seed: int
    writer: object
    plans: dict[str | None, object]
    states: dict[str | None, State]
    holdings: dict[str | None, DayHoldings | None] = field(default_factory=dict)
    opened: dict[str | None, OpenDay] = field(default_factory=dict)
    base: dict[str | None, int] = field(default_factory=dict)  # position when this run first took it
    base_holdings: dict[str | None, DayHoldings | None] = field(default_factory=dict)


class DayTaker:
    """Takes local days for the run's stores and opens their store-days."""

    def __init__(self, runner):
        self.runner = runner
        self.taken: dict[date, TakenDay] = {}

    @property
    def delivery(self):
        return self.runner.delivery

    def stores_of(self, day: date) -> list:
        """The run's stores that play local ``day`` (a run started mid-day skips those already over)."""
        from_now = self.runner.from_now
        stores = self.runner.stores
        if from_now is None:
            return list(stores)
        return [s for s in stores if day >= local_date(from_now, s.tz)]

    def since_ms(self, day: date, stores: Sequence) -> int:
        return min(local_instant(day, 0, s.tz) for s in stores) * 1000

    # -- taking -----------------------------------------------------------------------------
    def take(self, day: date, *, seed: int | None = None) -> TakenDay:
        """Look at ``day``, plan its store-days, take them (fencing older writers), and find
        where each resumes. ``seed``: the seed this run already plays the day with."""
        runner = self.runner
        settings = runner.settings
        stores = self.stores_of(day)
        ids = [s.id for s in stores]
        since = self.since_ms(day, stores)
        resume = settings.resume
        looked = self.delivery.look(day, ids, since) if resume else {i: State(key=str(i)) for i in ids}
        if seed is None:
            seed = self._seed(day, looked)
        plans = {}
        for store, store_id in zip(stores, ids):
            plan = plan_store_day(store, day, settings, seed)
            plans[store_id] = plan
            state = looked[store_id]
            if resume and state.plan is not None and state.plan != plan.plan_id and state.position is not None:
                raise self._mismatch(store_id, day, {state.plan: f"position {state.position}"}, plan.plan_id)
        fresh_skip = None
        if runner.from_now is not None:
            fresh_skip = int(runner.from_now)
        wanted = {
            i: Plan(plans[i].plan_id, seed,
                    fresh_skip if fresh_skip is not None and day == local_date(fresh_skip, s.tz) else None)
            for s, i in zip(stores, ids)
        }
        writer = self.delivery.take(day, wanted, looked)
        states = {i: link.state for i, link in writer.links.items()}
        taken = TakenDay(day, seed, writer, plans, states)
        scan = [i for i, st in states.items() if st.position is None] if resume else []
        if scan:
            found = self.delivery.scan(day, scan, since)
            for store_id in scan:
                held = found.get(store_id, {})
                others = {pid: f"{h.total} records" for pid, h in held.items() if pid != plans[store_id].plan_id}
                if others:
                    raise self._mismatch(store_id, day, others, plans[store_id].plan_id)
                taken.holdings[store_id] = held.get(plans[store_id].plan_id)
        previous = self.taken.get(day)
        for store_id, state in states.items():
            position = (state.position or 0) if resume else 0
            taken.base[store_id] = previous.base.get(store_id, position) if previous else position
            taken.base_holdings[store_id] = (previous.base_holdings.get(store_id) if previous
                                             else taken.holdings.get(store_id))
        self.taken[day] = taken
        for old in [d for d in self.taken if (day - d).days > 3]:
            del self.taken[old]
        return taken

    def _seed(self, day: date, looked: dict[str | None, State]) -> int:
        seed = self.runner.settings.seed
        if seed is not None:
            return seed
        seeds = {st.seed for st in looked.values() if st.seed is not None}
        if len(seeds) == 1:
            seed = seeds.pop()
            log.info("SEED unset: continuing %s with the seed of its earlier attempt, %d", day, seed)
            return seed
        return random_seed()

    @staticmethod
    def _mismatch(store: str | None, day: date, others: dict[str, str], mine: str) -> PlanMismatch:
        described = "; ".join(f"plan {pid}: {what}" for pid, what in others.items())
        which = (f"{day}" if store is None else f"store {store}: {day}")
        why = ("SEED, DAILY_CUSTOMERS, baseline, variation or profile differ" if store is None else
               "SEED, the store's entry in the catalogue, CLOSING_GRACE_MINUTES or its profile differ")
        return PlanMismatch(
            f"{which} already holds records of another plan ({described}); this run's plan is {mine} ({why}). "
            "Run with the original settings, delete the day's records, or set FOOT_TRAFFIC_RESUME=0 to send the "
            "day again regardless."
        )

    # -- opening ----------------------------------------------------------------------------
    def open(self, unit) -> OpenDay:
        """Open store-day ``unit`` (taking its local day first if this run has not yet)."""
        taken = self.taken.get(unit.day)
        store_id = unit.store.id
        if taken is None or store_id not in taken.writer.links:
            taken = self.take(unit.day)
        return self._open(taken, unit, store_id, None)

    def _open(self, taken: TakenDay, unit, store_id, old: OpenDay | None) -> OpenDay:
        runner = self.runner
        plan = taken.plans[store_id]
        link = taken.writer.links[store_id]
        state = taken.states[store_id]
        stream = StoreDayStream(plan, runner.settings.kafka_topic, runner.settings.kafka_topic_realistic)
        summary = old.summary if old is not None else summary_for(plan, store_id, tuple(runner.topics))
        day = OpenDay(unit, plan, stream, day_moments(stream, runner.settings), summary, taken.writer, link,
                      runner.day_committed, compact=len(runner.stores) > 1)
        day.skip_before = state.skip_before
        resume = runner.settings.resume
        if old is not None:  # replayed after an outage: the summary is counted again
            summary.sent_per_topic.clear()
            summary.entries_per_slot.clear()
            summary.already_present = summary.skipped_before_start = 0
            summary.finished = False
            day.slot, day.slot_entries = old.slot, old.slot_entries
        if resume and state.position is None:
            holdings = taken.holdings.get(store_id)
            if holdings is not None:
                base = taken.base_holdings.get(store_id) if old is not None else None
                if old is not None and base is None:
                    base = DayHoldings(plan.plan_id)
                day.skip = HoldingsSkip(holdings, base, self.delivery.partition_for)
        elif resume and state.position:
            day.skip = PositionSkip(state.position, taken.base[store_id])
        taken.opened[store_id] = day
        if old is None:
            runner.log_opened(day, state, holdings=taken.holdings.get(store_id))
        return day

    # -- after an outage --------------------------------------------------------------------
    def retake(self, day: date, olds: list[OpenDay]) -> list[OpenDay]:
        """Take ``day`` again (same store set, same seed) and replay its open store-days from
        where the ledger (or the data) says they stand."""
        previous = self.taken[day]
        self.delivery.check_owner(day, list(previous.writer.links))
        self.delivery.forget(day)
        taken = self.take(day, seed=previous.seed)
        taken.opened = {}
        return [self._open(taken, old.unit, old.summary.store_id, old) for old in olds]


def store_label(day: OpenDay) -> str:
    return label(day.summary.store_id, day.plan.day)


def summary_for(plan, store_id: str | None, topics: tuple[str, ...]) -> DaySummary:
    """A store-day's summary before anything is played."""
    planned: dict[str, int] = {}
    for slot_label, count in zip(plan.labels, plan.slot_counts):
        planned[slot_label] = planned.get(slot_label, 0) + count
    return DaySummary(day=plan.day, plan_id=plan.plan_id, seed=plan.seed, total_visits=plan.total,
                      planned_per_slot=planned, topics=topics, store_id=store_id,
                      closed=bool(getattr(plan, "closed", False)))
