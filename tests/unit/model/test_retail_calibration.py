"""The retail profile against the published figures it cites (profiles/retail.yaml).

Computed from the model (``foot_traffic.model.calibration``) the way each figure was measured:
the ATUS hour shares count a shopper in every hour their trip overlaps. Tolerances are
stated per target (``calibration.report``); ``scripts/retail_calibration.py`` prints them.
"""

from __future__ import annotations

import pytest

from foot_traffic.model import calibration
from foot_traffic.model.profile import load_profile


@pytest.fixture(scope="module")
def rows():
    return calibration.report(load_profile("retail"))


def test_every_published_figure_is_met_within_its_tolerance(rows):
    missed = [(t.source, t.what, t.published, round(v, 4)) for t, v in rows if not t.met_by(v)]
    assert not missed, missed
    assert {t.source for t, _ in rows} == {"tui-2008", "ers-2019", "poll-2023"}


def test_the_retail_curve_is_near_zero_at_night():
    retail = load_profile("retail")
    for day in ("Monday", "Saturday"):
        assert calibration.night_share(retail, day, 0, 6) < 0.015
        assert calibration.night_share(retail, day, 10, 16) > 0.5
