"""The terminal contract of ``foot-traffic produce`` on a real broker.

At a terminal (standard error is a pseudo terminal here): a live progress display that
ends cleanly, then a summary table. Piped: plain log lines, no escape code anywhere.
``--json``: one JSON document on standard output and nothing else. A long backfill says
O(days) lines at the default level, not O(slots x days).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration
ESC = "\x1b"


def env_for(bootstrap, topics, **extra):
    return {
        **{k: v for k, v in os.environ.items() if k not in {"LOG_LEVEL", "FORCE_COLOR", "TERM"}},
        "KAFKA_BROKER": bootstrap,
        "KAFKA_TOPIC": topics[0],
        "KAFKA_TOPIC_REALISTIC": topics[1],
        "SEED": "5",
        **{k: str(v) for k, v in extra.items()},
    }


def produce(env, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "foot_traffic", "produce", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_at_a_terminal_a_progress_display_then_a_table(kafka_bootstrap, topics):
    primary, secondary = pty.openpty()
    env = env_for(kafka_bootstrap, topics, DAILY_CUSTOMERS=3000, TERM="xterm-256color", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "foot_traffic", "produce", "--date", "2025-03-01", "--days", "3"],
        env=env, stdout=subprocess.PIPE, stderr=secondary, text=True,
    )
    os.close(secondary)
    screen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(primary)
    assert proc.returncode == 0
    shown = screen.decode(errors="replace")
    assert ESC in shown, "no live display at a terminal"
    assert "rec/s" in shown and "ETA" in shown and "/3 days" in shown
    assert "3/3 days" in shown, "the display ends with every day done"
    assert shown.rstrip().endswith(ESC + "[?25h") or (ESC + "[?25h") in shown[-200:], "cursor restored at the end"
    assert ESC not in out, "the table on a pipe has no escape codes"
    rows = [line for line in out.splitlines() if line.startswith("2025-03-0")]
    assert [r.split()[0] for r in rows] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert all("complete" in r and "3,000" in r for r in rows)


def test_piped_plain_lines_and_no_escape_codes(kafka_bootstrap, topics):
    run = produce(env_for(kafka_bootstrap, topics, DAILY_CUSTOMERS=200), "--date", "2025-03-01", "--days", "2")
    assert run.returncode == 0, run.stderr
    assert ESC not in run.stderr and ESC not in run.stdout
    assert "2025-03-02 finished" in run.stderr
    assert "complete" in run.stdout


def test_json_is_one_document_on_stdout(kafka_bootstrap, topics):
    run = produce(env_for(kafka_bootstrap, topics, DAILY_CUSTOMERS=150), "--date", "2025-03-01", "--days", "2", "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)  # the whole of stdout is one document
    assert [d["day"] for d in doc["days"]] == ["2025-03-01", "2025-03-02"]
    assert all(d["finished"] and d["records_sent"] == 450 and d["topics"] == list(topics) for d in doc["days"])


def test_a_year_of_backfill_says_a_few_lines_per_day_not_per_slot(kafka_bootstrap, topics):
    env = env_for(kafka_bootstrap, topics, DAILY_CUSTOMERS=2, FOOT_TRAFFIC_RESUME=0)
    run = produce(env, "--date", "2024-01-01", "--days", "365", "--json", timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert "slot" not in run.stderr.replace("slot(s)", ""), "per-slot lines belong to --verbose in a backfill"
    assert len(lines) <= 3 * 365 + 20, f"{len(lines)} lines for 365 days"
    assert len(json.loads(run.stdout)["days"]) == 365
    verbose = produce(env, "--date", "2024-01-01", "--days", "2", "-v")
    assert verbose.returncode == 0 and "slot 07:00" in verbose.stderr
