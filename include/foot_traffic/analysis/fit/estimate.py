"""Estimate a store's model from its door counts: totals, intraday curves, variation, dwell.

- **Days**: days far from their weekday's usual total (holidays, events the user did not
  list) are left out when their robust z-score, on log(total + 1) against the weekday's
  median and MAD, exceeds ``outlier_z`` (default 4); each is listed in the report.
- **Weekday totals**: the mean arrivals (ins) per weekday; a weekday with fewer than
  ``min_days`` days takes its group's mean (Monday-Friday, Saturday-Sunday).
  ``level`` is the mean of the seven, the weekday factor is mean / level.
- **Intraday curve**: per weekday when it has ``min_days`` days and ``min_curve_arrivals``
  arrivals, else per group (``curves.py``: the mean share of the day's arrivals per bin,
  smoothed around the clock, as knot values whose curve has exactly that mass per bin).
- **Day-to-day variation**: the coefficient of variation (CV) of daily totals divided by
  their weekday's mean, per group; the engine's uniform factor U[1-p, 1+p] has CV p/sqrt(3),
  so p = sqrt(3) x CV (capped at 0.95).
- **Dwell**: occupancy = cumulative ins - outs, each day from the quietest time of the
  night (the bin boundary of least traffic), outs scaled so the day balances, clamped at 0.
  Little's law (L = lambda W) gives the mean trip W = person-time / arrivals. The spread
  (a log-normal's sigma) is the one whose predicted occupancy curve, from the mean
  arrivals, is closest to the observed mean occupancy.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

from foot_traffic.analysis.fit.counts import SECONDS_PER_DAY, CountsError, DayCounts, DoorCounts
from foot_traffic.analysis.fit.curves import CurveFit, aggregate, fit_curve, mae_pp, mean_shares
from foot_traffic.model.profile import WEEKDAYS

GROUPS = {"weekdays": WEEKDAYS[:5], "weekend": WEEKDAYS[5:]}
GROUP_OF = {day: name for name, members in GROUPS.items() for day in members}
SIGMAS = tuple(round(0.2 + 0.05 * k, 2) for k in range(29))  # 0.20 .. 1.60
MAX_VARIATION = 0.95
_STD = NormalDist()


@dataclass(frozen=True)
class FitOptions:
    min_days: int = 4  # days a weekday needs for its own total and curve
    min_curve_arrivals: int = 1000  # arrivals a weekday needs for its own curve
    outlier_z: float = 4.0
    keep_outliers: bool = False
    max_trip_factor: float = 8.0  # trips are truncated at this many times the mean


@dataclass(frozen=True)
class WeekdayFit:
    weekday: str
    days: int
    mean_total: float  # observed mean arrivals of its own days (nan without days)
    sd_total: float
    used_total: float  # what the profile assumes: own mean or its group's
    total_from: str  # "own" or the group name
    curve: str  # key of its curve
    factor: float
    observed_hourly: tuple[float, ...]  # shares per report bin (own days)
    fitted_hourly: tuple[float, ...]
    hourly_mae_pp: float
    hourly_max_pp: float
    hourly_r2: float
    chi2: float
    chi2_dof: int


@dataclass(frozen=True)
class VariationFit:
    cv: dict[str, float]  # group -> CV of daily totals over their weekday's mean
    days: dict[str, int]
    pct: dict[str, float]  # group -> sqrt(3) x CV, capped
    pooled_cv: float  # arrivals-weighted over groups
    pooled_pct: float
    capped: tuple[str, ...]


@dataclass(frozen=True)
class DwellFit:
    mean_minutes: dict[str, float]  # group -> Little's-law mean trip
    sigma: float
    min_minutes: int
    max_minutes: int
    untruncated_mean: dict[str, float]  # group -> log-normal mean before truncation
    balance: dict[str, float]  # group -> sum(in) / sum(out) over its windows
    reset_second: int  # the night's reset point, seconds after local midnight
    windows: dict[str, int]
    observed_occupancy: dict[str, tuple[float, ...]]  # mean L at bin boundaries from reset
    fitted_occupancy: dict[str, tuple[float, ...]]
    occupancy_mae_pct: dict[str, float]  # MAE as % of the observed peak
    clamped_persons: float  # person count added by clamping occupancy at 0, per window
    floored: tuple[str, ...] = ()  # groups whose mean trip was below a minute (raised to 1)


@dataclass(frozen=True)
class Fit:
    counts: DoorCounts
    options: FitOptions
    days_used: tuple[date, ...]
    outliers: tuple[tuple[date, float], ...]  # left out (or kept with keep_outliers), robust z
    level: float  # mean arrivals per day over the seven weekdays
    weekdays: dict[str, WeekdayFit]
    curves: dict[str, CurveFit]
    variation: VariationFit
    dwell: DwellFit
    report_seconds: int  # width of the "hourly" report bins
    notes: tuple[str, ...] = field(default=())

    @property
    def weekday_index_max_err(self) -> float:
        """Largest relative gap between a weekday's own mean and what the profile assumes."""
        errs = [abs(w.used_total - w.mean_total) / w.mean_total for w in self.weekdays.values() if w.days and w.mean_total > 0]
        return max(errs, default=0.0)

    @property
    def hourly_mae_pp(self) -> float:
        """Mean absolute error of hourly shares, percentage points, over the weekdays with days."""
        fits = [w for w in self.weekdays.values() if w.days]
        return sum(w.hourly_mae_pp for w in fits) / len(fits)


def weekday_of(day: date) -> str:
    return WEEKDAYS[day.weekday()]


# --- the steps ------------------------------------------------------------------------


def find_outliers(days: list[DayCounts], opts: FitOptions) -> list[tuple[date, float]]:
    """Days whose total is far from their weekday's (or group's) typical total."""
    by_key: dict[str, list[DayCounts]] = defaultdict(list)
    per_weekday = defaultdict(list)
    for d in days:
        per_weekday[weekday_of(d.day)].append(d)
    for weekday, members in per_weekday.items():
        key = weekday if len(members) >= opts.min_days else GROUP_OF[weekday]
        by_key[key].extend(members)
    found = []
    for members in by_key.values():
        if len(members) < opts.min_days:
            continue
        logs = [math.log(d.total_in + 1.0) for d in members]
        med = statistics.median(logs)
        mad = 1.4826 * statistics.median(abs(x - med) for x in logs)
        scale = max(mad, 1.0 / math.sqrt(math.exp(med)))  # never tighter than Poisson noise
        for d, x in zip(members, logs):
            z = (x - med) / scale
            if abs(z) > opts.outlier_z:
                found.append((d.day, z))
    return sorted(found)


def _chi2(observed: list[float], expected: list[float]) -> tuple[float, int]:
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected) if e > 0)
    return stat, max(1, sum(1 for e in expected if e > 0) - 1)


def _r2(observed: list[float], fitted: list[float]) -> float:
    mean = sum(observed) / len(observed)
    total = sum((o - mean) ** 2 for o in observed)
    resid = sum((o - f) ** 2 for o, f in zip(observed, fitted))
    return 1.0 - resid / total if total > 0 else 1.0


def fit_variation(days_by_weekday: dict[str, list[DayCounts]], used_total: dict[str, float]) -> VariationFit:
    cv, count, pct, capped, weights = {}, {}, {}, [], {}
    for group, members in GROUPS.items():
        ratios = [d.total_in / used_total[w] for w in members for d in days_by_weekday[w] if used_total[w] > 0]
        count[group] = len(ratios)
        if len(ratios) < 3:
            continue
        # ratios average 1 per weekday by construction; the deviations' RMS is the CV
        cv[group] = math.sqrt(sum((r - 1.0) ** 2 for r in ratios) / (len(ratios) - 1))
        raw = math.sqrt(3.0) * cv[group]
        pct[group] = min(MAX_VARIATION, raw)
        if raw > MAX_VARIATION:
            capped.append(group)
        weights[group] = sum(used_total[w] for w in members)
    if not cv:
        raise CountsError(["too few days to estimate the day-to-day variation: need at least 3 days of one group"])
    wsum = sum(weights[g] for g in cv)
    pooled = math.sqrt(sum(weights[g] * cv[g] ** 2 for g in cv) / wsum)
    return VariationFit(
        cv=cv, days=count, pct=pct, pooled_cv=pooled, pooled_pct=min(MAX_VARIATION, math.sqrt(3.0) * pooled),
        capped=tuple(capped),
    )


# --- dwell ----------------------------------------------------------------------------


def _reset_bin(days: list[DayCounts]) -> int:
    """The bin boundary with the least traffic around it: where occupancy restarts at 0."""
    n = len(days[0].ins)
    flow = [0.0] * n
    for d in days:
        for i in range(n):
            flow[i] += d.ins[i] + d.outs[i]
    return min(range(n), key=lambda b: (flow[b - 1] + flow[b], b))


def truncated_mean(mean: float, sigma: float, low: float, high: float) -> float:
    """Mean of a log-normal with (untruncated) ``mean`` and ``sigma`` truncated to [low, high]."""
    mu = math.log(mean) - sigma * sigma / 2.0
    a = (math.log(low) - mu) / sigma
    b = (math.log(high) - mu) / sigma
    mass = _STD.cdf(b) - _STD.cdf(a)
    if mass <= 0:
        return (low + high) / 2.0
    return mean * (_STD.cdf(b - sigma) - _STD.cdf(a - sigma)) / mass


def untruncated_for(target: float, sigma: float, low: float, high: float) -> float:
    """The untruncated mean whose truncation to [low, high] has mean ``target`` (bisection)."""
    lo, hi = math.log(low), math.log(high * 10)
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if truncated_mean(math.exp(mid), sigma, low, high) < target:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2.0)


def _survival(mean: float, sigma: float, low: float, high: float, minutes: float) -> float:
    """P(trip > minutes) for the truncated log-normal."""
    if minutes < low:
        return 1.0
    if minutes >= high:
        return 0.0
    mu = math.log(mean) - sigma * sigma / 2.0
    a, b = _STD.cdf((math.log(low) - mu) / sigma), _STD.cdf((math.log(high) - mu) / sigma)
    return (b - _STD.cdf((math.log(minutes) - mu) / sigma)) / (b - a)


def predicted_occupancy(arrivals: list[float], bin_seconds: int, mean: float, sigma: float, low: float, high: float) -> list[float]:
    """Expected occupancy at the bin boundaries, arrivals spread evenly within their bins."""
    steps = 10
    dt = bin_seconds / steps / 60.0  # minutes per sub-step
    n = len(arrivals)
    horizon = n * steps + steps
    surv = [_survival(mean, sigma, low, high, (k + 0.5) * dt) for k in range(horizon)]
    # still inside at boundary j, per arrival in bin i: the mean survival over bin i's
    # sub-steps, which depends only on k = j - i - 1
    inside = [sum(surv[k * steps:(k + 1) * steps]) / steps for k in range(n)]
    occ = [0.0] * (n + 1)
    for j in range(1, n + 1):
        occ[j] = sum(arrivals[i] * inside[j - i - 1] for i in range(j))
    return occ


def fit_dwell(days: list[DayCounts], bin_seconds: int, opts: FitOptions) -> DwellFit:
    n = len(days[0].ins)
    reset = _reset_bin(days)
    by_day = {d.day: d for d in days}
    windows: dict[str, list[tuple[list[int], list[int]]]] = defaultdict(list)
    for d in days:
        if reset == 0:
            ins, outs = list(d.ins), list(d.outs)
        else:
            nxt = by_day.get(date.fromordinal(d.day.toordinal() + 1))
            if nxt is None:
                continue
            ins = list(d.ins[reset:]) + list(nxt.ins[:reset])
            outs = list(d.outs[reset:]) + list(nxt.outs[:reset])
        windows[GROUP_OF[weekday_of(d.day)]].append((ins, outs))
    minutes_per_bin = bin_seconds / 60.0
    mean_minutes, balance, count, obs_occ, clamped = {}, {}, {}, {}, 0.0
    mean_arrivals: dict[str, list[float]] = {}
    floored: list[str] = []
    nwin = 0
    for group in (g for g in GROUPS if g in windows):
        wins = windows[group]
        person_time = arrivals = 0.0
        total_in = sum(sum(i) for i, _ in wins)
        total_out = sum(sum(o) for _, o in wins)
        if total_in <= 0 or total_out <= 0:
            continue
        occ_sum = [0.0] * (n + 1)
        arr_sum = [0.0] * n
        used = 0
        for ins, outs in wins:
            win_in, win_out = sum(ins), sum(outs)
            if win_in <= 0 or win_out <= 0:
                continue
            k = win_in / win_out
            level = 0.0
            path = [0.0]
            for a, b in zip(ins, outs):
                nxt = level + a - k * b
                if nxt < 0:
                    clamped += -nxt
                    nxt = 0.0
                path.append(nxt)
                level = nxt
            person_time += sum((x + y) / 2.0 for x, y in zip(path, path[1:])) * minutes_per_bin
            arrivals += win_in
            occ_sum = [s + x for s, x in zip(occ_sum, path)]
            arr_sum = [s + x for s, x in zip(arr_sum, ins)]
            used += 1
        if not used:
            continue
        nwin += used
        mean_minutes[group] = person_time / arrivals
        if mean_minutes[group] < 1.0:
            floored.append(group)
            mean_minutes[group] = 1.0
        balance[group] = total_in / total_out
        count[group] = used
        obs_occ[group] = tuple(s / used for s in occ_sum)
        mean_arrivals[group] = [s / used for s in arr_sum]
    if not mean_minutes:
        raise CountsError(["no day with both ins and outs: the dwell time cannot be estimated from these counts"])
    longest = max(mean_minutes.values())
    high = float(min(1440, max(60, math.ceil(opts.max_trip_factor * longest / 30.0) * 30)))
    low = 1.0
    best = None
    for sigma in SIGMAS:
        err = 0.0
        fitted = {}
        for group in mean_minutes:
            m = untruncated_for(mean_minutes[group], sigma, low, high)
            pred = predicted_occupancy(mean_arrivals[group], bin_seconds, m, sigma, low, high)
            fitted[group] = pred
            err += sum((p - o) ** 2 for p, o in zip(pred, obs_occ[group])) * count[group]
        if best is None or err < best[0]:
            best = (err, sigma, fitted)
    _, sigma, fitted = best
    mae = {}
    for group in mean_minutes:
        peak = max(obs_occ[group]) or 1.0
        mae[group] = 100.0 * sum(abs(p - o) for p, o in zip(fitted[group], obs_occ[group])) / len(fitted[group]) / peak
    return DwellFit(
        mean_minutes=mean_minutes, sigma=sigma, min_minutes=int(low), max_minutes=int(high),
        untruncated_mean={g: untruncated_for(w, sigma, low, high) for g, w in mean_minutes.items()},
        balance=balance, reset_second=reset * bin_seconds, windows=count, observed_occupancy=obs_occ,
        fitted_occupancy={g: tuple(v) for g, v in fitted.items()}, occupancy_mae_pct=mae,
        clamped_persons=clamped / max(1, nwin), floored=tuple(floored),
    )


# --- the whole fit --------------------------------------------------------------------


def fit_counts(counts: DoorCounts, options: FitOptions | None = None) -> Fit:
    """Fit every part of the model; raise CountsError when the data cannot support it."""
    opts = options or FitOptions()
    notes: list[str] = list(counts.notes)
    days = list(counts.days)
    outliers = find_outliers(days, opts)
    if outliers and not opts.keep_outliers:
        out = {d for d, _ in outliers}
        days = [d for d in days if d.day not in out]
    by_weekday: dict[str, list[DayCounts]] = {w: [] for w in WEEKDAYS}
    for d in days:
        by_weekday[weekday_of(d.day)].append(d)
    for group, members in GROUPS.items():
        have = sum(len(by_weekday[w]) for w in members)
        if have < 2:
            raise CountsError([
                f"too few {'Monday-Friday' if group == 'weekdays' else 'Saturday/Sunday'} days: {have} "
                f"(need at least 2 to fit {', '.join(members)}); give more weeks of counts"
            ])
    bin_seconds = counts.bin_seconds
    report_seconds = math.lcm(bin_seconds, 3600)
    if SECONDS_PER_DAY % report_seconds:
        report_seconds = bin_seconds
    per = report_seconds // bin_seconds

    # weekday totals: own mean, or the group's when thin
    group_mean = {
        g: statistics.fmean([d.total_in for w in members for d in by_weekday[w]]) for g, members in GROUPS.items()
    }
    used_total, total_from = {}, {}
    for w in WEEKDAYS:
        if len(by_weekday[w]) >= opts.min_days:
            used_total[w], total_from[w] = statistics.fmean(d.total_in for d in by_weekday[w]), "own"
        else:
            used_total[w], total_from[w] = group_mean[GROUP_OF[w]], GROUP_OF[w]
            notes.append(
                f"{w}: {len(by_weekday[w])} day(s) (fewer than {opts.min_days}): its total is the mean of the "
                f"{GROUP_OF[w]} group ({group_mean[GROUP_OF[w]]:.1f})"
            )
    level = statistics.fmean(used_total.values())
    if level <= 0:
        raise CountsError(["no arrivals (ins) in the days used: nothing to fit"])

    # curves: own, or the group's when thin
    curves: dict[str, CurveFit] = {}
    curve_of: dict[str, str] = {}
    for w in WEEKDAYS:
        own = by_weekday[w]
        arrivals = sum(d.total_in for d in own)
        if len(own) >= opts.min_days and arrivals >= opts.min_curve_arrivals:
            curves[w] = fit_curve(w, (w,), own, bin_seconds, per)
            curve_of[w] = w
        else:
            curve_of[w] = GROUP_OF[w]
    for group, members in GROUPS.items():
        pooled = [w for w in members if curve_of[w] == group]
        if not pooled:
            continue
        source = [d for w in members for d in by_weekday[w]]
        curves[group] = fit_curve(group, members, source, bin_seconds, per)
        thin = ", ".join(
            f"{w} ({len(by_weekday[w])} days, {sum(d.total_in for d in by_weekday[w])} arrivals)" for w in pooled
        )
        notes.append(
            f"intraday curve of {thin}: fewer than {opts.min_days} days or {opts.min_curve_arrivals} arrivals, "
            f"so the {group} group's pooled curve ({curves[group].days} days, {curves[group].arrivals} arrivals) is used"
        )

    weekdays: dict[str, WeekdayFit] = {}
    for w in WEEKDAYS:
        own = by_weekday[w]
        curve = curves[curve_of[w]]
        fitted_h = aggregate(curve.fitted_share, per)
        if own:
            totals = [d.total_in for d in own]
            mean_total = statistics.fmean(totals)
            sd_total = statistics.stdev(totals) if len(totals) > 1 else 0.0
            observed_h = aggregate(mean_shares(own)[0], per)
            counts_h = [x * sum(totals) for x in observed_h]
            chi2, dof = _chi2(counts_h, [x * sum(totals) for x in fitted_h])
            mae, mx = mae_pp(observed_h, fitted_h), 100.0 * max(abs(a - b) for a, b in zip(observed_h, fitted_h))
            r2 = _r2(observed_h, fitted_h)
        else:
            mean_total = sd_total = float("nan")
            observed_h, chi2, dof, mae, mx, r2 = [], float("nan"), 0, float("nan"), float("nan"), float("nan")
        weekdays[w] = WeekdayFit(
            weekday=w, days=len(own), mean_total=mean_total, sd_total=sd_total, used_total=used_total[w],
            total_from=total_from[w], curve=curve_of[w], factor=used_total[w] / level,
            observed_hourly=tuple(observed_h), fitted_hourly=tuple(fitted_h), hourly_mae_pp=mae, hourly_max_pp=mx,
            hourly_r2=r2, chi2=chi2, chi2_dof=dof,
        )

    variation = fit_variation(by_weekday, used_total)
    for group in variation.capped:
        notes.append(
            f"{group}: daily totals vary with CV {variation.cv[group]:.2f}; a uniform factor cannot spread "
            f"wider than ±{MAX_VARIATION:.0%} (CV {MAX_VARIATION / math.sqrt(3):.2f}), so the variation is capped"
        )
    dwell = fit_dwell(days, bin_seconds, opts)
    for group in dwell.floored:
        notes.append(
            f"{group}: the outs follow the ins within the same {bin_seconds // 60}-minute bins, so the mean trip is "
            f"shorter than the bins can show; it is set to 1 minute"
        )
    for group, k in dwell.balance.items():
        if abs(k - 1.0) > 0.05:
            notes.append(
                f"{group}: {k:.2f} ins per out over the days: this door's outs were scaled to balance each day "
                f"(other doors, or counting errors)"
            )
    return Fit(
        counts=counts, options=opts, days_used=tuple(d.day for d in days), outliers=tuple(outliers),
        level=level, weekdays=weekdays, curves=curves, variation=variation, dwell=dwell,
        report_seconds=report_seconds, notes=tuple(notes),
    )
