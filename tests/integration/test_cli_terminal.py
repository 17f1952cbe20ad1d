"""The terminal contract of ``foot-traffic produce`` on a real broker.

At a terminal (standard error is a pseudo terminal here): a live progress display that
ends cleanly, then a summary table; at 80 columns nothing wraps, and at TIME_SCALE=1 its
simulated clock moves between records, in the slot of the hour. Piped: plain log lines,
no escape code anywhere. ``--json``: one JSON document on standard output and nothing
else; ``-q``: the summary table only. A long backfill says O(days) lines at the default
level, not O(slots x days). A stop is a signal's exit code (Ctrl-C 130, SIGTERM 143)
with a summary of what was delivered; a successful run prints no ERROR.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from tests.support.kafka_read import read_topic

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


def test_a_long_backfill_says_a_few_lines_per_day(kafka_bootstrap, topics):
    """Two months (a year took 2 minutes of the suite: each day is a take, one
    init_transactions and a ledger read): at most three lines a day."""
    days = 60
    env = env_for(kafka_bootstrap, topics, DAILY_CUSTOMERS=2, FOOT_TRAFFIC_RESUME=0)
    run = produce(env, "--date", "2024-01-01", "--days", str(days), "--json", timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert "slot" not in run.stderr.replace("slot(s)", ""), "per-slot lines belong to --verbose in a backfill"
    assert len(lines) <= 3 * days + 20, f"{len(lines)} lines for {days} days"
    assert len(json.loads(run.stdout)["days"]) == days
    verbose = produce(env, "--date", "2024-01-01", "--days", "2", "-v")
    assert verbose.returncode == 0 and "slot 07:00" in verbose.stderr


class Screen:
    """A child's standard error on a pseudo terminal, read on a thread as it comes."""

    def __init__(self, env, *args):
        primary, secondary = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "foot_traffic", "produce", *args],
            env=env, stdout=subprocess.PIPE, stderr=secondary, text=True,
        )
        os.close(secondary)
        self._primary = primary
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60.0, count: int = 1) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.text)
            if len(found) >= count:
                return found
            assert self.proc.poll() is None, self.text[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not seen {count} times:\n{self.text[-3000:]}")

    def finish(self, timeout: float = 60.0) -> str:
        out, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(5)
        os.close(self._primary)
        return out


def lines_drawn(screen: str) -> list[str]:
    """The lines a terminal shows: escape codes gone, each redraw's lines split apart."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", screen)  # colours: part of the line
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", plain)  # cursor moves, erasing: a line ends
    return [line for line in re.split(r"[\r\n]", plain) if line.strip()]


def test_ctrl_c_of_a_live_stream_exits_130_and_its_clock_moved_in_the_hours_slot(kafka_bootstrap, topics):
    env = env_for(kafka_bootstrap, topics, TERM="xterm-256color", COLUMNS="80", LINES="30")
    screen = Screen(env)  # no --date: day after day from now, TIME_SCALE=1 (records minutes apart)
    clock = r"simulated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC"
    screen.wait_for(clock, count=1)
    time.sleep(3)
    seen = sorted(set(re.findall(clock, screen.text)))
    screen.proc.send_signal(signal.SIGINT)
    out = screen.finish()
    shown = screen.text
    assert screen.proc.returncode == 130, shown[-3000:]
    assert len(seen) >= 3, f"the simulated clock stood still: {seen}"  # it moves with no record sent
    now = datetime.now(UTC)
    slot = next(label for start, label in ((20, "20:00–23:59"), (17, "17:00–19:59"), (14, "14:00–16:59"),
                                           (10, "10:00–13:59"), (7, "07:00–09:59"), (0, "00:00–06:59"))
                if now.hour >= start)
    assert f"{now.date()} {slot}" in shown or now.minute == 0, "the display names the slot of the hour"
    assert "connecting" not in shown.split("records sent")[-1], "still 'connecting' once the day plays"
    assert all(len(line) <= 80 for line in lines_drawn(shown)), [line for line in lines_drawn(shown) if len(line) > 80]
    assert any("stopped by SIGINT (Ctrl-C)" in line for line in lines_drawn(shown))
    row = [line for line in out.splitlines() if line.startswith(str(now.date()))]
    assert row and "stopped" in row[0], out


def test_sigterm_mid_day_exits_143_and_says_what_was_delivered(kafka_bootstrap, topics):
    env = env_for(kafka_bootstrap, topics, TIME_SCALE=2000, DAILY_CUSTOMERS=2000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "foot_traffic", "produce", "--date", "2025-03-01", "--from-midnight",
         "--summary-json", os.devnull],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    err = ""
    while "slot 00:00–06:59 done" not in err:  # about 3.5 s in: some of the day sent, most of it not
        line = proc.stderr.readline()
        assert line or proc.poll() is None, err
        err += line
    proc.send_signal(signal.SIGTERM)
    out, rest = proc.communicate(timeout=60)
    err += rest
    assert proc.returncode == 143, err[-3000:]
    said = re.search(r"stopped cleanly by SIGTERM: ([\d,]+) records sent, every one acknowledged; "
                     r"unfinished: 2025-03-01 \(([\d,]+) sent\)", err)
    assert said, err[-2000:]
    sent = int(said[1].replace(",", ""))
    landed = len(read_topic(kafka_bootstrap, topics[0])) + len(read_topic(kafka_bootstrap, topics[1]))
    assert 0 < sent < 6000 and landed == sent, (sent, landed)  # what it says it delivered is what landed
    assert "stopped" in [line for line in out.splitlines() if line.startswith("2025-03-01")][0]
    assert " ERROR " not in err


def test_quiet_still_prints_the_summary(kafka_bootstrap, topics):
    run = produce(env_for(kafka_bootstrap, topics, DAILY_CUSTOMERS=100), "--date", "2025-03-01", "-q")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert [line.split()[0] for line in run.stdout.splitlines() if "complete" in line] == ["2025-03-01"]
    assert f"records on {topics[0]}" in run.stdout


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_a_successful_backfill_prints_no_error_and_no_warning(kafka_bootstrap, topics, client):
    run = produce(env_for(kafka_bootstrap, topics, DAILY_CUSTOMERS=300, KAFKA_CLIENT=client),
                  "--date", "2025-01-01", "--days", "20")
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if " ERROR " in line or " WARNING " in line] == []
    assert "Traceback" not in run.stderr
