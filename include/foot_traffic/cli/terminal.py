"""What ``foot-traffic`` shows a person at a terminal: a live progress display and a summary table.

Only the CLI uses this module, and only when standard error is a terminal (the display)
or a person reads standard output (the table); logs, pipes, Airflow and Docker get the
plain lines of :class:`foot_traffic.progress.LogProgress` and no escape codes. Built on
``rich`` (a dependency, also installed with Airflow), not a hand-made display.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, SpinnerColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Column, Table
from rich.text import Text

from foot_traffic.run.progress import Snapshot, iso_seconds


class TerminalProgress:
    """A live ``rich`` display of three short lines (it fits 80 columns; what does not fit
    a narrower terminal ends in an ellipsis instead of wrapping):

    * the day and the slot being played (or the run's state), a bar of days (and the
      current day's share), the days done, the time left;
    * records sent, records per second, time elapsed;
    * for a paced run: the simulated clock, customers in the store, the largest lag
      behind schedule.

    The runner updates it while records flow (``tick``) and, in a paced run, while it waits
    for the next record (``waiting``), so the clock moves between records at TIME_SCALE=1.
    Log lines (the engine's and the client libraries') are printed above it
    (``log_handler``); anything written to ``sys.stderr`` meanwhile is too (rich's redirect).
    """

    def __init__(self, stream: IO[str], *, paced: bool, unit: str = "days"):
        self.paced = paced
        self.unit = unit  # "days", or "store-days" for a chain
        self.console = Console(file=stream, force_terminal=True)
        self._task: Any = None
        self._days_total: int | None = None
        self._done = 0
        self._started = time.monotonic()
        self._snap: Snapshot | None = None
        self._sent_by_done_days = 0

        def text(template: str) -> TextColumn:
            return TextColumn(template, table_column=Column(no_wrap=True, overflow="ellipsis"))

        self._progress = _Lines(
            SpinnerColumn(), text("{task.description}"), BarColumn(bar_width=None, table_column=Column(ratio=1)),
            text("{task.fields[days]}"), _EtaColumn(),
            lines=self._detail, console=self.console, transient=False, refresh_per_second=8, expand=True,
        )

    def log_handler(self) -> logging.Handler:
        """A logging handler that prints above the live display instead of through it."""
        from rich.logging import RichHandler

        handler = RichHandler(console=self.console, show_path=False, markup=False, log_time_format="%H:%M:%S")
        handler.setFormatter(logging.Formatter("%(message)s"))
        return handler

    def _show(self, description: str) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=self._days_total, days=self._days_text(0))
        else:
            self._progress.update(self._task, description=description)

    def connecting(self, address: str) -> None:
        """The run's first connection is under way (before ``started``)."""
        self._show(f"connecting to {address}")

    def started(self, days_total: int | None) -> None:
        self._days_total = days_total
        self._started = time.monotonic()
        self._show("starting")
        self._progress.update(self._task, total=days_total, days=self._days_text(0))

    def _days_text(self, done: int) -> str:
        return f"{done:,}/{self._days_total:,} {self.unit}" if self._days_total else f"{done:,} {self.unit} done"

    def tick(self, snap: Snapshot) -> None:
        self._snap = snap
        day_share = min(1.0, (snap.records_sent + snap.records_present) / snap.records_planned) if snap.records_planned else 0
        where = f"{snap.day} {snap.slot}" if not snap.store_days_open else f"{snap.day} · {snap.store_days_open:,} open"
        self._progress.update(
            self._task, description=where, completed=snap.days_done + day_share, days=self._days_text(snap.days_done),
        )

    waiting = tick  # the same figures; the runner gives the slot of the simulated clock

    def _detail(self) -> list[str]:
        """The lines under the bar, drawn at every refresh (the elapsed time moves on its own)."""
        elapsed = time.monotonic() - self._started
        snap = self._snap
        sent = max(snap.run_records_sent if snap else 0, self._sent_by_done_days)  # the last day's last records
        lines = [f"  {sent:,} records sent · {rate_text(sent / max(elapsed, 1e-9))} rec/s · {clock_text(elapsed)} elapsed"]
        if self.paced and snap is not None:
            where = "in the store" if not snap.store_days_open else "in the stores"
            lines.append(
                f"  simulated {iso_seconds(snap.sim_time).replace('T', ' ').replace('+00:00', ' UTC')} · "
                f"{snap.inside:,} {where} · max lag {snap.max_lag_seconds:.1f} s"
            )
        return lines

    def day_done(self, day: date, records_sent: int, records_present: int) -> None:
        self._done += 1
        self._sent_by_done_days += records_sent
        self._progress.update(self._task, completed=self._done, days=self._days_text(self._done))

    def finished(self) -> None:
        if self._task is not None:
            done = self._days_total is not None and self._done >= self._days_total
            self._progress.update(self._task, description="done" if done else "stopped")
        self._progress.stop()

    def abandon(self) -> None:
        """Take the display off the screen (the run ended before it began: an error follows)."""
        self._progress.live.transient = True
        self._progress.stop()


def rate_text(per_second: float) -> str:
    """``11,571``, ``3.4``, ``0.05``: a rate with the digits that say something."""
    if per_second >= 100:
        return f"{per_second:,.0f}"
    return f"{per_second:.1f}" if per_second >= 1 else f"{per_second:.2f}"


def clock_text(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class _EtaColumn(TimeRemainingColumn):
    """``ETA 0:01:23``; nothing for an endless run (day after day)."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text.assemble("ETA ", super().render(task))


class _Lines(Progress):
    """``rich.progress.Progress`` with plain lines under its bar, each cut to the width."""

    def __init__(self, *columns: Any, lines: Callable[[], list[str]], **kwargs: Any):
        self._lines = lines  # before the base class: it may render at once
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for line in self._lines():
            yield Text(line, style="dim", no_wrap=True, overflow="ellipsis")


MAX_ROWS = 60  # more store-days than this are summed per local day


TOPIC_ROLES = ("sessions", "entry/exit")  # KAFKA_TOPIC, KAFKA_TOPIC_REALISTIC: short headers


def summary_table(summaries: Sequence[dict[str, Any]], stream: IO[str], topics: Sequence[str] = ()) -> None:
    """One compact table of the run: a row per day, or per store and local day for a chain
    (summed per day past ``MAX_ROWS`` rows), a column per topic (``topics``, else those the
    summaries name). At a terminal it fits its width (headers wrap); elsewhere (a pipe, a
    file) every row stays one line of plain text."""
    topics = list(topics)
    for s in summaries:
        topics += [t for t in s.get("topics", ()) if t not in topics]
    roles = TOPIC_ROLES if len(topics) == len(TOPIC_ROLES) else tuple(topics)
    chain = any(s.get("store_id") for s in summaries)
    per_day = chain and len(summaries) > MAX_ROWS
    rows = _per_day(summaries) if per_day else summaries
    caption = ", ".join(f"{role}: records on {topic}" for role, topic in zip(roles, topics) if role != topic)
    table = Table(title=None, show_edge=False, pad_edge=False, caption=caption or None, caption_justify="left")
    table.add_column("day")
    if chain:
        table.add_column("stores" if per_day else "store")
    table.add_column("visits", justify="right")
    for role in roles:
        table.add_column(role, justify="right")
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
    console = Console(file=stream)
    if not console.is_terminal:
        console = Console(file=stream, width=max(100, 20 * (len(topics) + 5)))
    console.print(table)


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
