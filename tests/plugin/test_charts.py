"""Slot charts stay readable at 6, 24 and 96 slots: whole labels when they fit, else start
times on round hours, never two labels closer than their widths, none outside the chart.
(The browser test measures the drawn labels; this checks the placement rule itself.)"""

from __future__ import annotations

import re
from datetime import date

import pytest

from foot_traffic.plan.implicit import plan_day
from foot_traffic.model.profile import builtin_profile, original_profile, profile_from_dict
from foot_traffic_airflow.ui.charts import LABEL_GAP, slots_chart, text_width

WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def quarter_hour_profile():
    starts = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)]
    return profile_from_dict({"slots": starts, "weights": {d: [1 + (i % 7) for i in range(96)] for d in WEEK},
                              "trip_duration_minutes": [{"probability": 1.0, "min": 20, "max": 40}]}, "quarters")


def drawn_labels(svg: str) -> list[tuple[float, str]]:
    return [(float(x), text) for x, text in re.findall(r'<text class="label" data-slot="[^"]*" x="([\d.]+)"[^>]*>([^<]*)<', svg)]


@pytest.mark.parametrize(("profile", "width", "every_minutes"), [
    (original_profile(), 600, None), (builtin_profile("retail"), 600, 120), (quarter_hour_profile(), 600, 120),
    (builtin_profile("retail"), 1000, 60),
])
def test_slot_labels_never_overlap_and_stay_inside(profile, width, every_minutes):
    plan = plan_day(date(2025, 11, 8), profile, seed=5, baseline=4000)
    slots = list(zip([s.label for s in profile.slots], plan.slot_counts))
    for delivered in (None, dict(slots)):
        svg = slots_chart(slots, delivered, width=width)
        labels = drawn_labels(svg)
        assert len(labels) >= 6, labels
        edges = [(x - text_width(t) / 2, x + text_width(t) / 2) for x, t in labels]
        assert all(left >= 0 and right <= width for left, right in edges), edges
        assert all(b[0] - a[1] >= LABEL_GAP for a, b in zip(edges, edges[1:])), edges
        if every_minutes is None:  # few slots: every whole label
            assert [t for _, t in labels] == [label for label, _ in slots]
        else:
            minutes = [int(t[:2]) * 60 + int(t[3:5]) for _, t in labels]
            assert all(m % every_minutes == 0 for m in minutes) and minutes[0] == 0, minutes
            assert minutes[-1] >= 1440 - 2 * every_minutes, "labels reach the end of the day"
        # every bar is still drawn, with its number in the tooltip
        assert svg.count('data-key="') == len(slots) * (1 if delivered is None else 2)


def test_numbers_above_bars_only_when_they_fit():
    slots = [(s.label, 12_345) for s in builtin_profile("retail").slots]
    assert 'class="value"' not in slots_chart(slots)
    assert "hover a bar, or the table" in slots_chart(slots)
    few = [(s.label, 12_345) for s in original_profile().slots]
    assert slots_chart(few).count('class="value"') == len(few)
