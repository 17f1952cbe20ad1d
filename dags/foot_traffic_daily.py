"""
# foot_traffic_daily

Streams one simulated day of store foot traffic to Kafka per run:

* **`foot_traffic`**: one session record per visit (entry and exit time, trip duration);
* **`foot_traffic_realistic`**: separate `entry` and `exit` events.

The day played is the run's **logical date (UTC)**. The scheduled run at midnight streams
today in real time (`time_scale` compresses it) and ends with the day's last late exits
after midnight, so two runs may overlap (`max_active_runs=2`). A run for a past day
(a manual trigger with a logical date, `airflow backfill create`, `airflow dags test`)
sends that whole day at full speed with that day's timestamps; with `from_midnight` on,
it is paced instead, `time_scale` simulated seconds per second from that day's midnight
(`time_scale` 1440 plays a day in a minute: the DAG `foot_traffic_demo` does exactly
that, for yesterday by default, with the same fields as this DAG's form plus the day). A
retry sends only what the topics do not hold yet.

**One writer per day:** each day is written by a Kafka transactional producer whose id
comes from the topics and the day, so a newer run of the same day (a manual trigger
while the scheduled run streams, a retry while a zombie attempt still sends) takes the
day over: the older run stops at once, sends nothing more and fails *without retry*,
naming the newer run (XCom `fenced: true`, `fenced_by`). Nothing is sent twice. A run
with another plan for a day already begun (another `seed` or customer count) is refused
before it takes the day. Consumers should read with `isolation.level=read_committed`.

**Connection:** Kafka provider connection `kafka_default` (conn_type `kafka`, extra JSON
with `bootstrap.servers` and any `security.protocol` / `sasl.*` / `ssl.*`); without it,
the `KAFKA_BROKER` environment variable.

**Params**, grouped in the trigger form as *Day*, *Model*, *Kafka* and *Sensor* (defaults
from the original environment variables where set): `daily_customers`, `base_daily_customers`, `daily_variation_pct`, `disable_daily_variation`,
`time_scale`, `seed`, `topic`, `topic_realistic`, `from_midnight`, `profile_file` (a built-in
profile, `seed` or `retail`, or a profile file on the workers), the door sensor's flaws on
the entry/exit topic (`sensor_miss_rate`, `sensor_double_rate`, `sensor_batch_seconds`,
`sensor_upload_delay_seconds`; all off by default) and `validate` (read the day back at the
end and test it against its model: the table in the log, a summary in the XCom).

Outlets: the last task, `announce_topics`, has the asset alias `foot_traffic_topics`;
each successful run resolves it to the topics it wrote, `kafka://<first bootstrap server of the connection>/<topic>`, so the
Assets view names the broker really used. Downstream DAGs (shelf events, POS
transactions) schedule on `AssetAlias("foot_traffic_topics")`. See the README, section
"Airflow".
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, XComArg

from foot_traffic_airflow.assets import TOPIC_ASSETS_XCOM, announce_topics_task
from foot_traffic_airflow.dag_defaults import producer_default_args
from foot_traffic_airflow.operators import FootTrafficProducerOperator
from foot_traffic_airflow.params import dag_params

# A day of real-time traffic plus its late exits after midnight, plus slack.
default_args = producer_default_args(execution_timeout=timedelta(hours=26))

with DAG(
    dag_id="foot_traffic_daily",
    description="One simulated day of store foot traffic to Kafka per run",
    doc_md=__doc__,
    schedule="0 0 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    default_args=default_args,
    params=dag_params(),
    tags=["foot-traffic", "kafka", "producer", "simulation"],
) as dag:
    # The operator reads the Params above by name, as values (see Settings.params()).
    produce = FootTrafficProducerOperator(task_id="produce_day", kafka_config_id="kafka_default")
    # The topics' asset events, one run at a time (see foot_traffic_airflow/assets.py).
    announce_topics_task()(XComArg(produce, key=TOPIC_ASSETS_XCOM))
