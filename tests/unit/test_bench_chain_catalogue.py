"""The chain benchmark's generated catalogues are valid catalogues with the planned size."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

from foot_traffic.plan.stores import load_catalogue

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import chain  # noqa: E402 - bench/ is not a package


def test_the_full_speed_catalogue_loads_and_every_store_opens_on_the_bench_day(tmp_path):
    path = chain.write_catalogue(tmp_path / "chain.yaml", chain.catalogue_doc(25, 40))
    catalogue = load_catalogue(path)
    assert len(catalogue) == 25
    assert {s.timezone for s in catalogue} == set(chain.ZONES)
    assert chain.planned_visits(path, date(2025, 11, 7)) == 25 * 40


def test_the_live_catalogue_uses_zones_where_it_is_mid_day():
    now = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    zones = chain.live_zones(now)
    assert zones and "America/New_York" in zones and "Asia/Tokyo" not in zones
    doc = chain.catalogue_doc(3, 1000, zones, chain.LIVE_HOURS)
    assert [s["opening_hours"] for s in doc["stores"]] == [{"daily": "08:00-22:00"}] * 3
