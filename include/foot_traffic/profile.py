"""The store's traffic model: time slots, weekday x slot weights, trip-duration mix.

The default is the original producer's model (``profiles/seed.yaml``); a user describes
another store with a small YAML or JSON file of the same shape.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MINUTES_PER_DAY = 24 * 60
EN_DASH = "\u2013"


class ProfileError(ValueError):
    """A profile file that cannot describe a store; the message says where and why."""


@dataclass(frozen=True)
class Slot:
    """A time slot ``[start_minute, end_minute)`` of the day; ``label`` as in the events."""

    index: int
    start_minute: int
    end_minute: int

    @property
    def label(self) -> str:
        last = self.end_minute - 1
        return f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}{EN_DASH}{last // 60:02d}:{last % 60:02d}"

    @property
    def seconds(self) -> int:
        return (self.end_minute - self.start_minute) * 60


@dataclass(frozen=True)
class DurationBand:
    probability: float
    min_minutes: int
    max_minutes: int


@dataclass(frozen=True)
class Profile:
    name: str
    slots: tuple[Slot, ...]
    weights: dict[str, tuple[int | float, ...]]
    durations: tuple[DurationBand, ...]

    @property
    def mean_weekday_sum(self) -> float:
        return sum(sum(self.weights[day]) for day in WEEKDAYS) / len(WEEKDAYS)

    def weekday_factor(self, weekday: str) -> float:
        """How much busier than the average day this weekday is (weight sum / mean sum)."""
        return sum(self.weights[weekday]) / self.mean_weekday_sum

    @property
    def max_trip_minutes(self) -> int:
        return max(band.max_minutes for band in self.durations)

    def slot_at(self, minute_of_day: int) -> Slot:
        for slot in self.slots:
            if slot.start_minute <= minute_of_day < slot.end_minute:
                return slot
        raise ValueError(f"minute {minute_of_day} is outside the day")

    def digest(self) -> str:
        """A short hash of the model, so a resumed day can tell it was planned the same way."""
        doc = {
            "slots": [s.start_minute for s in self.slots],
            "weights": {d: list(self.weights[d]) for d in WEEKDAYS},
            "durations": [[b.probability, b.min_minutes, b.max_minutes] for b in self.durations],
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _hhmm(text: Any, where: str) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ProfileError(f"{where}: {text!r} is not HH:MM")
    try:
        hours, minutes = int(text[:2]), int(text[3:])
    except ValueError:
        raise ProfileError(f"{where}: {text!r} is not HH:MM") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ProfileError(f"{where}: {text!r} is not a time of day")
    return hours * 60 + minutes


def _number(value: Any, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise ProfileError(f"{where}: {value!r} must be a finite number >= {minimum:g}")
    return value


def profile_from_dict(doc: Any, source: str = "profile") -> Profile:
    """Validate a parsed profile document; every error names the offending key."""
    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: expected a mapping with slots, weights and trip_duration_minutes")
    missing = [key for key in ("slots", "weights", "trip_duration_minutes") if key not in doc]
    if missing:
        raise ProfileError(f"{source}: missing {', '.join(missing)}")

    starts_raw = doc["slots"]
    if not isinstance(starts_raw, list) or not starts_raw:
        raise ProfileError(f"{source}: slots must be a non-empty list of HH:MM start times")
    starts = [_hhmm(item, f"{source}: slots[{i}]") for i, item in enumerate(starts_raw)]
    if starts[0] != 0:
        raise ProfileError(f"{source}: slots must start at 00:00 so that they cover the whole day")
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ProfileError(f"{source}: slot start times must increase")
    ends = starts[1:] + [MINUTES_PER_DAY]
    slots = tuple(Slot(i, start, end) for i, (start, end) in enumerate(zip(starts, ends)))

    weights_raw = doc["weights"]
    if not isinstance(weights_raw, dict) or set(weights_raw) != set(WEEKDAYS):
        raise ProfileError(f"{source}: weights must have exactly the keys {', '.join(WEEKDAYS)}")
    weights: dict[str, tuple[int | float, ...]] = {}
    for day in WEEKDAYS:
        row = weights_raw[day]
        if not isinstance(row, list) or len(row) != len(slots):
            raise ProfileError(f"{source}: weights.{day} must list {len(slots)} numbers, one per slot")
        weights[day] = tuple(_number(w, f"{source}: weights.{day}[{i}]") for i, w in enumerate(row))
        if sum(weights[day]) <= 0:
            raise ProfileError(f"{source}: weights.{day} must not be all zero")

    bands_raw = doc["trip_duration_minutes"]
    if not isinstance(bands_raw, list) or not bands_raw:
        raise ProfileError(f"{source}: trip_duration_minutes must be a non-empty list of bands")
    bands = []
    for i, band in enumerate(bands_raw):
        where = f"{source}: trip_duration_minutes[{i}]"
        if not isinstance(band, dict) or set(band) != {"probability", "min", "max"}:
            raise ProfileError(f"{where}: expected {{probability, min, max}}")
        low, high = band["min"], band["max"]
        if isinstance(low, bool) or isinstance(high, bool) or not isinstance(low, int) or not isinstance(high, int):
            raise ProfileError(f"{where}: min and max must be whole minutes")
        if not 1 <= low <= high <= MINUTES_PER_DAY:
            raise ProfileError(f"{where}: need 1 <= min <= max <= {MINUTES_PER_DAY}")
        bands.append(DurationBand(_number(band["probability"], f"{where}.probability"), low, high))
    total = sum(b.probability for b in bands)
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise ProfileError(f"{source}: trip_duration_minutes probabilities add up to {total:g}, not 1")
    name = doc.get("name", Path(source).stem)
    return Profile(name=str(name), slots=slots, weights=weights, durations=tuple(bands))


def load_profile(path: str | Path | None = None) -> Profile:
    """Load a profile file (``.yaml``/``.yml``/``.json``); ``None`` gives the original model."""
    if path is None:
        return original_profile()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    return profile_from_dict(doc, str(path))


@cache
def original_profile() -> Profile:
    """The original producer's model, shipped as ``profiles/seed.yaml``."""
    text = resources.files("foot_traffic").joinpath("profiles/seed.yaml").read_text(encoding="utf-8")
    return profile_from_dict(yaml.safe_load(text), "seed.yaml")
