"""Speed work must not change a byte: whole runs, pinned by digests of their full send order.

``test_golden_default.py`` pins the default day per topic. This file pins, per case, the
whole stream a run sends through its publisher (every record's topic, key, value,
headers and Kafka timestamp, in send order across topics and days) and the runs'
summaries, over what the hot path has to get right: several seeds and days, the
``retail`` profile (parties), the door sensor's flaws, consecutive days whose late exits
interleave, a store catalogue (local times, DST), a resume after a failure and a live
start in the middle of a day.

The digests were computed from the engine *before* its hot path was rewritten for speed
(issue 13, commit 386b436), so the fast path is proven byte-identical to the plain one.
Three were regenerated when one runner came to serve every store (issue 23), with the
records' digests checked unchanged against the previous engine: a chain store-day's
summary now names its topics like any other, and the resumed case's first attempt runs
on transactions in memory (what it committed, not what it sent, is there for the
second). Regenerate only for an intended change: ``.venv/bin/python -m tests.unit.test_stream_identity``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from datetime import UTC, date, datetime

import pytest

from foot_traffic.run.runner import Runner
from foot_traffic.settings import EXAMPLE_CHAIN, Settings
from foot_traffic.plan.stores import Catalogue, load_catalogue
from foot_traffic.testing import FakeClock, MemoryKafka, memory_delivery

LATER = datetime(2027, 6, 1, tzinfo=UTC)  # every day below is in the past at full speed

# name -> (environment, days, options)
CASES = {
    "seed-7-friday": ({"SEED": "7", "DAILY_CUSTOMERS": "500"}, ["2025-11-07"], {}),
    "seed-1-new-year-two-days": ({"SEED": "1"}, ["2025-12-31", "2026-01-01"], {}),
    "seed-42-sunday": ({"SEED": "42", "DAILY_CUSTOMERS": "3000"}, ["2026-03-29"], {}),
    "retail-7-saturday": ({"SEED": "7", "DAILY_CUSTOMERS": "2000", "FOOT_TRAFFIC_PROFILE": "retail"}, ["2025-11-08"], {}),
    "retail-3-two-days": ({"SEED": "3", "FOOT_TRAFFIC_PROFILE": "retail"}, ["2026-06-14", "2026-06-15"], {}),
    "sensor-seed": (
        {"SEED": "5", "DAILY_CUSTOMERS": "1500", "SENSOR_MISS_RATE": "0.05", "SENSOR_DOUBLE_RATE": "0.05",
         "SENSOR_BATCH_SECONDS": "30", "SENSOR_UPLOAD_DELAY_SECONDS": "45"},
        ["2025-11-07", "2025-11-08"], {},
    ),
    "sensor-retail": (
        {"SEED": "9", "DAILY_CUSTOMERS": "1500", "FOOT_TRAFFIC_PROFILE": "retail", "SENSOR_MISS_RATE": "0.1",
         "SENSOR_DOUBLE_RATE": "0.1"},
        ["2026-02-20"], {},
    ),
    "chain-dst-two-days": ({"SEED": "7", "STORES_FILE": str(EXAMPLE_CHAIN)}, ["2026-03-28", "2026-03-29"], {"chain": True}),
    "chain-retail-store-day": (
        {"SEED": "13", "STORES_FILE": str(EXAMPLE_CHAIN), "FOOT_TRAFFIC_PROFILE": "retail"}, ["2026-11-27"], {"chain": True},
    ),
    "resume-after-failure": ({"SEED": "11", "DAILY_CUSTOMERS": "800"}, ["2025-11-07"], {"fail_after": 1234}),
    "live-start-mid-day": (
        {"SEED": "21", "DAILY_CUSTOMERS": "2000", "TIME_SCALE": "1440"}, ["2026-05-05"],
        {"clock": "2026-05-05T13:17:00+00:00", "from_now": True},
    ),
}

DIGESTS = {
    "chain-dst-two-days": (7257, "a76553c097a52fb5b7855d925e9bbcb843f7057d3a2fd3b68abb0b274020a2ba"),
    "chain-retail-store-day": (7389, "0885c749f141e2d1b8b66a63e7f75bafdb15cd501a2c6f6e4368d78adefa0951"),
    "live-start-mid-day": (2949, "ae62167ac7807b372b5c224d43025425daf38ca03ae26aac6cfb5565ea612550"),
    "resume-after-failure": (2400, "82668e21d6a8cb178dc67577ee2fea51a4f1f4d22f6b7b81bd7bebb46d0b80d4"),
    "retail-3-two-days": (6261, "8605516bbb9ad4662811b5024a17a16daa5b463b1e19f3053fb64c6349e39f24"),
    "retail-7-saturday": (6000, "9b52fb380542164b558ed273959078f58d453920495a9b3a5ee772003181b0bf"),
    "seed-1-new-year-two-days": (5787, "a049a3e2abfbe90c3b043d7895985fb98d6f2ecf69d8e4dbc08def803038c47a"),
    "seed-42-sunday": (9000, "4bb39751579bc556a67fcd4739b8432cdbe2192a6220b86c8600cf8e6737fc5d"),
    "seed-7-friday": (1500, "e50d4345310a8c347671131247d358a080e5d51e73bb77ec5d7034a1bcf234f8"),
    "sensor-retail": (4329, "c206a0db5bf82203074b25fb8f64d574cc01f1454286bf973374fc7fe7870dd2"),
    "sensor-seed": (8955, "975acb7110d56b0716e3329712c42f655c241c81abac8e76753b2619feab87bb"),
}


def run_case(env: dict[str, str], days: list[str], options: dict):
    """Run the case through the Runner and a MemoryPublisher: (records sent in order, summaries)."""
    env = {"KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e", **env}
    settings = Settings.from_env(env)
    catalogue = None
    if options.get("chain"):
        full = load_catalogue(settings.stores_file)
        # A tenth of the customers (a fast test; the hot path is the same).
        catalogue = Catalogue(
            tuple(dataclasses.replace(s, base_daily_customers=max(1, (s.base_daily_customers or 100) // 10))
                  for s in full.stores),
            full.source,
        )
    clock_start = datetime.fromisoformat(options["clock"]) if "clock" in options else LATER
    the_days = [date.fromisoformat(d) for d in days]
    pub = MemoryKafka()
    summaries = []

    def play(pub_):
        runner = Runner(settings, memory_delivery(pub_, settings), clock=FakeClock(clock_start), stop=threading.Event(),
                        catalogue=catalogue)
        return runner.run(the_days, first_from_now=options.get("from_now", False))

    if "fail_after" in options:
        pub.fail_after = options["fail_after"]
        try:
            play(pub)
        except Exception as exc:  # the injected failure ends the first attempt
            summaries.append(type(exc).__name__)
        pub.fail_after = None
    summaries.extend(s.as_dict() for s in play(pub))
    return pub.records, summaries


def stream_digest(records, summaries) -> str:
    """sha256 over each record's topic, key, value, headers and timestamp in send order, then the summaries."""
    h = hashlib.sha256()
    for r in records:
        parts = [r.topic.encode(), r.key, r.value, *(n.encode() + b"\x00" + v for n, v in r.headers), str(r.timestamp_ms).encode()]
        h.update(len(parts).to_bytes(2, "big"))
        for part in parts:
            h.update(len(part).to_bytes(4, "big") + part)
    h.update(json.dumps(summaries, sort_keys=True).encode())
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_runs_full_stream_is_byte_identical_to_the_plain_engines(name):
    env, days, options = CASES[name]
    records, summaries = run_case(env, days, options)
    count, digest = DIGESTS[name]
    assert len(records) == count
    assert stream_digest(records, summaries) == digest, f"{name}: the records (or the run's summaries) changed"


if __name__ == "__main__":
    for name in sorted(CASES):
        records, summaries = run_case(*CASES[name])
        print(f'    "{name}": ({len(records)}, "{stream_digest(records, summaries)}"),')
