"""What a run did, per store-day: the summary every front door shows and returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class DaySummary:
    """What one day's run did; ``as_dict()`` is JSON-safe (Airflow XCom, CLI output)."""

    day: date
    plan_id: str
    seed: int
    total_visits: int
    planned_per_slot: dict[str, int]
    sent_per_topic: Counter[str] = field(default_factory=Counter)
    entries_per_slot: Counter[str] = field(default_factory=Counter)
    already_present: int = 0
    skipped_before_start: int = 0
    max_lag_seconds: float = 0.0
    topics: tuple[str, ...] = ()
    stopped: bool = False
    finished: bool = False
    store_id: str | None = None  # with a catalogue: the store (``day`` is its local day)
    closed: bool = False  # with a catalogue: the store does not open that day
    fenced: bool = False  # a newer run of this day took it over (see delivery.errors.Fenced)
    fenced_by: dict[str, Any] | None = None  # that run's take record, when it could be read

    @property
    def sent(self) -> int:
        return sum(self.sent_per_topic.values())

    def as_dict(self) -> dict[str, Any]:
        store = {} if self.store_id is None else {"store_id": self.store_id, "closed": self.closed}
        return {
            **store,
            "day": self.day.isoformat(),
            "plan_id": self.plan_id,
            "seed": self.seed,
            "total_visits": self.total_visits,
            "planned_per_slot": dict(self.planned_per_slot),
            "sent_per_topic": dict(self.sent_per_topic),
            "entries_per_slot": dict(self.entries_per_slot),
            "records_sent": self.sent,
            "records_already_present": self.already_present,
            "records_skipped_before_start": self.skipped_before_start,
            "max_lag_seconds": round(self.max_lag_seconds, 6),
            "stopped": self.stopped,
            "finished": self.finished,
            "fenced": self.fenced,
            **({"fenced_by": self.fenced_by} if self.fenced else {}),
            "topics": list(self.topics),
        }


def label(store: str | None, day: date) -> str:
    """How logs and messages name a store-day (the implicit store's: just the day)."""
    return str(day) if store is None else f"store {store} {day}"
