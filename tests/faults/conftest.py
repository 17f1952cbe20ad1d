"""Fault-injection suite: a ledger of faults injected and records lost/duplicated, printed at the end."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

LEDGER: dict[str, float] = {"trials": 0, "faults_injected": 0, "records_checked": 0, "lost": 0, "duplicated": 0,
                            "out_of_order": 0, "runs_fenced": 0}
STARTED = time.monotonic()


class Ledger:
    def fault(self, n: int = 1) -> None:
        LEDGER["faults_injected"] += n

    def fenced(self, n: int = 1) -> None:
        """A run stopped because a newer run of its day took it over (one writer per day)."""
        LEDGER["runs_fenced"] += n

    def checked(self, check) -> None:
        LEDGER["trials"] += 1
        LEDGER["records_checked"] += check.expected
        LEDGER["lost"] += len(check.lost)
        LEDGER["duplicated"] += len(check.duplicated)
        LEDGER["out_of_order"] += len(check.out_of_order)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not LEDGER["trials"]:
        return
    LEDGER["duration_s"] = round(time.monotonic() - STARTED, 1)
    terminalreporter.write_sep("-", "fault-injection ledger")
    terminalreporter.write_line(json.dumps(LEDGER))
    target = os.environ.get("FAULTS_LEDGER")
    if target:
        Path(target).write_text(json.dumps(LEDGER, indent=2) + "\n")
