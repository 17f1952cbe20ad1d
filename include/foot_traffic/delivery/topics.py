"""The topics a run writes: creating the missing ones, and where a key's records land."""

from __future__ import annotations

import logging
import threading

from foot_traffic.delivery.options import KafkaOptions

log = logging.getLogger(__name__)

# A topic's own layout: (partitions, extra topic configs); others get TOPIC_PARTITIONS.
Layout = tuple[int, dict[str, str]]


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition kafka-python's (and Java's) default partitioner picks for ``key``."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def ensure_topics(
    options: KafkaOptions,
    topics: list[str],
    stop: threading.Event,
    *,
    layouts: dict[str, Layout] | None = None,
) -> None:
    """Create missing topics with the configured partitions, replication and retention;
    ``layouts`` gives some topics their own partition count and configs (the day ledger)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from foot_traffic.delivery.connect import retry_connect

    layouts = layouts or {}
    admin = retry_connect(
        lambda: KafkaAdminClient(client_id="foot-traffic-admin", **options.common()), options, stop, "Kafka admin"
    )
    try:
        existing = set(admin.list_topics())
        for topic in (t for t in topics if t not in existing):
            partitions, extra = layouts.get(topic, (options.partitions, {}))
            configs = {"retention.ms": str(options.retention_ms), **extra}
            new = NewTopic(topic, partitions, options.replication_factor, topic_configs=configs)
            try:
                admin.create_topics([new])
            except TopicAlreadyExistsError:
                continue
            log.info(
                "created topic %s (%d partitions, replication %d, %s)",
                topic, partitions, options.replication_factor, ", ".join(f"{k} {v}" for k, v in configs.items()),
            )
    finally:
        admin.close()
