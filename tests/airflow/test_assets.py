"""The topics' asset events: computed by each producer task, merged and emitted by one task."""

from __future__ import annotations

from foot_traffic_airflow.assets import merge_topic_asset_events, per_task, topic_asset_events

RESULT = {"day": "2025-11-07", "plan_id": "v1:7:500:abc", "sent_per_topic": {"ft": 500, "ftr": 1000}}


def test_one_event_per_topic_named_by_the_first_bootstrap_server():
    events = topic_asset_events("b1:9092,b2:9092", "b1:9092", ("ft", "ftr"), RESULT, "kafka_default")
    assert [e["uri"] for e in events] == ["kafka://b1:9092/ft", "kafka://b1:9092/ftr"]
    assert events[1]["extra"] == {
        "day": "2025-11-07", "bootstrap_servers": "b1:9092,b2:9092", "kafka_config_id": "kafka_default",
        "plan_id": "v1:7:500:abc", "records_sent": 1000,
    }


def test_a_topic_not_written_by_this_run_counts_zero_records():
    (event,) = topic_asset_events("b:1", "b:1", ("other",), RESULT, "c")
    assert event["extra"]["records_sent"] == 0


def test_shards_merge_into_one_event_per_topic_with_their_records_summed():
    shard = lambda plan, n: topic_asset_events("b:1", "b:1", ("ft", "ftr"),  # noqa: E731
                                               {"day": "2025-11-07", "plan_id": plan,
                                                "sent_per_topic": {"ft": n, "ftr": 2 * n}}, "c")
    merged = merge_topic_asset_events(per_task([shard(None, 10), shard(None, 5), None]))
    assert [(e["uri"], e["extra"]["records_sent"]) for e in merged] == [("kafka://b:1/ft", 15), ("kafka://b:1/ftr", 30)]
    assert merged[0]["extra"]["day"] == "2025-11-07"
    # fields the tasks disagree on are not made up
    assert merge_topic_asset_events([shard("p1", 1), shard("p2", 1)])[0]["extra"]["plan_id"] is None


def test_a_task_that_is_not_mapped_pushed_one_list():
    events = topic_asset_events("b:1", "b:1", ("ft",), RESULT, "c")
    assert per_task(events) == [events]
    assert per_task([events, events]) == [events, events]
    assert per_task(None) == [] and per_task([]) == []
