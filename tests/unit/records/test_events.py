"""The JSON contract, headers, and the merged entry/exit stream."""

import json
from collections import Counter
from datetime import UTC, date, datetime

from foot_traffic.model.profile import original_profile
from foot_traffic.model.visit import Visit
from foot_traffic.plan.implicit import plan_day
from foot_traffic.records.events import H_DAY, H_EVENT_ID, H_PLAN, H_SEQ, atomic_json, session_json
from foot_traffic.records.stream import StoreDayStream

PROFILE = original_profile()
# The seed document's own example: Friday 2025-11-07, entry 09:32:10, 30 minutes.
ENTRY_TS = 1762507930  # 2025-11-07T09:32:10+00:00
EXAMPLE = Visit(0, "0b7e6a0e-9d6f-4c1e-8b7a-2f7c1d9e3a10", ENTRY_TS, 30, 1)


def test_session_json_is_the_original_example_byte_for_byte():
    value = session_json(EXAMPLE, "Friday", "07:00–09:59")
    assert value == (
        '{"event_type": "foot_traffic", "customer_id": "0b7e6a0e-9d6f-4c1e-8b7a-2f7c1d9e3a10", '
        '"entry_time": "2025-11-07T09:32:10+00:00", "exit_time": "2025-11-07T10:02:10+00:00", '
        '"trip_duration_minutes": 30, "weekday": "Friday", "time_slot": "07:00\u201309:59"}'
    ).encode("utf-8")
    assert list(json.loads(value)) == [
        "event_type", "customer_id", "entry_time", "exit_time", "trip_duration_minutes", "weekday", "time_slot",
    ]
    assert "\u2013".encode() in value  # EN DASH, UTF-8


def test_atomic_json_is_the_original_example():
    assert atomic_json("entry", ENTRY_TS, "Friday", "07:00–09:59") == (
        '{"event_type": "entry", "time": "2025-11-07T09:32:10+00:00", "weekday": "Friday", "time_slot": "07:00–09:59"}'
    ).encode()
    assert atomic_json("exit", ENTRY_TS + 1800, "Friday", "07:00–09:59") == (
        '{"event_type": "exit", "time": "2025-11-07T10:02:10+00:00", "weekday": "Friday", "time_slot": "07:00–09:59"}'
    ).encode()


def stream(total=2000, seed=7):
    plan = plan_day(date(2025, 11, 7), PROFILE, seed=seed, baseline=1000, fixed_total=total)
    return plan, StoreDayStream(plan, "s", "e")


def test_each_customer_has_session_entry_then_exactly_one_exit_after_it():
    plan, ds = stream()
    seen: dict[bytes, list[str]] = {}
    for moment in ds:
        for r in moment.records:
            seen.setdefault(r.key, []).append(r.kind)
            doc = json.loads(r.value)
            if r.kind == "exit":
                # the exit carries the entry's weekday and slot
                assert doc["time_slot"] == PROFILE.slots[moment.visit.slot].label
                assert doc["weekday"] == "Friday"
    assert len(seen) == plan.total
    assert all(kinds == ["session", "entry", "exit"] for kinds in seen.values())


def test_stream_is_in_due_order_with_consecutive_sequences_per_topic():
    _, ds = stream()
    dues, seqs = [], {"s": [], "e": []}
    for moment in ds:
        dues.append(moment.due)
        for r in moment.records:
            assert r.due == moment.due and r.timestamp_ms == r.due * 1000
            seqs[r.topic].append(r.seq)
    assert dues == sorted(dues)
    assert seqs["s"] == list(range(2000)) and seqs["e"] == list(range(4000))


def test_headers_identify_day_plan_sequence_and_event():
    plan, ds = stream(total=50)
    for moment in ds:
        for r in moment.records:
            h = dict(r.headers)
            assert h[H_DAY] == b"2025-11-07"
            assert h[H_PLAN] == plan.plan_id.encode()
            assert h[H_SEQ] == str(r.seq).encode()
            assert h[H_EVENT_ID] == f"{r.key.decode()}:{r.kind}".encode()
            assert r.key.decode() == moment.visit.customer_id


def test_session_is_sent_at_entry_and_exit_times_are_consistent():
    _, ds = stream(total=300)
    for moment in ds:
        for r in moment.records:
            doc = json.loads(r.value)
            if r.kind == "session":
                assert doc["entry_time"].endswith("+00:00") and doc["exit_time"].endswith("+00:00")
                assert r.due == moment.visit.entry_ts


def test_memory_follows_occupancy_not_the_day():
    _, ds = stream(total=20000)
    peak = 0
    for _ in ds:
        peak = max(peak, ds.inside)
    # 20,000 visits over a day, trips <= 75 min: a few hundred inside at once, never the day.
    assert 0 < peak < 1000
    assert ds.inside == 0


def test_same_plan_same_bytes():
    def dump():
        _, ds = stream(total=500)
        return [(r.topic, r.key, r.value, r.headers) for m in ds for r in m.records]

    assert dump() == dump()
    kinds = Counter(r[2].split(b'"')[3] for r in dump())
    assert kinds == {b"foot_traffic": 500, b"entry": 500, b"exit": 500}


def test_templated_records_equal_json_dumps_for_a_whole_day():
    """The fast templates must stay byte-identical to json.dumps(..., ensure_ascii=False)."""
    plan, _ = stream(total=3000, seed=21)
    for visit in plan.visits():
        label = PROFILE.slots[visit.slot].label
        entry = datetime.fromtimestamp(visit.entry_ts, UTC).isoformat()
        leave = datetime.fromtimestamp(visit.exit_ts, UTC).isoformat()
        assert session_json(visit, "Friday", label) == json.dumps({
            "event_type": "foot_traffic", "customer_id": visit.customer_id, "entry_time": entry,
            "exit_time": leave, "trip_duration_minutes": visit.duration_minutes, "weekday": "Friday",
            "time_slot": label,
        }, ensure_ascii=False).encode()
        assert atomic_json("exit", visit.exit_ts, "Friday", label) == json.dumps(
            {"event_type": "exit", "time": leave, "weekday": "Friday", "time_slot": label}, ensure_ascii=False
        ).encode()


def test_the_streams_templates_write_what_the_plain_writers_write():
    """StoreDayStream renders records from pre-rendered templates: the same bytes as the plain
    writers (session_json, atomic_json, party_fields), for the seed and the retail profile."""
    from foot_traffic.model.profile import load_profile
    from foot_traffic.records.events import party_fields

    for profile in (PROFILE, load_profile("retail")):
        plan = plan_day(date(2025, 11, 8), profile, seed=3, baseline=1000, fixed_total=1500)
        labels = plan.labels
        for moment in StoreDayStream(plan, "s", "e"):
            visit, label = moment.visit, labels[moment.visit.slot]
            for r in moment.records:
                if r.kind == "session":
                    want = session_json(visit, "Saturday", label)
                    if profile.model is not None:
                        want = want[:-1] + party_fields(visit)
                else:
                    want = atomic_json(r.kind, r.due, "Saturday", label)
                assert r.value == want


def test_utc_time_texts_are_isoformat_for_any_instant():
    """The stream's UTC times are made from cached minute texts: the same text as iso()."""
    import random

    from foot_traffic.records.events import iso
    from foot_traffic.records.stream import _UtcTimeTexts

    texts = _UtcTimeTexts(limit=64)  # small: its clearing is exercised too
    rng = random.Random(5)
    instants = [0, 59, 60, 951_782_399, 951_782_400, 1_762_507_930, 4_102_444_799]  # 2000-02-29 ends, 2099-12-31
    instants += [rng.randrange(0, 4_102_444_800) for _ in range(5000)]
    instants += [1_762_473_600 + rng.randrange(0, 95_000) for _ in range(5000)]  # a day and its late exits
    for ts in instants:
        assert texts[ts] == iso(ts).encode()


def test_local_time_texts_are_isoformat_in_the_zone_across_dst_and_outside_the_window():
    """A store's times are made by arithmetic from the offset in force: the same bytes as
    ``datetime.fromtimestamp(ts, tz).isoformat()`` on DST days (23 and 25 hours), on both sides
    of UTC, with a half-hour and a 45-minute offset, at the window's edges and outside it."""
    import random
    from zoneinfo import ZoneInfo

    from foot_traffic.plan.localday import LocalClockText, day_bounds
    from foot_traffic.records.stream import _LocalTimeTexts

    rng = random.Random(11)
    cases = [("Europe/Rome", date(2026, 3, 29)), ("Europe/Rome", date(2026, 10, 25)),
             ("America/New_York", date(2026, 3, 8)), ("America/New_York", date(2026, 11, 1)),
             ("Asia/Kolkata", date(2026, 11, 27)), ("Asia/Kathmandu", date(2026, 11, 27)),
             ("Pacific/Kiritimati", date(2026, 12, 31)), ("Pacific/Pago_Pago", date(2026, 12, 31)),
             ("Australia/Lord_Howe", date(2026, 4, 5))]
    for zone, day in cases:
        tz = ZoneInfo(zone)
        start, end = day_bounds(day, tz)
        texts = _LocalTimeTexts(LocalClockText(tz, start, end + 6 * 3600), limit=32)
        instants = [start, start - 1, end - 1, end, end + 6 * 3600, end + 6 * 3600 + 1, start - 86_400]
        instants += [rng.randrange(start - 3600, end + 8 * 3600) for _ in range(3000)]
        for ts in instants:
            assert texts[ts] == datetime.fromtimestamp(ts, tz).isoformat().encode(), (zone, ts)
