"""Check a produced day against its model: the records, then the statistics.

Two kinds of checks, each a row of the report (statistic, p-value, verdict):

* **exact** (reconciliation): the session topic holds exactly the plan's sessions, and the
  entry/exit topic exactly what the plan and the sensor model make of it (byte for byte:
  keys, JSON, headers, record timestamps; nothing missing, nothing extra, nothing twice,
  and ``ft-seq`` increasing in every partition). A deleted, duplicated or changed record
  fails here.
* **tests** (is the model itself right?), computed from what landed, read the way a data
  team would read it (JSON times, keys), at family-wise level 1 %: each of the m tests
  of a day passes when its p-value is >= 0.01 / m (Bonferroni), so a correct day fails
  with probability <= 1 %.
  - curve profiles (``retail``): group arrivals per hour against the intensity
    (chi-squared) and arrival instants against its CDF (Kolmogorov-Smirnov); trip times
    against the truncated log-normal of their weekday and hour (KS on the randomised
    probability integral transform, exact for whole minutes and for trips cut at closing);
    party sizes (chi-squared) and the party rules (members enter within the gap, leave
    together: exact);
  - the seed profile: visits per slot against the plan (exact), entry times uniform
    within their slot and trip times against the duration bands (KS, randomised PIT);
  - the door sensor (when a flaw is on): missed passages alone / inside a party and
    double counts against their rates (exact binomial tests, 99 % Clopper-Pearson
    intervals shown), gateway delays (every window's events share one delay within
    0..D: exact; the windows' delays uniform: KS).

Only arrivals of *groups* (a solo visitor or a party's first member) and one trip per
group enter the tests: party members are not independent draws.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any

from foot_traffic.analysis.checks import (
    _headers, _ts, curve_checks, reconcile, seed_checks, segment_share, sensor_checks, visitors_from,
)
from foot_traffic.analysis.report import EXACT, INFO, Check, DayData, DayReport, apply_family_level
from foot_traffic.model.profile import BUILTIN, load_profile
from foot_traffic.plan.implicit import implicit_catalogue
from foot_traffic.plan.store_days import store_days
from foot_traffic.plan.storeday import StoreDayPlan, plan_store_day
from foot_traffic.plan.stores import Catalogue, Store
from foot_traffic.records.events import ENTRY
from foot_traffic.records.sensor import SensorModel, day_moments
from foot_traffic.records.stream import StoreDayStream

log = logging.getLogger("foot_traffic")


def _plan_seed(settings, landed: Iterable) -> tuple[int | None, Counter[str]]:
    """The seed to check against: SEED, else the one the day's records carry (as resume does)."""
    plans = Counter(_headers(r).get("ft-plan", "?") for r in landed)
    if settings.seed is not None or not plans:
        return settings.seed, plans
    return int(plans.most_common(1)[0][0].split(":")[1]), plans


def check_plan(settings, plan: StoreDayPlan, landed: dict[str, list], title: str) -> DayReport:
    """Check one store-day's plan against what landed (``landed``: topic -> its records)."""
    stream = StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic)
    sessions = landed.get(settings.kafka_topic, [])
    events = landed.get(settings.kafka_topic_realistic, [])
    plans = Counter(_headers(r).get("ft-plan", "?") for r in [*sessions, *events])
    expected = [r for m in day_moments(stream, settings) for r in m.records]
    others = {pid: n for pid, n in plans.items() if pid != plan.plan_id}
    checks = [
        Check("plan id", EXACT, plan.plan_id, None, not others,
              "records of other plans: " + ", ".join(f"{pid} ({n})" for pid, n in others.items())
              + " (check with the settings the day was produced with: SEED, DAILY_CUSTOMERS or the baseline, "
              "FOOT_TRAFFIC_PROFILE, the catalogue)"),
        reconcile("sessions = plan", [r for r in expected if r.topic == settings.kafka_topic], sessions),
        reconcile("entry/exit events = plan + sensor model", [r for r in expected if r.topic == settings.kafka_topic_realistic], events),
    ]
    profile = plan.profile
    visitors = visitors_from(sessions)
    model = SensorModel.from_settings(settings)
    data = DayData(
        day=plan.day, title=title, start=plan.start, end=plan.last_exit_bound + model.max_lateness,
        entries=[v.entry for v in visitors], exits=[v.exit for v in visitors], customers=plan.total,
    )
    for r in events:
        doc = json.loads(r.value)
        (data.sensor_in if doc["event_type"] == ENTRY else data.sensor_out).append(_ts(doc["time"]))
    segments = [(seg.pieces, n) for seg, n in zip(plan.segments, plan.slot_counts)]
    if plan.total == 0:
        checks.append(Check("closed day", INFO, "no visits planned", None, True))
    elif profile.model is not None:
        data.share = plan.intensity.share
        checks += curve_checks(visitors, plan.intensity, profile.model, plan.weekday, data)
    else:
        data.share = segment_share(segments, plan.total)
        checks += seed_checks(visitors, profile, segments, data)
    if settings.sensor_active and plan.total:
        checks += sensor_checks(visitors, events, model, f"{plan.seed}/{plan.store_id or ''}")
    report = DayReport(plan.day, plan.store_id, plan.plan_id, profile.name, checks, data)
    report.judge()
    return report


def _profile_of_records(profile, plans: Counter[str]):
    """With FOOT_TRAFFIC_PROFILE unset, a day produced with a built-in profile is checked
    against that profile (its digest is in the records' plan id): ``(profile, adopted?)``."""
    digests = {pid.rsplit(":", 1)[-1] for pid in plans}
    if not digests or profile.digest() in digests:
        return profile, False
    for name in BUILTIN:
        candidate = load_profile(name)
        if candidate.digest() in digests:
            return candidate, True
    return profile, False


def check_store_day(settings, store: Store, day: date, landed: dict[str, list]) -> DayReport:
    """Check one store's local ``day`` (the implicit store's: its UTC day) against its plan
    and model; ``landed``: topic -> that store's records of the day.

    The plan's seed is SEED, else the one the records carry. The implicit store with
    FOOT_TRAFFIC_PROFILE unset is checked against the built-in profile its records name."""
    seed, plans = _plan_seed(settings, [*landed.get(settings.kafka_topic, []), *landed.get(settings.kafka_topic_realistic, [])])
    adopted = False
    if store.is_implicit and settings.profile_file is None:
        profile, adopted = _profile_of_records(store.profile, plans)
        store = replace(store, profile=profile)
    if seed is None and not store.is_implicit:
        raise ValueError(f"store {store.id}: {day} holds no records and SEED is unset: nothing to check against")
    plan = plan_store_day(store, day, settings, seed)
    where = f"{day} ({plan.weekday})" if store.is_implicit else f"{store.id} {day} ({plan.weekday}, {store.tz.key})"
    report = check_plan(settings, plan, landed, f"{where}, profile {store.profile.name}, seed {plan.seed}")
    if adopted:
        report.checks.insert(0, Check("profile", INFO, f"{store.profile.name} (from the records' plan id)", None, True,
                                      f"FOOT_TRAFFIC_PROFILE is unset and the day was produced with the built-in profile {store.profile.name}"))
    return report


def read_and_validate(settings, profile, day: date, options, *, catalogue: Catalogue | None = None, stop=None) -> list[DayReport]:
    """Read ``day`` back from the broker and check it: one report per store of ``catalogue``
    (without one: the implicit store, with ``profile``), 1 % shared over all of them. What
    ``foot-traffic validate`` and the operator's ``validate`` flag run."""
    from foot_traffic.analysis.readback import read_day

    catalogue = catalogue if catalogue is not None else implicit_catalogue(settings, profile)
    topics = [settings.kafka_topic, settings.kafka_topic_realistic]
    since = min(store_day.start for store_day in store_days(catalogue, [day]))
    ids = None if catalogue.is_implicit else {s.id for s in catalogue}
    landed = read_day(options, topics, day, since * 1000, stores=ids, stop=stop)
    reports = []
    for store in catalogue:
        mine = landed if store.is_implicit else {t: [r for r in rs if r.header("ft-store") == store.id] for t, rs in landed.items()}
        reports.append(check_store_day(settings, store, day, mine))
    apply_family_level(reports)
    return reports


def summary_of(reports: list[DayReport]) -> dict[str, Any]:
    """A short, JSON-safe summary for a run's XCom."""
    return {
        "passed": all(r.passed for r in reports),
        "days": [
            {
                "day": r.day.isoformat(), "store": r.store, "plan_id": r.plan_id, "passed": r.passed,
                "failed": [c.name for c in r.checks if not c.passed],
                "p_values": {c.name: c.p_value for c in r.checks if c.p_value is not None},
            }
            for r in reports
        ],
    }


def check_delivered(settings, profile, day: date, options, *, catalogue: Catalogue | None = None, stop=None,
                    log: logging.Logger = log) -> dict[str, Any]:
    """A delivered day read back and checked (``FOOT_TRAFFIC_VALIDATE`` after a run): each
    report's table in the log and the summary returned. A failed check or read-back is
    reported, not raised: the day was delivered, and a statistical test rejects a correct
    day 1 % of the time; a read-back that failed returns ``{"passed": None, "error": ...}``."""
    try:
        reports = read_and_validate(settings, profile, day, options, catalogue=catalogue, stop=stop)
    except Exception as exc:  # the day is delivered; a failed read-back must not fail the run
        log.warning("%s: validation could not run: %s", day, exc)
        return {"passed": None, "error": str(exc)}
    for report in reports:
        for line in report.table().splitlines():
            log.info("%s", line)
    summary = summary_of(reports)
    if not summary["passed"]:
        log.warning("%s: the day does NOT match its model (see the table above)", day)
    return summary
