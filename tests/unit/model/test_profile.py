"""The default profile is the original model, checked against the reference table."""

import json
import re
from pathlib import Path

import pytest

from foot_traffic.model.profile import EN_DASH, WEEKDAYS, ProfileError, load_profile, original_profile

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "seed" / "traffic-profile.md"

EXPECTED_WEIGHTS = {
    "Monday": (16, 17, 20, 17, 13, 10),
    "Tuesday": (12, 15, 21, 17, 14, 9),
    "Wednesday": (15, 16, 25, 22, 17, 12),
    "Thursday": (14, 14, 19, 21, 18, 10),
    "Friday": (19, 17, 25, 24, 23, 15),
    "Saturday": (22, 24, 27, 22, 20, 18),
    "Sunday": (22, 21, 23, 19, 16, 13),
}
EXPECTED_LABELS = ["00:00–06:59", "07:00–09:59", "10:00–13:59", "14:00–16:59", "17:00–19:59", "20:00–23:59"]


def test_original_profile_matches_the_reference_model():
    p = original_profile()
    assert [s.label for s in p.slots] == EXPECTED_LABELS
    assert all(EN_DASH in s.label for s in p.slots)
    assert {d: tuple(w) for d, w in p.weights.items()} == EXPECTED_WEIGHTS
    assert [(b.probability, b.min_minutes, b.max_minutes) for b in p.durations] == [
        (0.35, 10, 29),
        (0.39, 30, 44),
        (0.26, 45, 75),
    ]
    assert p.mean_weekday_sum == pytest.approx(107.714, abs=1e-3)


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/seed reference not beside this checkout")
def test_original_profile_matches_the_reference_document():
    """Parse the table of traffic-profile.md itself, so the two can never drift apart."""
    text = REFERENCE.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\w+day) \| ([\d |]+)\|", text, re.M)
    table = {day: tuple(int(x) for x in cells.split("|")[:6]) for day, cells in rows}
    assert table == {d: tuple(original_profile().weights[d]) for d in WEEKDAYS}
    labels = re.findall(r"^\| \d \| `([^`]+)` \|", text, re.M)
    assert labels == [s.label for s in original_profile().slots]


def test_a_store_described_in_json(tmp_path: Path):
    doc = {
        "name": "corner-shop",
        "slots": ["00:00", "12:00"],
        "weights": {d: [1, 3] for d in WEEKDAYS},
        "trip_duration_minutes": [{"probability": 1.0, "min": 5, "max": 5}],
    }
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(doc))
    p = load_profile(path)
    assert p.name == "corner-shop"
    assert [s.label for s in p.slots] == ["00:00–11:59", "12:00–23:59"]
    assert p.max_trip_minutes == 5


@pytest.mark.parametrize(
    "change,message",
    [
        ({"slots": ["01:00", "12:00"]}, "start at 00:00"),
        ({"slots": ["00:00", "12:00", "11:00"]}, "increase"),
        ({"slots": ["00:00", "25:00"]}, "time of day"),
        ({"weights": {"Monday": [1, 1]}}, "exactly the keys"),
        ({"trip_duration_minutes": [{"probability": 0.5, "min": 5, "max": 9}]}, "add up to"),
        ({"trip_duration_minutes": [{"probability": 1.0, "min": 9, "max": 5}]}, "min <= max"),
    ],
)
def test_bad_profiles_are_refused_with_the_reason(tmp_path: Path, change, message):
    doc = {
        "slots": ["00:00", "12:00"],
        "weights": {d: [1, 3] for d in WEEKDAYS},
        "trip_duration_minutes": [{"probability": 1.0, "min": 5, "max": 5}],
    }
    doc.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(doc))  # JSON is valid YAML
    with pytest.raises(ProfileError, match=message):
        load_profile(path)
