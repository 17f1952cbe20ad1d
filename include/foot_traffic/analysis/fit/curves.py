"""The intraday curve of a set of days: shares of arrivals per bin, smoothed around the clock.

The mean share of the days' arrivals per bin, smoothed by a circular Gaussian kernel
whose width (0-8 bins) is chosen by two-fold cross-validation over alternate weeks, then
turned into knot values at the bin centres such that the linearly interpolated curve has
exactly the smoothed mass in each bin (``estimate.py`` says when a weekday has its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from foot_traffic.analysis.fit.counts import SECONDS_PER_DAY, DayCounts
from foot_traffic.model.intensity import Curve

BANDWIDTHS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)  # kernel sd, in bins


@dataclass(frozen=True)
class CurveFit:
    """An intraday curve: ``values`` at ``knots`` (seconds after local midnight), mean 1."""

    key: str  # a weekday, "weekdays", "weekend"
    weekdays: tuple[str, ...]  # the weekdays whose days it was fitted on
    days: int
    arrivals: int
    bandwidth_bins: float
    knots: tuple[int, ...]
    values: tuple[float, ...]
    observed_share: tuple[float, ...]  # per bin, pooled over its days
    fitted_share: tuple[float, ...]  # per bin, integral of the curve
    heldout_mae_pp: float | None  # cross-validated error of the report bins' shares


def smooth_circular(values: list[float], bandwidth: float) -> list[float]:
    """Gaussian kernel smoothing around the clock (the day wraps at midnight)."""
    if bandwidth <= 0:
        return list(values)
    n = len(values)
    reach = min(n // 2, math.ceil(3 * bandwidth))
    kernel = [math.exp(-(k * k) / (2 * bandwidth * bandwidth)) for k in range(-reach, reach + 1)]
    total = sum(kernel)
    kernel = [k / total for k in kernel]
    return [sum(kernel[j + reach] * values[(i + j) % n] for j in range(-reach, reach + 1)) for i in range(n)]


def knot_values(masses: list[float]) -> list[float]:
    """Values at bin centres whose linear interpolation has mass ``masses[i]`` in bin ``i``.

    Around the clock, bin i's integral (in bin widths) is (v[i-1] + 6 v[i] + v[i+1]) / 8;
    solved by projected Gauss-Seidel (diagonally dominant), keeping every value >= 0. Exact
    when the solution needs no clamping (a smoothed curve); where a near-empty bin sits
    next to a busy one the value is held at 0 and the neighbours carry a little more (the
    fit's figures are computed from the curve as written, so they show it).
    """
    n = len(masses)
    if n < 3:
        return list(masses)
    v = list(masses)
    for _ in range(500):
        change = 0.0
        for i in range(n):
            new = max(0.0, (8.0 * masses[i] - v[i - 1] - v[(i + 1) % n]) / 6.0)
            change = max(change, abs(new - v[i]))
            v[i] = new
        if change < 1e-12:
            break
    return v


def curve_points(values: list[float], bin_seconds: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Knots at the bin centres plus 0 and 86400 (the mean of the two ends: no jump at midnight).

    A profile writes times as "HH:MM", so a centre that falls on half a minute (odd bin
    widths, e.g. 15 minutes) is moved 30 s earlier; the fit's figures use these knots.
    """
    n = len(values)
    centres = [(i * bin_seconds + bin_seconds // 2) // 60 * 60 for i in range(n)]
    edge = (values[0] + values[-1]) / 2.0
    if centres[0] == 0:  # one-minute bins: the first centre is midnight itself
        return (*centres, SECONDS_PER_DAY), (*values, values[0])
    return (0, *centres, SECONDS_PER_DAY), (edge, *values, edge)


def aggregate(shares: list[float] | tuple[float, ...], per: int) -> list[float]:
    return [sum(shares[i:i + per]) for i in range(0, len(shares), per)]


def mae_pp(a: list[float], b: list[float]) -> float:
    return 100.0 * sum(abs(x - y) for x, y in zip(a, b)) / len(a)


def mean_shares(days: list[DayCounts]) -> tuple[list[float], int]:
    """Pooled share of arrivals per bin (sum over days / total) and the arrivals."""
    n = len(days[0].ins)
    sums = [0.0] * n
    for d in days:
        for i, x in enumerate(d.ins):
            sums[i] += x
    total = sum(sums)
    if total <= 0:
        return [1.0 / n] * n, 0
    return [s / total for s in sums], int(total)


def _fit_shares(days: list[DayCounts], bandwidth: float) -> list[float]:
    shares, _ = mean_shares(days)
    smoothed = smooth_circular(shares, bandwidth)
    total = sum(smoothed)
    return [s / total for s in smoothed]


def fit_curve(key: str, weekdays: tuple[str, ...], days: list[DayCounts], bin_seconds: int, per: int) -> CurveFit:
    """The smoothed curve of ``days``; the kernel width by 2-fold CV over alternate weeks."""
    folds = [[d for d in days if (d.day.toordinal() // 7) % 2 == k] for k in (0, 1)]
    heldout = None
    best = 1.0
    if all(f and sum(d.total_in for d in f) > 0 for f in folds):
        scores = {}
        for h in BANDWIDTHS:
            err = 0.0
            for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
                fitted = _fit_shares(train, h)
                observed, _ = mean_shares(test)
                err += sum((a - b) ** 2 for a, b in zip(fitted, observed))
            scores[h] = err
        best = min(BANDWIDTHS, key=lambda h: (scores[h], h))
        maes = []
        for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
            maes.append(mae_pp(aggregate(_fit_shares(train, best), per), aggregate(mean_shares(test)[0], per)))
        heldout = sum(maes) / 2
    observed, arrivals = mean_shares(days)
    masses = _fit_shares(days, best)
    n = len(masses)
    values = knot_values([m * n for m in masses])  # mean rate 1 per bin width
    mean = sum(values) / n
    values = [v / mean for v in values] if mean > 0 else [1.0] * n
    knots, points = curve_points(values, bin_seconds)
    points = tuple(round(v, 4) for v in points)
    curve = Curve(knots, points)
    fitted = [curve.integral(i * bin_seconds, (i + 1) * bin_seconds) for i in range(n)]
    total = sum(fitted)
    fitted = [f / total for f in fitted]
    return CurveFit(
        key=key, weekdays=weekdays, days=len(days), arrivals=arrivals, bandwidth_bins=best,
        knots=knots, values=points, observed_share=tuple(observed), fitted_share=tuple(fitted),
        heldout_mae_pp=heldout,
    )
