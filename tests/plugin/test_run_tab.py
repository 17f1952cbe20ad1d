"""The run tab on real runs (``airflow dags test`` on the real broker): a chain run as a
table of its stores and shards, a chain run followed while it runs (progress, any store
picked), a failed run's cause, and the day each run played in the recent runs."""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import date

import pytest

from foot_traffic.plan.stores import load_catalogue
from tests.support.services import kill_tree

from .conftest import (
    CHAIN_DAY, FAILED_DAY, RUN_DAY, airflow_env, conn_json, dags_test_command, fresh_topics, run_of, small_chain_file,
)
from .test_app import get, run_url


@pytest.fixture
def kafka_env(monkeypatch, kafka_bootstrap):
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", conn_json(kafka_bootstrap))
    monkeypatch.setenv("FOOT_TRAFFIC_UI_READBACK_TIMEOUT", "30")


def test_a_chain_runs_tab_is_a_table_of_its_stores_and_one_of_its_shards(client, admin_token, chain_run, kafka_env):
    data = get(client, run_url(chain_run, api=True), admin_token).json()
    chain = data["chain"]
    day = date.fromisoformat(CHAIN_DAY)
    assert chain["day"] == CHAIN_DAY
    rows = {r["store_id"]: r for r in chain["stores"]}
    catalogue = load_catalogue(chain_run["chain_file"])
    assert list(rows) == [s for s in data["stores"]] and sorted(rows) == sorted(chain_run["stores"])
    for store in catalogue:
        row = rows[store.id]
        assert (row["name"], row["timezone"], row["hours"]) == (store.name, store.timezone, store.hours_text(day))
        assert row["status"] == "complete", row
        assert row["visits"] > 0 and row["delivered"] == row["read_back"] == 3 * row["visits"], row
    assert [s["map_index"] for s in chain["shards"]] == [0, 1, 2]
    assert all(s["status"] == "done" and s["state"] == "success" for s in chain["shards"])
    assert sorted(x for s in chain["shards"] for x in s["stores"]) == sorted(chain_run["stores"])
    assert all(rows[x]["shard"] == s["map_index"] for s in chain["shards"] for x in s["stores"])

    html = get(client, run_url(chain_run), admin_token).text
    assert len(re.findall(r'<tr data-store="[^"]+" data-status="complete">', html)) == len(catalogue)
    assert len(re.findall(r'<tr id="shard-\d+"', html)) == 3
    assert '<section class="delivery"' not in html, "the table, not a section per store"
    assert html.count("<th>Attempts</th>") == 1 and "Max lag" not in html  # shard values once, in the shard table
    one = get(client, run_url(chain_run) + "?store=tokyo-shibuya", admin_token).text
    assert one.count('<section class="delivery"') == 1 and "Store tokyo-shibuya: its local day" in one
    assert "Asia/Tokyo" in one and len(re.findall(r'<tr id="shard-\d+"', one)) == 1


def test_a_failed_runs_tab_names_the_cause(client, admin_token, failed_run):
    data = get(client, run_url(failed_run, api=True), admin_token).json()
    (delivery,) = data["deliveries"]
    assert delivery["verdict"] == "failed"
    assert delivery["verdict_text"].startswith("task failed: AirflowFailException: produce_day: invalid settings, "
                                               "nothing was sent"), delivery["verdict_text"]
    assert "/nonexistent/profile.yaml" in delivery["verdict_text"] and "no summary" not in delivery["verdict_text"]
    html = get(client, run_url(failed_run), admin_token).text
    assert "AirflowFailException: produce_day: invalid settings" in html


def test_recent_runs_name_the_day_each_run_played(client, admin_token, chain_run, failed_run, producer_run):
    html = get(client, "/foot-traffic/", admin_token).text
    for run, day in ((chain_run, CHAIN_DAY), (failed_run, FAILED_DAY), (producer_run, RUN_DAY)):
        row = re.search(rf'<tr data-run="{re.escape(run["run_id"])}">.*?<td class="day">([^<]*)</td>', html)
        assert row and row.group(1) == day, run


# -- a chain run while it runs -------------------------------------------------------------------
LIVE_DAY = "2026-11-20"  # a past Friday, paced from its first midnight: 3,600 simulated seconds a second


@pytest.fixture(scope="module")
def live_chain(airflow_db, kafka_bootstrap, tmp_path_factory):
    """``airflow dags test`` of the chain DAG in the background, about a minute and a half long."""
    folder = tmp_path_factory.mktemp("live-chain")
    topics = fresh_topics("plive")
    chain_file, stores = small_chain_file(folder)
    conf = {"seed": 3, "shard_size": 4, "stores_file": str(chain_file), "topic": topics[0],
            "topic_realistic": topics[1], "time_scale": 3600.0, "from_midnight": True}
    log_path = folder / "dags-test.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(dags_test_command("foot_traffic_chain_daily", LIVE_DAY, conf),
                                env=airflow_env(AIRFLOW_CONN_KAFKA_DEFAULT=conn_json(kafka_bootstrap)),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield {"proc": proc, "log": log_path, "topic": topics[0], "stores": stores, "bootstrap": kafka_bootstrap}
    finally:
        if proc.poll() is None:
            kill_tree(proc, grace=30)


def wait_for(what: str, probe, timeout: float = 150.0, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def test_a_running_chain_run_shows_its_progress_and_any_store_can_be_picked(client, admin_token, live_chain, kafka_env):
    proc = live_chain["proc"]

    def the_run():
        assert proc.poll() is None, live_chain["log"].read_text(errors="replace")[-3000:]
        try:
            return run_of("foot_traffic_chain_daily", live_chain["topic"])
        except StopIteration:
            return None

    run = wait_for("the run exists", the_run, 60)

    def running_store():
        assert proc.poll() is None, live_chain["log"].read_text(errors="replace")[-3000:]
        data = get(client, run_url(run, api=True), admin_token).json()
        chain = data.get("chain") or {}
        rows = [r for r in chain.get("stores", []) if r["status"] == "running" and r["delivered"]]
        return (data, rows[0]) if rows else None

    data, row = wait_for("a store's progress while its shard runs", running_store)
    chain = data["chain"]
    assert data["state"] == "running" and chain["day"] == LIVE_DAY
    assert sorted(r["store_id"] for r in chain["stores"]) == sorted(live_chain["stores"]), "every store, from the start"
    assert chain["shards"][row["shard"]]["status"] == "running"
    assert "records" in row["text"] and " as of " in row["text"] and row["timezone"] and row["hours"]
    last = [r for r in chain["stores"] if r["shard"] == max(s["shard"] for s in chain["stores"])]
    assert all(r["status"] in {"pending", "waiting"} for r in last), last  # its shard has not started

    # ?store= for a store whose shard has not reported (it answered 404 before).
    picked = get(client, run_url(run, api=True) + "?store=" + last[0]["store_id"], admin_token)
    assert picked.status_code == 200, picked.text
    assert [r["store_id"] for r in picked.json()["chain"]["stores"]] == [last[0]["store_id"]]
    mine = get(client, run_url(run, api=True) + "?store=" + row["store_id"], admin_token).json()["chain"]["stores"][0]
    assert mine["read_back"] is not None and mine["read_back"] > 0, mine  # what the topics hold of it so far
    html = get(client, run_url(run) + "?store=" + row["store_id"], admin_token).text
    assert 'data-status="running"' in html and "<h2>Its shard</h2>" in html

    # The progress XCom stays small: about 40 bytes per store-day.
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        pushed = [XComModel.deserialize_value(x) for x in session.scalars(select(XComModel).where(
            XComModel.run_id == run["run_id"], XComModel.key == "progress"))]
    assert pushed and all(len(json.dumps(value)) < 200 + 60 * len(value.get("stores") or {}) for value in pushed)

    assert proc.wait(240) == 0, live_chain["log"].read_text(errors="replace")[-3000:]
    log = live_chain["log"].read_text(errors="replace")
    costs = [(int(n), float(ms), int(size)) for n, ms, size in re.findall(
        r"progress for the UI: (\d+) XCom pushes, ([\d.]+) ms each on average, at most (\d+) bytes", log)]
    assert costs and all(size < 600 and ms < 250 for _, ms, size in costs), costs
    print("progress XCom per shard (pushes, ms each, largest bytes):", costs)
    done = get(client, run_url(run, api=True), admin_token).json()["chain"]
    assert {r["status"] for r in done["stores"]} == {"complete"}, [(r["store_id"], r["text"]) for r in done["stores"]]
