"""The checks of one store-day against its model, from what landed: exact reconciliation,
curve-profile, seed-profile and door-sensor tests (see ``validate``)."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from foot_traffic.analysis.report import EXACT, INFO, TEST, Check, DayData
from foot_traffic.analysis.stats import binomial, chi_square, expected_minutes, ks_uniform
from foot_traffic.records.events import ENTRY, EXIT, H_SEQ
from foot_traffic.records.sensor import SensorModel


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


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
