"""The bounded resume scan on the real broker: a day's writers record where they wrote it
(offset segments in its owner record), and the scan of an old day reads those segments
only -- also after a writer of that day died, other days were written, and the day was
re-run -- and finds exactly what the unbounded scan finds."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from foot_traffic.events import H_EVENT_ID, DayStream
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.plan import day_start, plan_from_settings
from foot_traffic.profile import load_profile
from foot_traffic.publisher import publisher_for
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
    plan = plan_from_settings(FIRST, s, load_profile(None))
    records = [r for m in DayStream(plan, s.kafka_topic, s.kafka_topic_realistic) for r in m.records]
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
