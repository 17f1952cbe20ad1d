"""``foot-traffic schema --asyncapi``: a valid AsyncAPI 3.0 document of the topics as configured.

Validated against the official AsyncAPI 3.0.0 JSON Schema (``tests/support/asyncapi``, from
the AsyncAPI Initiative's ``@asyncapi/specs``), and its parts against the engine: the
value schemas are the topics', the header schemas accept the headers real records carry.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from foot_traffic.records import events
from foot_traffic.contract.asyncapi import asyncapi_document
from foot_traffic.settings import EXAMPLE_CHAIN, Settings
from foot_traffic.plan.stores import load_catalogue
from foot_traffic.contract.schemas import event_schema, session_schema, writers_schema
from tests.support.engine_records import EVENT_TOPIC, SENSOR, SESSION_TOPIC, engine_records, small

OFFICIAL = Path(__file__).resolve().parents[2] / "support" / "asyncapi" / "asyncapi-3.0.0-without-id.json"


@pytest.fixture(scope="module")
def official():
    return jsonschema.Draft7Validator(json.loads(OFFICIAL.read_text(encoding="utf-8")))


def document(**env):
    return asyncapi_document(Settings.from_env({k: str(v) for k, v in env.items()}))


def test_the_document_is_valid_asyncapi_3(official):
    for doc in (document(), document(KAFKA_TOPIC="visits", KAFKA_TOPIC_REALISTIC="doors", TOPIC_PARTITIONS=12,
                                     TOPIC_RETENTION_MS=604800000, KAFKA_BROKER="b1:9092,b2:9092")):
        assert doc["asyncapi"] == "3.0.0"
        assert list(official.iter_errors(doc)) == []


@pytest.mark.parametrize("path,bad", [
    (("channels", "sessions", "bindings", "kafka", "partitions"), "three"),
    (("operations", "sendSession", "action"), "publish"),  # AsyncAPI 2's verb
    (("asyncapi",), "2.6.0"),
    (("components", "messages", "session", "bindings", "kafka", "bindingVersion"), "9.9.9"),
])
def test_the_official_schema_refuses_a_broken_document(official, path, bad):
    """The validator above is no rubber stamp."""
    doc = copy.deepcopy(document())
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = bad
    assert list(official.iter_errors(doc))


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_channels_messages_and_references_follow_the_settings():
    doc = document(KAFKA_TOPIC="visits", KAFKA_TOPIC_REALISTIC="doors", TOPIC_PARTITIONS=12)
    channels = doc["channels"]
    assert {c["address"] for c in channels.values()} == {"visits", "doors", "visits_writers"}
    assert channels["sessions"]["bindings"]["kafka"]["partitions"] == 12
    assert channels["writers"]["bindings"]["kafka"]["partitions"] == 366  # the day ledger: a partition per day of a year
    assert channels["writers"]["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]
    assert channels["writers"]["x-internal"] is True and channels["writers"]["tags"][0]["name"] == "internal"
    assert doc["servers"]["kafka"]["host"] == "kafka:9092"
    messages = doc["components"]["messages"]
    assert messages["session"]["payload"]["schema"] == session_schema()
    assert messages["doorEvent"]["payload"]["schema"] == event_schema()
    assert messages["ledgerRecord"]["payload"]["schema"] == writers_schema()
    for message in ("session", "doorEvent"):
        assert messages[message]["bindings"]["kafka"]["key"]["format"] == "uuid"
    # every document-local reference (value schemas' own #/$defs aside) resolves
    local = [ref for ref in _refs({k: v for k, v in doc.items() if k != "components"}) if ref.startswith("#/")]
    assert local
    for ref in local:
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]


def test_the_header_schemas_accept_the_headers_real_records_carry():
    doc = document()
    headers = {SESSION_TOPIC: doc["components"]["messages"]["session"]["headers"],
               EVENT_TOPIC: doc["components"]["messages"]["doorEvent"]["headers"]}
    assert set(headers[SESSION_TOPIC]["properties"]) == {
        events.H_EVENT_ID, events.H_DAY, events.H_SEQ, events.H_PLAN, events.H_PARTY, events.H_STORE}
    checks = {topic: jsonschema.Draft7Validator(schema) for topic, schema in headers.items()}
    runs = [
        engine_records({"SEED": "4", "DAILY_CUSTOMERS": "50", "FOOT_TRAFFIC_PROFILE": "retail", **SENSOR},
                       [date(2025, 11, 8)]),
        engine_records({"SEED": "4"}, [date(2026, 3, 29)], small(load_catalogue(EXAMPLE_CHAIN), 20)),
    ]
    seen = set()
    for records in runs:
        for record in records:
            text = {name: value.decode() for name, value in record.headers}
            seen |= set(text)
            assert checks[record.topic].is_valid(text), (record.topic, text)
            assert not checks[record.topic].is_valid({**text, events.H_EVENT_ID: "x:session"})
    assert seen == set(headers[SESSION_TOPIC]["properties"])
