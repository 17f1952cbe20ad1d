"""How long a visit lasts: a truncated log-normal whose mean depends on weekday and hour.

For a visit that starts at local time ``s`` on weekday ``d`` the trip time ``Y`` (minutes)
is log-normal with shape ``sigma`` and mean ``mean_minutes[d] x hour_factor(s) / norm[d]``
(``norm[d]``: the hour factor's mean over that weekday's arrivals, so ``mean_minutes[d]``
is the weekday's mean trip), truncated to ``[min_minutes, max_minutes]``; the recorded
``trip_duration_minutes`` is ``Y`` rounded to the nearest whole minute (the JSON field is
a whole number, as in the original). Draws use the inverse CDF, so one uniform gives one
trip, and :meth:`Dwell.cdf` gives the exact distribution of the recorded minutes, which
``validate`` tests against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from foot_traffic.model.intensity import Curve

_STD = NormalDist()


@dataclass(frozen=True)
class Dwell:
    sigma: float
    min_minutes: int
    max_minutes: int
    mean_minutes: dict[str, float]  # weekday -> that day's mean trip (untruncated log-normal mean)
    hour_factor: Curve  # relative, local time of day
    norm: dict[str, float]  # weekday -> mean of hour_factor over that weekday's arrivals

    def mean_at(self, weekday: str, local_second: float) -> float:
        """The (untruncated) mean trip in minutes of a visit starting then."""
        return self.mean_minutes[weekday] * self.hour_factor.at(local_second) / self.norm[weekday]

    def mu_at(self, weekday: str, local_second: float) -> float:
        """The log-normal's location for a visit starting then: mean = exp(mu + sigma^2 / 2)."""
        return math.log(self.mean_at(weekday, local_second)) - self.sigma * self.sigma / 2.0

    def _bounds(self, mu: float) -> tuple[float, float]:
        s = self.sigma
        lo = _STD.cdf((math.log(self.min_minutes) - mu) / s)
        hi = _STD.cdf((math.log(self.max_minutes) - mu) / s)
        return lo, hi

    def draw(self, mu: float, u: float) -> int:
        """Whole minutes for uniform ``u`` in (0, 1): truncated log-normal, rounded."""
        lo, hi = self._bounds(mu)
        p = lo + u * (hi - lo)
        p = min(max(p, 1e-15), 1.0 - 1e-15)
        y = math.exp(mu + self.sigma * _STD.inv_cdf(p))
        minutes = math.floor(y + 0.5)
        return min(max(minutes, self.min_minutes), self.max_minutes)

    def cdf(self, mu: float, minutes: float) -> float:
        """P(recorded minutes <= ``minutes``) for a visit with location ``mu``."""
        if minutes < self.min_minutes:
            return 0.0
        if minutes >= self.max_minutes:
            return 1.0
        lo, hi = self._bounds(mu)
        edge = math.floor(minutes) + 0.5  # rounding: m is recorded for Y in [m - 0.5, m + 0.5)
        p = _STD.cdf((math.log(edge) - mu) / self.sigma)
        return min(1.0, max(0.0, (p - lo) / (hi - lo)))

    def pmf(self, mu: float, minutes: int) -> float:
        return self.cdf(mu, minutes) - self.cdf(mu, minutes - 1)

    def density(self, mu: float, minutes: float) -> float:
        """The continuous (unrounded) truncated density at ``minutes``, per minute."""
        if not self.min_minutes <= minutes <= self.max_minutes:
            return 0.0
        lo, hi = self._bounds(mu)
        z = (math.log(minutes) - mu) / self.sigma
        return _STD.pdf(z) / (minutes * self.sigma) / (hi - lo)
