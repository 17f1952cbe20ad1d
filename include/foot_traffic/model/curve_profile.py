"""Curve profiles (``retail.yaml`` and the like): a smooth intensity, a dwell law, parties.

The second shape of a profile file, next to the seed's six flat slots. The loader checks
the whole document and reports every problem at once, each naming its key. Schema (all
times are quoted ``"HH:MM"`` strings of the store's local day; see profiles/retail.yaml):

```yaml
name: retail
time_slots: hourly            # or a list of "HH:MM" starts from "00:00": the JSON's time_slot labels
curves:                       # named arrival curves: relative rate at each time, linear in between
  weekday: {"00:00": 0.4, "07:00": 2.0, ..., "24:00": 0.4}
days:                         # every weekday: its volume, its curve, its mean trip
  Monday: {weight: 29, curve: weekday, dwell_mean_minutes: 38.6}
  # optional per day: variation_pct: 0.2   the day's total is its mean x U[1-0.2, 1+0.2];
  # it replaces DAILY_VARIATION_PCT for that day (foot-traffic fit writes it from door counts)
dwell:
  distribution: lognormal
  sigma: 0.4
  min_minutes: 2
  max_minutes: 180
  hour_factor: {"00:00": 0.8, "12:00": 1.05, "24:00": 0.8}   # optional, relative
parties:                      # optional: no parties when absent
  share: 0.2                  # share of arrivals (groups) that are parties
  sizes: {2: 0.65, 3: 0.2, 4: 0.1, 5: 0.05}
  gap_seconds: {min: 1, max: 4}
sources: [...]                # free text: where the figures come from (not used by the engine)
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from foot_traffic.model.dwell import Dwell
from foot_traffic.model.intensity import SECONDS_PER_DAY, Curve
from foot_traffic.model.parties import NO_PARTIES, PartyMix

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # = profile.WEEKDAYS (profile imports this module)
TOP_KEYS = {"name", "shape", "description", "time_slots", "curves", "days", "dwell", "parties", "sources"}
DAY_KEYS = {"weight", "curve", "dwell_mean_minutes", "variation_pct"}
DWELL_KEYS = {"distribution", "sigma", "min_minutes", "max_minutes", "hour_factor"}
PARTY_KEYS = {"share", "sizes", "gap_seconds"}
MAX_PARTY_SIZE = 20
MAX_GAP_SECONDS = 60


@dataclass(frozen=True)
class CurveModel:
    """Everything a curve profile says about a store, validated."""

    curves: dict[str, Curve]
    day_curve: dict[str, str]
    day_weight: dict[str, float]
    dwell: Dwell
    parties: PartyMix
    slot_starts: tuple[int, ...]  # minutes of the day
    doc: dict[str, Any]  # the normalised model, for the digest
    # weekday -> its own day-to-day variation (replaces DAILY_VARIATION_PCT); absent: the setting's
    day_variation: dict[str, float] | None = None

    def curve_for(self, weekday: str) -> Curve:
        return self.curves[self.day_curve[weekday]]

    @property
    def has_parties(self) -> bool:
        return self.parties.share > 0


class _Problems(list):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _time_of_day(text: Any, where: str, problems: _Problems, *, allow_end: bool) -> int | None:
    """Seconds after midnight of a quoted ``HH:MM`` (``24:00`` when ``allow_end``)."""
    if isinstance(text, int) and not isinstance(text, bool):
        problems.add(where, f"{text!r} is a number; write times as quoted \"HH:MM\" strings "
                     "(YAML reads an unquoted 10:30 as the number 630)")
        return None
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        problems.add(where, f"{text!r} is not a time \"HH:MM\"")
        return None
    hours, minutes = int(text[:2]), int(text[3:])
    if allow_end and hours == 24 and minutes == 0:
        return SECONDS_PER_DAY
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        problems.add(where, f"{text!r} is not a time of day (00:00-23:59{' or 24:00' if allow_end else ''})")
        return None
    return (hours * 60 + minutes) * 60


def _curve(raw: Any, where: str, problems: _Problems, *, positive: bool) -> Curve | None:
    if not isinstance(raw, dict) or len(raw) < 2:
        problems.add(where, "expected a mapping of at least two \"HH:MM\": value points")
        return None
    knots: list[int] = []
    values: list[float] = []
    ok = True
    for key, value in raw.items():
        t = _time_of_day(key, f"{where}[{key!r}]", problems, allow_end=True)
        if not _is_number(value) or value < 0 or (positive and value <= 0):
            problems.add(f"{where}[{key!r}]", f"{value!r} must be a finite number {'> 0' if positive else '>= 0'}")
            ok = False
        if t is None:
            ok = False
            continue
        if knots and t <= knots[-1]:
            problems.add(where, f"times must increase: {key!r} comes after a later or equal time")
            ok = False
        knots.append(t)
        values.append(float(value) if _is_number(value) else 0.0)
    if not ok:
        return None
    if knots[0] != 0:
        problems.add(where, "the first point must be \"00:00\" (the curve covers the whole day)")
        return None
    if knots[-1] != SECONDS_PER_DAY:
        knots.append(SECONDS_PER_DAY)  # the day wraps round: 24:00 is the next 00:00
        values.append(values[0])
    if not any(v > 0 for v in values):
        problems.add(where, "all values are 0: no one would ever come")
        return None
    return Curve(tuple(knots), tuple(values))


def _slot_starts(raw: Any, problems: _Problems) -> tuple[int, ...]:
    if raw is None or raw == "hourly":
        return tuple(range(0, 24 * 60, 60))
    if not isinstance(raw, list) or not raw:
        problems.add("time_slots", "expected \"hourly\" or a list of \"HH:MM\" start times from \"00:00\"")
        return (0,)
    starts = []
    for i, item in enumerate(raw):
        t = _time_of_day(item, f"time_slots[{i}]", problems, allow_end=False)
        if t is not None:
            starts.append(t // 60)
    if starts and starts[0] != 0:
        problems.add("time_slots", "must start at \"00:00\" so that the slots cover the whole day")
    if any(b <= a for a, b in zip(starts, starts[1:])):
        problems.add("time_slots", "start times must increase")
    return tuple(starts) or (0,)


def _check_keys(raw: dict, allowed: set[str], where: str, problems: _Problems) -> None:
    for key in raw:
        if key not in allowed:
            problems.add(where, f"unknown key {key!r} (expected {', '.join(sorted(allowed))})")


def _dwell(raw: Any, days: dict[str, dict], curves: dict[str, Curve], problems: _Problems) -> Dwell | None:
    if not isinstance(raw, dict):
        problems.add("dwell", "expected a mapping with distribution, sigma, min_minutes, max_minutes")
        return None
    _check_keys(raw, DWELL_KEYS, "dwell", problems)
    ok = True
    if raw.get("distribution", "lognormal") != "lognormal":
        problems.add("dwell.distribution", f"{raw.get('distribution')!r}: only lognormal is supported")
        ok = False
    sigma = raw.get("sigma")
    if not _is_number(sigma) or not 0 < sigma <= 3:
        problems.add("dwell.sigma", f"{sigma!r} must be a number in (0, 3]")
        ok = False
    low, high = raw.get("min_minutes"), raw.get("max_minutes")
    bounds_ok = True
    for key, value in (("min_minutes", low), ("max_minutes", high)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
            problems.add(f"dwell.{key}", f"{value!r} must be whole minutes, 1-1440")
            bounds_ok = False
    if bounds_ok and low >= high:
        problems.add("dwell", f"min_minutes ({low}) must be below max_minutes ({high})")
        bounds_ok = False
    ok = ok and bounds_ok
    hour_raw = raw.get("hour_factor")
    hour = Curve((0, SECONDS_PER_DAY), (1.0, 1.0)) if hour_raw is None else _curve(
        hour_raw, "dwell.hour_factor", problems, positive=True
    )
    if hour is None:
        ok = False
    means: dict[str, float] = {}
    for day, spec in days.items():
        mean = spec.get("dwell_mean_minutes")
        if not _is_number(mean) or mean <= 0:
            problems.add(f"days.{day}.dwell_mean_minutes", f"{mean!r} must be a number of minutes > 0")
            ok = False
        elif bounds_ok and not low <= mean <= high:
            problems.add(f"days.{day}.dwell_mean_minutes", f"{mean!r} must lie between dwell.min_minutes and max_minutes")
            ok = False
        else:
            means[day] = float(mean)
    if not ok or len(means) != len(WEEKDAYS):
        return None
    norm = {}
    for day in WEEKDAYS:
        curve = curves.get(days.get(day, {}).get("curve"))
        norm[day] = curve.weighted_mean(hour) if curve is not None else 1.0
    return Dwell(float(sigma), low, high, means, hour, norm)


def _parties(raw: Any, problems: _Problems) -> PartyMix | None:
    if raw is None:
        return NO_PARTIES
    if not isinstance(raw, dict):
        problems.add("parties", "expected a mapping with share, sizes and gap_seconds")
        return None
    _check_keys(raw, PARTY_KEYS, "parties", problems)
    ok = True
    share = raw.get("share")
    if not _is_number(share) or not 0 <= share < 1:
        problems.add("parties.share", f"{share!r} must be a number in [0, 1)")
        ok = False
    sizes_raw = raw.get("sizes")
    sizes: dict[int, float] = {}
    if not isinstance(sizes_raw, dict) or not sizes_raw:
        problems.add("parties.sizes", "expected a mapping of party size (2-20) to probability")
        ok = False
    else:
        for key, p in sizes_raw.items():
            size = key if isinstance(key, int) and not isinstance(key, bool) else (int(key) if str(key).isdigit() else None)
            if size is None or not 2 <= size <= MAX_PARTY_SIZE:
                problems.add(f"parties.sizes[{key!r}]", f"a party has 2-{MAX_PARTY_SIZE} people")
                ok = False
                continue
            if not _is_number(p) or p < 0:
                problems.add(f"parties.sizes[{key!r}]", f"{p!r} must be a probability >= 0")
                ok = False
                continue
            sizes[size] = float(p)
        total = sum(sizes.values())
        if ok and not math.isclose(total, 1.0, abs_tol=1e-9):
            problems.add("parties.sizes", f"probabilities add up to {total:g}, not 1")
            ok = False
    gap = raw.get("gap_seconds", {"min": 1, "max": 4})
    gap_min = gap_max = None
    if not isinstance(gap, dict) or set(gap) != {"min", "max"}:
        problems.add("parties.gap_seconds", "expected {min: seconds, max: seconds}")
        ok = False
    else:
        gap_min, gap_max = gap["min"], gap["max"]
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (gap_min, gap_max)) or not (
            0 <= gap_min <= gap_max <= MAX_GAP_SECONDS
        ):
            problems.add("parties.gap_seconds", f"need whole seconds 0 <= min <= max <= {MAX_GAP_SECONDS}")
            ok = False
    if not ok:
        return None
    return PartyMix(float(share), dict(sorted(sizes.items())), gap_min, gap_max)


def parse_curve_model(doc: dict, problems: list[str]) -> CurveModel | None:
    """Validate a curve profile document; append every problem to ``problems``."""
    found = _Problems()
    _check_keys(doc, TOP_KEYS, "profile", found)
    slot_starts = _slot_starts(doc.get("time_slots"), found)

    curves: dict[str, Curve] = {}
    curves_raw = doc.get("curves")
    if not isinstance(curves_raw, dict) or not curves_raw:
        found.add("curves", "expected a mapping of curve names to {\"HH:MM\": rate} points")
    else:
        for name, raw in curves_raw.items():
            curve = _curve(raw, f"curves.{name}", found, positive=False)
            if curve is not None:
                curves[str(name)] = curve

    days: dict[str, dict] = {}
    days_raw = doc.get("days")
    if not isinstance(days_raw, dict):
        found.add("days", f"expected a mapping with the keys {', '.join(WEEKDAYS)}")
    else:
        missing = [d for d in WEEKDAYS if d not in days_raw]
        extra = [str(d) for d in days_raw if d not in WEEKDAYS]
        if missing:
            found.add("days", f"missing {', '.join(missing)}")
        if extra:
            found.add("days", f"unknown day(s) {', '.join(extra)} (expected {', '.join(WEEKDAYS)})")
        for day in WEEKDAYS:
            spec = days_raw.get(day)
            if day not in days_raw:
                continue
            if not isinstance(spec, dict):
                found.add(f"days.{day}", "expected {weight, curve, dwell_mean_minutes}")
                continue
            _check_keys(spec, DAY_KEYS, f"days.{day}", found)
            weight = spec.get("weight")
            if not _is_number(weight) or weight <= 0:
                found.add(f"days.{day}.weight", f"{weight!r} must be a number > 0 (the day's relative volume)")
            if "variation_pct" in spec:
                pct = spec["variation_pct"]
                if not _is_number(pct) or not 0 <= pct < 1:
                    found.add(f"days.{day}.variation_pct", f"{pct!r} must be a number in [0, 1) (0.2 = ±20 %)")
            curve_name = spec.get("curve")
            if not isinstance(curve_name, str) or (isinstance(curves_raw, dict) and curve_name not in curves_raw):
                names = ", ".join(map(str, curves_raw)) if isinstance(curves_raw, dict) else "none"
                found.add(f"days.{day}.curve", f"{curve_name!r} is not one of the curves ({names})")
            days[day] = spec

    dwell = None
    if doc.get("dwell") is None:
        found.add("dwell", "missing: the trip-time law (lognormal sigma, min_minutes, max_minutes)")
    else:
        dwell = _dwell(doc["dwell"], days, curves, found)
    parties = _parties(doc.get("parties"), found)
    sources = doc.get("sources")
    if sources is not None and not isinstance(sources, list):
        found.add("sources", "expected a list (citations: where each figure comes from)")

    problems.extend(found)
    if found or dwell is None or parties is None:
        return None
    day_curve = {d: days[d]["curve"] for d in WEEKDAYS}
    day_weight = {d: float(days[d]["weight"]) for d in WEEKDAYS}
    day_variation = {d: float(days[d]["variation_pct"]) for d in WEEKDAYS if "variation_pct" in days[d]} or None
    norm_doc = {
        "shape": "curve",
        "slots": list(slot_starts),
        "curves": {n: [[k, v] for k, v in zip(c.knots, c.values)] for n, c in sorted(curves.items())},
        "days": {d: [day_curve[d], day_weight[d], dwell.mean_minutes[d]] for d in WEEKDAYS},
        "dwell": [
            dwell.sigma, dwell.min_minutes, dwell.max_minutes,
            [[k, v] for k, v in zip(dwell.hour_factor.knots, dwell.hour_factor.values)],
        ],
        "parties": [parties.share, [[k, p] for k, p in parties.sizes.items()], parties.gap_min, parties.gap_max],
    }
    if day_variation:  # only then: the digest of a profile without it stays what it was
        norm_doc["variation"] = dict(sorted(day_variation.items()))
    return CurveModel(curves, day_curve, day_weight, dwell, parties, slot_starts, norm_doc, day_variation)
