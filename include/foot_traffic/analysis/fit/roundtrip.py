"""Round trip: generate days from a fitted profile with the engine's plan, compare with the counts.

No broker: :func:`foot_traffic.plan.visits.plan_day` gives each simulated day's total and visits,
exactly as ``foot-traffic produce`` would send them (the producer adds nothing to the
plan). The generated days are compared with the real ones on what the fit promised:

- **weekday index** (a weekday's mean total / the mean over the seven): relative error;
- **hourly shares** of arrivals per curve (a weekday's own, or its group's pooled curve):
  mean and largest absolute error, in percentage points;
- **day-to-day variation**: the coefficient of variation of daily totals per group;
- **dwell**: the generated mean trip against Little's-law mean (a z-test: the engine
  must draw the mean the fit wrote), and the generated occupancy over the day against
  the observed one.

Totals (weekday index, variation) come from ``totals_weeks`` simulated weeks of the
engine's :func:`~foot_traffic.plan.visits.daily_total` (cheap, so their noise is negligible);
visits (hourly shares, dwell, occupancy) from ``weeks`` weeks of whole day plans.

Without a store catalogue the engine plays the profile's local times as UTC, so the
generated hours are UTC hours here.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from foot_traffic.analysis.fit.curves import aggregate
from foot_traffic.analysis.fit.estimate import GROUP_OF, GROUPS, Fit
from foot_traffic.model.profile import WEEKDAYS, Profile
from foot_traffic.plan.implicit import implicit_daily_total, plan_day

FIRST_MONDAY = date(2030, 1, 7)  # simulated days start here (any Monday would do)


@dataclass(frozen=True)
class Tolerances:
    """What a round trip must meet; stated in docs/fit.md and checked by the tests."""

    weekday_index: float = 0.10  # relative error of each weekday's index
    hourly_mae_pp: float = 1.0  # mean |generated - observed| hourly share, per curve with enough data
    hourly_max_pp: float = 4.0  # largest such error in any hour, per curve with enough data
    thin_hourly_mae_pp: float = 2.0  # the same for a thin (pooled) curve: its observed shares are noisy
    variation_cv: float = 0.05  # |generated CV - fitted CV| per group (the fitted CV, after a cap)
    dwell_z: float = 3.29  # |z| of the generated mean trip against the fitted one (two-sided 0.1 %)
    occupancy_mae_pct: float = 10.0  # mean |generated - observed| occupancy, % of the observed peak
    thin_occupancy_mae_pct: float = 20.0  # the same for a group with fewer than 1000 arrivals


@dataclass(frozen=True)
class CurveCheck:
    key: str
    thin: bool
    observed: tuple[float, ...]
    generated: tuple[float, ...]

    @property
    def mae_pp(self) -> float:
        return 100.0 * sum(abs(a - b) for a, b in zip(self.observed, self.generated)) / len(self.observed)

    @property
    def max_pp(self) -> float:
        return 100.0 * max(abs(a - b) for a, b in zip(self.observed, self.generated))


@dataclass(frozen=True)
class RoundTrip:
    weeks: int
    seed: int
    baseline: int
    visits: int
    weekday_index: dict[str, tuple[float, float]]  # weekday -> (observed, generated)
    curves: dict[str, CurveCheck]
    variation: dict[str, tuple[float, float]]  # group -> (fitted CV after cap, generated CV)
    dwell_mean: dict[str, tuple[float, float, float]]  # group -> (Little's law, generated, its standard error)
    occupancy: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]  # group -> (observed, generated)
    thin_groups: tuple[str, ...]  # groups with fewer than 1000 observed arrivals
    tolerances: Tolerances = field(default_factory=Tolerances)

    def index_error(self, weekday: str) -> float:
        observed, generated = self.weekday_index[weekday]
        return abs(generated - observed) / observed

    def dwell_z(self, group: str) -> float:
        fitted, generated, se = self.dwell_mean[group]
        return (generated - fitted) / se if se > 0 else 0.0

    def occupancy_mae_pct(self, group: str) -> float:
        observed, generated = self.occupancy[group]
        peak = max(observed) or 1.0
        return 100.0 * sum(abs(a - b) for a, b in zip(observed, generated)) / len(observed) / peak

    def failures(self) -> list[str]:
        """Every figure outside its tolerance, named."""
        tol, bad = self.tolerances, []
        for w in self.weekday_index:
            if self.index_error(w) > tol.weekday_index:
                o, g = self.weekday_index[w]
                bad.append(f"{w}: weekday index {g:.3f} generated vs {o:.3f} observed ({self.index_error(w):.1%} > {tol.weekday_index:.0%})")
        for c in self.curves.values():
            limit = tol.thin_hourly_mae_pp if c.thin else tol.hourly_mae_pp
            if c.mae_pp > limit:
                bad.append(f"curve {c.key}: hourly shares off by {c.mae_pp:.2f} pp on average (> {limit} pp)")
            if not c.thin and c.max_pp > tol.hourly_max_pp:
                bad.append(f"curve {c.key}: an hourly share off by {c.max_pp:.2f} pp (> {tol.hourly_max_pp} pp)")
        for g, (o, gen) in self.variation.items():
            if abs(gen - o) > tol.variation_cv:
                bad.append(f"{g}: daily totals' CV {gen:.3f} generated vs {o:.3f} fitted (> ±{tol.variation_cv})")
        for g, (o, gen, se) in self.dwell_mean.items():
            if abs(self.dwell_z(g)) > tol.dwell_z:
                bad.append(f"{g}: mean trip {gen:.1f} ± {se:.1f} min generated vs {o:.1f} min fitted (|z| {abs(self.dwell_z(g)):.1f} > {tol.dwell_z})")
        for g in self.occupancy:
            limit = tol.thin_occupancy_mae_pct if g in self.thin_groups else tol.occupancy_mae_pct
            if self.occupancy_mae_pct(g) > limit:
                bad.append(f"{g}: occupancy off by {self.occupancy_mae_pct(g):.1f} % of its peak (> {limit} %)")
        return bad


def round_trip(
    fit: Fit, profile: Profile, *, weeks: int = 52, totals_weeks: int = 1000, seed: int = 1,
    tolerances: Tolerances | None = None,
) -> RoundTrip:
    """Plan ``weeks`` weeks from ``profile`` (the fit's written profile) and compare."""
    baseline = max(1, round(fit.level))
    per = fit.report_seconds // fit.counts.bin_seconds
    n_report = len(next(iter(fit.curves.values())).observed_share) // per
    report = fit.report_seconds
    bin_seconds = fit.counts.bin_seconds
    totals: dict[str, list[int]] = defaultdict(list)
    arrivals: dict[str, list[int]] = {w: [0] * n_report for w in WEEKDAYS}
    trips: dict[str, list[int]] = defaultdict(list)
    entries: list[int] = []
    exits: list[int] = []
    day_starts: dict[str, list[int]] = defaultdict(list)
    visits = 0
    for k in range(weeks * 7):
        day = FIRST_MONDAY + timedelta(days=k)
        weekday = WEEKDAYS[day.weekday()]
        plan = plan_day(day, profile, seed=seed, baseline=baseline)
        start = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())
        day_starts[GROUP_OF[weekday]].append(start)
        counts = arrivals[weekday]
        for v in plan.visits():
            counts[min(n_report - 1, (v.entry_ts - start) // report)] += 1
            trips[GROUP_OF[weekday]].append(v.duration_minutes)
            entries.append(v.entry_ts)
            exits.append(v.exit_ts)
            visits += 1

    for k in range(totals_weeks * 7):
        day = FIRST_MONDAY + timedelta(days=k)
        totals[WEEKDAYS[day.weekday()]].append(
            implicit_daily_total(day, seed, profile, baseline=baseline, fixed_total=None, variation_pct=0.0, variation_enabled=True)
        )
    means = {w: statistics.fmean(totals[w]) for w in WEEKDAYS}
    gen_level = statistics.fmean(means.values())
    observed_own = {w: fit.weekdays[w].mean_total for w in WEEKDAYS if fit.weekdays[w].days}
    obs_level = statistics.fmean(observed_own.values()) if len(observed_own) == 7 else fit.level
    index = {w: (observed_own[w] / obs_level, means[w] / gen_level) for w in observed_own}

    curves = {}
    for key, cf in fit.curves.items():
        summed = [0] * n_report
        for w in cf.weekdays:
            if fit.weekdays[w].curve != key and key not in GROUPS:
                continue
            summed = [a + b for a, b in zip(summed, arrivals[w])]
        total = sum(summed) or 1
        thin = key in GROUPS
        curves[key] = CurveCheck(key, thin, tuple(aggregate(cf.observed_share, per)), tuple(s / total for s in summed))

    variation = {}
    for group, members in GROUPS.items():
        ratios = [t / means[w] for w in members for t in totals[w] if means[w] > 0]
        cv = math.sqrt(sum((r - 1.0) ** 2 for r in ratios) / (len(ratios) - 1))
        if group in fit.variation.pct:
            variation[group] = (fit.variation.pct[group] / math.sqrt(3.0), cv)

    dwell = {
        g: (fit.dwell.mean_minutes[g], statistics.fmean(trips[g]), statistics.stdev(trips[g]) / math.sqrt(len(trips[g])))
        for g in fit.dwell.mean_minutes if len(trips[g]) > 1
    }
    thin = tuple(
        g for g, members in GROUPS.items()
        if sum(fit.weekdays[w].mean_total * fit.weekdays[w].days for w in members if fit.weekdays[w].days) < 1000
    )

    entries.sort()
    exits.sort()
    n = 86_400 // bin_seconds
    occupancy = {}
    for group, observed in fit.dwell.observed_occupancy.items():
        sums = [0.0] * (n + 1)
        starts = day_starts[group]
        for s in starts:
            for j in range(n + 1):
                t = s + fit.dwell.reset_second + j * bin_seconds
                sums[j] += bisect_right(entries, t) - bisect_right(exits, t)
        occupancy[group] = (observed, tuple(x / len(starts) for x in sums))

    return RoundTrip(
        weeks=weeks, seed=seed, baseline=baseline, visits=visits, weekday_index=index, curves=curves,
        variation=variation, dwell_mean=dwell, occupancy=occupancy, thin_groups=thin,
        tolerances=tolerances or Tolerances(),
    )
