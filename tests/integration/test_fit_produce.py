"""Door counts -> ``foot-traffic fit`` -> ``foot-traffic produce`` on a real broker ->
``foot-traffic validate``: what lands is exactly the fitted profile's plan, validate passes
its days against the fitted model, and a week of it looks like the counts it came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from foot_traffic import cli
from foot_traffic.analysis.fit.readers import read_counts
from foot_traffic.analysis.fit.curves import aggregate
from foot_traffic.analysis.fit.estimate import fit_counts
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings
from tests.support.anchors import calit2
from tests.support.kafka_read import read_topic

pytestmark = pytest.mark.integration
FIRST = date(2025, 11, 3)  # a Monday: one whole week


def test_a_fitted_week_lands_as_planned_and_looks_like_the_counts(kafka_bootstrap, topics, tmp_path):
    data = calit2()
    profile_path = tmp_path / "calit2.yaml"
    assert cli.main(["fit", str(data), "--out", str(profile_path), "-q"]) == 0
    env = {
        "KAFKA_BROKER": kafka_bootstrap, "KAFKA_TOPIC": topics[0], "KAFKA_TOPIC_REALISTIC": topics[1],
        "FOOT_TRAFFIC_PROFILE": str(profile_path), "BASE_DAILY_CUSTOMERS": "184", "SEED": "7",
    }
    run = subprocess.run(
        [sys.executable, "-m", "foot_traffic", "produce", "--date", FIRST.isoformat(), "--days", "7", "--json"],
        env={**os.environ, **env, "RETRY_BACKOFF_SECONDS": "0.2", "MAX_RETRIES": "1"},
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "profile calit2" in run.stderr

    settings = Settings.from_env(env)
    profile = load_profile(profile_path)
    want = []
    for k in range(7):
        plan = plan_store_day(implicit_store(settings, profile), FIRST + timedelta(days=k), settings)
        want.extend(r for m in StoreDayStream(plan, topics[0], topics[1]) for r in m.records)
    sessions = read_topic(kafka_bootstrap, topics[0])
    events = read_topic(kafka_bootstrap, topics[1])

    def as_set(records):
        return sorted((r.key, r.value, tuple(r.headers), r.timestamp_ms) for r in records)

    assert as_set(sessions) == as_set(r for r in want if r.topic == topics[0])
    assert as_set(events) == as_set(r for r in want if r.topic == topics[1])
    summary = json.loads(run.stdout)["days"]
    assert [d["total_visits"] for d in summary] == [sum(1 for r in sessions if r.header("ft-day") == d["day"]) for d in summary]

    # foot-traffic validate: each day is its plan, and its arrivals and trips follow the
    # fitted model (chi-squared and KS at family-wise 1 %): a busy Monday, a thin Saturday
    for day in ("2025-11-03", "2025-11-08"):
        check = subprocess.run(
            [sys.executable, "-m", "foot_traffic", "validate", "--date", day, "--chart", str(tmp_path / f"{day}.png")],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "profile calit2" in check.stdout and "PASS" in check.stdout
        assert (tmp_path / f"{day}.png").stat().st_size > 10_000

    # the week's Monday-Friday arrivals per hour against the counts' (about 1,200 arrivals:
    # a share's noise is at most 0.8 pp, the fit's own error 0.3 pp on average)
    fit = fit_counts(read_counts(data))
    landed = [0] * 24
    for r in sessions:
        entry = datetime.fromisoformat(json.loads(r.value)["entry_time"]).astimezone(UTC)
        if entry.weekday() < 5:
            landed[entry.hour] += 1
    observed = [0.0] * 24
    for w in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        wf = fit.weekdays[w]
        for h, share in enumerate(aggregate(fit.curves[w].observed_share, 2)):
            observed[h] += share * wf.used_total
    total_obs, total_landed = sum(observed), sum(landed)
    mae_pp = 100 * sum(abs(o / total_obs - n / total_landed) for o, n in zip(observed, landed)) / 24
    assert mae_pp < 1.0, mae_pp
