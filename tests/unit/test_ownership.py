"""Transactional ids: one per (topics, store, day), never per run; owner records describe a run."""

from __future__ import annotations

import json
import os
import re
from datetime import date

from foot_traffic.ownership import (
    describe_owner,
    describe_run,
    encode,
    owner_record,
    transactional_id,
    writers_topic,
)

DAY = date(2025, 6, 2)
TOPICS = ["foot_traffic", "foot_traffic_realistic"]


def test_the_id_depends_on_topics_store_and_day_only():
    tid = transactional_id(TOPICS, DAY)
    assert tid == transactional_id(list(TOPICS), date(2025, 6, 2))  # any run, any process
    assert re.fullmatch(r"foot-traffic/[0-9a-f]{16}/2025-06-02", tid)
    assert transactional_id(TOPICS, date(2025, 6, 3)) != tid
    assert transactional_id(["other", "foot_traffic_realistic"], DAY) != tid
    assert transactional_id(list(reversed(TOPICS)), DAY) != tid  # which topic holds sessions matters


def test_a_store_gets_its_own_id_per_day():
    a = transactional_id(TOPICS, DAY, "store-001")
    assert a == transactional_id(TOPICS, DAY, "store-001")
    assert a != transactional_id(TOPICS, DAY, "store-002") != transactional_id(TOPICS, DAY)
    assert a.endswith("/store-001/2025-06-02")


def test_long_topic_names_keep_the_id_short():
    long = ["t" * 249, "u" * 249]
    assert len(transactional_id(long, DAY, "s" * 40)) < 100


def test_the_writers_topic_sits_beside_the_session_topic_within_kafkas_limit():
    assert writers_topic("foot_traffic") == "foot_traffic_writers"
    assert len(writers_topic("x" * 249)) == 249 and writers_topic("x" * 249).endswith("_writers")


def test_an_owner_record_names_the_run_host_and_process():
    owner = describe_run("Airflow foot_traffic_daily/manual__1 produce_day try 1")
    value, ts_ms = owner_record(owner, "tid", DAY, None, "kafka-python")
    assert value["run"].startswith("Airflow") and value["pid"] == os.getpid() and value["host"]
    assert value["day"] == "2025-06-02" and value["transactional_id"] == "tid" and value["client"] == "kafka-python"
    assert len(value["writer"]) == 32 and ts_ms > 0
    assert json.loads(encode(value)) == value
    assert value["writer"] != owner_record(owner, "tid", DAY, None, "kafka-python")[0]["writer"]
    text = describe_owner(value)
    assert value["run"] in text and f"pid {os.getpid()}" in text and "kafka-python" in text


def test_an_unknown_owner_is_said_to_be_unknown():
    assert "not found" in describe_owner(None)
