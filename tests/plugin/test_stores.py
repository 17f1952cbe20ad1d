"""A store catalogue's day on the run page: every store's summary (as the runner writes it)
against its own records, read back from the real broker store by store."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime

import pytest

from foot_traffic_airflow.ui.readback import read_back
from foot_traffic_airflow.ui.runs import ProducerRun, ProducerTask
from foot_traffic_airflow.ui.views import run_view

from .conftest import BIN, ROOT, airflow_env, conn_json

CHAIN = ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml"
DAY = "2025-11-23"  # a past Sunday (sent at full speed): Berlin Mitte is closed


@pytest.mark.integration
def test_every_store_of_a_catalogue_day_is_checked_against_its_own_records(kafka_bootstrap, topics, tmp_path,
                                                                             monkeypatch):
    summary_file = tmp_path / "summaries.json"
    env = airflow_env(KAFKA_BROKER=kafka_bootstrap, KAFKA_TOPIC=topics[0], KAFKA_TOPIC_REALISTIC=topics[1],
                      SEED="7", TIME_SCALE="1")
    proc = subprocess.run(
        [str(BIN / "foot-traffic"), "produce", "--stores", str(CHAIN), "--date", DAY, "--summary-json",
         str(summary_file)],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    data = json.loads(summary_file.read_text())
    summaries = data if isinstance(data, list) else data.get("days") or data.get("summaries") or [data]
    assert len(summaries) >= 2 and all("store_id" in s for s in summaries)

    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", conn_json(kafka_bootstrap))
    run = ProducerRun("foot_traffic_chain_daily", "manual__x", "success", "manual",
                      datetime(2025, 11, 23, tzinfo=UTC), None, None, None, {}, [],
                      params={"topic": topics[0], "topic_realistic": topics[1]})
    run.tasks.append(ProducerTask("produce_day", 0, "success", 1, None, None, 1.0, "shard 0",
                                  rendered={"settings": None}, summaries=summaries))
    view = run_view(run, lambda task, day, t, store=None: read_back("kafka_default", day, t, 30.0, store=store))
    assert len(view.deliveries) == len(summaries)
    for d, s in zip(view.deliveries, summaries):
        assert d.label.startswith(f"store {s['store_id']}")
        assert d.verdict == "complete", (s["store_id"], d.verdict_text, d.readback and d.readback.error)
        if s.get("closed"):
            continue
        assert [t.read_back for t in d.topics] == [s["total_visits"], 2 * s["total_visits"]], s["store_id"]
        assert {c.status for c in d.slots} == {"ok"}
    assert any(s.get("closed") for s in summaries)  # Berlin on a Sunday
    assert os.path.getsize(summary_file) > 0 and date.fromisoformat(summaries[0]["day"])
