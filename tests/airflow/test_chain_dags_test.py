"""End to end: ``airflow dags test foot_traffic_chain_daily 2026-11-27`` against the local broker.

The example chain's Black Friday, cut into shards and played by the mapped tasks, lands
exactly as ``foot-traffic produce --stores <example chain> --date 2026-11-27`` writes it
(store by store, the same keys, values, headers and timestamps); a bad catalogue entry
fails the catalogue check and nothing is sent.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
import yaml

from foot_traffic.settings import Settings
from foot_traffic.plan.stores import load_catalogue
from tests.support.chain_check import landed, problems

from .conftest import BIN, airflow_dags_test, subprocess_env

pytestmark = [pytest.mark.airflow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml"
DAY = "2026-11-27"


def per_store(records, pair):
    out = defaultdict(set)
    for r in records:
        role = "sessions" if r.topic == pair[0] else "events"
        out[r.header("ft-store")].add((role, r.key, r.value, r.headers, r.timestamp_ms))
    return out


def test_chain_dags_test_writes_what_foot_traffic_produce_writes(airflow_home, kafka_bootstrap, topics, tmp_path):
    chain_file = tmp_path / "chain.yaml"
    doc = yaml.safe_load(EXAMPLE.read_text())
    for store in doc["stores"]:
        store["base_daily_customers"] //= 5
    chain_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = airflow_dags_test(
        airflow_home, kafka_bootstrap, DAY,
        {"seed": 7, "shard_size": 3, "stores_file": str(chain_file), "topic": topics[0], "topic_realistic": topics[1]},
        dag_id="foot_traffic_chain_daily", timeout=400,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "DagRun Finished" in log and "state=failed" not in log, log[-4000:]
    assert log.count("rendered_map_index='") >= 4  # four shards of at most three stores, named by their stores
    assert "rendered_map_index='sydney-george-st, tokyo-shibuya, rome-centro'" in log

    chain = load_catalogue(chain_file)
    settings = Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1], "SEED": "7"})
    from_airflow = landed(kafka_bootstrap, topics)
    assert problems(chain, date.fromisoformat(DAY), settings, from_airflow) == []

    cli_topics = (topics[0].replace("ft_", "fc_", 1), topics[1].replace("ftr_", "fcr_", 1))
    env = subprocess_env(KAFKA_BROKER=kafka_bootstrap, KAFKA_TOPIC=cli_topics[0], KAFKA_TOPIC_REALISTIC=cli_topics[1], SEED="7")
    cli = subprocess.run([str(BIN / "foot-traffic"), "produce", "--stores", str(chain_file), "--date", DAY],
                         env=env, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert per_store(from_airflow, topics) == per_store(landed(kafka_bootstrap, cli_topics), cli_topics)


def test_a_bad_store_fails_the_catalogue_check_and_nothing_is_sent(airflow_home, kafka_bootstrap, topics, tmp_path):
    chain_file = tmp_path / "chain.yaml"
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["stores"][3]["opening_hours"] = {"mon-fri": "09:00-25:00"}
    chain_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = airflow_dags_test(
        airflow_home, kafka_bootstrap, DAY,
        {"seed": 7, "stores_file": str(chain_file), "topic": topics[0], "topic_realistic": topics[1]},
        dag_id="foot_traffic_chain_daily",
    )
    log = proc.stdout + proc.stderr
    assert "store london-soho.opening_hours.mon-fri" in log, log[-4000:]
    assert "state=failed" in log or proc.returncode != 0
    assert "starting task_id=check_catalogue" in log and "starting task_id=produce_shard" not in log
    assert landed(kafka_bootstrap, topics) == []
