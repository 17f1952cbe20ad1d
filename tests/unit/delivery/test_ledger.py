"""The day ledger: ids per (topics, store, day), never per run; records folded into a store-day's state."""

from __future__ import annotations

import json
import os
import re
from datetime import date

from foot_traffic.delivery.ledger import (
    FINISHED,
    PROGRESS,
    Entry,
    describe_owner,
    describe_run,
    encode,
    ledger_topic,
    partition_of,
    progress_value,
    state_of,
    take_value,
    transactional_id,
    writer_id,
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


def test_the_producer_of_a_store_set_is_named_by_the_set_the_implicit_store_by_its_day():
    assert writer_id(TOPICS, DAY, [None]) == transactional_id(TOPICS, DAY)
    shard = writer_id(TOPICS, DAY, ["b", "a"])
    assert shard == writer_id(TOPICS, DAY, ["a", "b"]) and "/stores:" in shard
    assert shard != writer_id(TOPICS, DAY, ["a"]) and shard != transactional_id(TOPICS, DAY, "a")


def test_long_topic_names_keep_the_id_short():
    long = ["t" * 249, "u" * 249]
    assert len(transactional_id(long, DAY, "s" * 40)) < 100


def test_the_ledger_sits_beside_the_session_topic_within_kafkas_limit_a_day_in_one_partition():
    assert ledger_topic("foot_traffic") == "foot_traffic_writers"
    assert len(ledger_topic("x" * 249)) == 249 and ledger_topic("x" * 249).endswith("_writers")
    year = [partition_of(date.fromordinal(DAY.toordinal() + i), 366) for i in range(366)]
    assert sorted(year) == list(range(366))  # a year's days each in their own partition
    assert partition_of(DAY, 1) == 0  # a ledger topic of one partition still works


def test_a_take_record_names_the_run_host_and_process():
    owner = describe_run("Airflow foot_traffic_daily/manual__1 produce_day try 1", client="kafka-python")
    value = take_value(owner, key="tid", day=DAY, store=None, take=3, writes_with="tid", plan="v1:7:10:x", seed=7,
                       skip_before=None, scan=False)
    assert value["run"].startswith("Airflow") and value["pid"] == os.getpid() and value["host"]
    assert value["day"] == "2025-06-02" and value["transactional_id"] == "tid" and value["client"] == "kafka-python"
    assert len(value["writer"]) == 32 and value["take"] == 3 and value["v"] == 2
    assert json.loads(encode(value)) == value
    assert describe_run("x")["writer"] != owner["writer"]  # one identity per run
    text = describe_owner(value)
    assert value["run"] in text and f"pid {os.getpid()}" in text and "kafka-python" in text


def test_an_unknown_owner_is_said_to_be_unknown():
    assert "not found" in describe_owner(None)


def entry(value, offset=0, key="k"):
    return Entry(key, value, offset)


def test_a_store_days_position_is_its_last_committed_one_whoever_wrote_it():
    a, b = describe_run("a"), describe_run("b")
    take_a = take_value(a, key="k", day=DAY, store=None, take=1, writes_with="p", plan="P", seed=1,
                        skip_before=None, scan=False)
    take_b = take_value(b, key="k", day=DAY, store=None, take=2, writes_with="p", plan="P", seed=1,
                        skip_before=None, scan=False)
    records = [take_a, progress_value(a["writer"], 1, 40, finished=False), take_b,
               progress_value(b["writer"], 2, 90, finished=False)]
    state = state_of("k", [entry(v, i) for i, v in enumerate(records)], b["writer"])
    assert state.position == 90 and not state.finished and state.plan == "P" and state.seed == 1
    assert state.last_take.writer == b["writer"] and state.before_take.writer == a["writer"]
    done = state_of("k", [entry(v, i) for i, v in enumerate(
        records + [progress_value(b["writer"], 2, 120, finished=True, sent={"s": 40, "e": 80})])])
    assert done.finished and done.position == 120 and done.sent == {"s": 40, "e": 80}
    assert state_of("k", []).fresh and state_of("k", []).position == 0


def test_a_take_lost_by_the_broker_is_no_newer_run_the_take_counter_says_which_is_newer():
    mine, other = describe_run("mine"), describe_run("other")
    old = take_value(other, key="k", day=DAY, store=None, take=1, writes_with="p", plan="P", seed=1,
                     skip_before=None, scan=False)
    ours = take_value(mine, key="k", day=DAY, store=None, take=2, writes_with="p", plan="P", seed=1,
                      skip_before=None, scan=False)
    # the broker kept the older take only: its rank is below ours
    assert Entry("k", old, 0).rank < Entry("k", ours, 1).rank
    assert state_of("k", [entry(old)], mine["writer"]).last_take.writer == other["writer"]


def test_an_owner_record_from_before_positions_means_read_the_data_back():
    legacy = {"transactional_id": "k", "writer": "w", "day": "2025-06-02", "finished": True, "segments": {}}
    state = state_of("k", [entry(legacy)])
    assert state.position is None and not state.finished and state.taken
    assert {FINISHED, PROGRESS} == {"finished", "progress"}
