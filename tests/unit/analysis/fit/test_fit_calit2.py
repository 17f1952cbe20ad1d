"""The fit on real door counts (UCI CalIt2, ``<repo>/../shared/anchors/data``) and the round
trip: weeks generated from the written profile by the engine's plan match the counts within
the tolerances stated in docs/fit.md (roundtrip.Tolerances), with and without the events list excluded."""

from __future__ import annotations

from datetime import date

import pytest

from foot_traffic.analysis.fit.counts import parse_exclude, sha256_of
from foot_traffic.analysis.fit.readers import read_counts
from foot_traffic.analysis.fit.estimate import fit_counts
from foot_traffic.analysis.fit.roundtrip import Tolerances, round_trip
from foot_traffic.analysis.fit.writer import write_profile
from foot_traffic.model.profile import WEEKDAYS, load_profile
from tests.support.anchors import CALIT2_SHA256, calit2


@pytest.fixture(scope="module")
def data():
    path = calit2()
    assert sha256_of(path) == CALIT2_SHA256, "CalIt2.data differs from the copy described in SOURCE.md"
    return path


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    counts = read_counts(data, format="auto")
    fit = fit_counts(counts)
    out = tmp_path_factory.mktemp("fit") / "calit2.yaml"
    profile = write_profile(fit, out)
    return counts, fit, out, profile


def test_the_days_used_and_left_out(fitted):
    counts, fit, _, _ = fitted
    assert counts.format == "calit2" and counts.bin_seconds == 1800
    assert [d for d, _ in counts.dropped] == [date(2005, 7, 23), date(2005, 11, 5)]  # partial edges
    assert len(counts.days) == 104
    # Labor Day (Monday 2005-09-05, 14 arrivals) and two days of far more traffic than their weekday's
    assert [d for d, _ in fit.outliers] == [date(2005, 8, 18), date(2005, 9, 5), date(2005, 11, 1)]
    assert len(fit.days_used) == 101


def test_the_fit_figures(fitted):
    _, fit, _, _ = fitted
    assert fit.level == pytest.approx(184.2, abs=0.1)
    assert fit.weekdays["Friday"].factor == pytest.approx(1.43, abs=0.01)
    assert fit.weekdays["Sunday"].factor == pytest.approx(0.068, abs=0.002)
    # weekends are thin (about 13 arrivals a day): one pooled curve; weekdays their own
    assert [fit.weekdays[w].curve for w in WEEKDAYS] == [*WEEKDAYS[:5], "weekend", "weekend"]
    assert fit.hourly_mae_pp < 1.0
    for w in WEEKDAYS[:5]:
        assert fit.weekdays[w].hourly_mae_pp < 0.6 and fit.weekdays[w].hourly_r2 > 0.97
    assert fit.variation.cv["weekdays"] == pytest.approx(0.195, abs=0.005)
    assert fit.variation.capped == ("weekend",)
    d = fit.dwell
    assert d.mean_minutes["weekdays"] == pytest.approx(93.4, abs=0.5)
    assert d.balance["weekdays"] == pytest.approx(1.07, abs=0.01)
    assert d.balance["weekend"] == pytest.approx(0.52, abs=0.01)  # the door sees twice as many outs as ins
    assert d.occupancy_mae_pct["weekdays"] < 5


def test_the_written_profile_loads_with_the_producers_loader(fitted):
    _, fit, out, profile = fitted
    again = load_profile(out)
    assert again.digest() == profile.digest() and again.name == "calit2"
    for w in WEEKDAYS:
        assert again.weekday_factor(w) == pytest.approx(fit.weekdays[w].factor, rel=1e-3)
        group = "weekend" if w in ("Saturday", "Sunday") else "weekdays"
        assert again.variation_pct(w) == pytest.approx(fit.variation.pct[group], abs=1e-3)
    assert set(again.model.curves) == {*WEEKDAYS[:5], "weekend"}
    assert again.model.dwell.sigma == fit.dwell.sigma and not again.model.has_parties
    text = out.read_text()
    assert CALIT2_SHA256 in text and "days_used: 101" in text and "robust_z: -8.5" in text
    assert "hourly_share_mae_pp" in text and "BASE_DAILY_CUSTOMERS=184" in text


def test_round_trip_within_the_stated_tolerances(fitted):
    _, fit, _, profile = fitted
    trip = round_trip(fit, profile, weeks=52)
    assert trip.tolerances == Tolerances()  # docs/fit.md states these numbers
    assert trip.failures() == []
    assert max(trip.index_error(w) for w in WEEKDAYS) < 0.03
    for key in WEEKDAYS[:5]:
        assert trip.curves[key].mae_pp < 0.6 and trip.curves[key].max_pp < 2.0


def test_round_trip_with_the_event_days_excluded(data, tmp_path):
    events = calit2("CalIt2.events")
    counts = read_counts(data, exclude=parse_exclude(str(events)))
    assert len(counts.excluded) == 27
    fit = fit_counts(counts)
    profile = write_profile(fit, tmp_path / "calit2-no-events.yaml")
    trip = round_trip(fit, profile, weeks=52)
    assert trip.failures() == []


def test_the_round_trip_can_fail(fitted, tmp_path):
    """A profile that is not the fit's (weekday curves swapped) is caught."""
    _, fit, out, _ = fitted
    text = out.read_text().replace("curve: Friday,", "curve: weekend,")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text)
    failures = round_trip(fit, load_profile(wrong), weeks=8).failures()
    assert any(f.startswith("curve Friday: hourly shares off by") for f in failures)
