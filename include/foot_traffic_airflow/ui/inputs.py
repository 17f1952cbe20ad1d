"""The plan page's query: validated by the engine's own ``Settings`` before anything is planned.

Every problem is collected and reported at once (a 400 naming the field, the value and
what is accepted), like the producer's settings; nothing here raises a 500 on bad input.
Profiles are chosen from a fixed list (the built-in ones, the deployment's
``FOOT_TRAFFIC_PROFILE`` and the files of ``FOOT_TRAFFIC_PROFILES_DIR``): a browser never
names a file on the server.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from foot_traffic.model.profile import BUILTIN, Profile, ProfileError, builtin_profile, load_profile
from foot_traffic.settings import Settings, SettingsError

log = logging.getLogger(__name__)

SEED_PROFILE = "seed"
DEFAULT_SEED = 42
PROFILE_SUFFIXES = (".yaml", ".yml", ".json")
# page field -> Settings alias (the producer's environment variable, named in messages)
FIELDS = {
    "seed": "SEED",
    "customers": "DAILY_CUSTOMERS",
    "baseline": "BASE_DAILY_CUSTOMERS",
    "variation": "DAILY_VARIATION_PCT",
}
MAX_FIELD_LENGTH = 64


class InputError(ValueError):
    """Bad query values; ``problems`` has one line per bad field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class PlanQuery:
    """A validated plan request: the day, the engine's settings, the profile."""

    day: date
    settings: Settings
    profile_key: str
    profile: Profile

    @property
    def seed(self) -> int:
        assert self.settings.seed is not None
        return self.settings.seed


def profile_choices(environ: Mapping[str, str] | None = None) -> dict[str, Path | None]:
    """Profiles the page offers: key -> file (None: the built-in profile of that name)."""
    environ = os.environ if environ is None else environ
    choices: dict[str, Path | None] = {name: None for name in BUILTIN}
    configured = (environ.get("FOOT_TRAFFIC_PROFILE") or "").strip()
    if configured and configured not in BUILTIN:
        choices.setdefault(Path(configured).stem, Path(configured))
    folder = (environ.get("FOOT_TRAFFIC_PROFILES_DIR") or "").strip()
    if folder:
        try:
            files = sorted(p for p in Path(folder).iterdir() if p.suffix in PROFILE_SUFFIXES and p.is_file())
        except OSError:
            files = []
        for path in files:
            choices.setdefault(path.stem, path)
    return choices


def load_choice(key: str, choices: Mapping[str, Path | None]) -> Profile:
    path = choices[key]
    return builtin_profile(key) if path is None else load_profile(path)


def defaults(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The form's defaults: the DAG's Param defaults (read from the same environment
    variables), except the seed, which a plan needs (the DAG's default is random)."""
    from foot_traffic_airflow.params import env_defaults

    environ = os.environ if environ is None else environ
    try:
        d = env_defaults(environ)
    except ValueError:
        d = env_defaults({})
    return {
        "seed": str(d["seed"] if d["seed"] is not None else DEFAULT_SEED),
        "customers": "" if d["daily_customers"] is None else str(d["daily_customers"]),
        "baseline": str(d["base_daily_customers"]),
        "variation": "0" if d["disable_daily_variation"] else f"{d['daily_variation_pct']:g}",
        "profile": SEED_PROFILE,
    }


def parse_day(text: str | None, today: date) -> date:
    if text is None or not text.strip():
        return today
    text = text.strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InputError([f"day={_shown(text)}: expected a date as YYYY-MM-DD"]) from None


def parse_plan_query(
    query: Mapping[str, str | None],
    today: date,
    environ: Mapping[str, str] | None = None,
) -> PlanQuery:
    """Validate ``day``, ``seed``, ``customers``, ``baseline``, ``variation``, ``profile``.

    Missing or empty fields take the form's defaults (``customers`` empty = baseline with
    daily variation). Raises :class:`InputError` listing every bad field.
    """
    base = defaults(environ)
    problems: list[str] = []
    day = today
    try:
        day = parse_day(query.get("day"), today)
    except InputError as exc:
        problems += exc.problems

    data: dict[str, str] = {}
    for field, alias in FIELDS.items():
        raw = query.get(field)
        value = (raw if raw is not None else base[field]).strip()
        if len(value) > MAX_FIELD_LENGTH:
            problems.append(f"{field}={_shown(value)}: too long")
            continue
        if field == "seed" and value == "":
            value = base["seed"]
        if value == "" and field == "customers":
            continue
        data[alias] = value
    settings = None
    try:
        settings = Settings.build(data)
    except SettingsError as exc:
        by_alias = {alias: field for field, alias in FIELDS.items()}
        for problem in exc.problems:
            head = problem.split("=", 1)[0].split(":", 1)[0]
            field = by_alias.get(head)
            problems.append(f"{field} ({problem})" if field else problem)

    key = (query.get("profile") or base["profile"]).strip()
    choices = profile_choices(environ)
    profile = None
    if key not in choices:
        problems.append(f"profile={_shown(key)}: not one of {', '.join(choices)}")
    else:
        try:
            profile = load_choice(key, choices)
        except ProfileError as exc:
            # The file is the deployment's, not the user's: its details go to the log only.
            log.warning("profile %r cannot be loaded: %s", key, exc)
            problems.append(f"profile={key}: cannot be loaded on the API server (see its log)")
    if problems or settings is None or profile is None:
        raise InputError(problems)
    return PlanQuery(day=day, settings=settings, profile_key=key, profile=profile)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")
