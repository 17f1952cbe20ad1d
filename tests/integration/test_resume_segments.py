"""The bounded resume scan on the real broker: a day's writers record where they wrote it
(offset segments in its owner record), and the scan of an old day reads those segments
only -- also after a writer of that day died, other days were written, and the day was
re-run -- and finds exactly what the unbounded scan finds."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.localday import day_start
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.publisher import publisher_for
from foot_traffic.records.events import H_EVENT_ID
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.resume import KafkaDayScanner
from foot_traffic.runner import Runner, days_from
from foot_traffic.settings import Settings
from tests.support.kafka_read import read_topic

pytestmark = pytest.mark.integration

FIRST = date(2025, 6, 2)


def make_settings(bootstrap, topics, client="kafka-python"):
    return Settings.from_env({
        "KAFKA_BROKER": bootstrap, "KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1],
        "SEED": "7", "DAILY_CUSTOMERS": "300", "KAFKA_CLIENT": client, "MAX_RETRIES": "2",
        "RETRY_BACKOFF_SECONDS": "0.2",
    })


def run(settings, days):
    options = KafkaOptions.from_settings(settings)
    stop = threading.Event()
    runner = Runner(settings, publisher_for(settings, options, stop), KafkaDayScanner(options, stop), stop=stop)
    return runner.run(list(days))


def scan_both_ways(settings, day):
    options = KafkaOptions.from_settings(settings)
    topics = [settings.kafka_topic, settings.kafka_topic_realistic]
    since = int(day_start(day).timestamp() * 1000)
    out = {}
    for way, segments in (("before", False), ("after", True)):
        scanner = KafkaDayScanner(options, segments=segments)
        found = scanner.scan(day, topics, since)
        out[way] = (scanner.last.records, {pid: (h.total, h.high) for pid, h in found.items()})
    return out


def day_ids(bootstrap, topics, day):
    return sorted(
        r.header(H_EVENT_ID) for t in topics for r in read_topic(bootstrap, t) if r.header("ft-day") == day.isoformat()
    )


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_an_old_day_rerun_reads_its_segments_only_even_after_a_crashed_writer(kafka_bootstrap, topics, client):
    s = make_settings(kafka_bootstrap, topics, client)
    # a writer of the first day dies after 400 records (committed, never finished) ...
    plan = plan_store_day(implicit_store(s, load_profile(None)), FIRST, s)
    records = [r for m in StoreDayStream(plan, s.kafka_topic, s.kafka_topic_realistic) for r in m.records]
    pubs = publisher_for(s, KafkaOptions.from_settings(s), owner={"run": "dies", "host": "h", "pid": 0})
    pubs.ensure_topics(list(topics))
    writer = pubs.open_day(FIRST)
    for r in records[:400]:
        writer.send(r)
    pubs.flush()
    pubs.close()
    # ... then four later days are written, then the first day is run again: exactly the rest
    run(s, days_from(FIRST + timedelta(days=1), 4))
    [again] = run(s, [FIRST])
    assert again.already_present == 400 and again.sent == len(records) - 400
    assert day_ids(kafka_bootstrap, topics, FIRST) == sorted(dict(r.headers)[H_EVENT_ID].decode() for r in records)
    # now its segments are narrowed: a re-run reads about the day, not the four days after it
    both = scan_both_ways(s, FIRST)
    assert both["before"][1] == both["after"][1]  # the same marks
    assert both["before"][0] > 4 * len(records)
    assert len(records) <= both["after"][0] < 2 * len(records), both
    [third] = run(s, [FIRST])
    assert third.sent == 0 and third.already_present == len(records)


def run_chain(settings, catalogue, days, owner="chain run"):
    from foot_traffic.build import build_runner

    stop = threading.Event()
    runner = build_runner(settings, days[0], stop=stop, catalogue=catalogue, owner={"run": owner})
    return runner.run(list(days))


def scan_stores_both_ways(settings, catalogue, day):
    from foot_traffic.plan.localday import local_instant

    options = KafkaOptions.from_settings(settings)
    topics = [settings.kafka_topic, settings.kafka_topic_realistic]
    since = min(local_instant(day, 0, s.tz) for s in catalogue.stores) * 1000
    out = {}
    for way, segments in (("before", False), ("after", True)):
        scanner = KafkaDayScanner(options, segments=segments)
        found = scanner.scan_stores(day, topics, since, [s.id for s in catalogue.stores])
        marks = {store: {pid: (h.total, h.high) for pid, h in plans.items()} for store, plans in found.items()}
        out[way] = (scanner.last.records, scanner.last.bounded, marks)
    return out


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_a_chains_old_day_rerun_reads_its_store_days_segments_only(kafka_bootstrap, topics, client, tmp_path,
                                                                   caplog):
    """The chain's store-days record their segments too (one owner record each, the shard's
    producer named in it), when a shard takes them and when it finishes: the scan of an old
    day reads those segments only, not the days after it, finds what the unbounded scan
    finds, and a re-run sends exactly the rest."""
    import yaml

    from foot_traffic.plan.stores import load_catalogue
    from foot_traffic.settings import EXAMPLE_CHAIN
    from tests.integration.test_fencing import store_records

    doc = yaml.safe_load(EXAMPLE_CHAIN.read_text())
    doc["stores"] = doc["stores"][:3]
    for store in doc["stores"]:
        store["base_daily_customers"] = 60
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(doc))
    chain = load_catalogue(path)
    s = make_settings(kafka_bootstrap, topics, client)
    ids = [st.id for st in chain.stores]
    records = {sid: store_records(s, chain, sid, FIRST) for sid in ids}
    # a shard producer writes 20 records of each store of the first day and says it finished
    # (its segments: where it wrote); a second one takes the day (its owner records now list
    # those segments and its own open one), writes 20 more of each and dies ...
    for n, owner in enumerate(("finished early", "dies")):
        pubs = publisher_for(s, KafkaOptions.from_settings(s), owner={"run": owner, "host": "h", "pid": n})
        pubs.ensure_topics(list(topics))
        writers = pubs.open_stores_day(FIRST, ids)
        for sid in ids:
            for r in records[sid][20 * n:20 * n + 20]:
                writers[sid].send(r)
            if n == 0:
                writers[sid].scanned(None)
        if n == 0:
            for sid in ids:
                writers[sid].finish()
        pubs.flush()
        pubs.close()
    # ... four later days are written (nobody took them before: each scanned once, after the
    # take, not looked at first as well) ...
    caplog.clear()
    with caplog.at_level("INFO", logger="foot_traffic.resume"):
        run_chain(s, chain, list(days_from(FIRST + timedelta(days=1), 4)))
    assert caplog.text.count("resume scan of ") == 4, caplog.text
    caplog.clear()
    # ... and the first day's scan reads its segments
    before_rerun = scan_stores_both_ways(s, chain, FIRST)
    assert before_rerun["after"][1] is True and before_rerun["before"][2] == before_rerun["after"][2]
    assert {store: sum(t for t, _ in plans.values()) for store, plans in before_rerun["after"][2].items()} == \
        {sid: 40 for sid in ids}
    # (the dead writer's segment is open: it reads on to the end until a writer closes it)
    assert before_rerun["after"][0] <= before_rerun["before"][0]
    # the first day again: exactly the rest
    caplog.clear()
    with caplog.at_level("INFO", logger="foot_traffic.resume"):
        again = run_chain(s, chain, [FIRST])
    # taken before: looked at first (refusing another plan must not fence its writer), then scanned
    assert caplog.text.count(f"resume scan of {FIRST} for 3 stores") == 2, caplog.text
    assert sum(d.already_present for d in again) == 40 * len(ids)
    assert sum(d.sent for d in again) == sum(len(r) for r in records.values()) - 40 * len(ids)
    want = sorted(dict(r.headers)[H_EVENT_ID].decode() for sid in ids for r in records[sid])
    assert day_ids(kafka_bootstrap, topics, FIRST) == want
    # finished: its segments narrowed to the day, a re-scan reads about the day only
    both = scan_stores_both_ways(s, chain, FIRST)
    total = len(want)
    assert both["after"][1] is True and both["before"][2] == both["after"][2]
    assert both["before"][0] > 3 * total, both
    assert total <= both["after"][0] < 2 * total, both
    third = run_chain(s, chain, [FIRST])
    assert sum(d.sent for d in third) == 0 and sum(d.already_present for d in third) == total
