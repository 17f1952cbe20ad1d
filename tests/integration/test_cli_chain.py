"""`foot-traffic produce --stores` against a real broker: every store's local day, exactly.

The example chain (ten stores, nine time zones) for Black Friday 2026-11-27 is read back
from the broker and compared, store by store, with its plan regenerated from the engine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from foot_traffic.settings import Settings
from foot_traffic.plan.stores import load_catalogue
from tests.support.chain_check import landed, planned, problems

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml"
DAY = "2026-11-27"


def produce(bootstrap, topics, *args, wait=True, **env):
    full_env = {
        **{k: v for k, v in os.environ.items() if k not in Settings.env_names()},
        "KAFKA_BROKER": bootstrap,
        "KAFKA_TOPIC": topics[0],
        "KAFKA_TOPIC_REALISTIC": topics[1],
        "RETRY_BACKOFF_SECONDS": "0.2",
        "MAX_RETRIES": "1",
        **{k: str(v) for k, v in env.items()},
    }
    cmd = [sys.executable, "-m", "foot_traffic", "produce", *args]
    if not wait:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=600)


def settings_for(topics, **env):
    return Settings.from_env({"KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1],
                              **{k: str(v) for k, v in env.items()}})


def test_the_example_chain_lands_exactly_as_planned_store_by_store(kafka_bootstrap, topics, tmp_path):
    summary = tmp_path / "summary.json"
    run = produce(kafka_bootstrap, topics, "--stores", str(EXAMPLE), "--date", DAY, "--summary-json", str(summary), SEED=7)
    assert run.returncode == 0, run.stderr[-3000:]
    chain = load_catalogue(EXAMPLE)
    records = landed(kafka_bootstrap, topics)
    assert problems(chain, date.fromisoformat(DAY), settings_for(topics, SEED=7), records) == []
    want = planned(chain, date.fromisoformat(DAY), settings_for(topics, SEED=7))
    assert len(records) == sum(len(v) for v in want.values()) > 50_000
    stores = json.loads(summary.read_text())
    assert {s["store_id"] for s in stores} == {s.id for s in chain}
    assert all(s["finished"] and s["records_sent"] == 3 * s["total_visits"] for s in stores)
    # local times with the store's offset: New York on Black Friday is UTC-5
    ny = next(json.loads(r.value) for r in records if r.header("ft-store") == "new-york-5th-ave")
    assert ny["store_id"] == "new-york-5th-ave" and ny.get("time", ny.get("entry_time")).endswith("-05:00")

    again = produce(kafka_bootstrap, topics, "--stores", str(EXAMPLE), "--date", DAY, SEED=7)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("is already complete: nothing to send") == 10
    assert len(landed(kafka_bootstrap, topics)) == len(records)


def test_stores_file_variable_and_a_bad_catalogue(kafka_bootstrap, topics, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"stores": [{"id": "x", "timezone": "Nowhere/City", "opening_hours": {"mon": "9-5"}}]}))
    run = produce(kafka_bootstrap, topics, "--date", DAY, STORES_FILE=bad, SEED=1)
    assert run.returncode == 2
    assert "store x.timezone" in run.stderr and "store x.opening_hours.mon" in run.stderr
    assert "store x.base_daily_customers: missing" in run.stderr
    assert landed(kafka_bootstrap, topics) == []


def test_killed_mid_chain_then_restarted_completes_every_store_exactly(kafka_bootstrap, topics, tmp_path):
    """SIGKILL in the middle of a paced chain day, then a full-speed restart: per-store resume."""
    chain_file = tmp_path / "chain.yaml"
    doc = yaml.safe_load(EXAMPLE.read_text())
    for store in doc["stores"]:
        store["base_daily_customers"] = store["base_daily_customers"] // 4
    chain_file.write_text(yaml.safe_dump(doc))
    proc = produce(kafka_bootstrap, topics, "--stores", str(chain_file), "--date", DAY, "--from-midnight",
                   wait=False, SEED=21, TIME_SCALE=30000, SLEEP=0.05)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(landed(kafka_bootstrap, topics)) < 3000:
            time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = len(landed(kafka_bootstrap, topics))
    chain = load_catalogue(chain_file)
    want = planned(chain, date.fromisoformat(DAY), settings_for(topics, SEED=21))
    assert 0 < partial < sum(len(v) for v in want.values()), "the kill came mid-day"
    run = produce(kafka_bootstrap, topics, "--stores", str(chain_file), "--date", DAY, SEED=21)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "resuming" in run.stderr
    assert problems(chain, date.fromisoformat(DAY), settings_for(topics, SEED=21), landed(kafka_bootstrap, topics)) == []
