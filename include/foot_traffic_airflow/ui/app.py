"""The plugin's FastAPI app: the plan page, a run's page, and the same data as JSON.

Mounted by Airflow's API server under the plugin's ``url_prefix``. Airflow does not
authenticate plugin apps, so every route declares Airflow's own dependencies:
``get_user`` (the JWT of the UI's ``_token`` cookie, or an ``Authorization: Bearer``
token; 401 without one, 403 for an invalid one) and, for a run, ``requires_access_dag``
(the auth manager's permission to read that DAG's runs and XComs; 403 without it).

Pages are HTML with inline SVG, under a Content-Security-Policy that lets them load
nothing from anywhere (``default-src 'none'``; the only script is inline, with a nonce).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route signatures'
# annotations at run time, and the dependencies below are local to ``create_app``.
import logging
import secrets
import time
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from foot_traffic.run.pacing import Clock, SystemClock
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day

from foot_traffic_airflow.ui import inputs, render, runs, views
from foot_traffic_airflow.ui import readback as rb
from foot_traffic_airflow.ui.chainview import chain_view
from foot_traffic_airflow.ui.runs import ProducerRun, ProducerTask, load_run, recent_runs

log = logging.getLogger(__name__)

MAX_ID_LENGTH = 250  # Airflow's dag_id / run_id column width
Text = Annotated[str | None, Query()]  # lengths are checked by inputs.parse_plan_query (400 with the form)


class PageError(Exception):
    """An error the page explains (status 4xx and a message; never a stack trace)."""

    def __init__(self, status: int, title: str, message: str, problems: list[str] | None = None):
        self.status, self.title, self.message, self.problems = status, title, message, problems or []
        super().__init__(message)


def _airflow_dependencies():
    """Airflow's auth dependencies and DB session (imported when the app is built, in the API server)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.common.db.common import SessionDep
    from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag

    read_run = [
        Depends(requires_access_dag("GET", DagAccessEntity.RUN)),
        Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),
    ]
    return GetUserDep, SessionDep, read_run


def _authorized_dag_ids(user: Any, session: Any) -> set[str] | None:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)


def create_app(
    *,
    clock: Clock | None = None,
    read_back: Callable[..., rb.Readback] | None = None,
    read_back_stores: Callable[..., dict[str, rb.Readback]] | None = None,
) -> FastAPI:
    """The app the plugin mounts. ``clock`` gives "today"; ``read_back`` reads the topics
    (``read_back_stores``: for a chain's stores, one scan for all)."""
    clock = clock or SystemClock()
    read_back = read_back or rb.read_back
    read_back_stores = read_back_stores or (lambda *args, **kwargs: rb.read_back_stores(*args, **kwargs))
    GetUserDep, SessionDep, read_run = _airflow_dependencies()
    app = FastAPI(title="Foot traffic", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def headers(request: Request, call_next):
        request.state.nonce = secrets.token_urlsafe(16)
        started = time.perf_counter()
        response: Response = await call_next(request)
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src 'nonce-{request.state.nonce}'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
        )
        return response

    def wants_json(request: Request) -> bool:
        return "/api/" in request.url.path

    def error_response(request: Request, status: int, title: str, message: str, problems: list[str]) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": message, "problems": problems}, status_code=status)
        nonce = getattr(request.state, "nonce", "")
        if problems:
            body = render.document(title, f"<h1>{render.esc(title)}</h1>{render.errors_box(problems)}", nonce)
        else:
            body = render.message_page(title, message, nonce)
        return HTMLResponse(body, status_code=status)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError):
        return error_response(request, exc.status, exc.title, exc.message, exc.problems)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException (401/403) and unknown paths
    async def http_error(request: Request, exc: StarletteHTTPException):
        titles = {401: "Sign in to Airflow", 403: "Not allowed"}
        message = str(exc.detail)
        if exc.status_code == 401:
            message = "This page needs an Airflow login: sign in to the Airflow UI, then open it again."
        return error_response(request, exc.status_code, titles.get(exc.status_code, "Error"), message, [])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return error_response(request, 400, "Bad request", "invalid request: " + "; ".join(problems), problems)

    # -- plan ---------------------------------------------------------------------------
    def plan_for(query: dict[str, str | None]) -> views.PlanView:
        try:
            q = inputs.parse_plan_query(query, clock.now().date())
        except inputs.InputError as exc:
            raise PageError(400, "Bad request", "invalid plan query: " + "; ".join(exc.problems), exc.problems) from None
        plan = plan_store_day(implicit_store(q.settings, q.profile), q.day, q.settings)
        return views.plan_view(plan, q.settings)

    def plan_query(day: Text = None, seed: Text = None, customers: Text = None, baseline: Text = None,
                   variation: Text = None, profile: Text = None) -> dict[str, str | None]:
        return {"day": day, "seed": seed, "customers": customers, "baseline": baseline,
                "variation": variation, "profile": profile}

    PlanQueryDep = Annotated[dict, Depends(plan_query)]

    @app.get("/", response_class=HTMLResponse)
    def plan_page(request: Request, user: GetUserDep, session: SessionDep, query: PlanQueryDep) -> HTMLResponse:
        values = inputs.defaults()
        values["day"] = clock.now().date().isoformat()
        values.update({k: v for k, v in query.items() if v is not None})
        choices = list(inputs.profile_choices())
        recent = recent_runs(session, _authorized_dag_ids(user, session))
        try:
            view, problems, status = plan_for(query), [], 200
        except PageError as exc:
            view, problems, status = None, exc.problems, exc.status
        return HTMLResponse(render.plan_page(view, values, choices, recent, problems, request.state.nonce), status)

    @app.get("/api/plan")
    def plan_json(user: GetUserDep, query: PlanQueryDep) -> dict[str, Any]:
        return plan_for(query).as_dict()

    @app.get("/static/{name}")
    def icon(name: str, user: GetUserDep) -> Response:
        if name not in render.ICONS:
            raise PageError(404, "Not found", f"no static file {name!r}")
        return Response(render.ICONS[name], media_type="image/svg+xml")

    # -- runs ---------------------------------------------------------------------------
    def run_for(dag_id: str, run_id: str, session: Any, with_readback: bool, store: str | None = None) -> views.RunView:
        if len(dag_id) > MAX_ID_LENGTH or len(run_id) > MAX_ID_LENGTH:
            raise PageError(400, "Bad request", "dag_id and run_id have at most 250 characters")
        run = load_run(session, dag_id, run_id)
        if run is None:
            raise PageError(404, "No such run", f"DAG {dag_id!r} has no run {run_id!r}.")
        if not run.tasks:
            raise PageError(
                404, "Not a foot traffic run",
                f"Run {run_id!r} of {dag_id!r} has no FootTrafficProducerOperator task: this tab shows the runs "
                "of the producer DAGs (foot_traffic_daily, foot_traffic_chain_daily).",
            )
        stores = runs.run_stores(run)
        if store is not None:
            if len(store) > MAX_ID_LENGTH or store not in stores:
                known = ", ".join(stores[:10]) + (f" and {len(stores) - 10} more" if len(stores) > 10 else "")
                raise PageError(404, "No such store in this run",
                                f"Run {run_id!r} has no store {store[:MAX_ID_LENGTH]!r}; its stores: {known or 'none'}.")
            run = runs.only_store(run, store)
        # A chain run with many store-days: the summaries' verdicts, a store picked to read it back.
        overview = store is None and len(stores) > views.STORES_READ_BACK
        timeout = rb.timeout_seconds()
        done: dict[tuple, rb.Readback] = {}  # mapped tasks of one run share their topics: one scan each

        def conn_of(task: ProducerTask) -> str:
            return str(views.unset(task.rendered.get("kafka_config_id")) or "kafka_default")

        def readback_for(task: ProducerTask, day: date, topics: list[str], store: str | None = None) -> rb.Readback | None:
            if overview or not with_readback or not rb.enabled():
                return None
            conn_id = conn_of(task)
            key = (conn_id, day, tuple(topics), store)
            if key not in done:
                if store is None:
                    done[key] = read_back(conn_id, day, topics, timeout)
                else:  # every store of the run with this day, connection and topics: one scan
                    wanted = [s for t in run.tasks if conn_of(t) == conn_id
                              for s, d in runs.store_days(t) if d == day] or [store]
                    for name, found in read_back_stores(conn_id, day, topics, timeout, wanted).items():
                        done[(conn_id, day, tuple(topics), name)] = found
                    done.setdefault(key, rb.Readback(error="not read back"))
            return done[key]

        view = views.run_view(run, readback_for)
        view.stores, view.store, view.overview = stores, store, overview
        if runs.is_chain(run):
            view.chain = chain_view(run, view.deliveries, [store] if store else stores,
                                    under_way_readback(run, store, view, readback_for))
        return view

    def under_way_readback(run: ProducerRun, store: str | None, view: views.RunView, readback_for) -> dict:
        """The picked store, its shard still under way (no summary): what the topics hold of its day so far."""
        if store is None or view.deliveries or not run.tasks:
            return {}
        task, day = run.tasks[0], (run.store_days or {}).get("day") or run.tasks[0].day
        if day is None:
            return {}
        found = readback_for(task, date.fromisoformat(day), views.topics_of(views.task_settings(task, run)), store)
        return {store: found} if found is not None else {}

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse, dependencies=read_run)
    def run_page(request: Request, dag_id: str, run_id: str, session: SessionDep,
                 readback: Text = None, store: Text = None) -> HTMLResponse:
        view = run_for(dag_id, run_id, session, readback not in {"0", "false", "no"}, store or None)
        return HTMLResponse(render.run_page(view, request.state.nonce))

    @app.get("/api/runs/{dag_id}/{run_id}", dependencies=read_run)
    def run_json(dag_id: str, run_id: str, session: SessionDep, readback: Text = None,
                 store: Text = None) -> dict[str, Any]:
        return run_for(dag_id, run_id, session, readback not in {"0", "false", "no"}, store or None).as_dict()

    return app
