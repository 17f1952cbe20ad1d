"""`foot-traffic validate` end to end on the real local broker: produce a day, read it back,
check it, draw it; and days it must reject (records deleted, records sent twice)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient

pytestmark = pytest.mark.integration
DAY = "2026-11-28"
FLAWS = {"SENSOR_MISS_RATE": "0.04", "SENSOR_DOUBLE_RATE": "0.02", "SENSOR_BATCH_SECONDS": "30", "SENSOR_UPLOAD_DELAY_SECONDS": "90"}


def run(bootstrap, topics, *args, **env):
    from foot_traffic.settings import Settings

    full_env = {k: v for k, v in os.environ.items() if k not in set(Settings.env_names())}
    full_env.update({
        "KAFKA_BROKER": bootstrap, "KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1],
        "RETRY_BACKOFF_SECONDS": "0.2", "MAX_RETRIES": "1", "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR", "/tmp/ft-mpl"),
        **{k: str(v) for k, v in env.items()},
    })
    return subprocess.run([sys.executable, "-m", "foot_traffic", *args], env=full_env, capture_output=True, text=True, timeout=300)


def test_a_retail_day_passes_validate_and_is_drawn(kafka_bootstrap, topics, tmp_path):
    env = {"SEED": 42, "FOOT_TRAFFIC_PROFILE": "retail"}
    produced = run(kafka_bootstrap, topics, "produce", "--date", DAY, **env)
    assert produced.returncode == 0, produced.stderr
    chart, report = tmp_path / "day.png", tmp_path / "report.json"
    checked = run(kafka_bootstrap, topics, "validate", "--date", DAY, "--chart", str(chart), "--json-file", str(report), **env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    out = checked.stdout
    assert "sessions = plan" in out and "arrivals per hour vs intensity (chi2)" in out and "PASS" in out
    doc = json.loads(report.read_text())
    assert doc["passed"] and doc["profile"] == "retail" and doc["plan_id"].startswith("v1:42:")
    assert {c["kind"] for c in doc["checks"]} >= {"exact", "test"}
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 30_000
    as_json = run(kafka_bootstrap, topics, "validate", "--date", DAY, "--json", **env)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == doc  # stdout: the document, nothing else


def test_a_day_with_sensor_flaws_passes_against_its_settings(kafka_bootstrap, topics):
    env = {"SEED": 7, "FOOT_TRAFFIC_PROFILE": "retail", "DAILY_CUSTOMERS": 2000, **FLAWS}
    assert run(kafka_bootstrap, topics, "produce", "--date", DAY, **env).returncode == 0
    checked = run(kafka_bootstrap, topics, "validate", "--date", DAY, **env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "double counts (binomial)" in checked.stdout and "gateway: one delay per window" in checked.stdout
    # the same day checked against other sensor settings is rejected
    other = run(kafka_bootstrap, topics, "validate", "--date", DAY, **{**env, "SENSOR_MISS_RATE": "0.2"})
    assert other.returncode == 1 and "FAIL" in other.stdout


def test_deleted_records_are_rejected(kafka_bootstrap, topics):
    env = {"SEED": 3, "FOOT_TRAFFIC_PROFILE": "retail", "DAILY_CUSTOMERS": 800}
    assert run(kafka_bootstrap, topics, "produce", "--date", DAY, **env).returncode == 0
    assert run(kafka_bootstrap, topics, "validate", "--date", DAY, **env).returncode == 0
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_records({TopicPartition(topics[0], 0): 5})  # the first 5 sessions of partition 0
    finally:
        admin.close()
    checked = run(kafka_bootstrap, topics, "validate", "--date", DAY, **env)
    assert checked.returncode == 1
    assert "5 missing" in checked.stdout and "FAIL" in checked.stdout


def test_records_sent_twice_are_rejected(kafka_bootstrap, topics):
    env = {"SEED": 4, "FOOT_TRAFFIC_PROFILE": "retail", "DAILY_CUSTOMERS": 500}
    assert run(kafka_bootstrap, topics, "produce", "--date", DAY, **env).returncode == 0
    again = run(kafka_bootstrap, topics, "produce", "--date", DAY, FOOT_TRAFFIC_RESUME=0, **env)  # duplicates by request
    assert again.returncode == 0
    checked = run(kafka_bootstrap, topics, "validate", "--date", DAY, **env)
    assert checked.returncode == 1
    assert "500 unexpected (500 twice)" in checked.stdout


def test_a_chain_validates_store_by_store(kafka_bootstrap, topics, tmp_path):
    chain = tmp_path / "chain.yaml"
    chain.write_text(
        """
stores:
  - id: rome-retail
    timezone: Europe/Rome
    base_daily_customers: 900
    profile: retail
    opening_hours: {mon-fri: "08:30-20:00", sat: "09:00-21:00"}
  - id: nyc-seed
    timezone: America/New_York
    base_daily_customers: 600
    opening_hours: {daily: "07:00-23:00"}
"""
    )
    env = {"SEED": 9, **FLAWS}
    assert run(kafka_bootstrap, topics, "produce", "--stores", str(chain), "--date", DAY, **env).returncode == 0
    checked = run(kafka_bootstrap, topics, "validate", "--stores", str(chain), "--date", DAY, "--chart", str(tmp_path / "c.png"), **env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 of 2 store-days pass" in checked.stdout
    assert (tmp_path / "c-rome-retail.png").exists() and (tmp_path / "c-nyc-seed.png").exists()


def test_a_broker_day_without_records_fails(kafka_bootstrap, topics):
    checked = run(kafka_bootstrap, topics, "validate", "--date", DAY, SEED=1, FOOT_TRAFFIC_PROFILE="retail")
    assert checked.returncode == 1 and "0 of" in checked.stdout
