"""The day's segments (bounded resume scan): what a writer records when it takes and finishes a day."""

from foot_traffic import checkpoint


def test_a_day_without_segments_stays_unknown():
    assert checkpoint.at_open(None, {"s:0": 5}) is None
    assert checkpoint.at_open({"run": "an older version"}, {"s:0": 5}) is None


def test_taking_a_day_closes_the_open_segment_at_the_high_watermark_and_opens_its_own():
    previous = {"segments": {"s:0": [[0, 10], [40, None]], "s:1": [[3, 7]]}}
    assert checkpoint.at_open(previous, {"s:0": 90, "s:1": 20, "s:2": 4}) == {
        "s:0": [[0, 10], [40, 90], [90, None]], "s:1": [[3, 7], [20, None]], "s:2": [[4, None]],
    }


def test_an_open_segment_that_got_nothing_is_dropped():
    assert checkpoint.at_open({"segments": {"s:0": [[40, None]]}}, {"s:0": 40}) == {"s:0": [[40, None]]}


def test_finishing_narrows_the_earlier_segments_to_what_the_scan_found():
    found = {"s:0": (12, 30), "s:1": (5, 5)}
    assert checkpoint.at_finish(found, {"s:0": 500, "s:1": 60, "s:2": 7}, {"s:0": 700, "s:1": 60, "s:2": 9}) == {
        "s:0": [[12, 31], [500, 700]], "s:1": [[5, 6]], "s:2": [[7, 9]],
    }


def test_ranges_merge_and_clip_at_the_end_offsets():
    segments = {"s:0": [[10, 20], [15, 30], [50, None]], "s:1": [[5, None]], "s:2": [[3, 3]]}
    assert checkpoint.ranges(segments, {"s:0": 60, "s:1": 5, "s:2": 9}) == {"s:0": [(10, 30), (50, 60)]}
    assert checkpoint.merge([[1, 4], [4, 6], [8, None], [9, 12]]) == [[1, 6], [8, None]]


def test_a_chains_day_is_bounded_only_when_every_store_day_lists_segments():
    owners = {
        "a": {"segments": {"s:0": [[10, 20]], "s:1": [[4, None]]}},
        "b": {"segments": {"s:0": [[15, 30]], "s:2": [[7, 9]]}},
        "c": {"run": "an older version"},
    }
    assert checkpoint.union(owners, ["a", "b"]) == {"s:0": [[10, 30]], "s:1": [[4, None]], "s:2": [[7, 9]]}
    assert checkpoint.union(owners, ["a", "c"]) is None, "c's history is unknown: read by timestamp"
    assert checkpoint.union(owners, ["a", "never taken"]) is None


def test_closing_segments_ends_the_open_one_at_the_high_watermark():
    assert checkpoint.closed({"s:0": [[0, 10], [40, None]], "s:1": [[5, None]]}, {"s:0": 90, "s:1": 5}) == {
        "s:0": [[0, 10], [40, 90]], "s:1": [],
    }
