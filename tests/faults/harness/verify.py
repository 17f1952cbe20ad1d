"""What a ``read_committed`` consumer must see: every record of a day's plan exactly once.

The expected records are regenerated from the settings (plans are deterministic), per
(store, day); a one-store day has store None. The topics are read back once per check,
from their beginning, as a downstream consumer reads them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from foot_traffic.plan.implicit import implicit_catalogue
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import load_catalogue
from foot_traffic.records.events import H_DAY, H_EVENT_ID, H_PLAN, H_SEQ, H_STORE
from foot_traffic.records.sensor import day_moments
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings
from tests.support.kafka_read import Landed, read_topic

Key = tuple[str | None, str]  # (store id or None, day)
Row = tuple[str, bytes, bytes, int]  # topic, key, value, timestamp ms


@dataclass
class Expected:
    """The plan of one (store, day): event id -> row, in stream order, and the plan id."""

    plan_id: str
    rows: dict[str, Row]


@dataclass
class StoreDayCheck:
    key: Key
    expected: int
    landed: int
    lost: int = 0
    duplicated: int = 0
    foreign: int = 0  # records of the (store, day) from another plan, or not in the plan
    changed: int = 0  # same event id, other bytes
    out_of_order: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.foreign or self.changed or self.out_of_order)

    def describe(self) -> str:
        store, day = self.key
        where = day if store is None else f"{store} {day}"
        return (f"{where}: expected {self.expected}, landed {self.landed}, lost {self.lost}, duplicated "
                f"{self.duplicated}, foreign {self.foreign}, changed {self.changed}, out of order "
                f"{len(self.out_of_order)} {self.out_of_order[:2]}")


class Plans:
    """Expected records of every (store, day) of a schedule's environment, computed once each."""

    def __init__(self, env: dict[str, str], chain_file: Path | None):
        self.settings = Settings.from_env({**env, **({"STORES_FILE": str(chain_file)} if chain_file else {})})
        self.catalogue = load_catalogue(chain_file) if chain_file else implicit_catalogue(self.settings)
        self._cache: dict[Key, Expected] = {}

    def keys(self, day: date, stores: list[str] | None = None) -> list[Key]:
        ids = stores if stores is not None else [s.id for s in self.catalogue]
        return [(store, day.isoformat()) for store in ids]

    def expected(self, key: Key) -> Expected:
        if key not in self._cache:
            store_id, day_text = key
            day = date.fromisoformat(day_text)
            s = self.settings
            plan = plan_store_day(self.catalogue.get(store_id), day, s, s.seed)
            stream = StoreDayStream(plan, s.kafka_topic, s.kafka_topic_realistic)
            rows: dict[str, Row] = {}
            for moment in day_moments(stream, s):
                for r in moment.records:
                    rows[dict(r.headers)[H_EVENT_ID].decode()] = (r.topic, r.key, r.value, r.timestamp_ms)
            self._cache[key] = Expected(plan.plan_id, rows)
        return self._cache[key]


def read_back(bootstrap: str, topics: tuple[str, str], isolation_level: str = "read_committed") -> dict[Key, list[Landed]]:
    """Both topics from their beginning, grouped by (store, day), in partition/offset order."""
    out: dict[Key, list[Landed]] = defaultdict(list)
    for topic in topics:
        for r in read_topic(bootstrap, topic, timeout_s=60, isolation_level=isolation_level):
            out[(r.header(H_STORE), r.header(H_DAY))].append(r)
    return out


def check(plans: Plans, key: Key, landed: list[Landed], realistic_topic: str) -> StoreDayCheck:
    want = plans.expected(key)
    result = StoreDayCheck(key, expected=len(want.rows), landed=len(landed))
    seen = Counter()
    last_seq: dict[tuple[str, int], int] = {}
    kinds: dict[bytes, list[str]] = defaultdict(list)
    for r in landed:
        event_id = r.header(H_EVENT_ID)
        if r.header(H_PLAN) != want.plan_id or event_id not in want.rows:
            result.foreign += 1
            continue
        seen[event_id] += 1
        if (r.topic, r.key, r.value, r.timestamp_ms) != want.rows[event_id]:
            result.changed += 1
        seq, where = int(r.header(H_SEQ)), (r.topic, r.partition)
        if seq <= last_seq.get(where, -1):
            result.out_of_order.append(f"{r.topic}[{r.partition}]@{r.offset}: seq {seq} after {last_seq[where]}")
        last_seq[where] = max(seq, last_seq.get(where, -1))
        if r.topic == realistic_topic:
            kinds[r.key].append(event_id.rsplit(":", 1)[1])
    result.lost = sum(1 for e in want.rows if e not in seen)
    result.duplicated = sum(n - 1 for n in seen.values() if n > 1)
    for key_bytes, seq in kinds.items():
        # entry before exit per customer (a sensor may drop or double events: no exit before an entry)
        if "exit" in seq and "entry" in seq and seq.index("exit") < seq.index("entry"):
            result.out_of_order.append(f"customer {key_bytes.decode()}: {seq}")
    return result
