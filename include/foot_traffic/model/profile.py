"""The store's traffic model, loaded from a profile: a built-in name or a YAML/JSON file.

Two shapes share one loader:

* the seed's: time slots, weekday x slot weights, trip-duration bands (``profiles/seed.yaml``,
  the original producer's model and the default);
* a curve profile (``profiles/retail.yaml``): a smooth arrival curve per weekday, a
  log-normal trip time that depends on weekday and hour, parties (``curve_profile.py``).

Built-in profiles are named by their file name without ``.yaml`` (``seed``, ``retail``).
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

from foot_traffic.model.curve_profile import CurveModel, parse_curve_model

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MINUTES_PER_DAY = 24 * 60
EN_DASH = "\u2013"


BUILTIN = ("seed", "retail")  # profiles/<name>.yaml; keep in step with settings.BUILTIN_PROFILES


class ProfileError(ValueError):
    """A profile file that cannot describe a store; the message says where and why."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or [message]
        super().__init__(message)


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
    # A curve profile's model (None: the seed shape). Its ``weights`` are then derived:
    # each weekday's volume spread over the slots as its curve spreads the day.
    model: CurveModel | None = None

    @property
    def mean_weekday_sum(self) -> float:
        return sum(sum(self.weights[day]) for day in WEEKDAYS) / len(WEEKDAYS)

    def weekday_factor(self, weekday: str) -> float:
        """How much busier than the average day this weekday is (weight sum / mean sum)."""
        return sum(self.weights[weekday]) / self.mean_weekday_sum

    def variation_pct(self, weekday: str) -> float | None:
        """The profile's own day-to-day variation for ``weekday`` (a fitted profile's), else None."""
        if self.model is None or not self.model.day_variation:
            return None
        return self.model.day_variation.get(weekday)

    @property
    def max_trip_minutes(self) -> int:
        if self.model is not None:
            return self.model.dwell.max_minutes
        return max(band.max_minutes for band in self.durations)

    def digest(self) -> str:
        """A short hash of the model, so a resumed day can tell it was planned the same way."""
        if self.model is not None:
            return hashlib.sha256(json.dumps(self.model.doc, sort_keys=True).encode()).hexdigest()[:16]
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
    if isinstance(doc, dict) and "curves" in doc:
        return _curve_profile(doc, source)
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


def _curve_profile(doc: dict, source: str) -> Profile:
    problems: list[str] = []
    model = parse_curve_model(doc, problems)
    if model is None:
        lines = "\n".join(f"    - {p}" for p in problems)
        raise ProfileError(f"{source}: {len(problems)} problem(s):\n{lines}", [f"{source}: {p}" for p in problems])
    ends = model.slot_starts[1:] + (MINUTES_PER_DAY,)
    slots = tuple(Slot(i, a, b) for i, (a, b) in enumerate(zip(model.slot_starts, ends)))
    weights = {}
    for day in WEEKDAYS:
        curve = model.curve_for(day)
        whole = curve.integral(0, MINUTES_PER_DAY * 60)
        weights[day] = tuple(
            model.day_weight[day] * curve.integral(s.start_minute * 60, s.end_minute * 60) / whole for s in slots
        )
    name = doc.get("name", Path(source).stem)
    return Profile(name=str(name), slots=slots, weights=weights, durations=(), model=model)


def builtin_profile_path(name: str):
    """The packaged file of built-in profile ``name`` (a Traversable)."""
    return resources.files("foot_traffic.model").joinpath(f"profiles/{name}.yaml")


def load_profile(path: str | Path | None = None) -> Profile:
    """Load a profile: a built-in name (``seed``, ``retail``) or a file (``.yaml``/``.yml``/``.json``).

    ``None`` gives the original model (``seed``).
    """
    if path is None or str(path) == "seed":
        return original_profile()
    if str(path) in BUILTIN:
        return builtin_profile(str(path))
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml_document(text, path)
    except (ValueError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    return profile_from_dict(doc, str(path))


def yaml_document(text: str, source: str | Path, loader: type = yaml.SafeLoader) -> Any:
    """``text`` read as YAML (a safe loader); an error names ``source``, its file, where
    PyYAML would say ``<unicode string>``."""
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        for which in ("problem_mark", "context_mark"):
            mark = getattr(exc, which)
            if mark is not None:  # the C loader's marks are read-only: a named copy
                setattr(exc, which, yaml.Mark(str(source), mark.index, mark.line, mark.column,
                                              getattr(mark, "buffer", None), getattr(mark, "pointer", None)))
        raise


@cache
def builtin_profile(name: str) -> Profile:
    """A built-in profile by name (``seed``, ``retail``)."""
    if name not in BUILTIN:
        raise ProfileError(f"{name!r} is not a built-in profile ({', '.join(BUILTIN)})")
    text = builtin_profile_path(name).read_text(encoding="utf-8")
    return profile_from_dict(yaml.safe_load(text), f"{name}.yaml")


@cache
def original_profile() -> Profile:
    """The original producer's model, shipped as ``profiles/seed.yaml``."""
    text = resources.files("foot_traffic.model").joinpath("profiles/seed.yaml").read_text(encoding="utf-8")
    return profile_from_dict(yaml.safe_load(text), "seed.yaml")
