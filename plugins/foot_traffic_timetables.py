"""Airflow plugin "foot_traffic_timetables": the chain DAG's schedule, which names its time zone.

Airflow serializes a DAG's timetable only when its class is registered by a plugin; without
this file, ``foot_traffic_chain_daily`` cannot be serialized (scheduled, shown, tested).
It imports nothing but the timetable, so that it loads wherever the DAGs are parsed.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from foot_traffic_airflow.timetables import ZonedCronTriggerTimetable


class FootTrafficTimetablesPlugin(AirflowPlugin):
    name = "foot_traffic_timetables"
    timetables = [ZonedCronTriggerTimetable]
