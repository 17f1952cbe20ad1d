"""The topic schemas against the records the engine really makes: they cannot drift apart.

Every record of many runs (seeds, days, the seed and retail profiles, sensor flaws,
generated store catalogues across time zones and DST, overnight hours, closed days)
validates; a field the engine would add without its schema, a missing field, a wrong
``event_type`` or a wrong type is refused. Tansu enforces the same files
(``tests/integration/test_schemas_tansu.py``).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foot_traffic.records import events, stream
from foot_traffic.settings import EXAMPLE_CHAIN
from foot_traffic.plan.stores import catalogue_from_dict, load_catalogue
from foot_traffic.contract.schemas import (
    DIALECT,
    event_schema,
    record_schema,
    session_schema,
    writers_schema,
)
from tests.support.engine_records import (
    EVENT_TOPIC,
    SENSOR,
    SESSION_TOPIC,
    engine_records,
    invalid_records,
    small,
    validators,
    values,
)

ZONES = ["UTC", "Europe/Rome", "Europe/London", "America/New_York", "America/St_Johns", "Asia/Kolkata",
         "Asia/Kathmandu", "Australia/Adelaide", "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Kiritimati",
         "America/Sao_Paulo"]


# -- the named shapes --------------------------------------------------------------------------
SHAPES = {
    "seed default": ({"SEED": "7", "DAILY_CUSTOMERS": "400"}, ["2025-11-07"], None),
    "retail with every sensor flaw": ({"SEED": "3", "DAILY_CUSTOMERS": "400", "FOOT_TRAFFIC_PROFILE": "retail",
                                       **SENSOR}, ["2025-11-08", "2025-11-09"], None),
    "chain over DST and a closed day": ({"SEED": "7"}, ["2026-03-28", "2026-03-29", "2026-12-25"], "example"),
    "chain of retail stores, sensor": ({"SEED": "5", **SENSOR}, ["2026-10-25", "2026-11-27"], "retail"),
}


def shape_records(name: str):
    env, days, chain = SHAPES[name]
    catalogue = small(load_catalogue(EXAMPLE_CHAIN), profile=None if chain == "example" else chain) if chain else None
    return engine_records(env, [date.fromisoformat(d) for d in days], catalogue)


@pytest.fixture(scope="module")
def shapes():
    return {name: shape_records(name) for name in SHAPES}


def test_the_schemas_are_valid_draft_2020_12():
    for schema in (session_schema(), event_schema(), writers_schema()):
        assert schema["$schema"] == DIALECT
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator.check_schema(record_schema(schema))


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_record_of_each_shape_validates(shapes, name):
    records = shapes[name]
    assert records and {r.topic for r in records} == {SESSION_TOPIC, EVENT_TOPIC}
    assert invalid_records(records) == []


def test_the_shapes_cover_what_the_issue_lists(shapes):
    """Each optional part of the schemas is exercised by a shape (else the tests above prove little)."""
    default = values(shapes["seed default"], SESSION_TOPIC)
    assert all(list(v) == ["event_type", "customer_id", "entry_time", "exit_time", "trip_duration_minutes",
                           "weekday", "time_slot"] for v in default)
    retail = shapes["retail with every sensor flaw"]
    assert {v["party_size"] for v in values(retail, SESSION_TOPIC)} >= {1, 2, 3}
    assert {v["time_slot"] for v in values(retail, SESSION_TOPIC)} >= {"10:00\u201310:59", "15:00\u201315:59"}
    event_ids = [dict(r.headers)[events.H_EVENT_ID] for r in retail if r.topic == EVENT_TOPIC]
    assert any(e.endswith(b":dup") for e in event_ids)  # doubled
    assert len(event_ids) < 2 * len(values(retail, SESSION_TOPIC)) * 1.1  # thinned (and doubled)
    late = [r for r in retail if r.topic == EVENT_TOPIC
            and r.timestamp_ms > 1000 * _epoch(json.loads(r.value)["time"])]
    assert late  # uploaded after the passage
    chain = values(shapes["chain over DST and a closed day"], SESSION_TOPIC)
    assert all(list(v)[0] == "store_id" for v in chain)
    offsets = {v["entry_time"][-6:] for v in chain}
    assert {"+01:00", "+02:00", "-05:00", "-04:00"} <= offsets  # Rome and New York around the change
    chain_retail = values(shapes["chain of retail stores, sensor"], SESSION_TOPIC)
    assert all(list(v)[0] == "store_id" and list(v)[-2:] == ["party_id", "party_size"] for v in chain_retail)


def _epoch(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp())


def test_properties_are_listed_in_the_records_field_order(shapes):
    """The schema's property order is the JSON's (documentation readers rely on it)."""
    order = {SESSION_TOPIC: list(session_schema()["properties"]), EVENT_TOPIC: list(event_schema()["properties"])}
    for records in shapes.values():
        for topic in (SESSION_TOPIC, EVENT_TOPIC):
            for fields in {tuple(v) for v in values(records, topic)}:
                assert list(fields) == [f for f in order[topic] if f in fields]


# -- any run ---------------------------------------------------------------------------------
@st.composite
def catalogues(draw):
    stores = []
    for i in range(draw(st.integers(1, 3))):
        opens = draw(st.integers(0, 22 * 60))
        closes = (opens + draw(st.integers(60, 20 * 60))) % (24 * 60)  # may run past midnight
        hours = f"{opens // 60:02d}:{opens % 60:02d}-{closes // 60:02d}:{closes % 60:02d}"
        stores.append({
            "id": f"store-{i}", "timezone": draw(st.sampled_from(ZONES)),
            "base_daily_customers": draw(st.integers(5, 80)), "profile": draw(st.sampled_from(["seed", "retail"])),
            "opening_hours": {"daily": hours} if draw(st.booleans()) else {"mon-sat": hours},
        })
    return catalogue_from_dict({"stores": stores})


@st.composite
def runs(draw):
    env = {"SEED": str(draw(st.integers(0, 2**31 - 1))), "DAILY_CUSTOMERS": str(draw(st.integers(1, 150))),
           "FOOT_TRAFFIC_PROFILE": draw(st.sampled_from(["seed", "retail"]))}
    if draw(st.booleans()):
        env["SENSOR_MISS_RATE"] = str(draw(st.sampled_from([0.0, 0.05, 0.5])))
        env["SENSOR_DOUBLE_RATE"] = str(draw(st.sampled_from([0.0, 0.1, 0.5])))
        batch = draw(st.sampled_from([0, 10, 60]))
        env["SENSOR_BATCH_SECONDS"] = str(batch)
        env["SENSOR_UPLOAD_DELAY_SECONDS"] = str(draw(st.integers(0, 90)) if batch else 0)
    first = draw(st.dates(date(2020, 1, 1), date(2031, 12, 31)))
    days = [first + timedelta(days=i) for i in range(draw(st.integers(1, 2)))]
    catalogue = draw(st.one_of(st.none(), catalogues()))
    return env, days, catalogue


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_every_record_of_any_run_validates(run):
    env, days, catalogue = run
    records = engine_records(env, days, catalogue)
    assert invalid_records(records) == []


# -- what the schemas refuse ---------------------------------------------------------------------
def _with_extra_field(monkeypatch, attribute: str):
    """Make the engine write one more field (as a change without its schema would)."""
    original = stream.RecordTemplates.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        setattr(self, attribute, [tail[:-1] + b', "door": "north"}' if tail.endswith(b"}") else tail
                                  for tail in getattr(self, attribute)])

    monkeypatch.setattr(stream.RecordTemplates, "__init__", init)


@pytest.mark.parametrize("attribute,topic", [("session_tails", SESSION_TOPIC), ("atomic_tails", EVENT_TOPIC)])
def test_a_field_the_engine_adds_without_the_schema_fails(monkeypatch, attribute, topic):
    _with_extra_field(monkeypatch, attribute)
    records = engine_records({"SEED": "7", "DAILY_CUSTOMERS": "20"}, [date(2025, 11, 7)])
    refused = invalid_records(records)
    assert refused and {r.topic for r, _ in refused} == {topic}
    assert all("'door' was unexpected" in reason for _, reason in refused)


def _default(topic: str) -> dict:
    records = engine_records({"SEED": "7", "DAILY_CUSTOMERS": "3"}, [date(2025, 11, 7)])
    return values(records, topic)[0]


def _refused(topic: str, value: dict) -> bool:
    return not validators()[topic].is_valid(value)


@pytest.mark.parametrize("topic,schema", [(SESSION_TOPIC, session_schema), (EVENT_TOPIC, event_schema)])
def test_a_record_missing_any_required_field_is_refused(topic, schema):
    good = _default(topic)
    assert set(schema()["required"]) == set(good)  # the default shape: exactly the required fields
    for field in schema()["required"]:
        assert _refused(topic, {k: v for k, v in good.items() if k != field}), field


@pytest.mark.parametrize("topic,field,bad", [
    (SESSION_TOPIC, "event_type", "session"), (SESSION_TOPIC, "event_type", "entry"),
    (EVENT_TOPIC, "event_type", "foot_traffic"), (EVENT_TOPIC, "event_type", "ENTRY"),
    (SESSION_TOPIC, "trip_duration_minutes", "37"), (SESSION_TOPIC, "trip_duration_minutes", 37.5),
    (SESSION_TOPIC, "trip_duration_minutes", -1), (SESSION_TOPIC, "customer_id", 7),
    (SESSION_TOPIC, "customer_id", "not-a-uuid"), (SESSION_TOPIC, "entry_time", "2025-11-07 10:00:00"),
    (SESSION_TOPIC, "entry_time", "2025-11-07T10:00:00Z"), (SESSION_TOPIC, "entry_time", "2025-11-07T10:00:00"),
    (SESSION_TOPIC, "exit_time", "2025-11-07T10:00:00+01:00"),  # not UTC without a store
    (EVENT_TOPIC, "time", "2025-11-07T10:00:00.5+00:00"), (EVENT_TOPIC, "time", 1762509600),
    (EVENT_TOPIC, "weekday", "Fri"), (EVENT_TOPIC, "time_slot", "07:00-09:59"),  # a hyphen, not an EN DASH
    (EVENT_TOPIC, "time_slot", "24:00\u201324:59"), (SESSION_TOPIC, "weekday", None),
])
def test_a_wrong_value_or_type_is_refused(topic, field, bad):
    good = _default(topic)
    assert not _refused(topic, good)
    assert _refused(topic, {**good, field: bad})


def test_optional_fields_follow_their_rules():
    session = _default(SESSION_TOPIC)
    uuid = session["customer_id"]
    assert not _refused(SESSION_TOPIC, {**session, "party_id": uuid, "party_size": 1})
    assert _refused(SESSION_TOPIC, {**session, "party_id": uuid})  # both or neither
    assert _refused(SESSION_TOPIC, {**session, "party_size": 2})
    assert _refused(SESSION_TOPIC, {**session, "party_id": uuid, "party_size": 0})
    in_rome = {"store_id": "rome-centro", **session, "entry_time": "2026-03-29T10:00:00+02:00",
               "exit_time": "2026-03-29T10:37:00+02:00"}
    assert not _refused(SESSION_TOPIC, in_rome)
    assert _refused(SESSION_TOPIC, {**in_rome, "store_id": "Rome Centro"})
    assert _refused(SESSION_TOPIC, {**in_rome, "store_id": ""})


def test_the_writers_schema_is_loose_on_purpose():
    """Internal: any object (the lead is redesigning the owner records), described as no contract."""
    check = jsonschema.Draft202012Validator(writers_schema())
    assert check.is_valid({"transactional_id": "foot-traffic/x/2025-11-07", "anything": [1]})
    assert check.is_valid({"foot-traffic/x/2025-11-07": {"writer": "w"}})
    assert "properties" not in writers_schema() and "required" not in writers_schema()
    assert "Not a contract" in writers_schema()["description"]
