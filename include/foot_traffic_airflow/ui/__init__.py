"""The "Foot traffic" pages inside the Airflow UI (served by the plugin in ``plugins/``).

- ``app``: the FastAPI app and its routes (Airflow's auth dependencies on each);
- ``inputs``: the plan query, validated by the engine's ``Settings``;
- ``runs``: producer runs, task instances, rendered arguments and XCom summaries from
  Airflow's metadata database;
- ``readback``: counts read back from the topics (bounded, optional);
- ``views``: the engine's plan lined up with what a run delivered;
- ``render``: HTML and inline SVG.
"""

from __future__ import annotations

URL_PREFIX = "/foot-traffic"
NAV_ROUTE = "foot-traffic"
RUN_ROUTE = "foot-traffic-run"  # == foot_traffic_airflow.links.RUN_VIEW_ROUTE


def external_views() -> list[dict[str, object]]:
    """The UI entries: a page in the navigation and a tab on every DAG run.

    Airflow shows a ``dag_run`` view on the runs of every DAG; the page says so for a
    run without a producer task. ``href`` is relative (no leading slash): the UI resolves
    it against its base URL, so the pages also work under a path prefix.
    """
    return [
        {
            "name": "Foot traffic",
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "url_route": NAV_ROUTE,
            "nav_top_level": True,
            "icon": URL_PREFIX.lstrip("/") + "/static/icon.svg",
            "icon_dark_mode": URL_PREFIX.lstrip("/") + "/static/icon-dark.svg",
        },
        {
            "name": "Foot traffic",
            "href": URL_PREFIX.lstrip("/") + "/runs/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": RUN_ROUTE,
            "icon": URL_PREFIX.lstrip("/") + "/static/icon.svg",
            "icon_dark_mode": URL_PREFIX.lstrip("/") + "/static/icon-dark.svg",
        },
    ]
