"""The chain DAG's first task: read the catalogue at run time, check it, cut it into shards.

Everything a shard needs is checked here once, before anything is sent: the run's
settings (Params and the worker's environment) and every store of the catalogue. A bad
entry fails this task with every problem listed, without retries
(``AirflowFailException``), and no shard starts.

Shards hold the stores in the order of their local midnights for the run's day (east
first), so a shard spans as few time zones as possible: a live shard starts streaming at
its first store's midnight and holds its worker slot until its last store's day ends.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

log = logging.getLogger(__name__)

# The chain's day D begins first at UTC+14 (Kiritimati, Line Islands): a run scheduled at
# midnight there is under way before any store's day D begins, east or west of UTC.
CHAIN_DAY_ZONE = "Pacific/Kiritimati"
MAX_SHARD_SIZE = 10_000
# The chain DAG's own variables (read when the DAG file is parsed; not producer settings):
# variable -> (default, what it is).
CHAIN_DAG_ENV: dict[str, tuple[str, str]] = {
    "FOOT_TRAFFIC_CHAIN_SHARD_SIZE": ("50", "the shard_size Param's default: stores per mapped task"),
    "FOOT_TRAFFIC_CHAIN_MAX_ACTIVE_SHARDS": ("16", "max_active_tis_per_dag of produce_shard: shards running at once"),
    "FOOT_TRAFFIC_CHAIN_POOL": ("default_pool", "the pool produce_shard takes its slots from"),
}


def chain_dag_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The chain DAG's shard size default, concurrency cap and pool, from ``CHAIN_DAG_ENV``;
    a malformed value is a DAG import error naming the variable."""
    environ = os.environ if environ is None else environ
    values = {name: (environ.get(name) or default).strip() for name, (default, _) in CHAIN_DAG_ENV.items()}
    out: dict[str, Any] = {"pool": values["FOOT_TRAFFIC_CHAIN_POOL"]}
    for name, key, top in (("FOOT_TRAFFIC_CHAIN_SHARD_SIZE", "shard_size", MAX_SHARD_SIZE),
                           ("FOOT_TRAFFIC_CHAIN_MAX_ACTIVE_SHARDS", "max_active_shards", 10_000)):
        try:
            number = int(values[name])
        except ValueError:
            number = 0
        if not 1 <= number <= top:
            raise ValueError(f"{name}={values[name]!r}: must be a whole number 1 ... {top}")
        out[key] = number
    return out


def chain_day(moment: datetime) -> date:
    """The day a chain run plays: the calendar date of its logical date at UTC+14.

    A logical date given as a date (``2026-11-27``, i.e. 00:00 UTC) names that day; the
    scheduled run at 00:00 UTC+14 of D has D too.
    """
    from foot_traffic_airflow.task_context import day_in

    return day_in(moment, CHAIN_DAY_ZONE)


def cut_shards(catalogue, day: date, shard_size: int) -> list[list[str]]:
    """Store ids in shards of ``shard_size``, in the order of their local midnights of ``day``."""
    from foot_traffic.plan.localday import local_instant

    ordered = sorted(
        enumerate(catalogue.stores), key=lambda item: (local_instant(day, 0, item[1].tz), item[0])
    )
    ids = [store.id for _, store in ordered]
    return [ids[i:i + shard_size] for i in range(0, len(ids), shard_size)]


def shards_for_run(params: Mapping[str, Any], logical_date: datetime, environ: Mapping[str, str] | None = None) -> list[dict[str, list[str]]]:
    """``[{"stores": [...]}, ...]`` for ``expand_kwargs``; raises AirflowFailException on any problem."""
    return checked_run(params, logical_date, environ)[2]


def checked_run(
    params: Mapping[str, Any], logical_date: datetime, environ: Mapping[str, str] | None = None
) -> tuple[Any, date, list[dict[str, list[str]]]]:
    """The run's catalogue, day and shards (see ``shards_for_run``)."""
    from airflow.sdk.exceptions import AirflowFailException

    from foot_traffic.build import load_stores
    from foot_traffic.plan.stores import CatalogueError
    from foot_traffic.run.outcome import invalid, invalid_input
    from foot_traffic.settings import Settings, SettingsError

    shard_size = params.get("shard_size")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or not 1 <= shard_size <= MAX_SHARD_SIZE:
        raise AirflowFailException(invalid([f"shard_size={shard_size!r}: must be a whole number 1 ... {MAX_SHARD_SIZE}"]).text)
    try:
        settings = Settings.from_sources(os.environ if environ is None else environ, params=params)
        catalogue = load_stores(settings)
    except (SettingsError, CatalogueError) as exc:
        raise AirflowFailException(invalid_input(exc).text) from None
    day = chain_day(logical_date)
    shards = cut_shards(catalogue, day, shard_size)
    log.info(
        "catalogue %s: %d stores in %d time zones, local day %s, %d shard(s) of at most %d stores",
        catalogue.source, len(catalogue), len({s.timezone for s in catalogue}), day, len(shards), shard_size,
    )
    for index, shard in enumerate(shards):
        log.info("  shard %d: %s", index, ", ".join(shard))
    return catalogue, day, [{"stores": shard} for shard in shards]


# The run's stores for its page (the UI reads it by this key, whichever task pushed it):
# {"day": D, "columns": [...], "stores": {store id: [name, time zone, opening hours of D, shard]}}.
STORE_DAYS_XCOM = "store_days"
STORE_DAY_COLUMNS = ["name", "timezone", "hours", "shard"]


def store_days_value(catalogue, day: date, shards: list[dict[str, list[str]]]) -> dict[str, Any]:
    """What the run page needs of each store before any shard reports: its name, time zone,
    local opening hours of the day and shard (about 70 bytes a store)."""
    shard_of = {store: index for index, shard in enumerate(shards) for store in shard["stores"]}
    return {
        "day": day.isoformat(),
        "columns": STORE_DAY_COLUMNS,
        "stores": {store.id: [store.name, store.timezone, store.hours_text(day), shard_of[store.id]] for store in catalogue},
    }


def check_catalogue_task():
    """The TaskFlow task the chain DAG wires first (built here: the DAG file only wires)."""
    from airflow.sdk import get_current_context, task

    @task(task_id="check_catalogue")
    def check_catalogue() -> list[dict[str, list[str]]]:
        """Read the store catalogue now, check it and the run's settings, cut it into shards."""
        from foot_traffic_airflow.task_xcoms import DAY_XCOM, push

        context = get_current_context()
        moment = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
        catalogue, day, shards = checked_run(context["params"], moment)
        push(context, DAY_XCOM, day.isoformat())  # the run's day for the UI, before any shard starts
        push(context, STORE_DAYS_XCOM, store_days_value(catalogue, day, shards))
        return shards

    return check_catalogue
