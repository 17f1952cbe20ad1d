"""The randomized fault harness's bounded set (``make test``) and its named regressions.

Each test runs one schedule (``schedule.draw``: a workload and faults drawn from a seed)
against its own embedded broker and real producer processes, and fails with the
schedule's description, its seed and what a ``read_committed`` consumer saw. Replay one:
``python -m tests.faults.harness.soak --replay SEED``. ``make soak`` runs many more.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.harness import ledger as harness_ledger
from tests.faults.harness.execute import run_schedule
from tests.faults.harness.schedule import Schedule, draw
from tests.faults.harness.soak import BOUNDED_PHASES, BOUNDED_SCALE

pytestmark = [pytest.mark.faults, pytest.mark.integration]

# The bounded set: seeds from HARNESS_SEED (a fixed default: CI runs the same schedules each
# time; set it to explore), HARNESS_SCHEDULES of them, days at a third of the soak's size.
BASE_SEED = int(os.environ.get("HARNESS_SEED", "20261207"))
BOUNDED = int(os.environ.get("HARNESS_SCHEDULES", "20"))
SCALE = float(os.environ.get("HARNESS_SCALE", str(BOUNDED_SCALE)))
LEDGER = Path(os.environ.get("HARNESS_LEDGER", Path(__file__).resolve().parents[3] / ".data" / "harness-ledger.jsonl"))
REGRESSIONS = sorted((Path(__file__).resolve().parents[1] / "regressions").glob("*.json"))


def judge(schedule: Schedule, tmp_path, ledger, replay: str = "") -> None:
    outcome = run_schedule(schedule, tmp_path / "world", keep=True)
    harness_ledger.append(LEDGER, outcome)
    ledger.fault(sum(schedule.faults.values()))
    ledger.checked(_Checked(outcome))
    assert outcome.ok, (
        f"{outcome.description}\nreplay: {replay or f'python -m tests.faults.harness.soak --replay {schedule.seed}'}\n"
        + "\n".join(outcome.failures)[:6000]
    )


class _Checked:
    """An outcome as the fault ledger counts it (tests/faults/conftest.py)."""

    def __init__(self, outcome):
        self.expected = outcome.records_checked
        self.lost = ["x"] * sum(1 for f in outcome.failures if "lost" in f)
        self.duplicated = ["x"] * sum(1 for f in outcome.failures if "duplicated" in f)
        self.out_of_order = []


@pytest.mark.parametrize("index", range(BOUNDED))
def test_random_schedule(index, tmp_path, ledger):
    seed = BASE_SEED + index
    replay = f"python -m tests.faults.harness.soak --replay {seed} --bounded"
    if SCALE != BOUNDED_SCALE:
        replay = f"a schedule of the bounded set at HARNESS_SCALE={SCALE}: " + replay
    judge(draw(seed, max_phases=BOUNDED_PHASES, scale=SCALE), tmp_path, ledger, replay)


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression(path, tmp_path, ledger):
    """A schedule the harness once failed, kept as it was drawn (later changes of ``draw``
    cannot alter it)."""
    judge(Schedule.from_json(path.read_text()), tmp_path, ledger)
