"""DAG integrity tests run Airflow in-process: give it a throw-away home before it is imported."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if "_FOOT_TRAFFIC_TEST_AIRFLOW_HOME" not in os.environ:
    os.environ["_FOOT_TRAFFIC_TEST_AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="ft-airflow-home-")
os.environ["AIRFLOW_HOME"] = os.environ["_FOOT_TRAFFIC_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")  # the same Airflow as tests/plugin
