"""The reference generator (scripts/docs_reference.py) picks up what others add by itself:
a subcommand or flag, a Param's ``section=``, a setting. No site build: the functions the
MkDocs hook calls, on made-up inputs."""

from __future__ import annotations

import argparse

from foot_traffic.settings import Settings
from scripts.docs_reference import _cli_page, _dag_section, accepted, settings_rows


def test_a_new_subcommand_and_its_flags_appear_by_themselves():
    parser = argparse.ArgumentParser(prog="foot-traffic", description="The producer.")
    sub = parser.add_subparsers(dest="command")
    produce = sub.add_parser("produce", description="Stream.")
    produce.add_argument("--date", help="the day")
    schema = sub.add_parser("schema", description="Print the topics' JSON Schemas.")
    schema.add_argument("--topic", choices=("sessions", "events"), help="which topic")
    schema.add_argument("--out", metavar="FILE", required=True, help="where | to write")
    page = _cli_page(parser)
    assert "[`schema`](#foot-traffic-schema)" in page
    assert "## `foot-traffic schema`" in page and "Print the topics' JSON Schemas." in page
    assert "| `--topic` | `sessions` \\| `events` |" in page
    assert "| `--out` | `FILE` | required | where \\| to write |" in page


def test_param_sections_group_a_dags_table():
    dag = {"dag_id": "d", "file": "dags/d.py", "description": "A DAG", "schedule": "0 0 * * *", "timezone": "UTC",
           "tasks": ["t"], "params": [
               {"name": "seed", "default": None, "description": "Seed.", "schema": {"type": ["null", "integer"], "section": "Day"}},
               {"name": "topic", "default": "ft", "description": "Topic.", "schema": {"type": "string", "section": "Kafka"}},
               {"name": "day", "default": None, "description": "Day.", "schema": {"type": ["null", "string"], "format": "date",
                                                                                   "section": "Day"}},
           ]}
    text = "\n".join(_dag_section(dag, {"seed": "SEED", "topic": "KAFKA_TOPIC"}))
    assert text.index("**Day**") < text.index("`seed`") < text.index("`day`") < text.index("**Kafka**") < text.index("`topic`")
    assert "schedule `0 0 * * * (UTC)`" in text
    assert "| `seed` | default empty<br>a whole number; empty: unset | `SEED` | Seed. |" in text


def test_accepted_values_read_from_the_schema():
    assert accepted({"type": "number", "gt": 0, "le": 60}) == "a number &gt; 0 and ≤ 60"
    assert accepted({"type": "integer", "minimum": 1, "maximum": 10_000_000}, nullable=True) == (
        "a whole number ≥ 1 and ≤ 10,000,000; empty: unset")
    assert accepted({"enum": ["gzip", "none"]}) == "one of `gzip`, `none`"
    assert accepted({"type": "boolean"}) == "true or false"
    assert accepted({"type": "boolean"}, env=True).startswith("a flag: 1/")


def test_every_setting_gets_a_row_with_a_description():
    rows = settings_rows()
    assert [row["variable"] for row in rows] == [f.alias for f in Settings.model_fields.values()]
    assert all(row["description"] for row in rows), [row["variable"] for row in rows if not row["description"]]
