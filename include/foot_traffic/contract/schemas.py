"""JSON Schemas (draft 2020-12) of the topics' record values: the typed contract.

One schema per topic value, covering every shape the producer writes:

* ``foot_traffic`` (``KAFKA_TOPIC``), one session per visit: the seed's default; a
  catalogue's, with ``store_id`` first and times in the store's UTC offset; a curve
  profile's (``retail``), ending with ``party_id`` and ``party_size`` (both or neither).
* ``foot_traffic_realistic`` (``KAFKA_TOPIC_REALISTIC``), the door's ``entry``/``exit``
  events, also as the sensor flaws (``SENSOR_*``) thin, double and delay them: a double
  has the same fields, its time one or two seconds later.
* the day ledger (``<KAFKA_TOPIC>_writers``): internal bookkeeping of the producer,
  described loosely and on purpose as no contract (see :func:`writers_schema`).

What the schemas say comes from the same declarations the records are written from
(``events``: event types; ``profile``: weekdays, the slot label's EN DASH; ``stores``: store
ids; ``curve_profile``: party sizes), and ``tests/unit/contract/test_topic_schemas.py`` validates every
record the engine makes for many seeds, days, profiles, catalogues and sensor flaws, so a
field added to a record without its schema fails there (``additionalProperties`` is
false). Evolution rule (docs/schemas.md): new fields are optional and additive, a
required set never grows, and the released schemas kept under ``tests/unit/contract/schemas_released``
must keep accepting what they accepted.

Patterns spell digits ``[0-9]``: a broker's regex engine (Tansu's, in Rust) reads ``\\d`` as
any Unicode digit. ``format`` keywords are annotations only (draft 2020-12): the patterns
are what a validator enforces.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from foot_traffic.model.curve_profile import MAX_PARTY_SIZE
from foot_traffic.records.events import ENTRY, EXIT
from foot_traffic.model.profile import EN_DASH, MINUTES_PER_DAY, WEEKDAYS
from foot_traffic.plan.stores import MAX_STORE_ID, STORE_ID

if TYPE_CHECKING:
    from foot_traffic.settings import KafkaSettings

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# The schemas' revision: bumped by every (additive) change; a released revision is kept
# under tests/unit/contract/schemas_released/<revision>/ and must stay accepted (docs/schemas.md).
REVISION = 1
SESSION_EVENT_TYPE = "foot_traffic"  # the session record's event_type (events.RecordTemplates)
SESSIONS, EVENTS, WRITERS = "sessions", "events", "writers"  # the topics' roles

_DATE = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_CLOCK = "([01][0-9]|2[0-3]):[0-5][0-9]"
_TIME = f"{_DATE}T{_CLOCK}:[0-5][0-9]"
# An offset with seconds only where a zone's history has one (local mean time, before ~1900).
LOCAL_TIME_PATTERN = f"^{_TIME}[+-]{_CLOCK}(:[0-5][0-9])?$"
UTC_TIME_PATTERN = f"^{_TIME}\\+00:00$"
TIME_SLOT_PATTERN = f"^{_CLOCK}{EN_DASH}{_CLOCK}$"
UUID4_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def _defs() -> dict[str, Any]:
    """The building blocks both value schemas share (inside each: a broker compiles the value alone)."""
    return {
        "store_id": {
            "description": "The store of a catalogue (STORES_FILE): its id, lowercase letters, digits and '-'. "
            "Only in records of a store catalogue, and then the first field.",
            "type": "string", "pattern": STORE_ID.pattern, "minLength": 1, "maxLength": MAX_STORE_ID,
        },
        "customer_id": {
            "description": "The customer's id, a version-4 UUID in lowercase; also the record's Kafka key.",
            "type": "string", "format": "uuid", "pattern": UUID4_PATTERN,
        },
        "time": {
            "description": "An instant, ISO 8601 to the second with its UTC offset: +00:00 without a store "
            "catalogue, the store's offset at that instant with one (2026-03-29T10:00:00+02:00).",
            "type": "string", "format": "date-time", "pattern": LOCAL_TIME_PATTERN,
        },
        "weekday": {
            "description": "The (store's local) day the visit belongs to: the day of its entry, or of the opening "
            "period it started in.",
            "enum": list(WEEKDAYS),
        },
        "time_slot": {
            "description": "The entry's time slot, HH:MM-HH:MM with an EN DASH (U+2013), both ends included: the "
            "profile's slots (seed: 00:00\u201306:59, 07:00\u201309:59 ...), hourly with a curve profile "
            "(10:00\u201310:59).",
            "type": "string", "pattern": TIME_SLOT_PATTERN,
        },
    }


def _head(kind: str, title: str, description: str) -> dict[str, Any]:
    """What every value schema starts with: dialect, id, title, description, revision; an object."""
    return {"$schema": DIALECT, "$id": f"urn:foot-traffic:value:{kind}", "title": title, "description": description,
            "$comment": f"revision {REVISION}", "type": "object"}


def _utc_without_store(*fields: str) -> dict[str, Any]:
    """Without ``store_id`` (no catalogue) every time is UTC, written ``+00:00``."""
    return {
        "if": {"not": {"required": ["store_id"]}},
        "then": {"properties": {f: {"pattern": UTC_TIME_PATTERN} for f in fields}},
    }


def session_schema() -> dict[str, Any]:
    """The value of a ``foot_traffic`` (session) record."""
    return {
        **_head(
            "session", "foot_traffic: one session per visit",
            "A customer's visit, written when the customer enters. Fields in this order; store_id only with a "
            "store catalogue, party_id and party_size only with a curve profile (FOOT_TRAFFIC_PROFILE=retail). New "
            "fields may be added (optional); consumers must ignore fields they do not know.",
        ),
        "properties": {
            "store_id": {"$ref": "#/$defs/store_id"},
            "event_type": {"const": SESSION_EVENT_TYPE},
            "customer_id": {"$ref": "#/$defs/customer_id"},
            "entry_time": {"$ref": "#/$defs/time", "description": "When the customer entered."},
            "exit_time": {
                "$ref": "#/$defs/time",
                "description": "When the customer left: entry_time + trip_duration_minutes.",
            },
            "trip_duration_minutes": {
                "description": "The trip's length in whole minutes (cut at closing + grace in a catalogue's store).",
                "type": "integer", "minimum": 0, "maximum": MINUTES_PER_DAY,
            },
            "weekday": {"$ref": "#/$defs/weekday"},
            "time_slot": {"$ref": "#/$defs/time_slot"},
            "party_id": {
                "$ref": "#/$defs/customer_id",
                "description": "The party's id: the customer_id of its first member (the customer's own when alone).",
            },
            "party_size": {
                "description": "How many people came in together (1: alone).",
                "type": "integer", "minimum": 1, "maximum": MAX_PARTY_SIZE,
            },
        },
        "required": [
            "event_type", "customer_id", "entry_time", "exit_time", "trip_duration_minutes", "weekday", "time_slot",
        ],
        "dependentRequired": {"party_id": ["party_size"], "party_size": ["party_id"]},
        "additionalProperties": False,
        **_utc_without_store("entry_time", "exit_time"),
        "$defs": _defs(),
    }


def event_schema() -> dict[str, Any]:
    """The value of a ``foot_traffic_realistic`` (entry/exit) record."""
    return {
        **_head(
            "event", "foot_traffic_realistic: the door's entry and exit events",
            "One event per passage of the door, keyed by the customer's id. With the sensor flaws (SENSOR_*) some "
            "are missing, some doubled (the same fields, the time 1-2 s later) and some late (the time stays the "
            "passage's). Fields in this order; store_id only with a store catalogue. An exit carries the weekday "
            "and time_slot of its entry. New fields may be added (optional); consumers must ignore fields they "
            "do not know.",
        ),
        "properties": {
            "store_id": {"$ref": "#/$defs/store_id"},
            "event_type": {"enum": [ENTRY, EXIT]},
            "time": {"$ref": "#/$defs/time", "description": "When the customer passed the door."},
            "weekday": {"$ref": "#/$defs/weekday"},
            "time_slot": {"$ref": "#/$defs/time_slot"},
        },
        "required": ["event_type", "time", "weekday", "time_slot"],
        "additionalProperties": False,
        **_utc_without_store("time"),
        "$defs": _defs(),
    }


def writers_schema() -> dict[str, Any]:
    """The day ledger: internal, no contract. Loose on purpose (``delivery.ledger`` owns its format)."""
    return _head(
        "writers", "<KAFKA_TOPIC>_writers: the day ledger (internal)",
        "Internal to the producer: who takes each store-day and how far its records are committed (fencing, "
        "resume). Not a contract: its fields change "
        "without notice; do not build on it, and do not install this schema in a broker (a compacted topic's "
        "deletions have no value).",
    )


VALUE_SCHEMAS = {SESSIONS: session_schema, EVENTS: event_schema, WRITERS: writers_schema}


def record_schema(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` as a schema-enforcing broker reads a topic's file (Tansu: ``TOPIC.json``):
    the record as an object whose ``value`` is the record's JSON value. The key (a UUID's
    text, not JSON) is not described: such a broker would parse it as JSON and refuse it."""
    return {
        "$schema": DIALECT,
        "title": f"Kafka record of {value['title']}",
        "type": "object",
        "properties": {"value": copy.deepcopy(value)},
        "required": ["value"],
    }


def topic_roles(settings: KafkaSettings) -> dict[str, str]:
    """Topic name -> role, for the configured topics (``KAFKA_TOPIC`` ...)."""
    from foot_traffic.delivery.ledger import ledger_topic as writers_topic

    return {
        settings.kafka_topic: SESSIONS,
        settings.kafka_topic_realistic: EVENTS,
        writers_topic(settings.kafka_topic): WRITERS,
    }


def role_of(name: str, settings: KafkaSettings) -> str:
    """The role of ``name``: a configured topic, or a default topic name; ValueError naming the accepted ones."""
    from foot_traffic.settings import Settings

    for candidate in (settings, Settings.from_env({})):
        roles = topic_roles(candidate)
        if name in roles:
            return roles[name]
    accepted = sorted(set(topic_roles(settings)) | set(topic_roles(Settings.from_env({}))))
    raise ValueError(f"TOPIC={name!r}: not a topic of this producer (accepted: {', '.join(accepted)})")


def topic_schemas(settings: KafkaSettings, *, internal: bool = True) -> dict[str, dict[str, Any]]:
    """The value schemas by configured topic name (what ``--out`` writes); ``internal``: the
    writers topic's too (not for a broker to enforce: see :func:`writers_schema`)."""
    return {name: VALUE_SCHEMAS[role]() for name, role in topic_roles(settings).items() if internal or role != WRITERS}
