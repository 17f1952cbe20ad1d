"""A chain run's tab without a database: stores and shards from what the tasks pushed
(the first task's stores, a running shard's progress, a failed shard's cause), each
store's row with only its own values; and the pages' smaller promises (the day played
in recent runs, plain seeds, the plan page link's week)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlsplit

from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.model.profile import original_profile
from foot_traffic.settings import Settings
from foot_traffic_airflow.ui import inputs, render
from foot_traffic_airflow.ui.chainview import chain_view
from foot_traffic_airflow.ui.runs import ProducerRun, ProducerTask, RunRow, only_store, run_stores
from foot_traffic_airflow.ui.views import RunView, delivery_from_summary, plan_view, run_view

DAY = "2026-11-27"
INFO = {"day": DAY, "stores": {
    "tokyo": {"name": "Tokyo Shibuya", "timezone": "Asia/Tokyo", "hours": "10:00-21:00", "shard": 0},
    "berlin": {"name": "Berlin Mitte", "timezone": "Europe/Berlin", "hours": "closed", "shard": 0},
    "rome": {"name": "Roma Centro", "timezone": "Europe/Rome", "hours": "08:30-20:00", "shard": 0},
    "new-york": {"name": "New York", "timezone": "America/New_York", "hours": "09:00-21:00", "shard": 1},
    "la": {"name": "LA Venice", "timezone": "America/Los_Angeles", "hours": "10:00-20:00", "shard": 1},
}}
AT = "2026-11-27T09:30:00+00:00"


def shard(index: int, state: str, **xcoms) -> ProducerTask:
    return ProducerTask("produce_shard", index, state, 1, None, None, None, "…", rendered={"settings": None},
                        day=DAY, **xcoms)


def chain_run(*tasks: ProducerTask, state: str = "running") -> ProducerRun:
    return ProducerRun("foot_traffic_chain_daily", "scheduled__x", state, "scheduled",
                       datetime(2026, 11, 26, 10, tzinfo=UTC), None, None, None, {}, list(tasks),
                       params={"seed": 7}, store_days=INFO)


RUNNING = chain_run(
    shard(0, "running", progress={"at": AT, "records_sent": 450, "stores": {
        "tokyo": [100, 150, 0, "open"], "berlin": [0, 0, 0, "closed"], "rome": [50, 150, 0, "done"]}}),
    shard(1, "deferred", progress={"at": AT, "waiting_until": "2026-11-27T05:00:00+00:00", "stores": 2}),
)


def rows_of(view) -> dict[str, tuple[str, str]]:
    return {r.store_id: (r.status, r.text) for r in view.stores}


def test_a_running_chain_run_has_every_store_by_shard_with_its_progress():
    stores = run_stores(RUNNING)
    assert stores == ["tokyo", "berlin", "rome", "new-york", "la"]  # all of them, before any shard reported
    run = run_view(RUNNING, lambda *a, **k: None)
    assert run.deliveries == []  # no summary yet: the rows say how far each store is
    view = chain_view(RUNNING, run.deliveries, stores)
    rows = rows_of(view)
    assert rows["tokyo"] == ("running", "150 of about 300 records (50%) as of 09:30:00 UTC")
    assert rows["berlin"][0] == "closed" and rows["rome"][0] == "complete"
    assert rows["new-york"] == ("waiting", "its shard waits for its first midnight, until 05:00:00 UTC")
    tokyo = view.stores[0]
    assert (tokyo.timezone, tokyo.hours, tokyo.shard, tokyo.visits, tokyo.delivered) == ("Asia/Tokyo", "10:00-21:00", 0, 100, 150)
    first, second = view.shards
    assert first.status == "running" and first.text.startswith("2 of 3 store-days done, 1 under way; 450 records sent")
    assert second.status == "waiting" and "until 05:00:00 UTC" in second.text
    assert view.counts() == {"running": 1, "closed": 1, "complete": 1, "waiting": 2}


def test_a_store_of_a_running_shard_can_be_picked():
    picked = only_store(RUNNING, "la")
    assert [t.map_index for t in picked.tasks] == [1]
    view = chain_view(picked, run_view(picked, lambda *a, **k: None).deliveries, ["la"])
    assert [r.store_id for r in view.stores] == ["la"] and [s.map_index for s in view.shards] == [1]
    assert view.shards[0].stores == ["new-york", "la"], "the shard's own stores, not only the one picked"


def test_a_failed_shard_says_why_and_which_stores_it_left_short():
    failed = chain_run(shard(0, "failed", progress={"at": AT, "stores": {"tokyo": [100, 120, 0, "open"],
                                                                         "rome": [50, 150, 0, "done"]}},
                             failure={"error": "AirflowException", "message": "2026-11-27: delivery failed, the "
                                      "shard's day is incomplete: broker 127.0.0.1:1 refused the connection"}),
                       shard(1, "upstream_failed"), state="failed")
    view = chain_view(failed, [], run_stores(failed))
    rows = rows_of(view)
    assert rows["tokyo"] == ("incomplete", "120 of about 300 records when its shard failed")
    assert rows["rome"] == ("complete", "delivered before its shard stopped")
    assert rows["berlin"][0] == "failed"
    assert view.shards[0].status == "failed"
    assert view.shards[0].text == ("AirflowException: 2026-11-27: delivery failed, the shard's day is incomplete: "
                                   "broker 127.0.0.1:1 refused the connection")


def test_a_failed_one_store_task_names_its_cause_not_a_missing_summary():
    run = ProducerRun("foot_traffic_daily", "manual__x", "failed", "manual", datetime(2025, 11, 7, tzinfo=UTC),
                      None, None, None, {}, [], params={"seed": 7})
    run.tasks.append(ProducerTask("produce_day", -1, "failed", 1, None, None, 1.0, None, rendered={"settings": None},
                                  failure={"error": "AirflowFailException", "message": "produce_day: invalid settings"}))
    (d,) = run_view(run, lambda *a, **k: None).deliveries
    assert d.verdict == "failed" and d.verdict_text == "task failed: AirflowFailException: produce_day: invalid settings"
    run.tasks[0].failure = None  # killed from outside: nothing recorded
    (d,) = run_view(run, lambda *a, **k: None).deliveries
    assert "see the task's log" in d.verdict_text and "returned no summary" not in d.verdict_text


def page(run: ProducerRun, store: str | None = None) -> str:
    picked = only_store(run, store) if store else run
    view = run_view(picked, lambda *a, **k: None)
    stores = run_stores(run)
    view.stores, view.store = stores, store
    view.chain = chain_view(picked, view.deliveries, [store] if store else stores)
    return render.run_page(view)


def test_the_chain_tab_is_a_table_of_stores_and_one_of_shards():
    html = page(RUNNING)
    rows = re.findall(r'<tr data-store="([^"]+)" data-status="([^"]+)">', html)
    assert rows == [("tokyo", "running"), ("berlin", "closed"), ("rome", "complete"), ("new-york", "waiting"),
                    ("la", "waiting")]
    assert re.findall(r'<tr id="shard-(\d)" data-shard="\d" data-status="([^"]+)"', html) == [("0", "running"),
                                                                                          ("1", "waiting")]
    assert '<section class="delivery"' not in html and "day played 2026-11-27" in html
    assert html.count("Asia/Tokyo") == 1 and "10:00-21:00" in html
    one = page(RUNNING, "la")
    assert re.findall(r'<tr data-store="([^"]+)"', one) == ["la"] and "<h2>Its shard</h2>" in one
    assert '<option value="la" selected>' in one


def test_seeds_are_printed_as_they_are_set():
    summary = {"day": "2025-11-07", "plan_id": "v1:1234567:300:c52c6b05960d5dfd", "seed": 1234567,
               "total_visits": 300, "planned_per_slot": {}, "sent_per_topic": {"a": 300, "b": 600},
               "records_sent": 900, "finished": True, "topics": ["a", "b"]}
    task = ProducerTask("produce_day", -1, "success", 1, None, None, 1.0, None, rendered={"settings": None})
    run = ProducerRun("foot_traffic_daily", "m", "success", "manual", None, None, None, None, {}, [task])
    html = render.delivery_section(delivery_from_summary(task, run, summary, None), None)
    assert "Seed 1234567," in html and "1,234,567" not in html


def test_recent_runs_name_the_day_played():
    rows = [RunRow("foot_traffic_chain_daily", "scheduled__2026-11-26T10:00:00+00:00", "running",
                   datetime(2026, 11, 26, 10, tzinfo=UTC), None, day="2026-11-27"),
            RunRow("foot_traffic_daily", "old", "success", datetime(2025, 11, 7, tzinfo=UTC), None)]
    html = render.runs_table(rows)
    assert "<th>Day played</th>" in html
    days = re.findall(r'<td class="day">(.*?)</td>', html)
    assert days[0] == "2026-11-27" and "logical date 2025-11-07 00:00 UTC" in days[1]


def test_the_plan_page_link_shows_the_same_plan_and_the_same_week():
    """A run with the baseline and daily variation (no fixed customers): the link carries
    them, so the plan page's week is the run page's week (not one total seven times)."""
    settings = Settings.build({"SEED": "11", "BASE_DAILY_CUSTOMERS": "900", "DAILY_VARIATION_PCT": "0.3"})
    day = date(2026, 3, 4)
    run_plan = plan_view(plan_store_day(implicit_store(settings, original_profile()), day, settings), settings)
    task = ProducerTask("produce_day", -1, "success", 1, None, None, 1.0, None)
    from foot_traffic_airflow.ui.views import Delivery

    delivery = Delivery("produce_day", -1, None, "success", 1, 1.0, None, run_plan, None)
    link = render.plan_link(delivery)
    query = dict(parse_qsl(urlsplit(link).query))
    assert "customers" not in query
    q = inputs.parse_plan_query(query, day, environ={})
    on_the_plan_page = plan_view(plan_store_day(implicit_store(q.settings, q.profile), q.day, q.settings), q.settings)
    assert on_the_plan_page.plan_id == run_plan.plan_id
    assert on_the_plan_page.week == run_plan.week
    assert len({n for _, _, n in run_plan.week}) > 1, "a week with variation: not one total seven times"
    assert task.map_index == -1


def test_a_backfill_shard_of_a_pool_that_does_not_exist_says_so_and_how_to_create_it():
    def waiting(index: int) -> ProducerTask:
        return ProducerTask("backfill_shard", index, "scheduled", 0, None, None, None, "…", day=DAY,
                            missing_pool="foot_traffic_backfill")

    run = chain_run(waiting(0), waiting(1))
    view = chain_view(run, [], run_stores(run))
    for row in view.shards:
        assert row.status == "pending"
        assert row.text.startswith("waits for pool foot_traffic_backfill, which does not exist")
        assert "airflow pools set foot_traffic_backfill" in row.text and "FOOT_TRAFFIC_CHAIN_BACKFILL_POOL" in row.text
    status, text = rows_of(view)["tokyo"]
    assert status == "pending" and "pool foot_traffic_backfill, which does not exist" in text
