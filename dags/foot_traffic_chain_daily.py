"""
# foot_traffic_chain_daily

Streams one simulated day of **every store of a chain** to Kafka per run, spread over
Airflow's workers: the same two topics as `foot_traffic_daily`, each record naming its
store (`"store_id"` first in the JSON, header `ft-store`), times in the store's local time
with its UTC offset.

**Tasks.** `check_catalogue` reads the store catalogue (`stores_file`) *at run time*, so
editing the file changes the next run without touching this DAG; it checks every store
and every setting and fails at once, without retries and before anything is sent, when
one is wrong. It cuts the stores into shards of `shard_size`, in the order of their local
midnights (east first). `produce_shard` is mapped over the shards (one mapped task per
shard, named after its stores): each plays its stores' local day through one Kafka
producer. A retry resumes each store where it stopped. `choose_shards` runs the shards of
an `airflow backfill create` run as `backfill_shard` instead (the same task in its own pool,
`FOOT_TRAFFIC_CHAIN_BACKFILL_POOL`, default `foot_traffic_backfill`: create it with
`airflow pools set foot_traffic_backfill 2 "chain backfills"`, at a priority below the live
shards'), so a backfill never takes the live run's slots.

**Which day, and when.** A run plays the local day D of every store, D being the
calendar date of the run's logical date at UTC+14 (`Pacific/Kiritimati`), the first place
where each day begins. A past day (`airflow dags test foot_traffic_chain_daily 2026-11-27`,
a trigger with a logical date, `airflow backfill create`) is sent at full speed. Live,
each store's day streams in real time from its own local midnight:

* the schedule is 00:00 at UTC+14 (`Pacific/Kiritimati`; the UI shows "At 00:00,
  Pacific/Kiritimati (UTC+14)"), i.e. 10:00 UTC the day before: the run for D starts
  before D begins anywhere, so for every store, **east or west** of UTC (Tokyo's D begins
  at 15:00 UTC the day before, Los Angeles' at 08:00 UTC on D), its midnight is still ahead;
* a shard whose first midnight is more than a minute away does not sleep in a worker: the
  operator **defers** to the triggerer (`DateTimeTrigger`) until that midnight, then
  resumes and streams; stores later in the same shard are paced by the runner (shards are
  cut in midnight order, so they span few time zones).

A run lasts from D's first midnight (UTC+14) to the last store's end of D plus its late
exits (UTC−12: about 50 hours), so up to three runs overlap (`max_active_runs=3`).

**Load on the brokers.** `shard_size` sets stores per task (one producer connection
each); `max_active_tis_per_dag` (env `FOOT_TRAFFIC_CHAIN_MAX_ACTIVE_SHARDS`, default 16)
caps shards running at once; `pool` (env `FOOT_TRAFFIC_CHAIN_POOL`, default
`default_pool`) lets a pool's slots bound them together with other DAGs; their priority is
`FOOT_TRAFFIC_CHAIN_PRIORITY` (10). A backfill's: `FOOT_TRAFFIC_CHAIN_BACKFILL_POOL`,
`..._BACKFILL_PRIORITY` (1), `..._BACKFILL_MAX_ACTIVE_SHARDS` (4). See the docs, "Store chains".

**Triggering it by hand.** The trigger form starts with the chain's own fields (section
*Chain*: the catalogue, stores per shard, closing grace), then *Day*, *Model*, *Kafka* and
*Sensor*; defaults come from the original environment variables where set
(`FOOT_TRAFFIC_CHAIN_SHARD_SIZE` for stores per shard). Its logical date picks the day: a
past date plays that day at full speed; today's, the default, is a **live** run of about
50 hours.

> **Warning: the trigger form unpauses this DAG.** New DAGs start paused. When this one is
> paused, Airflow 3.3's trigger form shows the box *Unpause foot_traffic_chain_daily on
> trigger*, ticked by default (no setting changes that). Untick it to play only the run you
> trigger; left ticked, the DAG is unpaused and starts a live run of the whole chain every
> day at 00:00 UTC+14 (10:00 UTC the day before), each streaming for about 50 hours, until
> you pause it again.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, XComArg

from foot_traffic_airflow.assets import TOPIC_ASSETS_XCOM, announce_topics_task
from foot_traffic_airflow.chain import (
    BACKFILL_SHARD_TASK_ID,
    CHAIN_DAY_ZONE,
    SHARD_TASK_ID,
    chain_dag_options,
    check_catalogue_task,
    choose_shards_task,
)
from foot_traffic_airflow.dag_defaults import producer_default_args
from foot_traffic_airflow.operators import FootTrafficProducerOperator
from foot_traffic_airflow.params import chain_params
from foot_traffic_airflow.timetables import ZonedCronTriggerTimetable

default_args = producer_default_args()
# FOOT_TRAFFIC_CHAIN_MAX_ACTIVE_SHARDS, ..._POOL, ..._PRIORITY, their ..._BACKFILL_ twins (and
# ..._SHARD_SIZE, in the Params)
options = chain_dag_options()

with DAG(
    dag_id="foot_traffic_chain_daily",
    description="One simulated day of every store of a chain to Kafka per run, over Airflow's workers; "
    "unpaused, a live run starts every day at 00:00 UTC+14 and streams for about 50 hours",
    doc_md=__doc__,
    # "At 00:00, Pacific/Kiritimati (UTC+14)" in the UI (the plugin registers this timetable).
    schedule=ZonedCronTriggerTimetable("0 0 * * *", timezone=CHAIN_DAY_ZONE),
    start_date=pendulum.datetime(2025, 1, 1, tz=CHAIN_DAY_ZONE),
    catchup=False,
    max_active_runs=3,
    default_args=default_args,
    params=chain_params(),  # the form: Chain (catalogue, shard size) first, then Day, Model, Kafka, Sensor
    tags=["foot-traffic", "kafka", "producer", "simulation", "chain"],
) as dag:
    shards = check_catalogue_task()()
    # A backfill's shards run as a task of their own (pool, priority and cap are fixed at
    # parse time): the branch follows one of the two, the other is skipped.
    choose = choose_shards_task(options)()
    shard_kwargs = dict(
        chain=True,
        day_timezone=CHAIN_DAY_ZONE,
        kafka_config_id="kafka_default",
        map_index_template="{{ task.stores | join(', ') | truncate(240) }}",
        # The priorities are the ones set, not summed with the tasks downstream.
        weight_rule="absolute",
        # The wait for the shard's first midnight (up to ~26 h, in the triggerer), its
        # stores' days (up to 25 h each, spread over the shard's time zones) and late exits.
        execution_timeout=timedelta(hours=56),
    )
    # The operator reads the Params above by name, as values (see Settings.params()).
    produce = FootTrafficProducerOperator.partial(
        task_id=SHARD_TASK_ID,
        max_active_tis_per_dag=options["max_active_shards"],
        pool=options["pool"],
        priority_weight=options["priority"],
        **shard_kwargs,
    ).expand_kwargs(shards)
    backfill = FootTrafficProducerOperator.partial(
        task_id=BACKFILL_SHARD_TASK_ID,
        max_active_tis_per_dag=options["backfill_max_active_shards"],
        pool=options["backfill_pool"],
        priority_weight=options["backfill_priority"],
        **shard_kwargs,
    ).expand_kwargs(shards)
    shards >> choose >> [produce, backfill]
    # One event per topic when every shard has delivered (see foot_traffic_airflow/assets.py).
    announce_topics_task(trigger_rule="none_failed_min_one_success")(
        XComArg(produce, key=TOPIC_ASSETS_XCOM), XComArg(backfill, key=TOPIC_ASSETS_XCOM),
    )
