"""The store catalogue: a chain's stores, their time zones, opening hours, sizes and special days.

A YAML (or JSON) file, ``STORES_FILE`` / ``--stores PATH`` / the chain DAG's
``stores_file`` Param::

    stores:
      - id: rome-centro            # [a-z0-9][a-z0-9-]*, unique in the file
        name: Roma Centro
        timezone: Europe/Rome      # IANA name
        base_daily_customers: 1400 # the store's average open day
        daily_variation_pct: 0.2   # optional, else DAILY_VARIATION_PCT
        profile: seed              # built-in profile name or a profile file; default seed
        opening_hours:             # local wall-clock time; a weekday not listed is closed
          mon-fri: "08:30-20:00"
          sat: ["09:00-13:00", "15:00-21:00"]
          sun: "22:00-02:00"       # past midnight: belongs to the day it opens
        closed_on: [2026-12-25]
        special_days: {2026-11-27: 2.5}

Validation reports every problem of the file at once, each naming the store and the
field, before anything is sent (``CatalogueError.problems``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from foot_traffic.plan.localday import MINUTES_PER_DAY, zone
from foot_traffic.model.profile import (
    BUILTIN, WEEKDAYS, Profile, ProfileError, builtin_profile, load_profile, original_profile, yaml_document,
)
from foot_traffic.settings import EXAMPLE_CHAIN  # noqa: F401 - the example chain, re-exported

STORE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_STORE_ID = 64
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAILY_CUSTOMERS = 10_000_000
MAX_SPECIAL_FACTOR = 100.0
STORE_FIELDS = {
    "id", "name", "timezone", "base_daily_customers", "daily_customers", "daily_variation_pct",
    "profile", "opening_hours", "closed_on", "special_days",
}
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")


class CatalogueError(ValueError):
    """An unusable catalogue; ``problems`` holds one line per problem, naming store and field."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"invalid store catalogue {source}:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Store:
    """One store. ``hours[w]`` lists the opening periods of weekday ``w`` (0 = Monday) as
    ``(open, close)`` local wall-clock minutes of that day; ``close`` may pass 1440 (the
    period runs past midnight and belongs to the day it opened).

    ``id`` None is the implicit store of a run without a catalogue (``plan/implicit.py``):
    its records carry no ``store_id`` and no ``ft-store``, its times are UTC, and its
    seeds, totals and plan ids are those of the original producer."""

    id: str | None
    name: str
    timezone: str
    base_daily_customers: int | None
    daily_customers: int | None
    daily_variation_pct: float | None
    profile: Profile
    hours: tuple[tuple[tuple[int, int], ...], ...]
    closed_on: frozenset[date] = frozenset()
    special_days: tuple[tuple[date, float], ...] = ()

    @property
    def is_implicit(self) -> bool:
        """The implicit store (no catalogue)."""
        return self.id is None

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def periods(self, day: date) -> tuple[tuple[int, int], ...]:
        """Opening periods of ``day`` (empty when closed that day)."""
        if day in self.closed_on:
            return ()
        return self.hours[day.weekday()]

    def special_factor(self, day: date) -> float:
        for special, factor in self.special_days:
            if special == day:
                return factor
        return 1.0

    def hours_text(self, day: date) -> str:
        """``08:30-20:00`` style text of the day's opening periods, or ``closed``."""
        periods = self.periods(day)
        return ", ".join(f"{_hhmm(a)}-{_hhmm(b % MINUTES_PER_DAY if b > MINUTES_PER_DAY else b)}" for a, b in periods) or "closed"

    def digest(self) -> str:
        """What the store's plans depend on besides seed, day and total (for plan ids)."""
        doc = {
            "tz": self.timezone,
            "hours": [list(map(list, h)) for h in self.hours],
            "profile": self.profile.digest(),
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Catalogue:
    """The stores of a chain, in file order; ``source`` says where they came from."""

    stores: tuple[Store, ...]
    source: str = "catalogue"
    _by_id: dict[str, Store] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({s.id: s for s in self.stores})

    def __len__(self) -> int:
        return len(self.stores)

    @property
    def is_implicit(self) -> bool:
        """The catalogue of one of a run without a catalogue (``plan/implicit.py``)."""
        return len(self.stores) == 1 and self.stores[0].is_implicit

    def __iter__(self):
        return iter(self.stores)

    def get(self, store_id: str) -> Store:
        return self._by_id[store_id]

    def select(self, ids: Iterable[str]) -> Catalogue:
        """The stores named by ``ids`` (a shard); raises KeyError naming an unknown id."""
        wanted = list(ids)
        unknown = [i for i in wanted if i not in self._by_id]
        if unknown:
            raise KeyError(f"not in {self.source}: {', '.join(unknown)}")
        return Catalogue(tuple(self._by_id[i] for i in wanted), self.source)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _days_of(key: Any) -> list[int] | None:
    """Weekday indexes named by an opening_hours key: ``mon``, ``mon-fri``, ``sat,sun``, ``daily``."""
    if not isinstance(key, str):
        return None
    text = key.strip().lower()
    if text in {"daily", "every day", "mon-sun"}:
        return list(range(7))
    days: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first.strip() not in DAY_NAMES or last.strip() not in DAY_NAMES:
                return None
            a, b = DAY_NAMES.index(first.strip()), DAY_NAMES.index(last.strip())
            span = (b - a) % 7
            days.extend((a + i) % 7 for i in range(span + 1))
        elif part in DAY_NAMES:
            days.append(DAY_NAMES.index(part))
        else:
            return None
    return days


def _period(text: Any) -> tuple[int, int] | str:
    """``"08:30-20:00"`` -> (510, 1200); a close at or before the open passes midnight."""
    if not isinstance(text, str):
        return f"{text!r} is not a time range like \"08:30-20:00\""
    m = _RANGE.match(text)
    if not m:
        return f"{text!r} is not a time range like \"08:30-20:00\""
    oh, om, ch, cm = (int(g) for g in m.groups())
    if not (0 <= oh < 24 and 0 <= om < 60):
        return f"{text!r}: opening time is not a time of day (00:00-23:59)"
    if not (0 <= ch <= 24 and 0 <= cm < 60) or (ch == 24 and cm != 0):
        return f"{text!r}: closing time is not a time of day (00:00-24:00)"
    opens, closes = oh * 60 + om, ch * 60 + cm
    if closes == opens:
        return f"{text!r}: opens and closes at the same time (for a whole day write \"00:00-24:00\")"
    if closes < opens:
        closes += MINUTES_PER_DAY  # past midnight
    return opens, closes


def _parse_hours(raw: Any, where: str, problems: list[str]) -> tuple[tuple[tuple[int, int], ...], ...]:
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    if not isinstance(raw, Mapping) or not raw:
        problems.append(
            f"{where}: expected a mapping of weekdays to opening hours, e.g. {{mon-fri: \"08:30-20:00\", sat: \"09:00-13:00\"}}"
        )
        return tuple(() for _ in range(7))
    named: dict[int, str] = {}
    for key, value in raw.items():
        indexes = _days_of(key)
        if indexes is None:
            problems.append(f"{where}.{key}: not a weekday or range (mon, tue, ..., sun; mon-fri; sat,sun; daily)")
            continue
        for i in indexes:
            if i in named:
                problems.append(f"{where}.{key}: {DAY_NAMES[i]} is already given by {named[i]!r}")
            named[i] = str(key)
        if value is None or (isinstance(value, str) and value.strip().lower() == "closed"):
            continue
        values = value if isinstance(value, list) else [value]
        if not values:
            problems.append(f"{where}.{key}: empty list (write \"closed\" or leave the day out)")
        for v in values:
            period = _period(v)
            if isinstance(period, str):
                problems.append(f"{where}.{key}: {period}")
                continue
            for i in indexes:
                days[i].append(period)
    for i, periods in enumerate(days):
        periods.sort()
        merged: list[tuple[int, int]] = []
        for a, b in periods:
            if merged and a < merged[-1][1]:
                problems.append(
                    f"{where}.{DAY_NAMES[i]}: {_hhmm(a)}-{_hhmm(b % MINUTES_PER_DAY)} overlaps "
                    f"{_hhmm(merged[-1][0])}-{_hhmm(merged[-1][1] % MINUTES_PER_DAY)}"
                )
                continue
            if merged and a == merged[-1][1]:
                merged[-1] = (merged[-1][0], b)  # adjacent periods are one
            else:
                merged.append((a, b))
        days[i] = merged
    # A period past midnight must end before the next day's first opening.
    for i, periods in enumerate(days):
        if periods and periods[-1][1] > MINUTES_PER_DAY:
            spill = periods[-1][1] - MINUTES_PER_DAY
            nxt = days[(i + 1) % 7]
            if nxt and nxt[0][0] < spill:
                problems.append(
                    f"{where}.{DAY_NAMES[i]}: open until {_hhmm(spill)} after midnight, but "
                    f"{DAY_NAMES[(i + 1) % 7]} opens at {_hhmm(nxt[0][0])}"
                )
    return tuple(tuple(p) for p in days)


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _count(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAILY_CUSTOMERS:
        problems.append(f"{where}={value!r}: must be a whole number 1 ... {MAX_DAILY_CUSTOMERS:,}")
        return None
    return value


def _store(
    doc: Any, index: int, base_dir: Path, problems: list[str], profiles: dict[str, Profile], twice: bool = False
) -> Store | None:
    if not isinstance(doc, Mapping):
        problems.append(f"stores[{index}]: expected a mapping with id, timezone, base_daily_customers, opening_hours")
        return None
    raw_id = doc.get("id")
    sid = raw_id if isinstance(raw_id, str) and STORE_ID.match(raw_id) and len(raw_id) <= MAX_STORE_ID else None
    # An id used twice would name two stores alike: say which entry.
    where = (f"store {sid} (stores[{index}])" if twice else f"store {sid}") if sid else f"stores[{index}]"
    before = len(problems)
    if "id" not in doc:
        problems.append(f"{where}.id: missing (lowercase letters, digits and '-', e.g. rome-centro)")
    elif sid is None:
        problems.append(f"{where}.id={raw_id!r}: must match [a-z0-9][a-z0-9-]* (at most {MAX_STORE_ID} characters)")
    for key in doc:
        if key not in STORE_FIELDS:
            problems.append(f"{where}.{key}: unknown field (known: {', '.join(sorted(STORE_FIELDS))})")
    name = doc.get("name", sid or "")
    if not isinstance(name, str):
        problems.append(f"{where}.name={name!r}: must be text")
    tz_name = doc.get("timezone")
    if tz_name is None:
        problems.append(f"{where}.timezone: missing (an IANA name such as Europe/Rome)")
    else:
        try:
            zone(tz_name)
        except ValueError as exc:
            problems.append(f"{where}.timezone: {exc}")
    base = fixed = None
    if "base_daily_customers" in doc:
        base = _count(doc["base_daily_customers"], f"{where}.base_daily_customers", problems)
    if "daily_customers" in doc:
        fixed = _count(doc["daily_customers"], f"{where}.daily_customers", problems)
    if "base_daily_customers" not in doc and "daily_customers" not in doc:
        problems.append(f"{where}.base_daily_customers: missing (the store's customers on an average open day)")
    variation = doc.get("daily_variation_pct")
    if variation is not None and (
        isinstance(variation, bool) or not isinstance(variation, (int, float))
        or not math.isfinite(variation) or not 0 <= variation < 1
    ):
        problems.append(f"{where}.daily_variation_pct={variation!r}: must be a number 0 <= x < 1")
    profile_ref = doc.get("profile", "seed")
    profile = None
    if not isinstance(profile_ref, str) or not profile_ref.strip():
        problems.append(f"{where}.profile={profile_ref!r}: must be a built-in profile ({', '.join(BUILTIN)}) or the path of a profile file")
    elif profile_ref == "seed":
        profile = original_profile()
    elif profile_ref in BUILTIN:
        profile = builtin_profile(profile_ref)
    else:
        path = Path(profile_ref)
        if not path.is_absolute():
            path = base_dir / path
        key = str(path)
        if key not in profiles:
            try:
                profiles[key] = load_profile(path)
            except ProfileError as exc:
                problems.append(f"{where}.profile: {exc}")
        profile = profiles.get(key)
    hours = _parse_hours(doc.get("opening_hours"), f"{where}.opening_hours", problems)
    if "opening_hours" in doc and not any(hours) and len(problems) == before:
        problems.append(f"{where}.opening_hours: the store is never open")
    closed: set[date] = set()
    raw_closed = doc.get("closed_on", [])
    if not isinstance(raw_closed, list):
        problems.append(f"{where}.closed_on: expected a list of dates YYYY-MM-DD")
        raw_closed = []
    for item in raw_closed:
        d = _date(item)
        if d is None:
            problems.append(f"{where}.closed_on: {item!r} is not a date YYYY-MM-DD")
        else:
            closed.add(d)
    special: dict[date, float] = {}
    raw_special = doc.get("special_days", {})
    if not isinstance(raw_special, Mapping):
        problems.append(f"{where}.special_days: expected a mapping of dates to factors, e.g. {{2026-11-27: 2.5}}")
        raw_special = {}
    for key, factor in raw_special.items():
        d = _date(key)
        if d is None:
            problems.append(f"{where}.special_days: {key!r} is not a date YYYY-MM-DD")
            continue
        if (
            isinstance(factor, bool) or not isinstance(factor, (int, float))
            or not math.isfinite(factor) or not 0 < factor <= MAX_SPECIAL_FACTOR
        ):
            problems.append(f"{where}.special_days.{d}={factor!r}: must be a factor 0 < x <= {MAX_SPECIAL_FACTOR:g}")
            continue
        special[d] = float(factor)
    if len(problems) != before or sid is None or profile is None:
        return None
    return Store(
        id=sid,
        name=name,
        timezone=tz_name,
        base_daily_customers=base,
        daily_customers=fixed,
        daily_variation_pct=None if variation is None else float(variation),
        profile=profile,
        hours=hours,
        closed_on=frozenset(closed),
        special_days=tuple(sorted(special.items())),
    )


def catalogue_from_dict(doc: Any, source: str = "catalogue", base_dir: Path | None = None) -> Catalogue:
    """Validate a parsed catalogue; raises CatalogueError listing every problem."""
    base_dir = base_dir or Path.cwd()
    if not isinstance(doc, Mapping) or "stores" not in doc:
        raise CatalogueError(source, ["expected a mapping with a 'stores' list"])
    problems: list[str] = [f"{key}: unknown top-level field (only 'stores')" for key in doc if key != "stores"]
    raw = doc["stores"]
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(source, problems + ["stores: expected a non-empty list of stores"])
    stores: list[Store] = []
    seen: dict[str, int] = {}
    profiles: dict[str, Profile] = {}
    ids = [item.get("id") if isinstance(item, Mapping) else None for item in raw]
    for index, item in enumerate(raw):
        twice = isinstance(ids[index], str) and ids.count(ids[index]) > 1
        store = _store(item, index, base_dir, problems, profiles, twice)
        raw_id = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(raw_id, str):
            if raw_id in seen:
                problems.append(f"store {raw_id}.id: used twice (stores[{seen[raw_id]}] and stores[{index}])")
            else:
                seen[raw_id] = index
        if store is not None:
            stores.append(store)
    if problems:
        raise CatalogueError(source, problems)
    return Catalogue(tuple(stores), source)


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and validate a catalogue file (``.yaml``/``.yml``/``.json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise CatalogueError(str(path), [f"cannot be read ({getattr(exc, 'strerror', None) or exc})"]) from None
    try:
        if path.suffix == ".json":
            doc = json.loads(text)
        else:
            doc = yaml_document(text, path, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (ValueError, yaml.YAMLError) as exc:
        raise CatalogueError(str(path), [f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"]) from None
    return catalogue_from_dict(doc, str(path), path.parent)
