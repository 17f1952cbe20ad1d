"""``foot-traffic schema``: what it prints and writes, and one clear error for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from foot_traffic.cli import main
from foot_traffic.contract.schemas import event_schema, record_schema, session_schema, writers_schema


def run(capsysbinary, *args):
    code = main(["schema", *args])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


@pytest.mark.parametrize("topic,schema", [
    ("foot_traffic", session_schema), ("foot_traffic_realistic", event_schema), ("foot_traffic_writers", writers_schema),
])
def test_prints_a_topics_value_schema(capsysbinary, topic, schema):
    code, out, _ = run(capsysbinary, topic)
    assert code == 0 and json.loads(out) == schema()
    assert "\u2013".encode() in out or topic == "foot_traffic_writers"  # UTF-8, not escaped


def test_configured_topic_names_are_accepted_and_written(capsysbinary, monkeypatch, tmp_path):
    monkeypatch.setenv("KAFKA_TOPIC", "visits")
    monkeypatch.setenv("KAFKA_TOPIC_REALISTIC", "doors")
    assert json.loads(run(capsysbinary, "doors")[1]) == event_schema()
    assert json.loads(run(capsysbinary, "foot_traffic")[1]) == session_schema()  # the default name still works
    code, _, err = run(capsysbinary, "--out", str(tmp_path / "schemas"), "--record")
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert written == ["doors.json", "visits.json"]  # the writers topic is internal: left out
    assert json.loads((tmp_path / "schemas" / "visits.json").read_text(encoding="utf-8")) == record_schema(session_schema())
    assert "wrote" in err


def test_out_without_record_writes_every_value_schema(capsysbinary, tmp_path):
    assert run(capsysbinary, "--out", str(tmp_path))[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "foot_traffic.json", "foot_traffic_realistic.json", "foot_traffic_writers.json"]
    assert json.loads((tmp_path / "foot_traffic.json").read_text(encoding="utf-8")) == session_schema()
    assert json.loads((tmp_path / "foot_traffic_writers.json").read_text(encoding="utf-8")) == writers_schema()


@pytest.mark.parametrize("args,message", [
    ((), "give exactly one of TOPIC, --out DIR or --asyncapi (got none)"),
    (("foot_traffic", "--asyncapi"), "(got TOPIC, --asyncapi)"),
    (("orders",), "TOPIC='orders': not a topic of this producer (accepted: foot_traffic, foot_traffic_realistic, "
                  "foot_traffic_writers)"),
    (("--asyncapi", "--record"), "--record wraps a topic's schema"),
])
def test_bad_input_exits_2_naming_the_problem(capsysbinary, args, message):
    code, out, err = run(capsysbinary, *args)
    assert code == 2 and out == b"" and message in err


def test_out_onto_a_file_is_refused(capsysbinary, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = run(capsysbinary, "--out", str(target))
    assert code == 2 and f"--out {target}: exists and is not a directory" in err


def test_bad_settings_exit_2(capsysbinary, monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC", "bad topic!")
    code, _, err = run(capsysbinary, "foot_traffic")
    assert code == 2 and "KAFKA_TOPIC=" in err


def test_the_command_prints_the_asyncapi_document():
    """As a user runs it: a separate process, UTF-8 on standard output whatever the locale."""
    run_ = subprocess.run([sys.executable, "-m", "foot_traffic", "schema", "--asyncapi"], capture_output=True,
                          env={**os.environ, "LC_ALL": "C", "PYTHONIOENCODING": ""}, timeout=60)
    assert run_.returncode == 0, run_.stderr
    doc = json.loads(run_.stdout.decode("utf-8"))
    assert doc["asyncapi"] == "3.0.0" and set(doc["channels"]) == {"sessions", "events", "writers"}
