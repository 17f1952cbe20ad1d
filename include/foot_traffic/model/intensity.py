"""A smooth arrival intensity over a store's local day, restricted to its open time.

A *curve* gives relative arrival rates at local times of day (hourly or finer points)
and is interpolated linearly between them, so the rate never jumps. A *day intensity*
lays the curve over the instants (epoch seconds) a store is open on one day: it cuts
the open windows at the curve's points and at UTC-offset changes (DST), so each piece
has a rate that is linear in time. Entry times are then draws from the normalised
intensity: :meth:`DayIntensity.instant` maps a uniform quantile to an instant by the
inverse of the (piecewise-quadratic) cumulative mass, exactly.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Curve:
    """Relative rates at local times of day, linear in between; ``knots`` run 0 .. 86400."""

    knots: tuple[int, ...]  # seconds after local midnight, increasing, first 0, last 86400
    values: tuple[float, ...]

    def at(self, second: float) -> float:
        """The rate at ``second`` after local midnight (0 <= second <= 86400)."""
        knots = self.knots
        i = bisect_right(knots, second) - 1
        if i >= len(knots) - 1:
            return self.values[-1]
        if i < 0:
            return self.values[0]
        a, b = knots[i], knots[i + 1]
        va, vb = self.values[i], self.values[i + 1]
        return va + (vb - va) * (second - a) / (b - a)

    def integral(self, a: float, b: float) -> float:
        """Integral of the curve over ``[a, b]`` (seconds after local midnight, a <= b)."""
        total = 0.0
        points = [a, *(k for k in self.knots if a < k < b), b]
        for x0, x1 in zip(points, points[1:]):
            total += (self.at(x0) + self.at(x1)) * (x1 - x0) / 2.0
        return total

    def next_knot(self, second: float) -> int:
        """The first knot strictly after ``second`` (86400 at the end of the day)."""
        i = bisect_right(self.knots, second)
        return self.knots[i] if i < len(self.knots) else SECONDS_PER_DAY

    def weighted_mean(self, other: Curve) -> float:
        """Mean of ``other`` weighted by this curve over the whole day."""
        knots = sorted(set(self.knots) | set(other.knots))
        num = den = 0.0
        for x0, x1 in zip(knots, knots[1:]):
            # Simpson's rule is exact for the product of two linear functions.
            xm = (x0 + x1) / 2.0
            w0, wm, w1 = self.at(x0), self.at(xm), self.at(x1)
            num += (x1 - x0) / 6.0 * (w0 * other.at(x0) + 4 * wm * other.at(xm) + w1 * other.at(x1))
            den += (x1 - x0) / 6.0 * (w0 + 4 * wm + w1)
        return num / den if den > 0 else 0.0


@dataclass(frozen=True)
class Window:
    """An open stretch of a day: ``[start, end)`` in epoch seconds, its time-slot index,
    and ``leave_by``: the instant everyone inside must have left (0: no closing here)."""

    start: int
    end: int
    slot: int
    leave_by: int = 0


@dataclass(frozen=True)
class Piece:
    """A stretch of open time whose rate is linear: ``lam0`` at ``start``, ``lam1`` at ``end``."""

    start: int
    end: int
    local0: float  # seconds after local midnight at ``start``
    lam0: float
    lam1: float
    slot: int
    leave_by: int
    open_end: int  # end of the contiguous open time this piece belongs to

    @property
    def mass(self) -> float:
        return (self.lam0 + self.lam1) * (self.end - self.start) / 2.0

    def mass_to(self, x: float) -> float:
        """Mass of ``[start, start + x)``."""
        w = self.end - self.start
        slope = (self.lam1 - self.lam0) / w
        return self.lam0 * x + slope * x * x / 2.0

    def offset_of(self, mass: float) -> float:
        """Seconds after ``start`` at which the mass from ``start`` reaches ``mass``."""
        w = self.end - self.start
        slope = (self.lam1 - self.lam0) / w
        disc = self.lam0 * self.lam0 + 2.0 * slope * mass
        root = math.sqrt(disc) if disc > 0 else 0.0
        denom = self.lam0 + root
        x = 2.0 * mass / denom if denom > 0 else 0.0
        return min(max(x, 0.0), w)


def _constant_offset_runs(start: int, end: int, offset_at: Callable[[int], int]) -> list[tuple[int, int, int]]:
    """Split ``[start, end)`` where the UTC offset changes: ``(start, end, offset)`` runs."""
    runs = []
    t = start
    while t < end:
        off = offset_at(t)
        if offset_at(end - 1) == off:
            runs.append((t, end, off))
            break
        low, high = t, end - 1  # offset(low) == off, offset(high) != off
        while high - low > 1:
            mid = (low + high) // 2
            if offset_at(mid) == off:
                low = mid
            else:
                high = mid
        runs.append((t, high, off))
        t = high
    return runs


class DayIntensity:
    """The curve laid over a day's open windows; the arrival density is proportional to it.

    :param curve: the weekday's curve (local time of day).
    :param windows: the open windows of the day, in time order, not overlapping.
    :param offset_at: UTC offset in seconds at an instant (the store's zone); None: UTC.
    """

    def __init__(self, curve: Curve, windows: Iterable[Window], offset_at: Callable[[int], int] | None = None):
        self.curve = curve
        offset_at = offset_at or (lambda _ts: 0)
        windows = [w for w in windows if w.end > w.start]
        # Contiguous runs of windows share their end: a party never spills out of open time.
        run_end = {}
        for i in range(len(windows) - 1, -1, -1):
            w = windows[i]
            nxt = windows[i + 1] if i + 1 < len(windows) else None
            run_end[i] = run_end[i + 1] if nxt is not None and nxt.start == w.end else w.end
        pieces: list[Piece] = []
        for i, w in enumerate(windows):
            for a, b, off in _constant_offset_runs(w.start, w.end, offset_at):
                t = a
                while t < b:
                    local = (t + off) % SECONDS_PER_DAY
                    nxt = min(b, t + int(curve.next_knot(local) - local))
                    local_end = local + (nxt - t)
                    pieces.append(
                        Piece(t, nxt, local, curve.at(local), curve.at(local_end), w.slot, w.leave_by, run_end[i])
                    )
                    t = nxt
        self.pieces = tuple(pieces)
        cum = [0.0]
        for p in pieces:
            cum.append(cum[-1] + p.mass)
        self._cum = cum
        self._starts = [p.start for p in pieces]

    @property
    def total_mass(self) -> float:
        return self._cum[-1]

    @property
    def open_seconds(self) -> int:
        return sum(p.end - p.start for p in self.pieces)

    def piece_at(self, ts: int) -> Piece | None:
        """The piece holding instant ``ts``, None when closed then."""
        i = bisect_right(self._starts, ts) - 1
        if i < 0:
            return None
        p = self.pieces[i]
        return p if ts < p.end else None

    def local_second(self, ts: float) -> float:
        """Seconds after local midnight at an open instant ``ts``."""
        p = self.piece_at(int(ts))
        if p is None:
            raise ValueError(f"instant {ts} is not open time")
        return (p.local0 + (ts - p.start)) % SECONDS_PER_DAY

    def cdf(self, ts: float) -> float:
        """Share of the day's mass before instant ``ts``."""
        if self.total_mass <= 0:
            return 0.0
        i = bisect_right(self._starts, ts) - 1
        if i < 0:
            return 0.0
        p = self.pieces[i]
        mass = self._cum[i] + (p.mass if ts >= p.end else p.mass_to(ts - p.start))
        return min(1.0, mass / self.total_mass)

    def share(self, a: float, b: float) -> float:
        """Share of the day's arrivals expected in ``[a, b)``."""
        return max(0.0, self.cdf(b) - self.cdf(a))

    def rate(self, ts: float) -> float:
        """The density at ``ts`` (share of the day per second); 0 when closed."""
        p = self.piece_at(int(ts))
        if p is None or self.total_mass <= 0:
            return 0.0
        x = ts - p.start
        lam = p.lam0 + (p.lam1 - p.lam0) * x / (p.end - p.start)
        return lam / self.total_mass

    def quantiles(self) -> QuantileWalker:
        """A walker mapping *increasing* uniforms to instants in O(1) amortised time each."""
        return QuantileWalker(self)


class QuantileWalker:
    """Inverse CDF for increasing quantiles: keeps its place among the pieces."""

    __slots__ = ("_pieces", "_cum", "_total", "_i")

    def __init__(self, intensity: DayIntensity):
        self._pieces = intensity.pieces
        self._cum = intensity._cum
        self._total = intensity.total_mass
        self._i = 0

    def __call__(self, u: float) -> tuple[float, Piece]:
        """The instant (float seconds) of quantile ``u`` and its piece; ``u`` must not decrease."""
        target = u * self._total
        cum = self._cum
        i = self._i
        last = len(self._pieces) - 1
        while i < last and (cum[i + 1] <= target or self._pieces[i].mass <= 0):
            i += 1
        self._i = i
        piece = self._pieces[i]
        x = piece.offset_of(max(0.0, target - cum[i]))
        return piece.start + x, piece
