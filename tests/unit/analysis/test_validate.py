"""validate on days produced in memory: what passes, what it must reject, and why."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, date, datetime

import pytest

from foot_traffic.analysis.charts import day_chart
from foot_traffic.analysis.readback import Landed
from foot_traffic.analysis.report import ALPHA, apply_family_level
from foot_traffic.analysis.validate import check_store_day
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.stores import load_catalogue
from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings
from foot_traffic.testing import FakeClock, MemoryKafka, landed, memory_delivery

DAY = date(2026, 11, 28)
RETAIL = {"SEED": "42", "FOOT_TRAFFIC_PROFILE": "retail"}
FLAWS = {"SENSOR_MISS_RATE": "0.04", "SENSOR_DOUBLE_RATE": "0.02", "SENSOR_BATCH_SECONDS": "30", "SENSOR_UPLOAD_DELAY_SECONDS": "90"}


def produce(env, days=(DAY,), catalogue=None):
    settings = Settings.from_env(env)
    pub = MemoryKafka()
    Runner(settings, memory_delivery(pub, settings), clock=FakeClock(datetime(2027, 1, 1, tzinfo=UTC)),
           stop=threading.Event(),
           catalogue=catalogue).run(list(days))
    return settings, landed(pub)


def validate_implicit(settings, profile, day, got):
    """Check ``day`` of a run without a catalogue: the implicit store of ``settings``."""
    return check_store_day(settings, implicit_store(settings, profile), day, got)


def check(env, records=None):
    settings, got = produce(env)
    return validate_implicit(settings, load_profile(settings.profile_file), DAY, records(got) if records else got)


def by_name(report):
    return {c.name: c for c in report.checks}


@pytest.mark.parametrize("env", [RETAIL, {**RETAIL, **FLAWS}, {"SEED": "42"}, {"SEED": "42", **FLAWS}],
                         ids=["retail", "retail+sensor", "seed", "seed+sensor"])
def test_a_produced_day_passes(env):
    report = check(env)
    assert report.passed, report.table()
    assert report.level == pytest.approx(ALPHA / len(report.tests))
    names = set(by_name(report))
    assert {"sessions = plan", "entry/exit events = plan + sensor model", "plan id"} <= names
    if "SENSOR_MISS_RATE" in env:
        assert "double counts (binomial)" in names and "gateway delays uniform 0..D (KS)" in names
    table = report.table()
    assert "PASS" in table and "p-value" in table and "verdict" in table
    json.dumps(report.as_dict())


def drop(topic_index, n=1):
    def change(got):
        topic = sorted(got)[topic_index]
        got[topic] = got[topic][n:]
        return got
    return change


def test_a_deleted_session_fails_the_reconciliation():
    report = check(RETAIL, drop(0))
    checks = by_name(report)
    assert not report.passed and not checks["sessions = plan"].passed
    assert "1 missing" in checks["sessions = plan"].detail
    assert "FAIL" in report.table()


def test_a_duplicated_event_fails_the_reconciliation():
    def dup(got):
        events = got["foot_traffic_realistic"]
        r = events[10]
        got["foot_traffic_realistic"] = [*events, dataclasses.replace(r, offset=10**6)]
        return got

    checks = by_name(check({**RETAIL, **FLAWS}, dup))
    assert not checks["entry/exit events = plan + sensor model"].passed
    assert "1 unexpected (1 twice)" in checks["entry/exit events = plan + sensor model"].detail


def test_a_changed_byte_fails_and_records_out_of_order_are_seen():
    def change(got):
        s = got["foot_traffic"]
        s[0] = dataclasses.replace(s[0], value=s[0].value.replace(b'"party_size": 1', b'"party_size": 2'))
        s[1], s[2] = dataclasses.replace(s[2], offset=s[1].offset), dataclasses.replace(s[1], offset=s[2].offset)
        return got

    detail = by_name(check(RETAIL, change))["sessions = plan"].detail
    assert "1 missing, 1 unexpected" in detail and "out of ft-seq order" in detail


def test_records_of_another_plan_are_named():
    settings, got = produce({**RETAIL, "SEED": "43"})
    report = validate_implicit(Settings.from_env(RETAIL), load_profile("retail"), DAY, got)
    assert not by_name(report)["plan id"].passed and "v1:43:" in by_name(report)["plan id"].detail


def test_a_day_checked_against_other_sensor_settings_fails():
    settings, got = produce({**RETAIL, **FLAWS})
    report = validate_implicit(Settings.from_env({**RETAIL, **FLAWS, "SENSOR_MISS_RATE": "0.2"}), load_profile("retail"), DAY, got)
    checks = by_name(report)
    assert not checks["entry/exit events = plan + sensor model"].passed
    assert not checks["missed passages, alone or first of a party (binomial)"].passed  # 4 % seen, 20 % claimed


def test_without_seed_the_records_tell_the_plan():
    settings, got = produce(RETAIL)
    report = validate_implicit(Settings.from_env({"FOOT_TRAFFIC_PROFILE": "retail"}), load_profile("retail"), DAY, got)
    assert report.passed and report.plan_id.startswith("v1:42:")


def test_a_wrong_model_is_rejected_by_the_statistics(tmp_path):
    """Records produced by another curve, checked against retail's: sessions differ, and the
    arrival test rejects the shape itself."""
    import yaml

    from foot_traffic.model.profile import builtin_profile_path

    doc = yaml.safe_load(builtin_profile_path("retail").read_text())
    doc["curves"]["weekend"] = {"00:00": 1, "24:00": 1}  # flat: a 24-hour store with no peak
    flat = tmp_path / "flat.yaml"
    flat.write_text(yaml.safe_dump(doc))
    _, got = produce({**RETAIL, "FOOT_TRAFFIC_PROFILE": str(flat), "DAILY_CUSTOMERS": "3000"})
    report = validate_implicit(Settings.from_env({**RETAIL, "DAILY_CUSTOMERS": "3000"}), load_profile("retail"), DAY, got)
    checks = by_name(report)
    assert checks["arrivals per hour vs intensity (chi2)"].p_value < 1e-10
    assert checks["arrival times vs intensity (KS)"].p_value < 1e-10


def test_store_days_are_checked_store_by_store(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(
        """
stores:
  - id: rome-retail
    timezone: Europe/Rome
    base_daily_customers: 1400
    profile: retail
    opening_hours: {mon-fri: "08:30-20:00", sat: "09:00-21:00", sun: "10:00-13:00"}
  - id: ny-late
    timezone: America/New_York
    base_daily_customers: 900
    profile: retail
    opening_hours: {daily: "18:00-02:00"}
  - id: berlin-seed
    timezone: Europe/Berlin
    base_daily_customers: 800
    opening_hours: {mon-sat: "08:00-20:00"}
"""
    )
    catalogue = load_catalogue(path)
    day = date(2026, 10, 25)  # Sunday, the autumn DST change in Rome; Berlin closed
    settings, got = produce({"SEED": "5", **FLAWS}, days=(day,), catalogue=catalogue)
    reports = []
    for store in catalogue.stores:
        mine = {t: [r for r in rs if r.header("ft-store") == store.id] for t, rs in got.items()}
        reports.append(check_store_day(settings, store, day, mine))
    apply_family_level(reports)
    for report in reports:
        assert report.passed, report.table()
        assert report.level == pytest.approx(ALPHA / sum(len(r.tests) for r in reports))
    assert [r.store for r in reports] == ["rome-retail", "ny-late", "berlin-seed"]
    assert reports[2].data.customers == 0 and "closed day" in reports[2].table()
    # the store's hours bound the curve: no arrival outside them
    ny = reports[1].data
    assert all(datetime.fromtimestamp(t, catalogue.stores[1].tz).hour in (18, 19, 20, 21, 22, 23, 0, 1) for t in ny.entries)


def test_the_chart_is_drawn(tmp_path):
    settings, got = produce({**RETAIL, **FLAWS})
    report = validate_implicit(settings, load_profile("retail"), DAY, got)
    path = day_chart(report.data, str(tmp_path / "day.png"))
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000


def test_landed_records_read_like_kafka():
    _, got = produce(RETAIL)
    r = got["foot_traffic"][0]
    assert isinstance(r, Landed) and r.header("ft-day") == DAY.isoformat() and r.header("ft-party")
    offsets = {}
    for rec in got["foot_traffic"]:
        assert rec.offset == offsets.get(rec.partition, -1) + 1
        offsets[rec.partition] = rec.offset


def test_without_a_profile_setting_the_records_tell_the_builtin_profile():
    """`FOOT_TRAFFIC_PROFILE=retail foot-traffic produce ...` then `foot-traffic validate ...`
    without the variable: the plan id names retail's digest, so retail is checked."""
    _, got = produce(RETAIL)
    report = validate_implicit(Settings.from_env({"SEED": "42"}), load_profile(None), DAY, got)
    assert report.passed, report.table()
    assert report.profile == "retail" and "from the records' plan id" in report.table()
