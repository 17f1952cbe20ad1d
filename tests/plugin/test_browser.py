"""A real browser on the real API server: headless Chromium signs in to Airflow, opens the
"Foot traffic" page from the navigation and a finished run's "Foot traffic" tab, and the
test reads the drawn charts (their bars' numbers and sizes) against the engine's plan.

``airflow api-server`` runs alone on a free port, on the tests' throwaway Airflow home
(SimpleAuthManager, as ``make airflow``), with the producer run made by ``airflow dags
test``. Screenshots go to ``docs/screenshots/latest/`` (git-ignored); with
``FOOT_TRAFFIC_UPDATE_SCREENSHOTS=1`` the docs' ``docs/plugin-plan.png`` and
``docs/plugin-run.png`` are replaced too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import closing
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from foot_traffic.model.profile import original_profile
from foot_traffic.plan.implicit import implicit_store, plan_day
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.plan.timeline import day_timeline
from foot_traffic.settings import Settings
from tests.support.cdp import Browser
from tests.support.chromium import ensure_chromium

from .conftest import BIN, CHAIN_DAY, ROOT, airflow_env, conn_json

pytestmark = pytest.mark.browser

SHOTS = ROOT / "docs" / "screenshots" / "latest"
IFRAME_DOC = "(document.querySelector('iframe') && document.querySelector('iframe').contentDocument)"
# Every bar of every chart in the plugin's iframe, with its drawn size.
READ_BARS = f"""(() => {{
  const d = {IFRAME_DOC};
  if (!d) return null;
  return [...d.querySelectorAll('svg.chart rect.bar[data-key]')].map(r => {{
    const b = r.getBBox();
    return {{chart: r.closest('svg').dataset.chart, kind: [...r.classList].find(c => !['bar','selected'].includes(c)),
             key: r.dataset.key, value: Number(r.dataset.value), height: b.height, width: b.width}};
  }});
}})()"""


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium() -> str:
    path, why = ensure_chromium()
    if path is None:
        pytest.skip(f"browser test skipped: {why}")
    return path


def write_quarter_hour_profile(path: Path) -> None:
    """A store profile of 96 quarter-hour slots (the widest slot chart the plan page draws)."""
    import yaml

    week = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    path.write_text(yaml.safe_dump({
        "slots": [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)],
        "weights": {day: [1 + (i % 7) for i in range(96)] for day in week},
        "trip_duration_minutes": [{"probability": 1.0, "min": 20, "max": 40}],
    }))


@pytest.fixture(scope="module")
def api_server(producer_run, tmp_path_factory):
    """``airflow api-server`` on a free port; yields its URL and the admin's password."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("api-server") / "api-server.log"
    profiles = tmp_path_factory.mktemp("profiles")
    write_quarter_hour_profile(profiles / "quarters.yaml")
    env = airflow_env(
        FOOT_TRAFFIC_PROFILES_DIR=str(profiles),  # the plan page offers it: 96 slots
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW_CONN_KAFKA_DEFAULT=conn_json(producer_run["bootstrap"]),
        FOOT_TRAFFIC_UI_READBACK_TIMEOUT="30",  # a shared 2-core machine: the first read-back took up to 2.8 s
    )
    home = Path(env["AIRFLOW_HOME"])
    (home / "simple_auth_manager_passwords.json.generated").unlink(missing_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() - started < 180, "api-server did not answer in 180 s:\n" + log_path.read_text()[-3000:]
            time.sleep(0.5)
        passwords = home / "simple_auth_manager_passwords.json.generated"
        for _ in range(40):
            if passwords.exists():
                break
            time.sleep(0.25)
        yield {"url": url, "password": json.loads(passwords.read_text())["admin"], "startup_s": time.monotonic() - started,
               "log": log_path}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    b = Browser(chromium, tmp_path_factory.mktemp("chromium") / "profile")
    try:
        yield b.page
    finally:
        b.close()


def screenshot(page, name: str, committed: bool = True) -> Path:
    """The whole plugin page (the window grown to the iframe's content), into docs/screenshots/latest/."""
    height = page.evaluate(
        f"(() => {{ const f = document.querySelector('iframe'); return Math.ceil(f.getBoundingClientRect().top"
        f" + f.contentDocument.documentElement.scrollHeight); }})()"
    )
    page.set_viewport(1400, max(int(height) + 12, 900))
    page.pump(0.8)
    path = page.screenshot(SHOTS / name)
    page.set_viewport(1400, 1000)
    if committed and os.environ.get("FOOT_TRAFFIC_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, ROOT / "docs" / name)
    return path


def page_timing(page, name: str) -> dict[str, float]:
    """The plugin page's own timings from the iframe's Navigation Timing: the server's
    ``Server-Timing: app`` and the browser's request-to-load time."""
    entry = page.evaluate(
        "(() => { const e = document.querySelector('iframe').contentWindow.performance.getEntriesByType('navigation')[0];"
        " return {server: e.serverTiming.find(t => t.name === 'app').duration, load: e.loadEventEnd - e.startTime}; })()"
    )
    return {f"{name}_server_ms": round(entry["server"], 1), f"{name}_load_ms": round(entry["load"], 1)}


def by_chart(bars: list[dict], chart: str, kind: str) -> dict[str, int]:
    return {b["key"]: b["value"] for b in bars if b["chart"] == chart and b["kind"] == kind}


def assert_drawn_to_scale(bars: list[dict]) -> None:
    """Each chart's bars are drawn: a non-zero value has a visible bar, heights proportional to values."""
    for chart in {b["chart"] for b in bars}:
        sized = [b for b in bars if b["chart"] == chart and b["value"] > 0]
        assert sized and all(b["height"] > 0.5 and b["width"] > 0.5 for b in sized), chart
        ratios = [b["height"] / b["value"] for b in sized]
        assert max(ratios) - min(ratios) <= 0.02 * max(ratios) + 0.05, (chart, ratios)


def test_signed_in_user_sees_the_plan_page_and_a_runs_plan_against_delivered(browser, api_server, producer_run):
    page, url = browser, api_server["url"]
    timings: dict[str, float] = {"api_server_startup_s": round(api_server["startup_s"], 2)}

    # Sign in through Airflow's own login page (SimpleAuthManager), as a person would.
    page.navigate(f"{url}/plugin/foot-traffic")
    page.wait_for("!!document.querySelector('input[name=username]')", what="Airflow's login form")
    page.type_into("input[name=username]", "admin")
    page.type_into("input[name=password]", api_server["password"])
    page.evaluate("document.querySelector('button[type=submit]').click()")
    page.wait_for("location.pathname.startsWith('/plugin/foot-traffic')", what="back on the plugin page")

    # The entry is in Airflow's navigation, and the page inside draws today's plan.
    assert page.wait_for("[...document.querySelectorAll('a[href$=\"/plugin/foot-traffic\"]')]"
                         ".some(a => a.textContent.trim() === 'Foot traffic')", what="'Foot traffic' in the navigation")
    bars = page.wait_for(f"(() => {{ const b = {READ_BARS}; return b && b.length ? b : null; }})()", what="plan chart")
    shown_day = date.fromisoformat(page.evaluate(f"{IFRAME_DOC}.querySelector('input[name=day]').value"))
    settings = Settings.build({"SEED": "42"})
    plan = plan_store_day(implicit_store(settings, original_profile()), shown_day, settings)
    labels = [s.label for s in plan.profile.slots]
    assert by_chart(bars, "slots", "planned") == dict(zip(labels, plan.slot_counts))
    assert list(by_chart(bars, "day", "hour").values()) == list(day_timeline(plan).entries_per_hour)
    assert len(by_chart(bars, "week", "week")) == 7
    assert_drawn_to_scale(bars)

    # The form inside the page: another day, seed and size, drawn by the engine's plan.
    for name, value in (("day", "2025-11-07"), ("seed", "7"), ("customers", "300")):
        page.evaluate(f"{IFRAME_DOC}.querySelector('input[name={name}]').value = {json.dumps(value)}")
    page.evaluate(f"{IFRAME_DOC}.querySelector('form.query').submit()")
    expected = plan_day(date(2025, 11, 7), original_profile(), seed=7, baseline=1000, fixed_total=300)
    timeline = day_timeline(expected)
    page.wait_for(f"(() => {{ const d = {IFRAME_DOC}; return d && d.body && d.body.innerText.includes("
                  f"{json.dumps(expected.plan_id)}); }})()", what="the new plan")
    bars = page.evaluate(READ_BARS)
    assert by_chart(bars, "slots", "planned") == dict(zip(labels, expected.slot_counts))
    assert list(by_chart(bars, "day", "hour").values()) == list(timeline.entries_per_hour)
    peak = page.evaluate(f"{IFRAME_DOC}.querySelector('path.occupancy').dataset.peak")
    assert int(peak) == timeline.peak
    assert page.evaluate(f"{IFRAME_DOC}.querySelector('path.occupancy').getTotalLength()") > 100
    timings.update(page_timing(page, "plan_page"))
    screenshot(page, "plugin-plan.png")

    # The run's tab, reached through the task's "Foot traffic" extra link.
    run_q = quote(producer_run["run_id"], safe="")
    links = page.evaluate(
        f"fetch('/api/v2/dags/{producer_run['dag_id']}/dagRuns/{run_q}/taskInstances/produce_day/links')"
        ".then(r => r.json())"
    )
    link = links["extra_links"]["Foot traffic"]
    assert link.endswith(f"/dags/foot_traffic_daily/runs/{run_q}/plugin/foot-traffic-run")
    page.navigate(url + link if link.startswith("/") else link)
    page.wait_for(f"(() => {{ const d = {IFRAME_DOC}; return d && d.querySelector('section.delivery'); }})() && true",
                  what="the run's delivery section")
    assert page.evaluate("[...document.querySelectorAll('a[href$=\"/plugin/foot-traffic-run\"]')]"
                         ".some(a => a.textContent.trim() === 'Foot traffic')")  # the run's tab
    verdict = page.evaluate(f"{IFRAME_DOC}.querySelector('section.delivery').dataset.verdict")
    assert verdict == "complete"
    statuses = page.evaluate(
        f"[...{IFRAME_DOC}.querySelectorAll('table.slots tr[data-slot]')].map(r => [r.dataset.slot, r.dataset.status])")
    assert statuses == [[label, "ok"] for label in labels]
    topics = page.evaluate(
        f"[...{IFRAME_DOC}.querySelectorAll('table.topics tr[data-topic]')].map(r => [r.dataset.topic, r.dataset.status,"
        " r.cells[3].textContent])")
    assert topics == [[producer_run["topic"], "ok", "300"], [producer_run["topic_realistic"], "ok", "600"]]
    bars = page.evaluate(READ_BARS)
    assert by_chart(bars, "slots", "planned") == dict(zip(labels, expected.slot_counts))
    assert by_chart(bars, "slots", "delivered") == dict(zip(labels, expected.slot_counts))
    assert_drawn_to_scale(bars)
    timings.update(page_timing(page, "run_page"))
    screenshot(page, "plugin-run.png")

    # Airflow's dark mode reaches the page.
    page.evaluate("localStorage.setItem('theme', 'dark')")
    page.navigate(f"{url}/plugin/foot-traffic")
    page.wait_for(f"(() => {{ const d = {IFRAME_DOC}; return d && d.documentElement.dataset.theme === 'dark'; }})()",
                  what="dark theme in the page")
    background = page.evaluate(f"getComputedStyle({IFRAME_DOC}.body).backgroundColor")
    assert background == "rgb(17, 17, 19)"
    page.wait_for(f"(() => {{ const b = {READ_BARS}; return b && b.length; }})()", what="dark chart")
    screenshot(page, "plugin-plan-dark.png", committed=False)
    page.evaluate("localStorage.removeItem('theme')")

    # Nothing the page or Airflow's UI asked for left the machine.
    page.pump(0.5)
    outside = [u for u in page.requests if not u.startswith((url, "data:", "blob:", "about:", "chrome"))]
    assert outside == [], outside
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("browser timings:", timings)


def sign_in(page, api_server) -> None:
    """Through Airflow's own login page, unless this browser is signed in already."""
    url = api_server["url"]
    page.navigate(f"{url}/plugin/foot-traffic")
    page.wait_for("!!document.querySelector('input[name=username]') || !!document.querySelector('iframe')",
                  what="Airflow's login form or the plugin page")
    if page.evaluate("!!document.querySelector('input[name=username]')"):
        page.type_into("input[name=username]", "admin")
        page.type_into("input[name=password]", api_server["password"])
        page.evaluate("document.querySelector('button[type=submit]').click()")
        page.wait_for("location.pathname.startsWith('/plugin/foot-traffic')", what="back on the plugin page")


# The drawn text of a chart: each label's and number's box, in the SVG's own units.
READ_TEXT = f"""((chart) => {{
  const svg = {IFRAME_DOC}.querySelector(`svg[data-chart=${{chart}}]`);
  const box = t => {{ const b = t.getBBox(); return {{text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height}}; }};
  return {{width: svg.viewBox.baseVal.width, height: svg.viewBox.baseVal.height,
          labels: [...svg.querySelectorAll('text.label')].map(box), values: [...svg.querySelectorAll('text.value')].map(box)}};
}})"""


def assert_readable(drawn: dict, what: str) -> None:
    """No two labels (nor two numbers) overlap, and none leaves the chart."""
    for kind in ("labels", "values"):
        boxes = sorted(drawn[kind], key=lambda b: b["x"])
        for b in boxes:
            assert b["x"] >= 0 and b["x"] + b["w"] <= drawn["width"], (what, kind, b)
            assert b["y"] >= 0 and b["y"] + b["h"] <= drawn["height"], (what, kind, b)
        for a, b in zip(boxes, boxes[1:]):
            same_line = a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
            assert not same_line or b["x"] >= a["x"] + a["w"] + 2, (what, kind, a, b)


def test_slot_charts_are_readable_at_24_and_96_slots(browser, api_server):
    """The plan page's slot chart with the retail profile (24 hourly slots) and a quarter-hour
    profile (96): the labels measured in the browser never overlap and stay inside the chart,
    and the server's width estimate is never short of the real text."""
    from foot_traffic_airflow.ui.charts import text_width

    page = browser
    sign_in(page, api_server)
    page.wait_for(f"(() => {{ const d = {IFRAME_DOC}; return d && d.querySelector('svg[data-chart=slots]'); }})() && true",
                  what="the plan page")
    for profile, slots in (("retail", 24), ("quarters", 96), ("seed", 6)):
        # The plugin's page is the iframe inside Airflow's: its own query picks the profile.
        page.evaluate(f"{IFRAME_DOC}.location.search = {json.dumps('?' + urlencode({'profile': profile, 'day': '2025-11-08', 'seed': '5'}))}")
        page.wait_for(f"(() => {{ const d = {IFRAME_DOC}; return d && d.location.search.includes('profile={profile}') "
                      f"&& d.querySelectorAll('svg[data-chart=slots] rect.bar[data-key]').length === {slots}; }})()",
                      what=f"the {profile} plan")
        drawn = page.evaluate(f"{READ_TEXT}('slots')")
        assert len(drawn["labels"]) >= 6, (profile, drawn["labels"])
        assert_readable(drawn, profile)
        assert all(b["w"] <= text_width(b["text"]) + 0.5 for b in drawn["labels"]), drawn["labels"]
        assert_readable(page.evaluate(f"{READ_TEXT}('day')"), f"{profile} day chart")
        if profile == "retail":
            screenshot(page, "plugin-plan-retail.png", committed=False)


def test_a_chain_runs_tab_is_a_table_of_stores_and_a_store_can_be_picked(browser, api_server, chain_run):
    """The chain run's tab: one table row per store with its time zone, opening hours, visits
    planned, records delivered and read back, and status; one row per shard; a page that
    fits on a screen or two. Picking a store in the picker shows its day alone, checked
    against its own records."""
    from foot_traffic.plan.stores import load_catalogue

    page, url = browser, api_server["url"]
    sign_in(page, api_server)
    run_q = quote(chain_run["run_id"], safe="")
    page.navigate(f"{url}/dags/{chain_run['dag_id']}/runs/{run_q}/plugin/foot-traffic-run")
    page.wait_for(f"(() => {{ const d = {IFRAME_DOC}; return d && d.querySelector('form.stores select[name=store]') "
                  f"&& d.querySelectorAll('table.stores tr[data-store]').length; }})()", what="the chain run's table")
    options = page.evaluate(f"[...{IFRAME_DOC}.querySelectorAll('select[name=store] option')].map(o => o.value)")
    assert options[0] == "" and sorted(options[1:]) == sorted(chain_run["stores"])
    heads = page.evaluate(f"[...{IFRAME_DOC}.querySelectorAll('table.stores th')].map(t => t.textContent)")
    assert heads == ["Store", "Time zone", "Opening hours (local)", "Shard", "Visits planned", "Records delivered",
                     "In topics", "Status"]
    rows = page.evaluate(f"[...{IFRAME_DOC}.querySelectorAll('table.stores tr[data-store]')].map(r => "
                         "[r.dataset.store, r.dataset.status, ...[...r.cells].map(c => c.innerText.trim())])")
    day = date.fromisoformat(CHAIN_DAY)
    catalogue = load_catalogue(chain_run["chain_file"])
    assert sorted(r[0] for r in rows) == sorted(chain_run["stores"])
    for store_id, status, name, tz, hours, shard, visits, delivered, in_topics, text in rows:
        store = catalogue.get(store_id)
        assert status == "complete" and text.startswith("complete"), (store_id, text)
        assert name.startswith(store_id) and store.name in name and tz == store.timezone and hours == store.hours_text(day)
        planned = int(visits.replace(",", ""))
        assert planned > 0 and delivered.replace(",", "") == in_topics.replace(",", "") == str(3 * planned)
        assert shard.isdigit()
    shards = page.evaluate(f"[...{IFRAME_DOC}.querySelectorAll('table.shards tr[data-shard]')].map(r => r.dataset.status)")
    assert shards == ["done"] * 3
    assert page.evaluate(f"{IFRAME_DOC}.querySelectorAll('section.delivery').length") == 0
    height = page.evaluate(f"{IFRAME_DOC}.documentElement.scrollHeight")
    assert height < 1600, f"the chain run's tab is {height} px tall"  # 4,705 px with a section per store
    screenshot(page, "plugin-run-chain.png", committed=False)

    page.evaluate(f"{IFRAME_DOC}.querySelector('select[name=store]').value = 'tokyo-shibuya'")
    page.evaluate(f"{IFRAME_DOC}.querySelector('form.stores').submit()")
    page.wait_for(f"(() => {{ const d = {IFRAME_DOC}; return d && d.location.search === '?store=tokyo-shibuya' "
                  f"&& d.querySelectorAll('section.delivery').length === 1; }})()", what="the picked store alone")
    section = page.evaluate(f"(() => {{ const s = {IFRAME_DOC}.querySelector('section.delivery'); "
                            "return {verdict: s.dataset.verdict, text: s.innerText}; })()")
    assert section["verdict"] == "complete" and "Store tokyo-shibuya" in section["text"]
    read_back = page.evaluate(
        f"[...{IFRAME_DOC}.querySelectorAll('table.topics tr[data-topic]')].map(r => [r.dataset.status, r.cells[3].textContent])")
    assert [status for status, _ in read_back] == ["ok", "ok"] and all(n not in ("", "–", "0") for _, n in read_back)
    assert page.evaluate(f"{IFRAME_DOC}.querySelectorAll('table.shards tr[data-shard]').length") == 1
    screenshot(page, "plugin-run-store.png", committed=False)


TRIGGER_DIALOG = "[...document.querySelectorAll('[role=dialog]')].find(d => d.innerText.includes('Trigger Dag'))"


def click(page, element: str) -> None:
    """A real mouse click (pressed, released) at the middle of ``element`` (a JavaScript expression)."""
    box = page.evaluate(f"(() => {{ const r = ({element}).getBoundingClientRect(); "
                        "return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")
    for kind in ("mousePressed", "mouseReleased"):
        page.send("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)


def test_the_chain_trigger_form_is_grouped_and_warns_about_the_unpause(browser, api_server, chain_run):
    """Airflow's own trigger form for the chain DAG: the sections in order (the chain's own
    first), switches not marked required, and, in its first field, what the ticked
    "Unpause ... on trigger" box does. Nothing is triggered."""
    page, url = browser, api_server["url"]
    sign_in(page, api_server)
    page.navigate(f"{url}/dags/foot_traffic_chain_daily")
    page.wait_for("!!document.querySelector('[data-testid=trigger-dag-button]')", what="the Trigger button")
    click(page, "document.querySelector('[data-testid=trigger-dag-button]')")
    page.wait_for(f"!!{TRIGGER_DIALOG}", what="the trigger form")
    sections = page.evaluate(f"[...{TRIGGER_DIALOG}.querySelectorAll('[id*=\":trigger:\"]')].map(b => b.id.split(':').pop())")
    assert sections == ["Chain", "Day", "Model", "Kafka", "Sensor", "advancedOptions"]
    required = dict(page.evaluate(
        f"[...{TRIGGER_DIALOG}.querySelectorAll('label[data-part=label]')].map(l => "
        "[l.textContent.replace('*', '').trim(), !!l.querySelector('.chakra-field__requiredIndicator')])"))
    for switch in ("Start at midnight", "Validate the day", "Disable daily variation"):
        assert required[switch] is False, switch
    assert required["Time scale"] is True and required["Stores per shard"] is True  # a number must be given
    # The DAG is paused (new DAGs are): Airflow offers to unpause it, ticked by default.
    unpause = page.evaluate(f"[...{TRIGGER_DIALOG}.querySelectorAll('input[type=checkbox]')].map(c => "
                            "[c.checked, (c.closest('label') || {}).innerText || ''])")
    assert [True, "Unpause foot_traffic_chain_daily on trigger"] in unpause
    click(page, f"{TRIGGER_DIALOG}.querySelector('[id$=\":trigger:Chain\"]')")
    page.wait_for(f"{TRIGGER_DIALOG}.innerText.includes('untick it to play only this run')", what="the warning")
    text = page.evaluate(f"{TRIGGER_DIALOG}.innerText")
    assert "starts a live run every day at 00:00 UTC+14" in text and "FOOT_TRAFFIC_CHAIN_SHARD_SIZE" in text
    page.set_viewport(1400, 1800)
    page.pump(0.8)
    page.screenshot(SHOTS / "trigger-chain.png")
    page.set_viewport(1400, 1000)
    page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
