"""The pins: requirements.txt (what the image adds), requirements-dev.txt (tests and local
tools) and requirements-lock.txt (every version of the local virtualenv and CI).

`make venv` installs requirements-dev.txt with requirements-lock.txt as constraints, so the
virtualenv is exactly the lock; these tests fail when someone edits a requirements file
without `make lock`, or when the virtualenv drifted from the lock.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-lock.txt"
# Installed by `python -m venv` (pip, setuptools), by the Makefile (uv), or the project itself.
NOT_LOCKED = {"pip", "setuptools", "uv", "foot-traffic-producer"}


def requirements(path: Path) -> list[Requirement]:
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            out += requirements(path.parent / line[3:].strip())
            continue
        out.append(Requirement(line))
    return out


def lock() -> dict[str, tuple[str, Requirement]]:
    """name -> (version, requirement with its markers) of every line of the lock that applies here."""
    env = default_environment()
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"requirements-lock.txt: {line!r} is not an exact pin"
        if req.marker is None or req.marker.evaluate(env):
            pins[canonicalize_name(req.name)] = (spec.version, req)
    return pins


def test_lock_satisfies_every_requirement():
    pins = lock()
    for path in ("requirements.txt", "requirements-dev.txt"):
        for req in requirements(ROOT / path):
            name = canonicalize_name(req.name)
            assert name in pins, f"{path}: {req} is not in requirements-lock.txt (run `make lock`)"
            assert req.specifier.contains(pins[name][0], prereleases=True), (
                f"{path}: {req} but requirements-lock.txt has {pins[name][0]} (run `make lock`)"
            )


def test_virtualenv_is_exactly_the_lock():
    """What `make venv` installed: every locked package at its locked version, nothing else."""
    if Path(sys.prefix) != ROOT / ".venv":
        import pytest

        pytest.skip(f"not run from this repository's .venv ({sys.prefix})")
    pins = lock()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {n: (v, pins[n][0]) for n, v in installed.items() if n in pins and v != pins[n][0]}
    assert wrong == {}, f"installed vs locked: {wrong} (run `make venv`)"
    missing = sorted(set(pins) - set(installed))
    assert missing == [], f"locked but not installed: {missing}"
    extra = sorted(set(installed) - set(pins) - NOT_LOCKED)
    assert extra == [], f"installed but not locked: {extra}"


def test_lock_header_says_how_to_regenerate_it():
    head = LOCK.read_text().splitlines()[:3]
    assert any(re.search(r"make lock", line) for line in head), head
