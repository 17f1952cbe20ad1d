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
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from foot_traffic.records.events import ENTRY, EXIT, H_SEQ
from foot_traffic.records.sensor import SensorModel

ALPHA = 0.01
EXACT, TEST, INFO = "exact", "test", "info"


@dataclass
class Check:
    name: str
    kind: str  # exact | test | info
    statistic: str
    p_value: float | None = None
    passed: bool = True
    detail: str = ""


@dataclass
class DayData:
    """What the charts draw (all instants in epoch seconds)."""

    day: date
    title: str
    start: int
    end: int
    entries: list[int] = field(default_factory=list)  # every customer's entry (sessions)
    exits: list[int] = field(default_factory=list)
    sensor_in: list[int] = field(default_factory=list)  # JSON times of entry events
    sensor_out: list[int] = field(default_factory=list)
    share: Callable[[float, float], float] | None = None  # expected share of arrivals in [a, b)
    customers: int = 0
    trips: list[int] = field(default_factory=list)  # one trip (minutes) per group
    trip_expected: dict[int, float] = field(default_factory=dict)  # minutes -> expected groups


@dataclass
class DayReport:
    day: date
    store: str | None
    plan_id: str
    profile: str
    checks: list[Check]
    data: DayData | None = None
    family: int | None = None  # tests in the whole check (several store-days), None: this day's

    @property
    def tests(self) -> list[Check]:
        return [c for c in self.checks if c.kind == TEST]

    @property
    def level(self) -> float:
        """The per-test level: 1 % shared out over the tests of the check (Bonferroni)."""
        return ALPHA / max(1, self.family or len(self.tests))

    def judge(self) -> None:
        """Set each test's verdict at :attr:`level`."""
        for c in self.checks:
            if c.kind == TEST:
                c.passed = c.p_value is not None and c.p_value >= self.level

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def table(self) -> str:
        head = f"{self.day}{' ' + self.store if self.store else ''}: profile {self.profile}, plan {self.plan_id}"
        rows = [("check", "statistic", "p-value", "verdict")]
        for c in self.checks:
            p = "" if c.p_value is None else (f"{c.p_value:.3g}" if c.p_value >= 1e-4 else f"{c.p_value:.1e}")
            verdict = "info" if c.kind == INFO else ("pass" if c.passed else "FAIL")
            rows.append((c.name, c.statistic, p, verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [head]
        for i, r in enumerate(rows):
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
            if i == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        for c in self.checks:
            if c.detail and (not c.passed or c.kind == INFO):
                lines.append(f"  {c.name}: {c.detail}")
        n = len(self.tests)
        family = self.family or n
        lines.append(
            f"  {'PASS' if self.passed else 'FAIL'}: {sum(c.passed for c in self.checks if c.kind != INFO)} of "
            f"{sum(c.kind != INFO for c in self.checks)} checks pass ({n} statistical tests, each at "
            f"{self.level:.2g} = 1 % / {family}; exact checks must hold)"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "store": self.store,
            "plan_id": self.plan_id,
            "profile": self.profile,
            "passed": self.passed,
            "level_per_test": self.level,
            "family_level": ALPHA,
            "checks": [
                {
                    "name": c.name, "kind": c.kind, "statistic": c.statistic, "p_value": c.p_value,
                    "passed": c.passed, "detail": c.detail,
                }
                for c in self.checks
            ],
        }


# -- helpers ----------------------------------------------------------------------------------


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def _merge_bins(observed: list[float], expected: list[float], minimum: float = 5.0) -> tuple[list[float], list[float]]:
    """Merge neighbouring bins until every expected count is at least ``minimum``."""
    obs_out: list[float] = []
    exp_out: list[float] = []
    o_acc = e_acc = 0.0
    for o, e in zip(observed, expected):
        o_acc += o
        e_acc += e
        if e_acc >= minimum:
            obs_out.append(o_acc)
            exp_out.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 or o_acc > 0:
        if exp_out:
            obs_out[-1] += o_acc
            exp_out[-1] += e_acc
        else:
            obs_out.append(o_acc)
            exp_out.append(e_acc)
    return obs_out, exp_out


def chi_square(observed: list[float], expected: list[float]) -> tuple[float, float, int]:
    """(statistic, p-value, degrees of freedom) after merging sparse bins."""
    from scipy import stats

    obs, exp = _merge_bins(observed, expected)
    if len(obs) < 2:
        return 0.0, 1.0, 0
    total_o, total_e = sum(obs), sum(exp)
    exp = [e * total_o / total_e for e in exp]  # conditional on the count
    stat, p = stats.chisquare(obs, exp)
    return float(stat), float(p), len(obs) - 1


def ks_uniform(values: list[float]) -> tuple[float, float]:
    from scipy import stats

    if not values:
        return 0.0, 1.0
    result = stats.kstest(values, "uniform")
    return float(result.statistic), float(result.pvalue)


def binomial(k: int, n: int, p: float) -> tuple[float, tuple[float, float]]:
    """(two-sided exact p-value, 99 % Clopper-Pearson interval of the observed rate)."""
    from scipy import stats

    if n == 0:
        return 1.0, (0.0, 1.0)
    result = stats.binomtest(k, n, p) if 0 < p < 1 else None
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.99, method="exact")
    if result is None:
        pvalue = 1.0 if (k == 0 and p == 0) or (k == n and p == 1) else 0.0
    else:
        pvalue = float(result.pvalue)
    return pvalue, (float(ci.low), float(ci.high))


def _headers(record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def _identity(record) -> tuple:
    return (record.key, record.value, tuple(record.headers), record.timestamp_ms)


# -- exact checks -------------------------------------------------------------------------------


def reconcile(name: str, expected: Iterable, landed: list) -> Check:
    """The topic holds exactly ``expected``: no record missing, extra, twice or changed."""
    want = Counter(_identity(r) for r in expected)
    have = Counter(_identity(r) for r in landed)
    missing = sum((want - have).values())
    extra = sum((have - want).values())
    twice = sum(n - 1 for n in have.values() if n > 1)
    disorder = 0
    last: dict[int, int] = {}
    for r in landed:  # partition, offset order
        seq = int(_headers(r).get(H_SEQ, -1))
        if seq <= last.get(r.partition, -1):
            disorder += 1
        last[r.partition] = seq
    ok = not (missing or extra or disorder)
    stat = f"{sum(have.values())} of {sum(want.values())} records"
    detail = f"{missing} missing, {extra} unexpected ({twice} twice), {disorder} out of ft-seq order"
    return Check(name, EXACT, stat, None, ok, detail if not ok else "")


# -- the day's data from what landed ------------------------------------------------------------


@dataclass
class Visitor:
    customer: str
    entry: int
    exit: int
    minutes: int
    party: str
    size: int
    pos: int = 0


def visitors_from(sessions: list) -> list[Visitor]:
    out = []
    for r in sessions:
        doc = json.loads(r.value)
        out.append(
            Visitor(
                doc["customer_id"], _ts(doc["entry_time"]), _ts(doc["exit_time"]), doc["trip_duration_minutes"],
                doc.get("party_id", doc["customer_id"]), doc.get("party_size", 1),
            )
        )
    out.sort(key=lambda v: (v.entry, v.customer))
    by_party: dict[str, list[Visitor]] = defaultdict(list)
    for v in out:
        by_party[v.party].append(v)
    for members in by_party.values():
        members.sort(key=lambda v: (v.customer != v.party, v.entry))  # the first member first
        for pos, v in enumerate(members):
            v.pos = pos
    return out


# -- statistical checks -------------------------------------------------------------------------


def expected_minutes(dwell, mus: list[float]) -> dict[int, float]:
    """Expected number of trips of each whole minute for visits with locations ``mus``
    (the sum of their pmfs: the model curve of the dwell histogram)."""
    import numpy as np
    from scipy.special import ndtr

    if not mus:
        return {}
    minutes = np.arange(dwell.min_minutes, dwell.max_minutes + 1)
    mu = np.asarray(mus)[:, None]
    s = dwell.sigma
    lo = ndtr((np.log(dwell.min_minutes) - mu) / s)
    hi = ndtr((np.log(dwell.max_minutes) - mu) / s)
    cdf = np.clip((ndtr((np.log(minutes + 0.5)[None, :] - mu) / s) - lo) / (hi - lo), 0.0, 1.0)
    cdf[:, -1] = 1.0
    pmf = np.diff(cdf, axis=1, prepend=0.0)
    return {int(m): float(v) for m, v in zip(minutes, pmf.sum(axis=0))}



def curve_checks(visitors: list[Visitor], intensity, model, weekday: str, data: DayData) -> list[Check]:
    """Arrivals, trips and parties of a curve-profile day against its model."""
    checks: list[Check] = []
    groups = [v for v in visitors if v.pos == 0]
    rng = random.Random(20261128)  # the randomised PIT's own draws: fixed, so a report is reproducible
    # Arrivals per hour (hours of elapsed time from the day's first open instant).
    pieces = intensity.pieces
    start, end = pieces[0].start, pieces[-1].end
    edges = list(range(start, end, 3600)) + [end]
    observed = [0] * (len(edges) - 1)
    j = 0
    for g in groups:
        while j + 1 < len(edges) - 1 and g.entry >= edges[j + 1]:
            j += 1
        observed[j] += 1
    expected = [len(groups) * intensity.share(a, b) for a, b in zip(edges, edges[1:])]
    stat, p, dof = chi_square(observed, expected)
    checks.append(Check("arrivals per hour vs intensity (chi2)", TEST, f"chi2={stat:.1f} df={dof} n={len(groups)} groups", p))
    # Arrival instants (whole seconds: randomised within their second).
    stat, p = ks_uniform([intensity.cdf(g.entry + rng.random()) for g in groups])
    checks.append(Check("arrival times vs intensity (KS)", TEST, f"D={stat:.4f} n={len(groups)}", p))
    # Trips, one per group, against the law of their weekday and arrival hour.
    dwell = model.dwell
    pits = []
    mus = []
    for g in groups:
        piece = intensity.piece_at(g.entry)
        if piece is None:
            continue
        mu = dwell.mu_at(weekday, intensity.local_second(g.entry))
        mus.append(mu)
        cap = (piece.leave_by - g.entry) // 60 if piece.leave_by else None
        low = dwell.cdf(mu, g.minutes - 1)
        high = 1.0 if cap is not None and g.minutes >= cap else dwell.cdf(mu, g.minutes)
        pits.append(low + rng.random() * (high - low))
    stat, p = ks_uniform(pits)
    checks.append(Check("trip minutes vs log-normal (KS)", TEST, f"D={stat:.4f} n={len(pits)} groups", p))
    data.trips = [g.minutes for g in groups]
    data.trip_expected = expected_minutes(dwell, mus)
    # Party sizes.
    mix = model.parties
    if mix.share > 0:
        sizes = Counter(g.size for g in groups)
        probs = mix.size_probabilities()
        keys = sorted(probs)
        stat, p, dof = chi_square([sizes.get(k, 0) for k in keys], [len(groups) * probs[k] for k in keys])
        share = sum(n for k, n in sizes.items() if k > 1) / max(1, len(groups))
        checks.append(
            Check("party sizes (chi2)", TEST, f"chi2={stat:.1f} df={dof}; parties {share:.1%} of groups (model {mix.share:.0%})", p)
        )
        bad = 0
        by_party: dict[str, list[Visitor]] = defaultdict(list)
        for v in visitors:
            by_party[v.party].append(v)
        for members in by_party.values():
            members.sort(key=lambda v: v.pos)
            leader = members[0]
            if len(members) != leader.size:
                bad += 1
                continue
            for a, b in zip(members, members[1:]):
                gap = b.entry - a.entry
                piece = intensity.piece_at(b.entry)
                clamped = piece is not None and b.entry == piece.open_end - 1  # entries stop at closing
                together = leader.exit - 60 <= b.exit <= leader.exit + (leader.size - 1) * mix.gap_max
                if not (mix.gap_min <= gap <= mix.gap_max or clamped) or not together:
                    bad += 1
                    break
        checks.append(
            Check("parties enter together, leave together", EXACT, f"{len(by_party)} groups, {bad} broken", None, bad == 0,
                  f"{bad} parties with a wrong size, a gap outside {mix.gap_min}-{mix.gap_max} s or a longer stay")
        )
    return checks


def seed_checks(visitors: list[Visitor], profile, segments: list[tuple[tuple, int]], data: DayData) -> list[Check]:
    """A seed-profile day: slot counts, uniform entries within slots, duration bands.

    ``segments``: per slot (or store segment) its open pieces ``(start, end, leave_by)`` and
    its planned count.
    """
    rng = random.Random(20261128)
    bounds = sorted((s, e, leave, i) for i, (pieces, _) in enumerate(segments) for s, e, leave in pieces)
    before: dict[tuple[int, int], int] = {}  # open seconds of the segment before each piece
    for i, (pieces, _) in enumerate(segments):
        acc = 0
        for s, e, _leave in pieces:
            before[(i, s)] = acc
            acc += e - s
    widths = [sum(e - s for s, e, _ in pieces) for pieces, _ in segments]
    counts: Counter[int] = Counter()
    pits, leaves = [], []
    for v in visitors:
        where = next(((s, e, leave, i) for s, e, leave, i in bounds if s <= v.entry < e), None)
        if where is None:
            counts[-1] += 1
            leaves.append(0)
            continue
        s, e, leave, i = where
        counts[i] += 1
        pits.append((before[(i, s)] + v.entry - s + rng.random()) / widths[i])
        leaves.append(leave)
    got = tuple(counts.get(i, 0) for i in range(len(segments)))
    planned = tuple(n for _, n in segments)
    checks = [
        Check("visits per slot = plan", EXACT, f"{sum(got)} visits in {len(got)} slots", None,
              got == planned and not counts.get(-1), f"landed {got} (+{counts.get(-1, 0)} while closed), planned {planned}"),
    ]
    stat, p = ks_uniform(pits)
    checks.append(Check("entry times uniform in their slot (KS)", TEST, f"D={stat:.4f} n={len(pits)}", p))
    pmf: dict[int, float] = defaultdict(float)
    for band in profile.durations:
        span = band.max_minutes - band.min_minutes + 1
        for m in range(band.min_minutes, band.max_minutes + 1):
            pmf[m] += band.probability / span
    cdf: dict[int, float] = {}
    running = 0.0
    for m in range(0, max(pmf) + 1):
        running += pmf.get(m, 0.0)
        cdf[m] = running
    trip_pits = []
    for v, leave in zip(visitors, leaves):
        cut = leave and v.minutes >= (leave - v.entry) // 60  # cut at closing + grace: censored
        low = cdf.get(v.minutes - 1, 0.0)
        high = 1.0 if cut else low + pmf.get(v.minutes, 0.0)
        trip_pits.append(low + rng.random() * (high - low))
    stat, p = ks_uniform(trip_pits)
    checks.append(Check("trip minutes vs duration bands (KS)", TEST, f"D={stat:.4f} n={len(trip_pits)}", p))
    data.trips = [v.minutes for v in visitors]
    data.trip_expected = {m: len(visitors) * q for m, q in pmf.items()}
    return checks


def sensor_checks(visitors: list[Visitor], events: list, model: SensorModel, gateway_key: str) -> list[Check]:
    """The entry/exit topic's observed flaws against the sensor settings."""
    checks: list[Check] = []
    seen: Counter[tuple[bytes, str]] = Counter()
    late: dict[int, set[int]] = defaultdict(set)
    out_of_window = 0
    times: list[int] = []
    for r in events:
        doc = json.loads(r.value)
        seen[(r.key, doc["event_type"])] += 1
        t = _ts(doc["time"])
        upload = r.timestamp_ms // 1000
        times.append(t)
        if model.batch_seconds:
            window = t // model.batch_seconds
            delay = upload - (window + 1) * model.batch_seconds
            if not 0 <= delay <= model.upload_delay_seconds:
                out_of_window += 1
            late[window].add(delay)
    for label, members, rate in (
        ("missed passages, alone or first of a party", [v for v in visitors if v.pos == 0], model.miss_rate),
        ("missed passages, behind a party member", [v for v in visitors if v.pos > 0], model.party_miss_rate),
    ):
        if not members:
            continue
        n = 2 * len(members)
        k = sum(seen[(v.customer.encode(), kind)] == 0 for v in members for kind in (ENTRY, EXIT))
        p, (lo, hi) = binomial(k, n, rate)
        checks.append(Check(f"{label} (binomial)", TEST, f"{k}/{n} = {k / n:.2%}, 99% CI {lo:.2%}-{hi:.2%}; model {rate:.2%}", p))
    reported = sum(1 for n in seen.values() if n > 0)
    doubles = sum(1 for n in seen.values() if n >= 2)
    p, (lo, hi) = binomial(doubles, reported, model.double_rate)
    checks.append(
        Check("double counts (binomial)", TEST,
              f"{doubles}/{reported} = {doubles / max(1, reported):.2%}, 99% CI {lo:.2%}-{hi:.2%}; model {model.double_rate:.2%}", p)
    )
    if model.batch_seconds:
        split = sum(1 for delays in late.values() if len(delays) > 1)
        checks.append(
            Check("gateway: one delay per window, within 0..D", EXACT,
                  f"{len(late)} windows, {out_of_window} events outside, {split} windows split", None,
                  out_of_window == 0 and split == 0)
        )
        if model.upload_delay_seconds:
            rng = random.Random(20261128)
            pits = [(next(iter(d)) + rng.random()) / (model.upload_delay_seconds + 1) for d in late.values() if len(d) == 1]
            stat, p = ks_uniform(pits)
            checks.append(Check("gateway delays uniform 0..D (KS)", TEST, f"D={stat:.4f} n={len(pits)} windows", p))
        behind = 0
        previous: dict[int, int] = {}
        for r, t in zip(events, times):  # partition, offset order
            if t < previous.get(r.partition, t):
                behind += 1
            previous[r.partition] = max(t, previous.get(r.partition, t))
        checks.append(
            Check("events out of time order (as landed)", INFO,
                  f"{behind} of {len(times)} behind an earlier offset's time in their partition", None, True,
                  f"max lateness {max((r.timestamp_ms // 1000 - _ts(json.loads(r.value)['time']) for r in events), default=0)} s")
        )
    return checks


# -- one day ------------------------------------------------------------------------------------


def _plan_seed(settings, landed: Iterable) -> tuple[int | None, Counter[str]]:
    """The seed to check against: SEED, else the one the day's records carry (as resume does)."""
    plans = Counter(_headers(r).get("ft-plan", "?") for r in landed)
    if settings.seed is not None or not plans:
        return settings.seed, plans
    return int(plans.most_common(1)[0][0].split(":")[1]), plans


def segment_share(segments: list[tuple[tuple, int]], total: int) -> Callable[[float, float], float]:
    """The seed profile's expected share of a day's arrivals in [a, b): planned counts, uniform in the open time."""
    parts = []
    for pieces, count in segments:
        width = sum(e - s for s, e, _ in pieces)
        parts.extend((s, e, count / width) for s, e, _ in pieces if width)
    total = max(1, total)

    def share(a: float, b: float) -> float:
        return sum(rate * max(0.0, min(b, hi) - max(a, lo)) for lo, hi, rate in parts) / total

    return share


def check_plan(settings, plan, stream, landed: dict[str, list], *, intensity, segments, title: str, store: str | None) -> DayReport:
    """Check one planned day (a DayPlan or a store's StoreDayPlan) against what landed."""
    from foot_traffic.records.sensor import day_moments

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
    start = plan.start if isinstance(plan.start, int) else int(plan.start.timestamp())
    bound = plan.last_exit_bound if isinstance(plan.last_exit_bound, int) else int(plan.last_exit_bound.timestamp())
    model = SensorModel.from_settings(settings)
    data = DayData(
        day=plan.day, title=title, start=start, end=bound + model.max_lateness,
        entries=[v.entry for v in visitors], exits=[v.exit for v in visitors], customers=plan.total,
    )
    for r in events:
        doc = json.loads(r.value)
        (data.sensor_in if doc["event_type"] == ENTRY else data.sensor_out).append(_ts(doc["time"]))
    if plan.total == 0:
        checks.append(Check("closed day", INFO, "no visits planned", None, True))
    elif profile.model is not None:
        data.share = intensity.share
        checks += curve_checks(visitors, intensity, profile.model, plan.weekday, data)
    else:
        data.share = segment_share(segments, plan.total)
        checks += seed_checks(visitors, profile, segments, data)
    if settings.sensor_active and plan.total:
        checks += sensor_checks(visitors, events, model, f"{plan.seed}/{store or ''}")
    report = DayReport(plan.day, store, plan.plan_id, profile.name, checks, data)
    report.judge()
    return report


def apply_family_level(reports: list[DayReport]) -> None:
    """Share the 1 % over every test of several store-days, so the whole check fails a
    correct chain with probability <= 1 %."""
    family = sum(len(r.tests) for r in reports)
    for r in reports:
        r.family = family
        r.judge()


def validate_day(settings, profile, day: date, landed: dict[str, list]) -> DayReport:
    """Check ``day`` (no store catalogue) against its plan and model; ``landed``: topic -> records."""
    from foot_traffic.plan import curve_plan
    from foot_traffic.records.events import DayStream
    from foot_traffic.plan.visits import plan_from_settings

    seed, plans = _plan_seed(settings, [*landed.get(settings.kafka_topic, []), *landed.get(settings.kafka_topic_realistic, [])])
    adopted = None
    if settings.profile_file is None:
        profile, adopted = _profile_of_records(profile, plans)
    plan = plan_from_settings(day, settings, profile, seed=seed)
    stream = DayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic)
    start = int(plan.start.timestamp())
    segments = [(((start + 60 * s.start_minute, start + 60 * s.end_minute, 0),), n) for s, n in zip(profile.slots, plan.slot_counts)]
    intensity = curve_plan.utc_intensity(profile, day) if profile.model is not None else None
    title = f"{day} ({plan.weekday}), profile {profile.name}, seed {plan.seed}"
    report = check_plan(settings, plan, stream, landed, intensity=intensity, segments=segments, title=title, store=None)
    if adopted:
        report.checks.insert(0, Check("profile", INFO, f"{profile.name} (from the records' plan id)", None, True,
                                      f"FOOT_TRAFFIC_PROFILE is unset and the day was produced with the built-in profile {profile.name}"))
    return report


def _profile_of_records(profile, plans: Counter[str]):
    """With FOOT_TRAFFIC_PROFILE unset, a day produced with a built-in profile is checked
    against that profile (its digest is in the records' plan id): ``(profile, adopted?)``."""
    from foot_traffic.model.profile import BUILTIN, load_profile

    digests = {pid.rsplit(":", 1)[-1] for pid in plans}
    if not digests or profile.digest() in digests:
        return profile, False
    for name in BUILTIN:
        candidate = load_profile(name)
        if candidate.digest() in digests:
            return candidate, True
    return profile, False


def validate_store_day(settings, store, day: date, landed: dict[str, list]) -> DayReport:
    """Check one store's local ``day``; ``landed``: topic -> that store's records of the day."""
    from foot_traffic.plan import curve_plan
    from foot_traffic.records.events import StoreDayStream
    from foot_traffic.plan.storeday import plan_store_from_settings

    seed, _ = _plan_seed(settings, [*landed.get(settings.kafka_topic, []), *landed.get(settings.kafka_topic_realistic, [])])
    if seed is None:
        raise ValueError(f"store {store.id}: {day} holds no records and SEED is unset: nothing to check against")
    plan = plan_store_from_settings(store, day, settings, seed)
    stream = StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic)
    segments = [(seg.pieces, n) for seg, n in zip(plan.segments, plan.slot_counts)]
    intensity = (
        curve_plan.store_intensity(store.profile, day, plan.segments, store.tz)
        if store.profile.model is not None and plan.segments else None
    )
    title = f"{store.id} {day} ({plan.weekday}, {store.tz.key}), profile {store.profile.name}, seed {plan.seed}"
    return check_plan(settings, plan, stream, landed, intensity=intensity, segments=segments, title=title, store=store.id)


def read_and_validate(settings, profile, day: date, options, *, catalogue=None, stop=None) -> list[DayReport]:
    """Read ``day`` back from the broker and check it: one report, or one per store of
    ``catalogue`` (1 % shared over all of them). What ``foot-traffic validate`` and the
    operator's ``validate`` flag run."""
    from foot_traffic.plan.localday import local_instant
    from foot_traffic.plan.visits import day_start
    from foot_traffic.analysis.readback import read_day

    topics = [settings.kafka_topic, settings.kafka_topic_realistic]
    if catalogue is None:
        landed = read_day(options, topics, day, int(day_start(day).timestamp() * 1000), stop=stop)
        return [validate_day(settings, profile, day, landed)]
    ids = [s.id for s in catalogue.stores]
    since = min(local_instant(day, 0, s.tz) for s in catalogue.stores)
    landed = read_day(options, topics, day, since * 1000, stores=set(ids), stop=stop)
    reports = []
    for store in catalogue.stores:
        mine = {t: [r for r in records if r.header("ft-store") == store.id] for t, records in landed.items()}
        reports.append(validate_store_day(settings, store, day, mine))
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
