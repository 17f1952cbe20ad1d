"""What every front door does before a run (``foot_traffic.build``): the catalogue it loads,
the day it starts with, where the simulated clock starts."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

from foot_traffic.build import first_day, first_midnight, load_stores, sim_anchor
from foot_traffic.plan.localday import day_start
from foot_traffic.plan.stores import CatalogueError
from foot_traffic.settings import EXAMPLE_CHAIN, Settings

DAY = date(2026, 11, 27)


def test_without_a_catalogue_the_first_day_is_today_in_utc_with_one_the_earliest_local_date():
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC).timestamp()  # already the 28th east of UTC
    assert first_day(None, late) == DAY
    chain = load_stores(Settings.from_env({}))
    assert first_day(chain, late) == min(first_day(chain.select([s.id]), late) for s in chain) == DAY
    early = datetime(2026, 11, 27, 0, 30, tzinfo=UTC).timestamp()  # still the 26th in the Americas
    assert first_day(chain, early) == date(2026, 11, 26)


def test_the_catalogue_is_stores_file_else_the_example_chain_and_names_what_it_ignores(tmp_path, caplog):
    assert load_stores(Settings.from_env({})).source == str(EXAMPLE_CHAIN)
    with caplog.at_level(logging.WARNING, logger="foot_traffic"):
        load_stores(Settings.from_env({"STORES_FILE": str(EXAMPLE_CHAIN), "DAILY_CUSTOMERS": "5"}))
    assert "DAILY_CUSTOMERS: not used with a store catalogue" in caplog.text


def test_a_shard_of_stores_no_longer_in_the_catalogue_is_refused_naming_them():
    settings = Settings.from_env({})
    ids = [s.id for s in load_stores(settings)][:2]
    assert [s.id for s in load_stores(settings, ids)] == ids
    with pytest.raises(CatalogueError) as refused:
        load_stores(settings, [ids[0], "gone-store"])
    assert "gone-store" in refused.value.problems[0]


def test_the_simulated_clock_starts_now_at_midnight_or_where_a_deferred_shard_resumed():
    chain = load_stores(Settings.from_env({}))
    assert sim_anchor(Settings.from_env({}), DAY) is None
    midnight = Settings.from_env({"FOOT_TRAFFIC_FROM_MIDNIGHT": "1"})
    assert sim_anchor(midnight, DAY) == day_start(DAY).timestamp()
    assert sim_anchor(midnight, DAY, chain) == first_midnight(chain, DAY) < day_start(DAY).timestamp()
    fast = Settings.from_env({"TIME_SCALE": "60"})
    assert sim_anchor(fast, DAY, chain, resumed_at=123.0) == 123.0
    assert sim_anchor(Settings.from_env({}), DAY, chain, resumed_at=123.0) is None  # real time: the wall clock
