"""A curve profile's own figures, computed the way the published ones were measured.

The published figures the ``retail`` profile is calibrated to (profiles/retail.yaml cites
them) are not arrival rates: the American Time Use Survey reports the share of a day's
shoppers who were shopping *at some point during* each clock hour, i.e. a visit counts in
every hour it overlaps. :func:`in_store_share_by_hour` computes exactly that from the
model (arrival curve x trip-time law), so the two can be compared like for like. Used by
``scripts/retail_calibration.py``, the calibration tests and the docs (docs/traffic-model.md).

Needs numpy (a runtime dependency of ``validate`` and the charts, not of producing).
"""

from __future__ import annotations

from dataclasses import dataclass

from foot_traffic.model.profile import WEEKDAYS, Profile

WEEKDAY_NAMES = WEEKDAYS[:5]
WEEKEND_NAMES = WEEKDAYS[5:]


@dataclass(frozen=True)
class Target:
    """A published figure and how close the model must come to it."""

    source: str
    what: str
    published: float
    tolerance: float
    upper_only: bool = False  # the model may be lower (e.g. "no other hour is busier")

    def met_by(self, value: float) -> bool:
        if self.upper_only:
            return value <= self.published + self.tolerance
        return abs(value - self.published) <= self.tolerance


def _arrivals_per_minute(profile: Profile, weekday: str):
    import numpy as np

    curve = profile.model.curve_for(weekday)
    minutes = np.arange(1440)
    mass = np.array([curve.integral(60 * m, 60 * (m + 1)) for m in minutes])
    return mass / mass.sum()


_PMF_MEMO: dict[tuple[str, str], object] = {}


def _trip_pmf(profile: Profile, weekday: str):
    """pmf[t, d]: P(trip = d minutes) for a visit starting in minute t of the day."""
    import numpy as np

    key = (profile.digest(), weekday)
    if key in _PMF_MEMO:
        return _PMF_MEMO[key]
    if len(_PMF_MEMO) > 64:
        _PMF_MEMO.clear()

    dwell = profile.model.dwell
    durations = np.arange(dwell.max_minutes + 1)
    pmf = np.zeros((1440, durations.size))
    cache: dict[float, np.ndarray] = {}
    for t in range(1440):
        mu = round(dwell.mu_at(weekday, 60 * t + 30), 6)
        row = cache.get(mu)
        if row is None:
            cdf = np.array([dwell.cdf(mu, d) for d in durations])
            row = np.diff(cdf, prepend=0.0)
            cache[mu] = row
        pmf[t] = row
    _PMF_MEMO[key] = pmf
    return pmf


def in_store_share_by_hour(profile: Profile, weekday: str) -> list[float]:
    """Share of the day's customers who are in the store at some time during each hour
    (0-23) of ``weekday``, for a store open all day (the ATUS measure)."""
    import numpy as np

    f = _arrivals_per_minute(profile, weekday)
    pmf = _trip_pmf(profile, weekday)
    durations = np.arange(pmf.shape[1])
    shares = []
    for h in range(24):
        a, b = 60 * h, 60 * (h + 1)
        total = 0.0
        for t in range(0, b):
            # a visit from minute t (uniform inside it) overlaps [a, b) if it starts before b and ends after a
            if t >= a:
                total += f[t]
            else:
                total += f[t] * pmf[t][durations + t + 0.5 > a].sum()
        shares.append(float(total))
    return shares


def arrival_share_by_hour(profile: Profile, weekday: str) -> list[float]:
    """Share of the day's arrivals in each hour (0-23)."""
    f = _arrivals_per_minute(profile, weekday)
    return [float(f[60 * h : 60 * (h + 1)].sum()) for h in range(24)]


def mean_trip_minutes(profile: Profile, weekday: str) -> float:
    """The model's mean recorded trip (whole minutes, truncated) over ``weekday``'s arrivals."""
    import numpy as np

    f = _arrivals_per_minute(profile, weekday)
    pmf = _trip_pmf(profile, weekday)
    return float((f[:, None] * pmf * np.arange(pmf.shape[1])[None, :]).sum())


def trip_share_between(profile: Profile, weekdays, low: float, high: float) -> float:
    """Share of trips lasting ``low <= minutes < high`` over the visits of ``weekdays``."""
    import numpy as np

    model = profile.model
    total = 0.0
    weight = 0.0
    for day in weekdays:
        f = _arrivals_per_minute(profile, day)
        pmf = _trip_pmf(profile, day)
        d = np.arange(pmf.shape[1])
        mask = (d >= low) & (d < high)
        total += model.day_weight[day] * float((f[:, None] * pmf[:, mask]).sum())
        weight += model.day_weight[day]
    return total / weight


def weighted_mean_trip(profile: Profile, weekdays) -> float:
    model = profile.model
    num = sum(model.day_weight[d] * mean_trip_minutes(profile, d) for d in weekdays)
    return num / sum(model.day_weight[d] for d in weekdays)


def night_share(profile: Profile, weekday: str, start_hour: int = 0, end_hour: int = 6) -> float:
    """Share of ``weekday``'s arrivals between ``start_hour`` and ``end_hour`` (no opening hours)."""
    return sum(arrival_share_by_hour(profile, weekday)[start_hour:end_hour])


def averaged(values_by_day: dict[str, list[float]], days, weights) -> list[float]:
    total = sum(weights[d] for d in days)
    return [sum(weights[d] * values_by_day[d][h] for d in days) / total for h in range(24)]


def report(profile: Profile) -> list[tuple[Target, float]]:
    """Each calibration target of the ``retail`` profile with the model's value."""
    model = profile.model
    w = model.day_weight
    weekday_share = {d: in_store_share_by_hour(profile, d) for d in WEEKDAYS}
    wd = averaged(weekday_share, WEEKDAY_NAMES, w)
    we = averaged(weekday_share, WEEKEND_NAMES, w)
    wd_mean = weighted_mean_trip(profile, WEEKDAY_NAMES)
    we_mean = weighted_mean_trip(profile, WEEKEND_NAMES)
    rows = [
        (Target("tui-2008", "Saturday / average Monday-Tuesday shoppers (41 M / 29 M)", 41 / 29, 0.02),
         w["Saturday"] / ((w["Monday"] + w["Tuesday"]) / 2)),
        (Target("ers-2019", "weekend / weekday share of people grocery shopping (16 % / 13 %)", 16 / 13, 0.03),
         ((w["Saturday"] + w["Sunday"]) / 2) / (sum(w[d] for d in WEEKDAY_NAMES) / 5)),
        (Target("ers-2019", "weekday: shoppers in the store during 11:00-11:59", 0.16, 0.015), wd[11]),
        (Target("ers-2019", "weekday: shoppers in the store during 12:00-12:59", 0.16, 0.015), wd[12]),
        (Target("ers-2019", "weekday: shoppers in the store during 15:00-15:59", 0.16, 0.015), wd[15]),
        (Target("ers-2019", "weekday: no other hour busier than 16 %", 0.16, 0.005, True),
         max(v for h, v in enumerate(wd) if h not in (11, 12, 15))),
        (Target("ers-2019", "weekend: shoppers in the store during 11:00-11:59", 0.20, 0.015), we[11]),
        (Target("ers-2019", "weekend: shoppers in the store during 12:00-12:59", 0.20, 0.015), we[12]),
        (Target("ers-2019", "weekend: no other hour busier than 20 %", 0.20, 0.005, True),
         max(v for h, v in enumerate(we) if h not in (11, 12))),
        (Target("tui-2008", "average trip, minutes (41)", 41.0, 1.0), weighted_mean_trip(profile, WEEKDAYS)),
        (Target("tui-2008", "weekend trip minus weekday trip, minutes (7)", 7.0, 1.0), we_mean - wd_mean),
        (Target("poll-2023", "trips under 30 minutes (30.1 %)", 0.301, 0.05),
         trip_share_between(profile, WEEKDAYS, 0, 30)),
        (Target("poll-2023", "trips of 30-60 minutes (61.3 %)", 0.613, 0.08),
         trip_share_between(profile, WEEKDAYS, 30, 60)),
        (Target("poll-2023", "trips of 1-2 hours (8.5 %)", 0.085, 0.05),
         trip_share_between(profile, WEEKDAYS, 60, 120)),
    ]
    return rows
