"""OpenLineage: the producer reports its two topics as output datasets (kafka://<bootstrap>),
and nothing depends on the OpenLineage provider being installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from foot_traffic_airflow.lineage import kafka_namespace, topic_lineage
from foot_traffic_airflow.operators import FootTrafficProducerOperator

from .conftest import BIN, ROOT, airflow_env, conn_json


def test_namespace_is_the_first_bootstrap_server():
    assert kafka_namespace("broker-1:9094, broker-2:9094") == "kafka://broker-1:9094"
    with pytest.raises(ValueError):
        kafka_namespace(" , ")


def test_the_operator_reports_the_topics_it_wrote():
    pytest.importorskip("airflow.providers.openlineage")
    op = FootTrafficProducerOperator(task_id="p")
    empty = op.get_openlineage_facets_on_complete(None)
    assert empty.outputs == [] and empty.inputs == []  # failed before knowing the broker: wrote nothing
    op.remember_topics("127.0.0.1:9092,other:9092", ["sessions", "events"])
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("kafka://127.0.0.1:9092", "sessions"), ("kafka://127.0.0.1:9092", "events")]
    assert topic_lineage("b:1", ["same", "same"]).outputs[0].name == "same"
    assert len(topic_lineage("b:1", ["same", "same"]).outputs) == 1


def test_without_the_openlineage_provider_nothing_breaks():
    """In a fresh interpreter that sees neither ``openlineage`` nor the provider: their
    modules cannot be imported and their distributions (entry points) are hidden, as when
    they are not installed."""
    code = (
        "import sys, importlib.metadata, importlib_metadata\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'openlineage' or name.startswith(('openlineage.', 'airflow.providers.openlineage')):\n"
        "            raise ModuleNotFoundError('No module named ' + repr(name), name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "for m in (importlib.metadata, importlib_metadata):\n"
        "    real = m.distributions\n"
        "    m.distributions = (lambda real: lambda **kw: [d for d in real(**kw)\n"
        "        if 'openlineage' not in (d.metadata['Name'] or '').lower()])(real)\n"
        "from foot_traffic_airflow.lineage import topic_lineage\n"
        "from foot_traffic_airflow.operators import FootTrafficProducerOperator\n"
        "op = FootTrafficProducerOperator(task_id='p')\n"
        "assert op.get_openlineage_facets_on_complete(None) is None\n"
        "op.remember_topics('b:1', ['a', 'b'])\n"
        "assert op.get_openlineage_facets_on_complete(None) is None\n"
        "assert topic_lineage('b:1', ['a']) is None\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=airflow_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


@pytest.mark.airflow
def test_an_airflow_run_emits_the_topics_as_openlineage_outputs(airflow_db, kafka_bootstrap, topics, tmp_path):
    """``airflow dags test`` with OpenLineage's file transport: the task's COMPLETE event
    names both topics in the broker's namespace (and the DAG's Assets stay kafka:// URIs)."""
    pytest.importorskip("airflow.providers.openlineage")
    events_file = tmp_path / "openlineage.jsonl"
    env = airflow_env(
        AIRFLOW_CONN_KAFKA_DEFAULT=conn_json(kafka_bootstrap),
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps({"type": "file", "log_file_path": str(events_file), "append": True}),
        AIRFLOW__OPENLINEAGE__NAMESPACE="foot-traffic-tests",
    )
    conf = {"seed": 3, "daily_customers": 20, "topic": topics[0], "topic_realistic": topics[1]}
    proc = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "foot_traffic_daily", "2025-11-03", "-c", json.dumps(conf)],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = [e for e in events if e.get("eventType") == "COMPLETE" and e["job"]["name"].endswith(".produce_day")]
    assert complete, [(e.get("eventType"), e["job"]["name"]) for e in events]
    outputs = [(o["namespace"], o["name"]) for o in complete[-1]["outputs"]]
    assert outputs == [(f"kafka://{kafka_bootstrap.split(',')[0]}", topics[0]),
                       (f"kafka://{kafka_bootstrap.split(',')[0]}", topics[1])]
    assert os.path.getsize(events_file) > 0
