"""
# foot_traffic_demo

**One simulated day in about a minute**, for trying the producer from the trigger form:
press *Trigger* and keep the defaults. It plays **yesterday** (the day before the run's
date; the `day` field picks another one) from its midnight, `time_scale` 1440 simulated
seconds per second, to the same topics as `foot_traffic_daily`, with that day's
timestamps. Watch the task log: the plan per slot, then progress every 10 seconds.

The same operator and Params as `foot_traffic_daily` (every field of its form can be
edited here too, in the sections *Day*, *Model*, *Kafka* and *Sensor*), with other
defaults (`time_scale` 1440, `from_midnight` on) and no schedule. It never competes with today's scheduled run
(another day, so another writer). A day already in the topics is not sent again: the
run says "already complete: nothing to send" (pick another `day`). A `seed` other than
the one a day was begun with is refused for that day.

See the README, section "Airflow", for the walkthrough.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, XComArg

from foot_traffic_airflow.assets import TOPIC_ASSETS_XCOM, announce_topics_task
from foot_traffic_airflow.operators import FootTrafficProducerOperator
from foot_traffic_airflow.params import demo_params

with DAG(
    dag_id="foot_traffic_demo",
    description="One simulated day (yesterday by default) in about a minute",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "foot-traffic", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params=demo_params(),
    tags=["foot-traffic", "kafka", "demo"],
) as dag:
    produce = FootTrafficProducerOperator(
        task_id="produce_day",
        kafka_config_id="kafka_default",
        day="{{ params.day or '' }}",
        days_before=1,
    )
    announce_topics_task()(XComArg(produce, key=TOPIC_ASSETS_XCOM))
