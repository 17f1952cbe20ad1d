"""The plugin's app inside Airflow's own API app: charts equal the engine's plan, a real run
is checked against its plan, every route needs an Airflow user, bad input is a 4xx.

Requests go through Airflow's app (``create_app("core")``) exactly as the API server
serves them: the plugin is loaded from ``plugins/`` by Airflow's plugin manager.
"""

from __future__ import annotations

import json
from datetime import date
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from foot_traffic.model.profile import load_profile, original_profile
from foot_traffic.plan.implicit import implicit_store, plan_day
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.timeline import day_timeline
from foot_traffic.settings import Settings

from .conftest import SECRET, conn_json

PLAN = "/foot-traffic/"
PLAN_JSON = "/foot-traffic/api/plan"


def get(client, url: str, token: str | None = None, bearer: bool = False, **kw):
    client.cookies.clear()  # Airflow's refresh middleware may have set one
    headers = {}
    if token and bearer:
        headers["Authorization"] = f"Bearer {token}"
    elif token:
        headers["Cookie"] = f"_token={token}"
    return client.get(url, headers=headers, **kw)


class Bars(HTMLParser):
    """``data-key -> data-value`` of the ``rect.bar.<kind>`` of each ``svg.chart``."""

    def __init__(self):
        super().__init__()
        self.chart = None
        self.found: dict[tuple[str, str], dict[str, int]] = {}
        self.paths: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "chart" in (a.get("class") or ""):
            self.chart = a.get("data-chart")
        elif tag == "rect" and "bar" in (a.get("class") or "").split() and "data-key" in a:
            kind = [c for c in a["class"].split() if c not in {"bar", "selected"}][0]
            self.found.setdefault((self.chart, kind), {})[a["data-key"]] = int(a["data-value"])
        elif tag == "path" and a.get("class") == "occupancy":
            self.paths[self.chart] = a


def bars(html: str) -> Bars:
    parser = Bars()
    parser.feed(html)
    return parser


# -- the plan page ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        {"day": "2025-11-07", "seed": "7", "customers": "300"},
        {"day": "2026-03-29", "seed": "42", "baseline": "2500", "variation": "0.2"},
        {"day": "2024-02-29", "seed": "0", "baseline": "1000", "variation": "0"},
        {"day": "2025-11-08", "seed": "5", "customers": "800", "profile": "retail"},
    ],
)
def test_plan_json_and_charts_equal_the_engines_plan(client, admin_token, query):
    names = {"seed": "SEED", "customers": "DAILY_CUSTOMERS", "baseline": "BASE_DAILY_CUSTOMERS",
             "variation": "DAILY_VARIATION_PCT"}
    settings = Settings.build({names[k]: v for k, v in query.items() if k in names})
    day = date.fromisoformat(query["day"])
    profile = load_profile(query.get("profile"))
    plan = plan_store_day(implicit_store(settings, profile), day, settings)
    timeline = day_timeline(plan)

    data = get(client, PLAN_JSON, admin_token, params=query).json()
    assert data["plan_id"] == plan.plan_id and data["total_visits"] == plan.total
    assert list(data["planned_per_slot"].values()) == list(plan.slot_counts)
    assert data["entries_per_hour"] == list(timeline.entries_per_hour)
    assert data["occupancy_per_minute"] == list(timeline.occupancy)
    store = implicit_store(settings, profile)
    week = [plan_store_day(store, date.fromordinal(day.toordinal() - day.weekday() + i), settings).total for i in range(7)]
    assert [w["total_visits"] for w in data["week"]] == week

    response = get(client, PLAN, admin_token, params=query)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    drawn = bars(response.text)
    labels = [s.label for s in plan.profile.slots]
    assert drawn.found[("slots", "planned")] == dict(zip(labels, plan.slot_counts))
    assert list(drawn.found[("day", "hour")].values()) == list(timeline.entries_per_hour)
    assert list(drawn.found[("week", "week")].values()) == week
    assert int(drawn.paths["day"]["data-peak"]) == timeline.peak
    assert plan.plan_id in response.text


def test_plan_page_defaults_to_today_from_the_injected_clock(api_app, admin_token):
    """The app's clock gives "today" (Time is explicit): a plugin app built with a fixed
    clock draws that day."""
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from foot_traffic.testing import FakeClock
    from foot_traffic_airflow.ui.app import create_app

    app = create_app(clock=FakeClock(datetime(2025, 12, 24, 15, 0, tzinfo=UTC)))
    with TestClient(app) as c:
        data = c.get("/api/plan", headers={"Authorization": f"Bearer {admin_token}"}).json()
    assert data["day"] == "2025-12-24" and data["weekday"] == "Wednesday" and data["seed"] == 42


# -- authentication ------------------------------------------------------------------------------
ROUTES = [PLAN, PLAN_JSON, "/foot-traffic/static/icon.svg", "/foot-traffic/runs/foot_traffic_daily/x",
          "/foot-traffic/api/runs/foot_traffic_daily/x"]


@pytest.mark.parametrize("url", ROUTES)
def test_every_route_needs_an_airflow_user(client, url):
    response = get(client, url)
    assert response.status_code == 401
    assert "Traceback" not in response.text


@pytest.mark.parametrize("url", ROUTES)
def test_an_invalid_token_is_refused(client, url):
    response = get(client, url, "not-a-jwt")
    assert response.status_code == 403
    forged = get(client, url, "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl", bearer=True)
    assert forged.status_code == 403


def test_a_user_is_accepted_by_cookie_or_bearer_token(client, viewer_token):
    assert get(client, PLAN, viewer_token).status_code == 200
    assert get(client, PLAN_JSON, viewer_token, bearer=True).status_code == 200


def test_a_run_needs_the_permission_to_read_the_dags_runs(client, producer_run, roleless_token, viewer_token):
    url = f"/foot-traffic/runs/{producer_run['dag_id']}/{quote(producer_run['run_id'], safe='')}"
    refused = get(client, url, roleless_token)
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert get(client, url + "?readback=0", viewer_token).status_code == 200
    # A user without DAG access sees the plan page but no run in its list.
    page = get(client, PLAN, roleless_token)
    assert page.status_code == 200 and producer_run["run_id"] not in page.text


def test_an_unknown_path_is_a_404_page(client, admin_token):
    response = get(client, "/foot-traffic/nothing/here", admin_token)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text


def test_the_401_page_asks_to_sign_in_and_the_api_answers_json(client):
    page = get(client, PLAN)
    assert "sign in" in page.text.lower() and page.headers["content-type"].startswith("text/html")
    assert get(client, PLAN_JSON).json()["detail"]


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"day": "2025-13-01"}, "day='2025-13-01'"),
        ({"day": "yesterday"}, "day='yesterday'"),
        ({"day": "2025-1-1"}, "day='2025-1-1'"),
        ({"seed": "abc"}, "seed (SEED='abc'"),
        ({"seed": "-1"}, "seed (SEED='-1'"),
        ({"seed": str(2**63)}, "seed (SEED="),
        ({"customers": "0"}, "customers (DAILY_CUSTOMERS='0'"),
        ({"customers": "1e9"}, "customers (DAILY_CUSTOMERS='1e9'"),
        ({"baseline": "20000000"}, "baseline (BASE_DAILY_CUSTOMERS='20000000'"),
        ({"variation": "1.5"}, "variation (DAILY_VARIATION_PCT='1.5'"),
        ({"variation": "nan"}, "variation (DAILY_VARIATION_PCT='nan'"),
        ({"profile": "../../etc/passwd"}, "profile='../../etc/passwd': not one of seed"),
        ({"seed": "9" * 300}, "seed"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_never_a_500(client, admin_token, query, named):
    api = get(client, PLAN_JSON, admin_token, params=query)
    assert api.status_code == 400, api.text
    assert named in api.json()["detail"]
    page = get(client, PLAN, admin_token, params=query)
    assert page.status_code == 400
    assert "Traceback" not in page.text and "Cannot draw this plan" in page.text
    assert 'name="seed"' in page.text  # the form is there to fix it


def test_every_bad_field_is_reported_at_once(client, admin_token):
    detail = get(client, PLAN_JSON, admin_token, params={"day": "x", "seed": "y", "customers": "-5"}).json()
    assert len(detail["problems"]) == 3


def test_unknown_run_and_non_producer_run_are_404(client, admin_token, producer_run):
    missing = get(client, "/foot-traffic/api/runs/foot_traffic_daily/no_such_run", admin_token)
    assert missing.status_code == 404 and "no run" in missing.json()["detail"]
    too_long = get(client, "/foot-traffic/api/runs/foot_traffic_daily/" + "x" * 300, admin_token)
    assert too_long.status_code == 400
    # The UI shows the run tab on every DAG's runs: another DAG's run gets a 404 that says why.
    from datetime import UTC, datetime

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.query(DagRun).filter_by(dag_id="not_a_producer", run_id="manual__1").first() is None:
            session.add(DagRun(dag_id="not_a_producer", run_id="manual__1", run_type="manual", state="success",
                               logical_date=datetime(2025, 1, 1, tzinfo=UTC), run_after=datetime(2025, 1, 1, tzinfo=UTC)))
    other = get(client, "/foot-traffic/runs/not_a_producer/manual__1", admin_token)
    assert other.status_code == 404 and "no FootTrafficProducerOperator task" in other.text
    listed = get(client, PLAN, admin_token).text
    assert producer_run["run_id"] in listed and "not_a_producer" not in listed


def test_a_large_day_skips_the_minute_timeline_but_keeps_slots_and_week(client, admin_token):
    data = get(client, PLAN_JSON, admin_token, params={"day": "2025-11-07", "seed": "1", "customers": "600000"}).json()
    assert sum(data["planned_per_slot"].values()) == 600_000
    assert data["occupancy_per_minute"] is None and "250,000" in data["timeline_note"]
    assert [w["total_visits"] for w in data["week"]] == [600_000] * 7


# -- a real run --------------------------------------------------------------------------------
def run_url(run: dict, api: bool = False) -> str:
    return f"/foot-traffic/{'api/' if api else ''}runs/{run['dag_id']}/{quote(run['run_id'], safe='')}"


def test_a_finished_runs_page_shows_plan_against_delivered_with_every_slot_checked(
    client, admin_token, producer_run, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", conn_json(producer_run["bootstrap"]))
    monkeypatch.setenv("FOOT_TRAFFIC_UI_READBACK_TIMEOUT", "30")  # generous: this asserts the counts read back
    data = get(client, run_url(producer_run, api=True), admin_token).json()
    (delivery,) = data["deliveries"]
    plan = plan_day(date(2025, 11, 7), original_profile(), seed=7, baseline=1000, fixed_total=300)
    assert delivery["state"] == "success"
    assert delivery["plan"]["plan_id"] == plan.plan_id == delivery["summary"]["plan_id"]
    assert [s["planned"] for s in delivery["slots"]] == list(plan.slot_counts)
    assert [s["delivered"] for s in delivery["slots"]] == list(plan.slot_counts)
    assert {s["status"] for s in delivery["slots"]} == {"ok"}
    topics = {t["topic"]: t for t in delivery["topics"]}
    assert topics[producer_run["topic"]] == {"topic": producer_run["topic"], "expected": 300, "sent": 300,
                                             "read_back": 300, "status": "ok"}
    assert topics[producer_run["topic_realistic"]]["read_back"] == 600
    assert delivery["read_back"]["counts"] == {plan.plan_id: {producer_run["topic"]: 300,
                                                             producer_run["topic_realistic"]: 600}}
    assert delivery["verdict"] == "complete"
    assert delivery["plan"]["entries_per_hour"] == list(day_timeline(plan).entries_per_hour)
    # The week uses the run's Params (the DAG's defaults updated by its conf: 300 customers a day).
    assert [w["total_visits"] for w in delivery["plan"]["week"]] == [300] * 7

    page = get(client, run_url(producer_run), admin_token)
    assert page.status_code == 200
    drawn = bars(page.text)
    labels = [s.label for s in plan.profile.slots]
    assert drawn.found[("slots", "planned")] == dict(zip(labels, plan.slot_counts))
    assert drawn.found[("slots", "delivered")] == dict(zip(labels, plan.slot_counts))
    assert page.text.count('data-status="ok"') == len(labels) + 2  # every slot and both topics
    assert 'data-verdict="complete"' in page.text


def test_a_chain_runs_page_reads_every_store_back_in_one_scan_and_picks_a_store(
    client, admin_token, chain_run, monkeypatch
):
    """A chain run: every store-day checked against its own records, all read back in one
    scan; ``?store=`` shows (and reads back) one store; an unknown store is a 404 naming the
    run's stores; above ``STORES_READ_BACK`` stores the page is an overview from the summaries,
    each store a link to its own page, and nothing is read back until a store is picked."""
    from foot_traffic_airflow.ui import readback as rb
    from foot_traffic_airflow.ui import views

    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", conn_json(chain_run["bootstrap"]))
    monkeypatch.setenv("FOOT_TRAFFIC_UI_READBACK_TIMEOUT", "30")
    scans: list[list[str]] = []
    real = rb.read_back_stores
    monkeypatch.setattr(rb, "read_back_stores", lambda *a, **k: scans.append(list(a[4])) or real(*a, **k))
    stores = chain_run["stores"]

    data = get(client, run_url(chain_run, api=True), admin_token).json()
    assert sorted(data["stores"]) == sorted(stores) and data["store"] is None
    assert len(data["deliveries"]) == len(stores)
    assert all(d["verdict"] == "complete" for d in data["deliveries"]), [d["verdict_text"] for d in data["deliveries"]]
    assert all(d["read_back"]["counts"] for d in data["deliveries"])
    assert len(scans) == 1 and sorted(scans[0]) == sorted(stores), "one scan for every store of the day"

    one = get(client, run_url(chain_run, api=True) + "?store=rome-centro", admin_token).json()
    (delivery,) = one["deliveries"]
    assert one["store"] == "rome-centro" and delivery["summary"]["store_id"] == "rome-centro"
    assert delivery["verdict"] == "complete" and scans[-1] == ["rome-centro"]
    html = get(client, run_url(chain_run) + "?store=rome-centro", admin_token).text
    assert '<option value="rome-centro" selected>' in html and html.count('<section class="delivery"') == 1

    missing = get(client, run_url(chain_run) + "?store=nowhere", admin_token)
    assert missing.status_code == 404 and "no store &#x27;nowhere&#x27;" in missing.text and "rome-centro" in missing.text

    monkeypatch.setattr(views, "STORES_READ_BACK", 3)
    before = len(scans)
    page = get(client, run_url(chain_run), admin_token).text
    assert page.count("<tr data-store=") == len(stores) and '<section class="delivery"' not in page
    assert 'href="?store=rome-centro"' in page
    overview = get(client, run_url(chain_run, api=True), admin_token).json()
    assert overview["read_back_skipped_for_overview"] and all("read_back" not in d for d in overview["deliveries"])
    assert len(scans) == before, "nothing read back for the overview"
    assert get(client, run_url(chain_run, api=True) + "?store=rome-centro", admin_token).json()["deliveries"][0]["read_back"]


def test_run_page_without_the_broker_still_checks_from_the_summary(client, admin_token, producer_run, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", conn_json("127.0.0.1:1"))
    monkeypatch.setenv("FOOT_TRAFFIC_UI_READBACK_TIMEOUT", "1.5")
    data = get(client, run_url(producer_run, api=True), admin_token).json()
    (delivery,) = data["deliveries"]
    assert delivery["read_back"]["error"] and delivery["read_back"]["seconds"] < 8  # the deadline held (1.5 s)
    assert delivery["verdict"] == "complete"
    assert [t["read_back"] for t in delivery["topics"]] == [None, None]
    off = get(client, run_url(producer_run, api=True) + "?readback=0", admin_token).json()
    assert "read_back" not in off["deliveries"][0]


def test_no_secret_of_the_kafka_connection_reaches_the_page(client, admin_token, producer_run, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", conn_json(
        producer_run["bootstrap"], **{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                                      "sasl.username": "ft", "sasl.password": SECRET}))
    monkeypatch.setenv("FOOT_TRAFFIC_UI_READBACK_TIMEOUT", "4")
    for url in (run_url(producer_run), run_url(producer_run, api=True)):
        response = get(client, url, admin_token)
        assert response.status_code == 200
        assert SECRET not in response.text
    assert json.loads(get(client, run_url(producer_run, api=True), admin_token).text)["deliveries"][0]["read_back"]


def test_a_read_back_error_that_quotes_the_password_is_scrubbed(producer_run, monkeypatch):
    """kafka-python's SASL errors may echo what they were given: the page gets it without secrets."""
    from kafka.errors import KafkaError

    from foot_traffic.delivery.scan import KafkaDayScanner
    from foot_traffic_airflow.ui.readback import read_back

    def failing_scan(self, *args, **kwargs):
        raise KafkaError(f"SASL authentication failed for ft/{SECRET}")

    monkeypatch.setattr(KafkaDayScanner, "scan", failing_scan)
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", conn_json(
        producer_run["bootstrap"], **{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
                                      "sasl.username": "ft", "sasl.password": SECRET}))
    result = read_back("kafka_default", date(2025, 11, 7), [producer_run["topic"]], 5.0)
    assert result.error and "SASL authentication failed" in result.error
    assert SECRET not in result.error and "***" in result.error


def test_the_operator_extra_link_points_at_the_runs_tab(client, admin_token, producer_run):
    run_q = quote(producer_run["run_id"], safe="")
    links = get(client, f"/api/v2/dags/foot_traffic_daily/dagRuns/{run_q}/taskInstances/produce_day/links",
                admin_token, bearer=True).json()
    assert links["extra_links"]["Foot traffic"].endswith(
        f"/dags/foot_traffic_daily/runs/{run_q}/plugin/foot-traffic-run"
    )
    plugins = get(client, "/api/v2/plugins", admin_token, bearer=True).json()["plugins"]
    mine = next(p for p in plugins if p["name"] == "foot_traffic")
    assert {v["destination"]: v["href"] for v in mine["external_views"]} == {
        "nav": "foot-traffic/", "dag_run": "foot-traffic/runs/{DAG_ID}/{RUN_ID}"}


def test_pages_load_nothing_from_elsewhere(client, admin_token):
    response = get(client, PLAN, admin_token)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert "http://" not in response.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in response.text
