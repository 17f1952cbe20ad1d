"""Plan against delivery, without a database: the checks say "complete" only when every
slot and topic agrees, and name what is missing otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from foot_traffic.model.profile import original_profile, profile_from_dict
from foot_traffic.plan.implicit import plan_day
from foot_traffic_airflow.ui.readback import Readback
from foot_traffic_airflow.ui.runs import ProducerRun, ProducerTask, find_summaries
from foot_traffic_airflow.ui.views import delivery_from_summary, run_view

DAY = date(2025, 11, 7)
PLAN = plan_day(DAY, original_profile(), seed=7, baseline=1000, fixed_total=300)
LABELS = [s.label for s in PLAN.profile.slots]


def summary(**changes):
    """What the operator returns for PLAN, delivered in full (``DaySummary.as_dict()`` + topics)."""
    s = {
        "day": DAY.isoformat(), "plan_id": PLAN.plan_id, "seed": 7, "total_visits": 300,
        "planned_per_slot": dict(zip(LABELS, PLAN.slot_counts)),
        "sent_per_topic": {"foot_traffic": 300, "foot_traffic_realistic": 600},
        "entries_per_slot": dict(zip(LABELS, PLAN.slot_counts)),
        "records_sent": 900, "records_already_present": 0, "records_skipped_before_start": 0,
        "max_lag_seconds": 0.0, "stopped": False, "finished": True,
        "topics": ["foot_traffic", "foot_traffic_realistic"],
    }
    s.update(changes)
    return s


def task(**settings):
    """A finished producer task whose ``settings`` argument rendered to ``settings``."""
    return ProducerTask("produce_day", -1, "success", 1, None, None, 3.0, None, rendered={"settings": settings or None})


def run(**params):
    """The run of those tasks, with its Params (the DAG's defaults updated by the run's conf)."""
    return ProducerRun("foot_traffic_daily", "manual__x", "success", "manual", datetime(2025, 11, 7, tzinfo=UTC),
                       None, None, None, {}, [], params=params)


RUN = run(seed=7, daily_customers=300)


def test_a_full_delivery_is_complete_with_every_slot_ok():
    d = delivery_from_summary(task(seed="7"), RUN, summary(), None)
    assert d.verdict == "complete"
    assert [(c.label, c.planned, c.delivered, c.status) for c in d.slots] == [
        (label, n, n, "ok") for label, n in zip(LABELS, PLAN.slot_counts)
    ]
    assert [t.status for t in d.topics] == ["ok", "ok"]
    assert d.plan is not None and d.plan.plan_id == PLAN.plan_id
    assert d.plan.slots == list(zip(LABELS, PLAN.slot_counts))
    assert [n for _, _, n in d.plan.week] == [300] * 7  # the run's Params: daily_customers 300 every day


def test_a_missing_slot_is_named():
    entries = dict(zip(LABELS, PLAN.slot_counts))
    entries[LABELS[2]] -= 5
    d = delivery_from_summary(task(), RUN, summary(entries_per_slot=entries,
                                              sent_per_topic={"foot_traffic": 295, "foot_traffic_realistic": 590}), None)
    assert d.verdict == "incomplete"
    assert d.slots[2].status == "short" and f"slot {LABELS[2]}" in d.verdict_text
    assert [t.status for t in d.topics] == ["short", "short"]


def test_the_topics_read_back_overrule_what_the_task_sent():
    rb = Readback(bootstrap="b:1", counts={PLAN.plan_id: {"foot_traffic": 300, "foot_traffic_realistic": 599}})
    d = delivery_from_summary(task(), RUN, summary(), rb)
    assert [t.read_back for t in d.topics] == [300, 599]
    assert d.verdict == "incomplete" and "foot_traffic_realistic: 599 of 600" in d.verdict_text


def test_another_plan_in_the_same_day_is_a_mismatch():
    rb = Readback(bootstrap="b:1", counts={PLAN.plan_id: {"foot_traffic": 300, "foot_traffic_realistic": 600},
                                           "v1:8:300:abc": {"foot_traffic": 12}})
    d = delivery_from_summary(task(), RUN, summary(), rb)
    assert d.verdict == "mismatch" and "12 records of another plan" in d.verdict_text


def test_a_resumed_day_is_checked_by_its_topics():
    entries = dict(zip(LABELS, PLAN.slot_counts))
    entries[LABELS[0]] = 10  # this attempt sent only part of slot 0; the rest was already there
    rb = Readback(bootstrap="b:1", counts={PLAN.plan_id: {"foot_traffic": 300, "foot_traffic_realistic": 600}})
    d = delivery_from_summary(task(), RUN, summary(entries_per_slot=entries, records_already_present=108), rb)
    assert d.slots[0].status == "resumed"
    assert d.verdict == "complete" and "108 records were already in the topics" in d.verdict_text


def test_a_stopped_day_is_incomplete():
    assert delivery_from_summary(task(), RUN, summary(stopped=True), None).verdict == "incomplete"


def test_a_profile_the_server_cannot_load_keeps_the_summarys_numbers(tmp_path):
    doc = {"slots": ["00:00", "12:00"], "weights": {d: [1, 3] for d in
           ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")},
           "trip_duration_minutes": [{"probability": 1.0, "min": 20, "max": 40}]}
    other = plan_day(DAY, profile_from_dict(doc, "two"), seed=7, baseline=1, fixed_total=300)
    labels = [s.label for s in other.profile.slots]
    s = summary(plan_id=other.plan_id, planned_per_slot=dict(zip(labels, other.slot_counts)),
                entries_per_slot=dict(zip(labels, other.slot_counts)))
    d = delivery_from_summary(task(), run(profile_file=str(tmp_path / "gone.yaml")), s, None)
    assert d.plan is None and "cannot be loaded on the API server" in d.plan_note
    assert d.verdict == "complete" and [c.planned for c in d.slots] == list(other.slot_counts)
    # ... and with the file where the server can read it, the engine re-makes the plan.
    import yaml

    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(doc))
    d = delivery_from_summary(task(FOOT_TRAFFIC_PROFILE=str(path)), RUN, s, None)  # by the operator's argument
    assert d.plan is not None and d.plan.plan_id == other.plan_id


def test_a_running_task_with_an_explicit_seed_shows_its_plan_and_progress():
    r = run(seed=7, daily_customers=300, topic="a", topic_realistic="b")
    r.state = "running"
    t = ProducerTask("produce_day", -1, "running", 1, None, None, None, None, rendered={"settings": None})
    r.tasks.append(t)
    rb = Readback(bootstrap="b:1", counts={PLAN.plan_id: {"a": 120, "b": 200}})
    (d,) = run_view(r, lambda task, day, topics: rb).deliveries
    assert d.verdict == "running" and d.plan.plan_id == PLAN.plan_id
    assert [(c.topic, c.expected, c.read_back) for c in d.topics] == [("a", 300, 120), ("b", 600, 200)]
    assert "a 120 of 300" in d.verdict_text
    assert [t.status for t in d.topics] == ["pending", "pending"]  # still being written, not "short"
    r.params["seed"] = None  # a Param cleared: random seed
    (d,) = run_view(r, lambda task, day, topics: None).deliveries
    assert d.plan is None and "seed unset" in d.plan_note
    # Unseeded, but the topics already hold records of one plan: that plan (its seed and total).
    (d,) = run_view(r, lambda task, day, topics: rb).deliveries
    assert d.plan is not None and d.plan.plan_id == PLAN.plan_id and "already in the topics" in d.plan_note
    assert [c.planned for c in d.slots] == list(PLAN.slot_counts)


@pytest.mark.parametrize(
    ("value", "count"),
    [(summary(), 1), ([summary(), summary(day="2025-11-08")], 2), ({"stores": {"a": summary(), "b": summary()}}, 2),
     ({"nothing": 1}, 0), ("text", 0)],
)
def test_summaries_are_found_in_any_xcom_shape(value, count):
    assert len(find_summaries(value)) == count


def test_a_catalogue_stores_day_is_checked_from_its_summary_and_its_own_records():
    """A store's summary (``store_id``): its plan id is a store plan's, so the page checks it
    from the summary and the store's records, without re-making a UTC plan."""
    store_plan_id = "v1s:7:300:0123456789abcdef"
    s = summary(store_id="rome-centro", closed=False, plan_id=store_plan_id)
    rb = Readback(bootstrap="b:1", counts={store_plan_id: {"foot_traffic": 300, "foot_traffic_realistic": 600}})
    d = delivery_from_summary(task(), RUN, s, rb)
    assert d.plan is None and "rome-centro" in d.plan_note and d.label == "store rome-centro"
    assert d.verdict == "complete" and [t.status for t in d.topics] == ["ok", "ok"]
    short = Readback(bootstrap="b:1", counts={store_plan_id: {"foot_traffic": 300, "foot_traffic_realistic": 590}})
    assert delivery_from_summary(task(), RUN, s, short).verdict == "incomplete"
    closed = summary(store_id="berlin-mitte", closed=True, plan_id="v1s:7:0:x", total_visits=0,
                     planned_per_slot={}, entries_per_slot={}, sent_per_topic={})
    d = delivery_from_summary(task(), RUN, closed, None)
    assert d.verdict == "complete" and "closed" in d.verdict_text


def test_each_store_of_a_run_is_read_back_on_its_own():
    calls = []
    r = run(seed=7)
    r.tasks.append(ProducerTask("produce_day", 0, "success", 1, None, None, 1.0, "rome-centro, milano-duomo",
                                rendered={"settings": None},
                                summaries=[summary(store_id="rome-centro", plan_id="v1s:7:300:a"),
                                           summary(store_id="milano-duomo", plan_id="v1s:7:300:b")]))
    view = run_view(r, lambda task, day, topics, store=None: calls.append(store) or None)
    assert calls == ["rome-centro", "milano-duomo"]
    # a store's own label: its shard (the task's label, its stores) is shown once, in the shard table
    assert [d.label for d in view.deliveries] == ["store rome-centro", "store milano-duomo"]


def test_a_chain_runs_stores_and_one_stores_view():
    from foot_traffic_airflow.ui.runs import only_store, run_stores

    r = run(seed=7)
    r.tasks.append(ProducerTask("produce_shard", 0, "success", 1, None, None, 1.0, "rome-centro, milano-duomo",
                                summaries=[summary(store_id="rome-centro", plan_id="v1s:7:300:a"),
                                           summary(store_id="milano-duomo", plan_id="v1s:7:300:b")]))
    r.tasks.append(ProducerTask("produce_shard", 1, "success", 1, None, None, 1.0, "tokyo-shibuya",
                                summaries=[summary(store_id="tokyo-shibuya", plan_id="v1s:7:300:c")]))
    assert run_stores(r) == ["rome-centro", "milano-duomo", "tokyo-shibuya"]
    mine = only_store(r, "tokyo-shibuya")
    assert [t.map_index for t in mine.tasks] == [1] and len(r.tasks) == 2, "the run itself is left as it was"
    calls = []
    view = run_view(mine, lambda task, day, topics, store=None: calls.append(store) or None)
    assert calls == ["tokyo-shibuya"] and len(view.deliveries) == 1
    assert run_stores(RUN) == []


def test_a_chain_shards_xcom_gives_one_summary_per_store():
    """What ``run.outcome.chain_result`` gives the operator to push: each store's day checked like a store summary;
    an older XCom without per-topic counts is checked by the read-back only, never called short."""
    from foot_traffic_airflow.ui.runs import find_summaries

    result = {
        "day": "2026-11-27", "stores": 2, "closed_stores": ["berlin-mitte"], "total_visits": 64,
        "records_sent": 192, "records_already_present": 0, "topics": ["ft", "ftr"],
        "per_store": {
            "rome-centro": {"visits": 64, "sent": 192, "already_present": 0, "plan_id": "s1:7:64:ab", "closed": False,
                            "seed": 7, "sent_per_topic": {"ft": 64, "ftr": 128}, "finished": True, "stopped": False},
            "berlin-mitte": {"visits": 0, "sent": 0, "already_present": 0, "plan_id": "s1:7:0:cd", "closed": True},
        },
    }
    rome, berlin = find_summaries(result)
    assert rome["store_id"] == "rome-centro" and rome["seed"] == 7 and rome["day"] == "2026-11-27"
    d = delivery_from_summary(task(), RUN, rome, None)
    assert d.verdict == "complete" and [t.status for t in d.topics] == ["ok", "ok"], d.verdict_text
    assert delivery_from_summary(task(), RUN, berlin, None).verdict == "complete"
    older = dict(result["per_store"]["rome-centro"])
    del older["sent_per_topic"], older["seed"]
    (old,) = find_summaries({**result, "per_store": {"rome-centro": older}})
    assert old["seed"] == 7  # from the plan id
    assert [t.status for t in delivery_from_summary(task(), RUN, old, None).topics] == ["unknown", "unknown"]
    rb = Readback(bootstrap="b:1", counts={"s1:7:64:ab": {"ft": 64, "ftr": 128}})
    assert delivery_from_summary(task(), RUN, old, rb).verdict == "complete"


def test_a_running_day_says_how_far_it_is_from_its_progress():
    r = run(seed=7, daily_customers=300, topic="a", topic_realistic="b")
    t = ProducerTask("produce_day", -1, "running", 1, None, None, None, None, rendered={"settings": None},
                     progress={"at": "2025-11-07T10:00:05+00:00", "records_sent": 450, "records_planned": 900,
                               "slot": "10:00–13:59"})
    r.tasks.append(t)
    (d,) = run_view(r, lambda task, day, topics: None).deliveries
    assert d.verdict == "running" and d.verdict_text.endswith("450 records sent of 900 (slot 10:00–13:59) as of 10:00:05 UTC")
