"""The `foot-traffic fit` example of docs/fit.md runs in a clone, as written there: its counts
file is in the repository, is what scripts/example_door_counts.py makes, and the command
writes a profile whose round trip is within every tolerance."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from scripts.example_door_counts import door_counts
from tests.docs.conftest import ROOT

COUNTS = ROOT / "examples" / "door-counts.csv"


def documented(command: str) -> list[str]:
    """The line of docs/fit.md that runs ``foot-traffic <command>`` on the example counts."""
    text = (ROOT / "docs" / "fit.md").read_text(encoding="utf-8")
    (line,) = [line for line in text.splitlines()
               if line.startswith(f".venv/bin/foot-traffic {command} examples/door-counts.csv")]
    return shlex.split(line.split("#")[0])


def test_the_example_counts_are_what_the_script_makes():
    assert COUNTS.read_text(encoding="utf-8") == door_counts(), (
        "examples/door-counts.csv differs from scripts/example_door_counts.py's output: run the script")


def test_the_fit_example_runs_as_documented(tmp_path):
    argv = documented("fit")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    foot_traffic = Path(sys.executable).with_name("foot-traffic")
    env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    done = subprocess.run([str(foot_traffic), *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "every figure within its tolerance" in done.stdout
    assert "round trip outside tolerance" not in done.stderr
    out = argv[argv.index("--out") + 1]
    profile = yaml.safe_load((tmp_path / out).read_text(encoding="utf-8"))
    assert profile["name"]
    baseline = re.search(r"BASE_DAILY_CUSTOMERS=(\d+)", done.stdout)[1]
    assert f"BASE_DAILY_CUSTOMERS={baseline}" in (ROOT / "docs" / "fit.md").read_text(encoding="utf-8"), (
        "docs/fit.md plays the fitted store with another BASE_DAILY_CUSTOMERS than fit prints")
    if "--chart" in argv:
        assert (tmp_path / argv[argv.index("--chart") + 1]).stat().st_size > 10_000
