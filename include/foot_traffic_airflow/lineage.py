"""OpenLineage for the producer: the two topics it wrote, as output datasets.

Lineage tools (Marquez, DataHub, any OpenLineage backend configured in Airflow) see which
Kafka topics a run fed. OpenLineage's naming for Kafka: namespace
``kafka://<bootstrap host>:<port>`` (the first bootstrap server), name = the topic.

The OpenLineage provider (``apache-airflow-providers-openlineage``) is optional: without
it, :meth:`TopicLineageMixin.get_openlineage_facets_on_complete` returns ``None`` and
nothing else changes. The provider calls the same method when a task fails (a failed
attempt may already have written part of the day), so one method covers both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def kafka_namespace(bootstrap_servers: str) -> str:
    """``kafka://host:port`` of the first bootstrap server (OpenLineage's Kafka naming)."""
    first = next((part.strip() for part in bootstrap_servers.split(",") if part.strip()), "")
    if not first:
        raise ValueError("no bootstrap server to name the Kafka namespace after")
    return f"kafka://{first}"


def topic_lineage(bootstrap_servers: str, topics: Sequence[str]) -> Any | None:
    """An ``OperatorLineage`` with one output dataset per topic; ``None`` without OpenLineage."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return None
    namespace = kafka_namespace(bootstrap_servers)
    return OperatorLineage(outputs=[Dataset(namespace=namespace, name=topic) for topic in dict.fromkeys(topics)])


class TopicLineageMixin:
    """Gives an operator ``get_openlineage_facets_on_complete`` for the topics it wrote.

    The operator calls :meth:`remember_topics` in ``execute`` once it knows the broker
    and the topics (after validation, before sending).
    """

    def remember_topics(self, bootstrap_servers: str, topics: Sequence[str]) -> None:
        self.__dict__["_ft_lineage"] = (bootstrap_servers, tuple(topics))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any | None:
        written = self.__dict__.get("_ft_lineage")
        if written is None:  # failed before the broker and topics were known: nothing was written
            try:
                from airflow.providers.openlineage.extractors import OperatorLineage
            except ImportError:
                return None
            return OperatorLineage()
        return topic_lineage(*written)
