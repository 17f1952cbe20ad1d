"""The chain DAG's first task: read the catalogue at run time, check it, cut it into shards.

Everything a shard needs is checked here once, before anything is sent: the run's
settings (Params and the worker's environment) and every store of the catalogue. A bad
entry fails this task with every problem listed, without retries
(``AirflowFailException``), and no shard starts.

Shards hold the stores in the order of their local midnights for the run's day (east
first), so a shard spans as few time zones as possible: a live shard starts streaming at
its first store's midnight and holds its worker slot until its last store's day ends.

The shards run as one of two mapped tasks, chosen per run by ``choose_shards`` (a branch
on the run's type): ``produce_shard`` for scheduled, triggered and test runs, and
``backfill_shard`` for the runs of ``airflow backfill create``. Airflow fixes a task's pool,
priority and ``max_active_tis_per_dag`` when the DAG is parsed, so a backfill gets pool,
priority and cap of its own only as a task of its own: its shards take slots of their own
pool (``FOOT_TRAFFIC_CHAIN_BACKFILL_POOL``), are queued after the live ones where both
compete (``FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY`` < ``FOOT_TRAFFIC_CHAIN_PRIORITY``) and never
count against the live shards' cap.
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
    "FOOT_TRAFFIC_CHAIN_PRIORITY": ("10", "priority_weight of produce_shard (weight rule absolute): a live, "
                                    "scheduled or triggered run's shards"),
    "FOOT_TRAFFIC_CHAIN_BACKFILL_POOL": ("foot_traffic_backfill", "the pool backfill_shard (the shards of an "
                                         "`airflow backfill create` run) takes its slots from; create it first: "
                                         "`airflow pools set foot_traffic_backfill 2 \"chain backfills\"`"),
    "FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY": ("1", "priority_weight of backfill_shard; lower than "
                                             "FOOT_TRAFFIC_CHAIN_PRIORITY"),
    "FOOT_TRAFFIC_CHAIN_BACKFILL_MAX_ACTIVE_SHARDS": ("4", "max_active_tis_per_dag of backfill_shard: backfill "
                                                      "shards running at once, all backfills together"),
}
MAX_PRIORITY = 1_000_000
# The two mapped tasks a run's shards run as (the UI and the tests find the shards by these).
SHARD_TASK_ID = "produce_shard"
BACKFILL_SHARD_TASK_ID = "backfill_shard"
SHARD_TASK_IDS = (SHARD_TASK_ID, BACKFILL_SHARD_TASK_ID)
CHOOSE_TASK_ID = "choose_shards"


def chain_dag_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The chain DAG's shard size default, and for each of its two shard tasks the
    concurrency cap, pool and priority, from ``CHAIN_DAG_ENV``; a malformed value is a DAG
    import error naming the variable."""
    environ = os.environ if environ is None else environ
    values = {name: (environ.get(name) or default).strip() for name, (default, _) in CHAIN_DAG_ENV.items()}
    out: dict[str, Any] = {"pool": values["FOOT_TRAFFIC_CHAIN_POOL"],
                           "backfill_pool": values["FOOT_TRAFFIC_CHAIN_BACKFILL_POOL"]}
    for name, key, top in (("FOOT_TRAFFIC_CHAIN_SHARD_SIZE", "shard_size", MAX_SHARD_SIZE),
                           ("FOOT_TRAFFIC_CHAIN_MAX_ACTIVE_SHARDS", "max_active_shards", 10_000),
                           ("FOOT_TRAFFIC_CHAIN_PRIORITY", "priority", MAX_PRIORITY),
                           ("FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY", "backfill_priority", MAX_PRIORITY),
                           ("FOOT_TRAFFIC_CHAIN_BACKFILL_MAX_ACTIVE_SHARDS", "backfill_max_active_shards", 10_000)):
        try:
            number = int(values[name])
        except ValueError:
            number = 0
        if not 1 <= number <= top:
            raise ValueError(f"{name}={values[name]!r}: must be a whole number 1 ... {top}")
        out[key] = number
    if out["backfill_priority"] >= out["priority"]:
        raise ValueError(
            f"FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY={out['backfill_priority']} must be lower than "
            f"FOOT_TRAFFIC_CHAIN_PRIORITY={out['priority']}: the scheduler queues the higher priority first, and "
            "among equals the older logical date, so a backfill's shards would go before today's live ones"
        )
    return out


def shard_task_for(run_type: Any) -> str:
    """The task a run's shards run as: ``backfill_shard`` for a run of ``airflow backfill
    create`` (run type ``backfill``), ``produce_shard`` for every other run."""
    return BACKFILL_SHARD_TASK_ID if str(getattr(run_type, "value", run_type)) == "backfill" else SHARD_TASK_ID


def choose_shards_task(options: Mapping[str, Any]):
    """The branch between the two shard tasks (built here: the DAG file only wires); the
    other one is skipped. ``options``: ``chain_dag_options()``, for what it logs."""
    from airflow.sdk import get_current_context, task

    @task.branch(task_id=CHOOSE_TASK_ID)
    def choose_shards() -> str:
        """produce_shard, or backfill_shard for a backfill run (own pool, lower priority)."""
        dag_run = get_current_context().get("dag_run")
        run_type = getattr(dag_run, "run_type", None)
        chosen = shard_task_for(run_type)
        if chosen == BACKFILL_SHARD_TASK_ID:
            pool = options["backfill_pool"]
            log.info(
                "a backfill run: its shards run as %s in pool %s at priority %d (live shards: pool %s, priority %d), "
                "at most %d backfill shards at once over all backfills. If pool %s does not exist, they stay "
                "'scheduled' and never start (the scheduler logs \"Tasks using non-existent pool '%s' will not "
                "be scheduled\"): create it with `airflow pools set %s <slots> \"chain backfills\"`, or set "
                "FOOT_TRAFFIC_CHAIN_BACKFILL_POOL to an existing pool",
                chosen, pool, options["backfill_priority"], options["pool"], options["priority"],
                options["backfill_max_active_shards"], pool, pool, pool,
            )
        else:
            log.info("a %s run: its shards run as %s in pool %s at priority %d", getattr(run_type, "value", run_type),
                     chosen, options["pool"], options["priority"])
        return chosen

    return choose_shards


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
