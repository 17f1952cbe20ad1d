"""How a run ended, once for every front door: each ending from a real runner on Kafka in
memory, its text and exit code, refused input, and what a stopped run says it delivered."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from foot_traffic.model.profile import ProfileError
from foot_traffic.plan.stores import CatalogueError
from foot_traffic.run.outcome import (
    EXIT_SIGTERM,
    Ending,
    chain_result,
    delivered,
    invalid,
    invalid_input,
    play,
)
from foot_traffic.run.runner import Runner
from foot_traffic.run.summary import DaySummary
from foot_traffic.settings import Settings, SettingsError
from foot_traffic.testing import FakeClock, MemoryKafka, Outage, memory_delivery

DAY = date(2025, 11, 7)
JAN1 = datetime(2026, 1, 1, tzinfo=UTC)


def runner(kafka: MemoryKafka, stop: threading.Event | None = None, **env: str) -> Runner:
    s = Settings.from_env({"SEED": "7", "DAILY_CUSTOMERS": "300", "KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e",
                           **env})
    return Runner(s, memory_delivery(kafka, s), clock=FakeClock(JAN1), stop=stop or threading.Event())


def test_a_complete_day_is_done_with_exit_0():
    outcome = play(runner(MemoryKafka()), [DAY], stopped_by="SIGINT")
    assert outcome.ending is Ending.DONE and outcome.exit_code() == 0 and not outcome.retried
    assert [s.finished for s in outcome.summaries] == [True]


def test_a_stop_mid_day_says_what_was_delivered_and_exits_with_the_signals_code():
    stop = threading.Event()
    kafka = MemoryKafka(take_over={200: lambda _kafka: stop.set()})
    outcome = play(runner(kafka, stop), [DAY], stopped_by=lambda: "SIGTERM", what="the day")
    assert outcome.ending is Ending.STOPPED and outcome.retried and outcome.exit_code(EXIT_SIGTERM) == 143
    assert outcome.text.startswith("stopped cleanly by SIGTERM: ") and "unfinished: 2025-11-07" in outcome.text
    assert "the day is incomplete, a restart with the same settings sends the rest" in outcome.text


def test_a_newer_run_of_the_day_fences_this_one_exit_3_never_retried():
    def newer_run(kafka):
        for tid in list(kafka.epochs):
            if tid.endswith(DAY.isoformat()):
                kafka.init(tid)

    outcome = play(runner(MemoryKafka(take_over={300: newer_run})), [DAY], stopped_by="SIGINT")
    assert outcome.ending is Ending.FENCED and outcome.exit_code() == 3 and not outcome.retried
    assert outcome.text.startswith("fenced by a newer run: ") and "now writes 2025-11-07" in outcome.text
    assert [s.fenced for s in outcome.summaries] == [True]


def test_a_broker_that_stays_away_fails_the_run_for_a_retry():
    kafka = MemoryKafka(outages={100: Outage(refused=100)})
    outcome = play(runner(kafka, MAX_RETRIES="1", RETRY_BACKOFF_SECONDS="0"), [DAY], stopped_by="SIGINT")
    assert outcome.ending is Ending.FAILED and outcome.exit_code() == 1 and outcome.retried
    assert outcome.summaries is None and outcome.text.startswith("Kafka unavailable: ")


def test_a_record_the_broker_refuses_ends_the_run_without_retry():
    kafka = MemoryKafka(refuse=lambda record: record.topic == "e")
    outcome = play(runner(kafka), [DAY], stopped_by="SIGINT")
    assert outcome.ending is Ending.REFUSED and outcome.exit_code() == 1 and not outcome.retried
    assert outcome.text.startswith("delivery failed: ")


def test_refused_input_is_built_in_one_place_every_problem_a_line():
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"SEED": "-1", "TIME_SCALE": "0"})
    outcome = invalid_input(bad.value)
    assert outcome.ending is Ending.INVALID and outcome.exit_code() == 2 and not outcome.retried
    assert outcome.text.startswith("invalid settings, nothing was sent:\n  - ") and outcome.text.count("\n  - ") == 2
    catalogue = invalid_input(CatalogueError("chain.yaml", ["store x.timezone: unknown"]))
    assert catalogue.text == "invalid store catalogue chain.yaml, nothing was sent:\n  - store x.timezone: unknown"
    assert invalid_input(ProfileError("no slots"), "profile_file").text.endswith("  - profile_file: no slots")
    assert invalid(["day='x': expected YYYY-MM-DD"]).text.endswith("  - day='x': expected YYYY-MM-DD")


def summary(day: int, sent: int, *, finished: bool, present: int = 0, store: str | None = None) -> DaySummary:
    return DaySummary(date(2025, 1, day), "p", 1, 100, {}, Counter({"s": sent}), already_present=present,
                      finished=finished, store_id=store)


def test_a_chain_shards_result_totals_its_stores():
    result = chain_result(DAY, [summary(1, 5, finished=True, store="a"), summary(2, 7, finished=False, store="b")],
                          ["s", "e"])
    assert (result["stores"], result["records_sent"], result["topics"]) == (2, 12, ["s", "e"])
    assert result["per_store"]["b"]["finished"] is False and result["per_store"]["a"]["sent"] == 5


def summary(day: int, sent: int, *, finished: bool, present: int = 0, store: str | None = None) -> DaySummary:
    return DaySummary(date(2025, 1, day), "p", 1, 100, {}, Counter({"s": sent}), already_present=present,
                      finished=finished, store_id=store)


def test_what_a_stopped_run_delivered():
    text = delivered([summary(1, 300, finished=True), summary(2, 42, finished=False, present=9)], 342)
    assert text == ("342 records sent, every one acknowledged; 1 day complete; "
                    "unfinished: 2025-01-02 (42 sent, 9 there before)")


def test_a_stopped_chain_names_at_most_five_unfinished_store_days():
    days = [summary(1, n, finished=False, store=f"s{n}") for n in range(1, 9)]
    text = delivered(days, 36)
    assert "s1 2025-01-01 (1 sent)" in text and "s6" not in text and "and 3 more" in text


def test_nothing_sent_says_so():
    assert delivered([summary(1, 0, finished=False)], 0) == "nothing was sent"


def test_a_stop_during_an_outage_claims_no_acknowledgement():
    text = delivered([summary(1, 42, finished=False)], 42, acknowledged=False)
    assert text.startswith("42 records sent; unfinished") and "acknowledged" not in text
