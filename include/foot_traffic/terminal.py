"""What ``foot-traffic`` shows a person at a terminal: a live progress display and a summary table.

Only the CLI uses this module, and only when standard error is a terminal (the display)
or a person reads standard output (the table); logs, pipes, Airflow and Docker get the
plain lines of :class:`foot_traffic.progress.LogProgress` and no escape codes. Built on
``rich`` (already installed with Airflow), not a hand-made display.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import date
from typing import IO, Any

from foot_traffic.run.progress import Snapshot, iso_seconds


class TerminalProgress:
    """A live ``rich`` progress bar: days (and the current day's share), records/s, ETA,
    the day and slot being played, and for paced runs the simulated clock, customers in
    the store and the lag behind schedule."""

    def __init__(self, stream: IO[str], *, paced: bool, unit: str = "days"):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.paced = paced
        self.unit = unit  # "days", or "store-days" for a chain
        self.console = Console(file=stream, force_terminal=True)
        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        columns += [TextColumn("{task.fields[days]}"), TextColumn("{task.fields[rate]}")]
        columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[detail]}")]
        self._progress = Progress(*columns, console=self.console, transient=False, refresh_per_second=8)
        self._task = None
        self._days_total: int | None = None
        self._done = 0
        self._started = time.monotonic()

    def log_handler(self) -> logging.Handler:
        """A logging handler that prints above the live display instead of through it."""
        from rich.logging import RichHandler

        handler = RichHandler(console=self.console, show_path=False, markup=False, log_time_format="%H:%M:%S")
        handler.setFormatter(logging.Formatter("%(message)s"))
        return handler

    def started(self, days_total: int | None) -> None:
        self._days_total = days_total
        self._started = time.monotonic()
        self._progress.start()
        self._task = self._progress.add_task(
            "connecting", total=days_total, days=self._days_text(0), rate="", detail=""
        )

    def _days_text(self, done: int) -> str:
        return f"{done}/{self._days_total} {self.unit}" if self._days_total else f"{done} {self.unit}"

    def tick(self, snap: Snapshot) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        day_share = min(1.0, (snap.records_sent + snap.records_present) / snap.records_planned) if snap.records_planned else 0
        detail = ""
        if self.paced:
            detail = f"sim {iso_seconds(snap.sim_time)}  in store {snap.inside}  lag {snap.max_lag_seconds:.1f} s"
        self._progress.update(
            self._task,
            description=f"{snap.day} {snap.slot}" if not snap.store_days_open else f"{snap.day} {snap.store_days_open} open",
            completed=snap.days_done + day_share,
            days=self._days_text(snap.days_done),
            rate=f"{snap.run_records_sent / elapsed:,.0f} rec/s",
            detail=detail,
        )

    def day_done(self, day: date, records_sent: int, records_present: int) -> None:
        self._done += 1
        self._progress.update(self._task, completed=self._done, days=self._days_text(self._done))

    def finished(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, description="done" if self._done else "stopped")
        self._progress.stop()


MAX_ROWS = 60  # more store-days than this are summed per local day


def summary_table(summaries: Sequence[dict[str, Any]], stream: IO[str]) -> None:
    """One compact table of the run: a row per day, or per store and local day for a chain
    (summed per day past ``MAX_ROWS`` rows); plain text when ``stream`` is no terminal."""
    from rich.console import Console
    from rich.table import Table

    topics: list[str] = []
    for s in summaries:
        topics += [t for t in s.get("topics", ()) if t not in topics]
    chain = any(s.get("store_id") for s in summaries)
    per_day = chain and len(summaries) > MAX_ROWS
    rows = _per_day(summaries) if per_day else summaries
    table = Table(title=None, show_edge=False, pad_edge=False)
    table.add_column("day")
    if chain:
        table.add_column("stores" if per_day else "store")
    table.add_column("visits", justify="right")
    for topic in topics:
        table.add_column(topic, justify="right")
    table.add_column("already present", justify="right")
    table.add_column("max lag s", justify="right")
    table.add_column("status")
    for s in rows:
        if s.get("closed"):
            status = "closed"
        elif s.get("fenced"):
            status = "fenced"  # a newer run of the day took it over
        else:
            status = "complete" if s["finished"] else ("stopped" if s["stopped"] else "incomplete")
        store = [str(s.get("store_id") or "")] if chain else []
        table.add_row(
            s["day"],
            *store,
            f"{s['total_visits']:,}",
            *(f"{s['sent_per_topic'].get(t, 0):,}" for t in topics),
            f"{s['records_already_present']:,}",
            f"{s['max_lag_seconds']:.3f}",
            status,
        )
    Console(file=stream, width=max(100, 20 * (len(topics) + 5))).print(table)


def _per_day(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    for s in summaries:
        d = days.setdefault(
            s["day"],
            {"day": s["day"], "store_id": 0, "total_visits": 0, "sent_per_topic": {}, "records_already_present": 0,
             "max_lag_seconds": 0.0, "finished": True, "stopped": False, "closed": False},
        )
        d["store_id"] += 1
        d["total_visits"] += s["total_visits"]
        for topic, n in s["sent_per_topic"].items():
            d["sent_per_topic"][topic] = d["sent_per_topic"].get(topic, 0) + n
        d["records_already_present"] += s["records_already_present"]
        d["max_lag_seconds"] = max(d["max_lag_seconds"], s["max_lag_seconds"])
        d["finished"] &= s["finished"]
        d["stopped"] |= s["stopped"]
    return list(days.values())
