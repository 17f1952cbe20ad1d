"""What a chain's topics must hold: every store's planned local day, regenerated from the
engine, compared with what was read back from the broker (lost, doubled, changed, order)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.stores import Catalogue
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings
from tests.support.kafka_read import Landed, read_topic

Row = tuple[str, bytes, bytes, tuple, int]


def planned(catalogue: Catalogue, day: date, settings: Settings) -> dict[str, list[Row]]:
    """store id -> its planned records of local ``day`` (topic, key, value, headers, timestamp), in order."""
    out: dict[str, list[Row]] = {}
    for store in catalogue:
        plan = plan_store_day(store, day, settings, settings.seed)
        stream = StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic)
        out[store.id] = [(r.topic, r.key, r.value, tuple(r.headers), r.timestamp_ms) for m in stream for r in m.records]
    return out


def landed(bootstrap: str, topics: tuple[str, str]) -> list[Landed]:
    return read_topic(bootstrap, topics[0], timeout_s=60) + read_topic(bootstrap, topics[1], timeout_s=60)


def problems(catalogue: Catalogue, day: date, settings: Settings, records: list[Landed]) -> list[str]:
    """Everything wrong with ``records`` against the plan of every store; [] when exact."""
    want = planned(catalogue, day, settings)
    got: dict[str, list[Row]] = defaultdict(list)
    per_partition: dict[tuple, list[int]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        store = r.header("ft-store")
        got[store].append((r.topic, r.key, r.value, r.headers, r.timestamp_ms))
        per_partition[(store, r.header("ft-day"), r.topic, r.partition)].append(int(r.header("ft-seq")))
    out = []
    for store, rows in want.items():
        have = got.get(store, [])
        if sorted(have) != sorted(rows):
            missing = len(set(rows) - set(have))
            extra = len(have) - len(set(have)) + len(set(have) - set(rows))
            out.append(f"{store}: planned {len(rows)}, landed {len(have)}, missing {missing}, doubled/unexpected {extra}")
    for store in set(got) - set(want):
        out.append(f"{store}: {len(got[store])} records of a store not in the catalogue")
    for key, seqs in per_partition.items():
        if seqs != sorted(seqs):
            out.append(f"{key}: out of plan order in its partition")
    # the JSON names its store first, and it is the header's store
    for r in records[:: max(1, len(records) // 500)]:
        doc = json.loads(r.value)
        if list(doc)[0] != "store_id" or doc["store_id"] != r.header("ft-store"):
            out.append(f"record at {r.topic}/{r.partition}/{r.offset} does not name its store first")
    return out
