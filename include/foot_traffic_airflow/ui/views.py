"""What the pages show, as plain data: the engine's plan, and a run's delivery beside it.

Every planned number comes from the engine (``plan_day``/``plan_store_day``,
``day_timeline``); every delivered number from the task's own summary (its XCom) or the
topics (read-back). Nothing is estimated here: this module only lines them up and says
which agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from foot_traffic.model.profile import BUILTIN, WEEKDAYS, Profile, ProfileError, builtin_profile, load_profile, original_profile
from foot_traffic.plan.implicit import implicit_store, plan_day
from foot_traffic.plan.storeday import StoreDayPlan, plan_store_day
from foot_traffic.plan.timeline import DayTimeline, day_timeline
from foot_traffic.settings import Settings, SettingsError

from foot_traffic_airflow.ui.readback import Readback
from foot_traffic_airflow.ui.runs import ProducerRun, ProducerTask, is_chain, store_days

# Above this many visits the page skips the minute-by-minute timeline (about 0.9 s at
# 250,000 visits on a shared 2-core machine; the page must stay interactive).
MAX_TIMELINE_VISITS = 250_000
DEFAULT_TOPICS = ("foot_traffic", "foot_traffic_realistic")


@dataclass
class PlanView:
    day: date
    weekday: str
    seed: int
    total: int
    plan_id: str
    profile_name: str
    slots: list[tuple[str, int]]
    timeline: DayTimeline | None
    timeline_note: str | None = None
    week: list[tuple[date, str, int]] | None = None
    query: dict[str, str] | None = None  # the plan page's query that shows this plan and this week

    def as_dict(self) -> dict[str, Any]:
        t = self.timeline
        return {
            "day": self.day.isoformat(),
            "weekday": self.weekday,
            "seed": self.seed,
            "total_visits": self.total,
            "plan_id": self.plan_id,
            "profile": self.profile_name,
            "planned_per_slot": dict(self.slots),
            "entries_per_hour": list(t.entries_per_hour) if t else None,
            "exits_per_hour": list(t.exits_per_hour) if t else None,
            "exits_after_midnight": t.exits_after_midnight if t else None,
            "occupancy_per_minute": list(t.occupancy) if t else None,
            "peak_occupancy": t.peak if t else None,
            "peak_minute": t.peak_minute if t else None,
            "mean_trip_minutes": round(t.mean_trip_minutes, 3) if t else None,
            "timeline_note": self.timeline_note,
            "week": [{"day": d.isoformat(), "weekday": w, "total_visits": n} for d, w, n in self.week or []] or None,
        }


def week_of(day: date) -> list[date]:
    """Monday to Sunday of ``day``'s week."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def week_totals(day: date, settings: Settings, profile: Profile, seed: int) -> list[tuple[date, str, int]]:
    """The planned total of each day of ``day``'s week, with the same settings and seed."""
    return [
        (d, WEEKDAYS[d.weekday()], plan_store_day(implicit_store(settings, profile), d, settings, seed).total) for d in week_of(day)
    ]


def plan_view(plan: StoreDayPlan, settings: Settings | None = None) -> PlanView:
    """The plan's per-slot counts, its timeline (bounded) and, with ``settings``, its week."""
    timeline, note = None, None
    if plan.total <= MAX_TIMELINE_VISITS:
        timeline = day_timeline(plan)
    else:
        note = f"{plan.total:,} visits: the hourly and occupancy chart is drawn up to {MAX_TIMELINE_VISITS:,} visits"
    return PlanView(
        day=plan.day,
        weekday=plan.weekday,
        seed=plan.seed,
        total=plan.total,
        plan_id=plan.plan_id,
        profile_name=plan.profile.name,
        slots=[(s.label, c) for s, c in zip(plan.profile.slots, plan.slot_counts)],
        timeline=timeline,
        timeline_note=note,
        week=week_totals(plan.day, settings, plan.profile, plan.seed) if settings is not None else None,
        query=plan_query(plan, settings) if settings is not None else None,
    )


def plan_query(plan: StoreDayPlan, settings: Settings) -> dict[str, str]:
    """The plan page's query for ``plan`` made with ``settings``: the same day, seed, customers,
    baseline and variation, hence the same plan and the same week."""
    query = {"day": plan.day.isoformat(), "seed": str(plan.seed), "baseline": str(settings.baseline),
             "variation": f"{settings.daily_variation_pct:g}" if settings.variation_enabled else "0"}
    if settings.daily_customers is not None:
        query["customers"] = str(settings.daily_customers)
    return query


# -- runs ---------------------------------------------------------------------------------
@dataclass
class SlotCheck:
    label: str
    planned: int
    delivered: int | None  # entries sent by this attempt
    status: str  # "ok", "short", "over", "resumed", "pending"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class TopicCheck:
    topic: str
    expected: int
    sent: int | None  # by this attempt (XCom)
    read_back: int | None  # in the topic now, of this plan
    status: str  # "ok", "short", "over", "unknown"


@dataclass
class Delivery:
    """One producer task's day (one summary), against the engine's plan."""

    task_id: str
    map_index: int
    label: str | None
    state: str | None
    try_number: int
    duration: float | None
    summary: dict[str, Any] | None
    plan: PlanView | None
    plan_note: str | None
    slots: list[SlotCheck] = field(default_factory=list)
    topics: list[TopicCheck] = field(default_factory=list)
    readback: Readback | None = None
    verdict: str = "pending"  # "complete", "incomplete", "running", "failed", "pending", "mismatch"
    verdict_text: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = {
            "task_id": self.task_id, "map_index": self.map_index, "label": self.label, "state": self.state,
            "try_number": self.try_number, "duration_seconds": self.duration, "summary": self.summary,
            "plan": self.plan.as_dict() if self.plan else None, "plan_note": self.plan_note,
            "slots": [asdict(s) for s in self.slots], "topics": [asdict(t) for t in self.topics],
            "verdict": self.verdict, "verdict_text": self.verdict_text,
        }
        if self.readback is not None:
            d["read_back"] = {
                "bootstrap": self.readback.bootstrap, "source": self.readback.source,
                "counts": self.readback.counts, "seconds": round(self.readback.seconds, 3),
                "error": self.readback.error,
            }
        return d


@dataclass
class RunView:
    run: ProducerRun
    deliveries: list[Delivery]
    stores: list[str] = field(default_factory=list)  # a chain run's stores, in the order of its summaries
    store: str | None = None  # the one store shown (``?store=``), else all
    overview: bool = False  # too many store-days to read back at once: summaries only, pick a store
    chain: Any = None  # a chain run: its ``chainview.ChainView`` (stores and shards)

    def as_dict(self) -> dict[str, Any]:
        r = self.run
        return {
            "dag_id": r.dag_id, "run_id": r.run_id, "state": r.state, "run_type": r.run_type,
            "logical_date": r.logical_date.isoformat() if r.logical_date else None,
            "run_after": r.run_after.isoformat() if r.run_after else None,
            "stores": self.stores, "store": self.store, "read_back_skipped_for_overview": self.overview,
            "deliveries": [d.as_dict() for d in self.deliveries],
            "chain": self.chain.as_dict() if self.chain is not None else None,
        }


# A task in one of these states may still deliver ("none": not scheduled yet).
ACTIVE_STATES = frozenset({"running", "queued", "scheduled", "deferred", "up_for_retry", "up_for_reschedule",
                           "restarting", "none"})

# A chain run's page reads every store back (one scan for all) up to this many stores; above,
# it shows the summaries' verdicts and reads back the store picked (``?store=``).
STORES_READ_BACK = 50


def unset(value: Any) -> Any:
    """None for a missing or rendered-empty value ("None", "", "null")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "none", "null"}):
        return None
    return value


PROFILE_KEYS = {"profile_file", "FOOT_TRAFFIC_PROFILE"}


def _task_inputs(task: ProducerTask, run: ProducerRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the task read its settings from: the run's Params, and its ``settings`` argument."""
    overrides = task.rendered.get("settings")
    return dict(run.params), dict(overrides) if isinstance(overrides, dict) else {}


def profile_path(task: ProducerTask, run: ProducerRun) -> str | None:
    """The task's profile file (a path on the workers), if it named one."""
    params, overrides = _task_inputs(task, run)
    for source in (overrides, params):
        for key in PROFILE_KEYS:
            if unset(source.get(key)) is not None:
                return str(source[key])
    return None


def task_settings(task: ProducerTask, run: ProducerRun) -> Settings | None:
    """The task's settings as the operator builds them (``Settings.from_sources``: the run's
    Params, then its ``settings`` argument), without the workers' environment, which the
    Params' defaults already carry; None when they do not validate here. The profile file
    is left out (a path on the workers): the profile is matched by its digest instead."""
    params, overrides = _task_inputs(task, run)
    params.pop("profile_file", None)
    overrides = {k: v for k, v in overrides.items() if k not in PROFILE_KEYS}
    try:
        return Settings.from_sources({}, params=params, overrides=overrides)
    except SettingsError:
        return None


def profile_for(plan_id: str, path: str | None) -> tuple[Profile | None, str | None]:
    """The profile whose digest the plan id names: the task's profile file if this server
    can read it, else a built-in one (seed, retail). (None, why) when none matches."""
    digest = plan_id.rsplit(":", 1)[-1]
    candidates: list[Profile] = []
    if path is not None:
        try:
            candidates.append(load_profile(Path(path)))
        except ProfileError:
            pass
    candidates += [builtin_profile(name) for name in BUILTIN]
    for profile in candidates:
        if profile.digest() == digest:
            return profile, None
    where = f"its profile file {path!s} is not readable here" if path else "its profile is none of the built-in ones"
    return None, f"the run's profile (digest {digest}) cannot be loaded on the API server: {where}"


def _day_of(task: ProducerTask, run: ProducerRun) -> date | None:
    chosen = task.day or unset(task.rendered.get("day"))
    if chosen is not None:
        try:
            return date.fromisoformat(str(chosen)[:10])
        except ValueError:
            return None
    moment = run.logical_date or run.run_after
    return moment.date() if moment else None


def _compare(planned: int, got: int) -> str:
    return "ok" if got == planned else ("short" if got < planned else "over")


def delivery_from_summary(
    task: ProducerTask, run: ProducerRun, summary: dict[str, Any], readback: Readback | None
) -> Delivery:
    """Plan (re-made by the engine from the summary's day, seed and total) against what the task sent."""
    day = date.fromisoformat(str(summary["day"]))
    seed, total, plan_id = int(summary["seed"]), int(summary["total_visits"]), str(summary.get("plan_id", ""))
    planned = {str(k): int(v) for k, v in summary["planned_per_slot"].items()}
    entries = {str(k): int(v) for k, v in (summary.get("entries_per_slot") or {}).items()}
    sent = {str(k): int(v) for k, v in (summary.get("sent_per_topic") or {}).items()}
    already = int(summary.get("records_already_present") or 0)
    finished = bool(summary.get("finished")) and not bool(summary.get("stopped"))

    plan, note, profile = None, None, None
    store = summary.get("store_id")
    if store is not None:
        note = (f"store {store}'s local day (a catalogue store): checked from the task's summary and the topics; "
                "its plan over the day is not re-made here")
    elif plan_id:
        profile, note = profile_for(plan_id, profile_path(task, run))
    else:
        note = "the summary has no plan id"
    if profile is not None:
        engine_plan = plan_day(day, profile, seed=seed, baseline=1, fixed_total=total)
        if engine_plan.plan_id != plan_id or dict(
            (s.label, c) for s, c in zip(profile.slots, engine_plan.slot_counts)
        ) != planned:
            note = f"the engine's plan {engine_plan.plan_id} differs from the task's {plan_id}"
        else:
            plan = plan_view(engine_plan, task_settings(task, run))

    slots = []
    for label, count in planned.items():
        got = entries.get(label, 0)
        status = "resumed" if already and got < count else _compare(count, got)
        slots.append(SlotCheck(label, count, got, status))

    topics = [str(t) for t in summary.get("topics") or []] or topics_of(task_settings(task, run))
    counts = readback.for_plan(plan_id) if readback and not readback.error else {}
    checks = []
    for i, topic in enumerate(topics[:2]):
        expected = total * (1 if i == 0 else 2)
        found = counts.get(topic) if readback and not readback.error else None
        if found is not None:
            status = _compare(expected, found)
        elif not already and (sent or not summary.get("records_sent")):
            status = _compare(expected, sent.get(topic, 0))
        else:
            status = "unknown"  # resumed, or a summary without per-topic counts (an older chain XCom)
        checks.append(TopicCheck(topic, expected, sent.get(topic), found, status))

    label = task.label if store is None else f"store {store}"  # its shard is shown once, beside
    d = Delivery(
        task_id=task.task_id, map_index=task.map_index, label=label, state=task.state,
        try_number=task.try_number, duration=task.duration, summary=summary, plan=plan, plan_note=note,
        slots=slots, topics=checks, readback=readback,
    )
    if summary.get("closed"):
        d.verdict, d.verdict_text = "complete", f"store {store} is closed on {day}: nothing to send"
        return d
    bad_slots = [s for s in slots if s.status in {"short", "over"}]
    bad_topics = [t for t in checks if t.status in {"short", "over"}]
    if readback and not readback.error and readback.others(plan_id):
        d.verdict, d.verdict_text = "mismatch", (
            f"the topics also hold {sum(readback.others(plan_id).values()):,} records of another plan of {day}"
        )
    elif not finished:
        d.verdict, d.verdict_text = "incomplete", "the task stopped before the end of the day"
    elif bad_slots or bad_topics:
        d.verdict = "incomplete"
        d.verdict_text = ", ".join(
            [f"slot {s.label}: {s.delivered:,} of {s.planned:,}" for s in bad_slots]
            + [f"{t.topic}: {t.read_back if t.read_back is not None else (t.sent or 0):,} of {t.expected:,}" for t in bad_topics]
        )
    else:
        d.verdict = "complete"
        if all(t.status == "ok" for t in checks):
            checked = "every slot and both topics checked" if slots else "both topics checked"
        else:
            checked = "every slot checked" if slots else "as far as the task's summary tells"
        d.verdict_text = f"{total:,} visits delivered as planned; {checked}"
        if already:
            d.verdict_text += f" ({already:,} records were already in the topics from an earlier attempt)"
    return d


def topics_of(settings: Settings | None) -> list[str]:
    if settings is None:
        return list(DEFAULT_TOPICS)
    return [settings.kafka_topic, settings.kafka_topic_realistic]


def _plan_in_topics(day: date, path: str | None, readback: Readback | None) -> tuple[StoreDayPlan | None, str | None]:
    """The plan of an unseeded task from the records it already wrote: their plan id names
    the seed, the total and the profile (as a retry does, which keeps its first attempt's seed)."""
    if readback is None or readback.error or len(readback.counts) != 1:
        return None, None
    (plan_id,) = readback.counts
    try:
        _, seed, total, _ = plan_id.split(":")
        seed_n, total_n = int(seed), int(total)
    except ValueError:
        return None, None
    profile, note = profile_for(plan_id, path)
    if profile is None:
        return None, note
    plan = plan_day(day, profile, seed=seed_n, baseline=1, fixed_total=total_n)
    return (plan, None) if plan.plan_id == plan_id else (None, None)


def delivery_without_summary(task: ProducerTask, run: ProducerRun, readback: Readback | None) -> Delivery:
    """A task that has not returned a summary (running, failed, stopped): its plan (from
    an explicit seed, or from the plan id of the records it already wrote) and what the
    topics hold so far."""
    d = Delivery(
        task_id=task.task_id, map_index=task.map_index, label=task.label, state=task.state,
        try_number=task.try_number, duration=task.duration, summary=None, plan=None, plan_note=None,
        readback=readback,
    )
    settings = task_settings(task, run)
    day = _day_of(task, run)
    path = profile_path(task, run)
    plan = None
    if settings is None or day is None:
        d.plan_note = "its settings do not validate on the API server" if settings is None else "no day to play"
    elif settings.seed is None:
        plan, note = _plan_in_topics(day, path, readback)
        if plan is not None:
            d.plan_note = f"seed unset: the plan of the records already in the topics (plan id {plan.plan_id})"
        else:
            d.plan_note = note or "seed unset: the task picks it at run time; the plan shows once records or its summary do"
    else:
        try:
            profile = load_profile(Path(path)) if path else original_profile()
        except ProfileError:
            profile = None
            d.plan_note = f"its profile file {path} is not readable on the API server"
        if profile is not None:
            plan = plan_store_day(implicit_store(settings, profile), day, settings)
    state = task.state or "none"
    active = state in ACTIVE_STATES
    if plan is not None:
        d.plan = plan_view(plan, settings)
        d.slots = [SlotCheck(label, count, None, "pending") for label, count in d.plan.slots]
        counts = readback.for_plan(plan.plan_id) if readback and not readback.error else {}
        for i, topic in enumerate(topics_of(settings)):
            expected = plan.total * (1 if i == 0 else 2)
            found = counts.get(topic) if readback and not readback.error else None
            status = "unknown" if found is None else _compare(expected, found)
            if active and status == "short":
                status = "pending"  # still being written
            d.topics.append(TopicCheck(topic, expected, None, found, status))
    if active:
        d.verdict, d.verdict_text = "running", f"task {state}: no summary yet"
        if task.failure:  # up for retry: the last attempt's cause (cleared when the next one starts)
            d.verdict_text += f"; its last attempt failed: {failure_text(task)}"
        elif state == "running" and (task.progress or {}).get("records_planned"):
            p = task.progress
            d.verdict_text += (f"; {int(p.get('records_sent') or 0):,} records sent of {int(p['records_planned']):,} "
                               f"(slot {p.get('slot', '?')}) as of {str(p.get('at', '?'))[11:19]} UTC")
    else:
        d.verdict, d.verdict_text = "failed", f"task {state}: {failure_text(task)}"
    if d.topics and all(t.read_back is not None for t in d.topics):
        d.verdict_text += "; in the topics so far: " + ", ".join(
            f"{t.topic} {t.read_back:,} of {t.expected:,}" for t in d.topics)
    return d


def failure_text(task: ProducerTask) -> str:
    """Why the task failed, as it said (its ``failure`` XCom), else where to look."""
    f = task.failure or {}
    if f.get("message"):
        return f"{f.get('error') or 'error'}: {f['message']}"
    return "no summary and no cause recorded (killed from outside, or before it started?): see the task's log"


def run_view(run: ProducerRun, readback_for) -> RunView:
    """``readback_for(task, day, topics[, store])`` returns a Readback or None (off/not wanted).
    A chain's shard without a summary yet has no delivery: its stores' rows say how far it is."""
    deliveries: list[Delivery] = []
    chain = is_chain(run)
    for task in run.tasks:
        if chain and not task.summaries:
            continue
        if task.summaries:
            for summary in task.summaries:
                try:
                    day = date.fromisoformat(str(summary["day"]))
                    topics = [str(t) for t in summary.get("topics") or []] or topics_of(task_settings(task, run))
                    store = summary.get("store_id")
                    readback = readback_for(task, day, topics, str(store)) if store else readback_for(task, day, topics)
                    deliveries.append(delivery_from_summary(task, run, summary, readback))
                except (KeyError, TypeError, ValueError) as exc:
                    deliveries.append(Delivery(
                        task_id=task.task_id, map_index=task.map_index, label=task.label, state=task.state,
                        try_number=task.try_number, duration=task.duration, summary=None, plan=None,
                        plan_note=f"its summary cannot be read ({type(exc).__name__})",
                        verdict="failed", verdict_text="unreadable summary",
                    ))
        else:
            day = _day_of(task, run)
            readback = readback_for(task, day, topics_of(task_settings(task, run))) if day else None
            deliveries.append(delivery_without_summary(task, run, readback))
    return RunView(run=run, deliveries=deliveries)
