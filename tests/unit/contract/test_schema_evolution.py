"""The schemas' evolution rule (docs/schemas.md), enforced.

Released schemas are kept in ``schemas_released/<revision>/`` (as ``foot-traffic schema --out``
writes them). A released revision never changes; a change of the schemas bumps
``contract.schemas.REVISION`` and adds its directory (``python -m tests.unit.contract.test_schema_evolution``
writes it). The current schemas must not break any released one: no property removed, no
required set grown, and every value an old schema accepted still accepted (checked over the
engine's records and edge values). The default output stays byte-identical besides
(``test_golden_default.py``).
"""

from __future__ import annotations

import copy
import json
import sys
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from foot_traffic.settings import EXAMPLE_CHAIN
from foot_traffic.plan.stores import load_catalogue
from foot_traffic.contract.schemas import REVISION, event_schema, session_schema
from tests.support.engine_records import EVENT_TOPIC, SENSOR, SESSION_TOPIC, engine_records, small, values

RELEASED = Path(__file__).resolve().parent / "schemas_released"
FILES = {"foot_traffic.json": session_schema, "foot_traffic_realistic.json": event_schema}
TOPIC_OF_FILE = {"foot_traffic.json": SESSION_TOPIC, "foot_traffic_realistic.json": EVENT_TOPIC}


def released() -> list[int]:
    return sorted(int(p.name) for p in RELEASED.iterdir() if p.is_dir() and p.name.isdigit())


def load(revision: int, name: str) -> dict:
    return json.loads((RELEASED / str(revision) / name).read_text(encoding="utf-8"))


def _edge_values(value: dict) -> list[dict]:
    """``value`` without each of its fields, and with values at the edges of what is written."""
    out = [{k: v for k, v in value.items() if k != field} for field in value]
    edges = {
        "trip_duration_minutes": [0, 1, 1440], "party_size": [1, 20], "weekday": ["Monday", "Sunday"],
        "time_slot": ["00:00\u201300:59", "23:00\u201323:59"], "event_type": ["entry", "exit"],
        "store_id": ["a", "0-9"], "entry_time": ["1899-12-31T23:00:00+00:53:28", "2026-10-25T02:30:00-09:30"],
    }
    for field, candidates in edges.items():
        if field in value:
            out.extend({**value, field: c} for c in candidates)
    return out


@pytest.fixture(scope="module")
def examples() -> dict[str, list[dict]]:
    """Per file: values to test compatibility with (the engine's, and edge variants of them)."""
    runs = [
        engine_records({"SEED": "1", "DAILY_CUSTOMERS": "60"}, [date(2025, 11, 7)]),
        engine_records({"SEED": "2", "DAILY_CUSTOMERS": "60", "FOOT_TRAFFIC_PROFILE": "retail", **SENSOR},
                       [date(2026, 6, 14)]),
        engine_records({"SEED": "3"}, [date(2026, 3, 29)], small(load_catalogue(EXAMPLE_CHAIN), 10, "retail")),
    ]
    out = {}
    for name, topic in TOPIC_OF_FILE.items():
        found = [v for records in runs for v in values(records, topic)]
        firsts = {tuple(v): v for v in found}.values()  # one of each shape for the edge variants
        out[name] = found + [e for v in firsts for e in _edge_values(v)]
    return out


def breaking_changes(old: dict, new: dict, examples: list[dict]) -> list[str]:
    """How ``new`` breaks ``old`` (empty: it does not)."""
    problems = []
    removed = set(old.get("properties", {})) - set(new.get("properties", {}))
    if removed:
        problems.append(f"properties removed: {sorted(removed)}")
    grown = set(new.get("required", [])) - set(old.get("required", []))
    if grown:
        problems.append(f"required grew by {sorted(grown)}")
    old_needs = old.get("dependentRequired", {})
    for field, needs in new.get("dependentRequired", {}).items():
        extra = set(needs) - set(old_needs.get(field, []))
        if extra:
            problems.append(f"{field} now needs {sorted(extra)}")
    before, after = jsonschema.Draft202012Validator(old), jsonschema.Draft202012Validator(new)
    refused = [v for v in examples if before.is_valid(v) and not after.is_valid(v)]
    if refused:
        problems.append(f"{len(refused)} values the old schema accepted are refused, e.g. {refused[0]}")
    return problems


def test_the_current_schemas_are_released_as_they_are():
    """A released revision never changes: a change bumps REVISION and adds its directory."""
    assert REVISION in released(), f"schemas_released/{REVISION}/ missing: run python -m tests.unit.contract.test_schema_evolution"
    for name, schema in FILES.items():
        assert load(REVISION, name) == schema(), (
            f"{name} differs from released revision {REVISION}: bump contract.schemas.REVISION (an additive change) "
            "and run python -m tests.unit.contract.test_schema_evolution")


@pytest.mark.parametrize("revision", released())
def test_no_released_revision_is_broken(revision, examples):
    for name, schema in FILES.items():
        old = load(revision, name)
        assert sum(jsonschema.Draft202012Validator(old).is_valid(v) for v in examples[name]) > 100
        assert breaking_changes(old, schema(), examples[name]) == [], f"revision {revision}, {name}"


@pytest.mark.parametrize("change,expected", [
    (lambda s: s["required"].append("party_id"), "required grew by ['party_id']"),
    (lambda s: s["properties"].pop("party_size"), "properties removed: ['party_size']"),
    (lambda s: s["$defs"]["weekday"].update(enum=["Monday"]), "values the old schema accepted are refused"),
    (lambda s: s["properties"]["trip_duration_minutes"].update(maximum=180), "values the old schema accepted"),
    (lambda s: s["dependentRequired"]["party_id"].append("store_id"), "party_id now needs ['store_id']"),
])
def test_a_breaking_change_is_caught(examples, change, expected):
    new = copy.deepcopy(session_schema())
    change(new)
    problems = breaking_changes(load(REVISION, "foot_traffic.json"), new, examples["foot_traffic.json"])
    assert any(expected in p for p in problems), problems


def test_an_additive_change_passes(examples):
    new = copy.deepcopy(session_schema())
    new["properties"]["basket_eur"] = {"type": "number", "minimum": 0}  # a new optional field
    assert breaking_changes(load(REVISION, "foot_traffic.json"), new, examples["foot_traffic.json"]) == []


if __name__ == "__main__":  # write the current schemas as released revision REVISION
    target = RELEASED / str(REVISION)
    target.mkdir(parents=True, exist_ok=True)
    for file_name, make in FILES.items():
        (target / file_name).write_text(json.dumps(make(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
