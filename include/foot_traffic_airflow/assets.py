"""The topics a run wrote, as Airflow asset events: computed by the producer, emitted by one
small task at the end of the run.

Why a task of its own (``announce_topics``) rather than the producer's outlets: Airflow 3
creates the asset an alias resolves to the first time it sees it, by a check-then-insert
in the API server (``TaskInstance.register_asset_changes_in_db``). Two tasks finishing at
the same moment with an event for the same new asset both insert it; the loser's state
update fails on the unique key and Airflow marks that task *failed* after it delivered its
whole day (seen here with a backfill of three days: one of them "failed" on
``idx_asset_name_uri_unique``). Chain shards all finish at about the same time, and a
backfill's runs do too. So the producer only pushes its events to XCom
(``topic_assets``), and ``announce_topics`` (``max_active_tis_per_dag=1``) emits them,
one run at a time: the first creates each asset, the next find it.

It also gives downstream DAGs one event per topic and run: a chain day triggers them once,
when every shard has delivered, not once per shard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TOPIC_ASSETS_XCOM = "topic_assets"
ANNOUNCE_TASK_ID = "announce_topics"


def topic_asset_uri(bootstrap_server: str, topic: str) -> str:
    """The Kafka provider's asset URI (and OpenLineage's namespace): ``kafka://host:port/topic``."""
    return f"kafka://{bootstrap_server}/{topic}"


def topic_asset_events(
    bootstrap_servers: str, first_server: str, topics: Iterable[str], result: Mapping[str, Any],
    kafka_config_id: str,
) -> list[dict[str, Any]]:
    """One event per topic a producer task wrote: ``{"uri": ..., "extra": {...}}`` (XCom-safe)."""
    sent = result.get("sent_per_topic") or {}
    return [
        {
            "uri": topic_asset_uri(first_server, topic),
            "extra": {
                "day": result["day"],
                "bootstrap_servers": bootstrap_servers,
                "kafka_config_id": kafka_config_id,
                # A store's day (a chain shard) has one plan per store: see the XCom's per_store.
                "plan_id": result.get("plan_id"),
                "records_sent": int(sent.get(topic, 0)),  # by this run (a resume skips what was there)
            },
        }
        for topic in topics
    ]


def push_topic_assets(context: Mapping[str, Any], outlets: Iterable[Any], settings, result: Mapping[str, Any],
                      kafka_config_id: str) -> list[dict[str, Any]]:
    """Hand the topics a producer task wrote to the DAG's ``announce_topics`` task (XCom
    ``topic_assets``), named by the broker really used: ``kafka://<first bootstrap
    server>/<topic>``. An asset alias among the task's own ``outlets`` (a DAG of your own)
    is resolved here directly (see the module's docstring for why our DAGs announce in a
    task of its own). Returns the events."""
    from airflow.sdk import Asset, AssetAlias

    events = topic_asset_events(
        settings.bootstrap_servers, settings.kafka_broker[0],
        (settings.kafka_topic, settings.kafka_topic_realistic), result, kafka_config_id,
    )
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key=TOPIC_ASSETS_XCOM, value=events)
    aliases = [o for o in outlets or () if isinstance(o, AssetAlias)]
    outlet_events = context.get("outlet_events")
    if aliases and outlet_events is not None:
        for event in events:
            for alias in aliases:
                outlet_events[alias].add(Asset(event["uri"]), extra=event["extra"])
    return events


def merge_topic_asset_events(per_task: Iterable[Iterable[Mapping[str, Any]] | None]) -> list[dict[str, Any]]:
    """The events of every producer task of a run (a mapped task has one list per shard),
    one per topic: records summed; a field the tasks disagree on (a chain's plan ids) is None."""
    merged: dict[str, dict[str, Any]] = {}
    for events in per_task:
        for event in events or ():
            extra = dict(event["extra"])
            seen = merged.get(event["uri"])
            if seen is None:
                merged[event["uri"]] = {"uri": event["uri"], "extra": extra}
                continue
            for key, value in extra.items():
                if key == "records_sent":
                    seen["extra"][key] = seen["extra"].get(key, 0) + value
                elif seen["extra"].get(key) != value:
                    seen["extra"][key] = None
    return list(merged.values())


def per_task(value: Any) -> list[Any]:
    """The producer's ``topic_assets`` XCom as one list of events per task: a task that is not
    mapped pushed one list of events; a mapped one resolves to a sequence of such lists."""
    if not value:
        return []
    values = list(value)
    return [values] if isinstance(values[0], Mapping) else values


def announce_topics_task(**task_kwargs: Any):
    """The TaskFlow task ending each producer DAG (built here: the DAG files only wire)::

        announce_topics_task()(XComArg(produce, key=TOPIC_ASSETS_XCOM))

    A DAG whose producer is one of two tasks chosen by a branch (the chain's ``produce_shard``
    or ``backfill_shard``) passes both, and ``trigger_rule="none_failed_min_one_success"``
    (``task_kwargs``), so that the skipped one does not skip the announcement.
    """
    from airflow.sdk import Asset, get_current_context, task

    from foot_traffic_airflow.params import topics_alias

    alias = topics_alias()

    @task(task_id=ANNOUNCE_TASK_ID, outlets=[alias], max_active_tis_per_dag=1, **task_kwargs)
    def announce_topics(topic_assets: Any, other_assets: Any = None) -> list[str]:
        """Emit the run's topic asset events (one per topic), one run at a time."""
        events = merge_topic_asset_events([*per_task(topic_assets), *per_task(other_assets)])
        outlet_events = get_current_context()["outlet_events"]
        for event in events:
            outlet_events[alias].add(Asset(event["uri"]), extra=event["extra"])
        return [event["uri"] for event in events]

    return announce_topics
