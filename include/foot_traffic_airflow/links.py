"""The producer task's extra link: its run's "Foot traffic" page (plan against delivered).

Registered through the plugin (``operator_extra_links``), so the API server builds the
link itself from the task instance key, while the task is still running too; nothing is
pushed to XCom and the operator does not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

from foot_traffic_airflow.operators import FootTrafficProducerOperator

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

# The external view of the plugin on a DAG run: /dags/<dag>/runs/<run>/plugin/<RUN_VIEW_ROUTE>
RUN_VIEW_ROUTE = "foot-traffic-run"
LINK_NAME = "Foot traffic"


def run_view_path(dag_id: str, run_id: str) -> str:
    """The UI path of a run's "Foot traffic" tab (Airflow's chrome around the plugin page)."""
    return f"dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/plugin/{RUN_VIEW_ROUTE}"


def ui_base_url() -> str:
    """``[api] base_url`` without its trailing slash ("" when unset: a path on the same host)."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "").rstrip("/")


class FootTrafficRunLink(BaseOperatorLink):
    """"Foot traffic" button on the producer's task instances."""

    name = LINK_NAME
    operators: ClassVar[list[type[BaseOperator]]] = [FootTrafficProducerOperator]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return f"{ui_base_url()}/{run_view_path(ti_key.dag_id, ti_key.run_id)}"
