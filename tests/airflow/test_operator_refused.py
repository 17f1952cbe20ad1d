"""A record the broker refuses fails the Airflow task without a retry: a retry is refused again.

On a schema-enforcing broker (Tansu) whose session schema does not know a field the
producer writes; the operator's error names the topic and the broker's reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from foot_traffic_airflow.operators import FootTrafficProducerOperator
from tests.support.kafka_read import read_topic
from tests.support.tansu import TansuBroker, install_refusing_schemas

from .conftest import kafka_conn_json

pytestmark = pytest.mark.integration


def test_a_refused_record_fails_the_task_without_retry(tmp_path, monkeypatch, topics, clean_producer_env):
    with TansuBroker(tmp_path / "tansu") as tansu:
        monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", kafka_conn_json(tansu.bootstrap))
        install_refusing_schemas(tansu, topics)
        op = FootTrafficProducerOperator(task_id="p", settings={"topic": topics[0], "topic_realistic": topics[1],
                                                                 "seed": 7, "daily_customers": 200, "max_retries": 3})
        context = {"logical_date": datetime(2025, 11, 7, tzinfo=UTC), "dag_run": SimpleNamespace(run_after=None),
                   "data_interval_end": None}
        with pytest.raises(AirflowFailException) as failed:  # not AirflowException alone: no retry
            op.execute(context)
        text = str(failed.value)
        assert text.startswith(f"{date(2025, 11, 7)}: delivery failed") and "INVALID_RECORD" in text
        assert f"topic {topics[0]}" in text or f"topic {topics[1]}" in text
        assert read_topic(tansu.bootstrap, topics[0]) == [] and read_topic(tansu.bootstrap, topics[1]) == []
