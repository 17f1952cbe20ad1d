"""Where the anchor data live: ``<repo>/../shared/anchors/data`` (CI copies shared/ beside
the clone). ``FOOT_TRAFFIC_SHARED`` points elsewhere (a worktree whose shared/ is not its
sibling). The data are not in the repository (see shared/anchors/data/SOURCE.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CALIT2_SHA256 = "cedc75f24628ff01a874c4d16c2c8ea016ffa6d0592825a7d375303d316e3881"  # SOURCE.md


def anchors_dir() -> Path:
    shared = os.environ.get("FOOT_TRAFFIC_SHARED")
    return (Path(shared) if shared else ROOT.parent / "shared") / "anchors" / "data"


def calit2(name: str = "CalIt2.data") -> Path:
    """The path of a CalIt2 file; skips the test, saying where it looked, when it is absent."""
    path = anchors_dir() / name
    if not path.is_file():
        pytest.skip(
            f"{name} not found at {path}: CI puts shared/ beside the clone; set FOOT_TRAFFIC_SHARED "
            f"to the shared/ folder to run this test elsewhere"
        )
    return path
