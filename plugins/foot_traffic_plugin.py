"""Airflow plugin "foot_traffic": the "Foot traffic" pages in the UI and the producer's extra link.

Wiring only; the code lives in ``include/foot_traffic_airflow`` (``ui``, ``links``):

- a FastAPI app under ``/foot-traffic`` (the plan of any day; a run's plan against what it
  delivered), every route behind Airflow's own authentication;
- a "Foot traffic" entry in the navigation and a "Foot traffic" tab on DAG runs;
- a "Foot traffic" extra link on ``FootTrafficProducerOperator`` task instances.

The chain DAG's timetable is registered by ``foot_traffic_timetables.py``, a plugin of its
own: a problem in the UI's code never stops the chain DAG from being scheduled.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from foot_traffic_airflow.links import FootTrafficRunLink
from foot_traffic_airflow.ui import URL_PREFIX, external_views
from foot_traffic_airflow.ui.app import create_app


class FootTrafficPlugin(AirflowPlugin):
    name = "foot_traffic"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Foot traffic"}]
    external_views = external_views()
    operator_extra_links = [FootTrafficRunLink()]
