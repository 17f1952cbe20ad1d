"""Every record a run of the engine sends, in memory: what the topic schemas are tested against.

The records come through the Runner (as ``foot-traffic produce`` sends them: profiles,
sensor flaws, catalogues, days merged), into Kafka in memory; no broker.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, date, datetime
from typing import Any

import jsonschema

from foot_traffic.records.events import Record
from foot_traffic.model.profile import builtin_profile
from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings
from foot_traffic.plan.stores import Catalogue
from foot_traffic.testing import FakeClock, MemoryKafka, memory_delivery
from foot_traffic.contract.schemas import EVENTS, SESSIONS, event_schema, session_schema

SESSION_TOPIC, EVENT_TOPIC = "s", "e"
LATER = datetime(2040, 1, 1, tzinfo=UTC)  # every day played is in the past: full speed
# Every flaw of the door sensor at once.
SENSOR = {"SENSOR_MISS_RATE": "0.1", "SENSOR_DOUBLE_RATE": "0.2", "SENSOR_BATCH_SECONDS": "30",
          "SENSOR_UPLOAD_DELAY_SECONDS": "45"}


def small(catalogue: Catalogue, customers: int = 60, profile: str | None = None) -> Catalogue:
    """``catalogue`` with few customers per store (and every store of the built-in ``profile``)."""
    swap = {} if profile is None else {"profile": builtin_profile(profile)}
    return Catalogue(tuple(dataclasses.replace(s, base_daily_customers=customers, daily_customers=None, **swap)
                           for s in catalogue.stores), catalogue.source)


def engine_records(env: dict[str, str], days: list[date], catalogue: Catalogue | None = None,
                   topics: tuple[str, str] = (SESSION_TOPIC, EVENT_TOPIC)) -> list[Record]:
    """The records a run of ``days`` with settings ``env`` sends (to ``topics``: sessions, events)."""
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1], **env})
    kafka = MemoryKafka()
    runner = Runner(settings, memory_delivery(kafka, settings), clock=FakeClock(LATER), stop=threading.Event(),
                    catalogue=catalogue)
    runner.run(days, first_from_now=False)
    return list(kafka.records)


def validators() -> dict[str, jsonschema.Draft202012Validator]:
    """Topic -> a validator of its value schema (checked to be a valid draft 2020-12 schema)."""
    out = {}
    for topic, schema in ((SESSION_TOPIC, session_schema()), (EVENT_TOPIC, event_schema())):
        jsonschema.Draft202012Validator.check_schema(schema)
        out[topic] = jsonschema.Draft202012Validator(schema)
    return out


ROLE_OF_TOPIC = {SESSION_TOPIC: SESSIONS, EVENT_TOPIC: EVENTS}


def invalid_records(records: list[Record]) -> list[tuple[Record, str]]:
    """Each record whose value its topic's schema refuses, with the first reason."""
    checks = validators()
    bad = []
    for record in records:
        error = next(checks[record.topic].iter_errors(json.loads(record.value)), None)
        if error is not None:
            bad.append((record, f"{error.json_path}: {error.message}"))
    return bad


def values(records: list[Record], topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records if r.topic == topic]
