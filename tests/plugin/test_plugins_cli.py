"""``airflow plugins`` (Airflow's own plugin manager, in a fresh process) lists the plugin
with its FastAPI app, its two views and the operator's extra link, and the chain DAG's
timetable plugin."""

from __future__ import annotations

import json
import subprocess

from .conftest import BIN, airflow_env


def test_airflow_plugins_lists_the_app_views_and_link(airflow_db):
    proc = subprocess.run([str(BIN / "airflow"), "plugins", "-o", "json"], env=airflow_env(),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    mine = plugins["foot_traffic"]
    assert mine["source"] == "$PLUGINS_FOLDER/foot_traffic_plugin.py"
    assert mine["fastapi_apps"] == [{"app": "fastapi.applications.FastAPI", "url_prefix": "/foot-traffic",
                                     "name": "Foot traffic"}]
    views = {v["destination"]: v for v in mine["external_views"]}
    assert views["nav"]["name"] == "Foot traffic" and views["nav"]["href"] == "foot-traffic/"
    assert views["dag_run"]["href"] == "foot-traffic/runs/{DAG_ID}/{RUN_ID}"
    assert views["dag_run"]["url_route"] == "foot-traffic-run"
    assert mine["operator_extra_links"] == ["<foot_traffic_airflow.links.FootTrafficRunLink object>"]
    # The chain DAG's timetable comes from a plugin of its own (the UI's code cannot stop it loading).
    timetables = plugins["foot_traffic_timetables"]
    assert timetables["source"] == "$PLUGINS_FOLDER/foot_traffic_timetables.py"
    assert timetables["timetables"] == ["foot_traffic_airflow.timetables.ZonedCronTriggerTimetable"]
    assert "import error" not in proc.stdout.lower()
