"""An AsyncAPI 3.0 document of the producer's topics (``foot-traffic schema --asyncapi``).

Channels are the configured topics (``KAFKA_TOPIC``, ``KAFKA_TOPIC_REALISTIC`` and the owner
records' ``<KAFKA_TOPIC>_writers``, marked internal); each message gives its Kafka key
(the customer's UUID text), its ``ft-*`` headers and its value schema, the JSON Schema of
:mod:`foot_traffic.contract.schemas` as it is (draft 2020-12, named by ``schemaFormat``).
Kafka bindings (0.5.0) say how the producer creates the topics. Headers are described as
AsyncAPI schemas (JSON Schema draft-07), their values being UTF-8 text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from foot_traffic.records import events
from foot_traffic.records.sensor import DUPLICATE_SUFFIX
from foot_traffic.plan.stores import MAX_STORE_ID, STORE_ID
from foot_traffic.contract.schemas import (
    DIALECT,
    EVENTS,
    REVISION,
    SESSIONS,
    UUID4_PATTERN,
    WRITERS,
    event_schema,
    session_schema,
    topic_roles,
    writers_schema,
)

if TYPE_CHECKING:
    from foot_traffic.settings import KafkaSettings

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
_UUID = UUID4_PATTERN.strip("^$")


def _headers(kinds: str) -> dict[str, Any]:
    """The ``ft-*`` headers of a data record (``kinds``: the event id's suffixes, as a regex group)."""
    return {
        "type": "object",
        "description": "UTF-8 text values. Consumers and resume rely on them; the JSON value never repeats them.",
        "properties": {
            events.H_EVENT_ID: {
                "type": "string",
                "description": "<customer uuid>:<kind>, unique and stable: the same on a replay. A sensor's double "
                f"count ends in {DUPLICATE_SUFFIX}.",
                "pattern": f"^{_UUID}:{kinds}({DUPLICATE_SUFFIX})?$",
            },
            events.H_DAY: {
                "type": "string", "description": "The simulated day (a store's local day) the record belongs to.",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            },
            events.H_SEQ: {
                "type": "string", "pattern": "^[0-9]+$",
                "description": "The record's position in its topic's stream of that day, from 0.",
            },
            events.H_PLAN: {
                "type": "string",
                "description": "The plan's id (version:seed:total:digest): the same id, the same records.",
            },
            events.H_PARTY: {
                "type": "string", "pattern": f"^{_UUID}$",
                "description": "The party's id; only with a curve profile (FOOT_TRAFFIC_PROFILE=retail).",
            },
            events.H_STORE: {
                "type": "string", "pattern": STORE_ID.pattern, "maxLength": MAX_STORE_ID,
                "description": "The store's id; only with a store catalogue.",
            },
        },
        "required": [events.H_EVENT_ID, events.H_DAY, events.H_SEQ, events.H_PLAN],
    }


def _message(name: str, title: str, summary: str, value: dict[str, Any], key: dict[str, Any],
             headers: dict[str, Any] | None) -> dict[str, Any]:
    message = {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": value},
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}},
    }
    if headers is not None:
        message["headers"] = headers
    return message


def _channel(topic: str, role: str, message: str, description: str, settings: KafkaSettings, internal: bool = False) -> dict[str, Any]:
    from foot_traffic.delivery.ledger import LEDGER_LAYOUT as WRITERS_LAYOUT

    partitions, extra = WRITERS_LAYOUT if role == WRITERS else (settings.topic_partitions, {})
    config: dict[str, Any] = {"cleanup.policy": [extra.get("cleanup.policy", "delete")]}
    if settings.topic_retention_ms:
        config["retention.ms"] = settings.topic_retention_ms
    channel = {
        "address": topic,
        "title": topic,
        "description": description,
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        "bindings": {"kafka": {
            "topic": topic, "partitions": partitions, "replicas": settings.topic_replication_factor,
            "topicConfiguration": config, "bindingVersion": KAFKA_BINDING,
        }},
    }
    if internal:
        channel["tags"] = [{"name": "internal", "description": "Not a contract: may change without notice."}]
        channel["x-internal"] = True
    return channel


def asyncapi_document(settings: KafkaSettings) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the topics as ``settings`` name and create them."""
    names = {role: topic for topic, role in topic_roles(settings).items()}
    customer_key = {
        "type": "string", "format": "uuid", "pattern": UUID4_PATTERN,
        "description": "The customer's id (UTF-8 text): a customer's records share a partition, in order.",
    }
    channels = {
        SESSIONS: _channel(names[SESSIONS], SESSIONS, "session", "One session per visit, sent when the customer "
                           "enters (its Kafka timestamp is the entry).", settings),
        EVENTS: _channel(names[EVENTS], EVENTS, "doorEvent", "The door's entry and exit events, each sent when it "
                         "happens (with the sensor's upload delay: when uploaded; the JSON time stays the "
                         "passage's).", settings),
        WRITERS: _channel(names[WRITERS], WRITERS, "ledgerRecord", "Internal: the producer's day ledger (who "
                          "takes each store-day and how far its records are committed, for fencing and resume). "
                          "Not a contract; its fields may change with any version.", settings, internal=True),
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Foot Traffic Producer topics",
            "version": f"{REVISION}.0.0",
            "description": "Simulated retail-store foot traffic. Values are UTF-8 JSON; the value schemas are JSON "
            f"Schema draft 2020-12 ({DIALECT}), the ones `foot-traffic schema TOPIC` prints. Records of a day "
            "become visible to read_committed consumers as their transactions commit.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": settings.kafka_broker[0], "protocol": "kafka",
                "description": "The first bootstrap server of KAFKA_BROKER.",
            },
        },
        "channels": channels,
        "operations": {
            f"send{message[0].upper()}{message[1:]}": {
                "action": "send", "channel": {"$ref": f"#/channels/{role}"},
                "messages": [{"$ref": f"#/channels/{role}/messages/{message}"}],
                **({"tags": [{"name": "internal"}]} if role == WRITERS else {}),
            }
            for role, message in ((SESSIONS, "session"), (EVENTS, "doorEvent"), (WRITERS, "ledgerRecord"))
        },
        "components": {
            "messages": {
                "session": _message("session", "Session", "A visit: entry, exit, trip length, slot (and party).",
                                    session_schema(), customer_key, _headers("session")),
                "doorEvent": _message("doorEvent", "Entry or exit", "A passage of the door.",
                                      event_schema(), customer_key, _headers("(entry|exit)")),
                "ledgerRecord": _message(
                    "ledgerRecord", "Day ledger record (internal)", "Who takes a store-day, how far it is. Internal, not a contract.",
                    writers_schema(), {"type": "string", "description": "A transactional id."}, None,
                ),
            },
        },
    }
