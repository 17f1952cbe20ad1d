"""``make run``'s script end to end (broker, airflow db migrate, airflow dags test, summary),
on a faster clock (time_scale 14400: the day in 6 s), and its Ctrl-C path. ~60 s in all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_local.py"

pytestmark = pytest.mark.airflow


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line or environment mentions ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except (OSError, IndexError):
            continue
        if text.encode() in blob:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")[:200]
            found.append(f"{entry.name}: {command!r}")
    return found


def wait_gone(text: str, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        left = processes_mentioning(text)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def test_make_run_plays_a_day_through_airflow_and_summarizes(tmp_path):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--date", "2025-11-07", "--seed", "5", "--customers", "300",
         "--time-scale", "14400", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env(), cwd=ROOT,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-3000:]
    assert "OK:" in out
    for heading in ("records per topic", "Visits per slot against the plan", "Occupancy over the day", "Where the records went"):
        assert heading in out
    assert "foot_traffic " in out and "foot_traffic_realistic " in out
    assert "progress:" in out or "slot 00:00–06:59 done" in out, "no live progress from the DAG run"
    # Airflow's expected warnings about the assets the run creates stay in the log file
    assert "AssetModel" not in out, [line for line in out.splitlines() if "AssetModel" in line]
    assert (tmp_path / ".airflow" / "run" / "dags-test.log").is_file()
    assert wait_gone(str(tmp_path)) == []
    assert time.monotonic() - started < 240


def test_make_run_stops_everything_on_ctrl_c(tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--date", "2025-11-08", "--time-scale", "360", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(), cwd=ROOT,
    )
    seen = []
    try:
        deadline = time.monotonic() + 180
        for line in process.stdout:
            seen.append(line)
            if "plan for 2025-11-08" in line:  # the DAG's task is streaming
                break
            assert time.monotonic() < deadline, "".join(seen)
        time.sleep(2)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, "".join(seen) + rest
    assert "SIGINT received: stopping everything" in rest
    assert "stopping airflow dags test" in rest
    assert wait_gone(str(tmp_path)) == [], "processes left running after Ctrl-C"
