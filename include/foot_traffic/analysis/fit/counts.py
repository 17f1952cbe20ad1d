"""Door counts: whole local days of ins and outs per wall-clock bin, checked and arranged.

``readers.py`` reads a file into rows; :func:`arrange` places them on the store's wall
clock and makes :class:`DoorCounts`: whole local days of bins, in date order. Every
problem found is reported at once (:class:`CountsError`), each naming the line, the
value and what is accepted; nothing is guessed silently: what was dropped or merged is
said in ``notes``.

Time: bins are placed on the store's wall clock. Naive timestamps are the store's local
time; with ``timezone`` they are checked against it (a wall time skipped by a DST change
is not a gap; the repeated hour's two bins are added into one). Aware timestamps
(``+01:00``, ``Z``) are converted to ``timezone``, or kept on their own wall clock.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECONDS_PER_DAY = 86_400


MAX_LISTED = 8  # problems of one kind listed before "... and N more"


class CountsError(ValueError):
    """Door counts that cannot be fitted; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class DayCounts:
    """One local day: ``ins[i]``/``outs[i]`` are the counts of wall-clock bin ``i``."""

    day: date
    ins: tuple[int, ...]
    outs: tuple[int, ...]

    @property
    def total_in(self) -> int:
        return sum(self.ins)

    @property
    def total_out(self) -> int:
        return sum(self.outs)


@dataclass(frozen=True)
class DoorCounts:
    source: str
    sha256: str
    format: str
    bin_seconds: int
    timezone: str | None
    days: tuple[DayCounts, ...]  # whole days, date order, excluded days removed
    excluded: tuple[date, ...] = ()  # days in the data left out on request
    dropped: tuple[tuple[date, str], ...] = ()  # partial first/last days, with why
    notes: tuple[str, ...] = field(default=())

    @property
    def bins_per_day(self) -> int:
        return SECONDS_PER_DAY // self.bin_seconds


@dataclass
class CountRow:
    line: int
    when: datetime  # bin start, naive wall clock or aware
    ins: int
    outs: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def zone_of(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CountsError([f"--timezone {name!r}: not an IANA time zone (e.g. Europe/Berlin, America/Los_Angeles)"]) from None


def listed(problems: list[str], more: int) -> list[str]:
    if more > 0:
        problems.append(f"... and {more} more like these")
    return problems


def check_bin_minutes(value: int | None) -> int | None:
    if value is None:
        return None
    if not 1 <= value <= 1440 or 1440 % value:
        raise CountsError([f"--bin-minutes {value}: must divide a day (1440 minutes), e.g. 5, 10, 15, 30, 60"])
    return value * 60


def _wall(when: datetime, zone: ZoneInfo | None) -> datetime:
    """The naive wall-clock time of a bin start in the store's zone."""
    if when.tzinfo is not None:
        if zone is not None:
            when = when.astimezone(zone)
        return when.replace(tzinfo=None)
    return when


def _exists(wall: datetime, zone: ZoneInfo | None) -> bool:
    """False for a wall time skipped by a DST change in ``zone``."""
    if zone is None:
        return True
    aware = wall.replace(tzinfo=zone)
    back = aware.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
    return back == wall


def _repeated(wall: datetime, zone: ZoneInfo | None) -> bool:
    """True for a wall time that happens twice (the hour repeated when DST ends)."""
    if zone is None:
        return False
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    return first != second and _exists(wall, zone)


def arrange(
    path: Path, rows: list[CountRow], width: int, zone: ZoneInfo | None, zone_name: str | None, format: str, exclude: set[date]
) -> DoorCounts:
    """Place rows on wall-clock bins, check the grid, gaps and duplicates; keep whole days."""
    problems: list[str] = []
    notes: list[str] = []
    n = SECONDS_PER_DAY // width
    grid: dict[date, list[list[int] | None]] = defaultdict(lambda: [None] * n)
    first_line: dict[tuple[date, int], int] = {}
    first_when: dict[tuple[date, int], datetime] = {}
    off_grid = duplicates = 0
    merged_repeats = 0
    for row in rows:
        wall = _wall(row.when, zone)
        second = wall.hour * 3600 + wall.minute * 60 + wall.second
        if second % width or wall.microsecond:
            off_grid += 1
            if off_grid <= MAX_LISTED:
                problems.append(
                    f"{path}:{row.line}: bin start {wall:%Y-%m-%d %H:%M:%S} is not on the {width // 60}-minute grid "
                    f"(bins start at multiples of {width // 60} minutes after midnight; see --bin-minutes)"
                )
            continue
        day, index = wall.date(), second // width
        cell = grid[day][index]
        if cell is not None:
            earlier = first_when[(day, index)]
            again = row.when.tzinfo is not None and earlier.tzinfo is not None and row.when != earlier
            if again or (row.when.tzinfo is None and _repeated(wall, zone)):
                cell[0] += row.ins
                cell[1] += row.outs
                merged_repeats += 1
                continue
            duplicates += 1
            if duplicates <= MAX_LISTED:
                problems.append(
                    f"{path}:{row.line}: the bin starting {wall:%Y-%m-%d %H:%M} is counted twice "
                    f"(first on line {first_line[(day, index)]}); one row per bin"
                    + ("" if zone else ", or give --timezone if this is the hour repeated when DST ends")
                )
            continue
        grid[day][index] = [row.ins, row.outs]
        first_line[(day, index)] = row.line
        first_when[(day, index)] = row.when
    listed(problems, off_grid - MAX_LISTED)
    listed(problems, duplicates - MAX_LISTED)
    if problems:
        raise CountsError(problems)
    if merged_repeats:
        notes.append(f"{merged_repeats} bin(s) of an hour repeated when DST ended were added to the first one")

    all_days = sorted(grid)
    first, last = all_days[0], all_days[-1]
    span = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    dropped: list[tuple[date, str]] = []
    days: list[DayCounts] = []
    excluded_present: list[date] = []
    gaps: list[str] = []
    skipped_dst = 0
    for day in span:
        cells = grid.get(day)
        missing = []
        if cells is not None:
            for i, cell in enumerate(cells):
                if cell is None:
                    wall = datetime.combine(day, datetime.min.time()) + timedelta(seconds=i * width)
                    if _exists(wall, zone):
                        missing.append(i)
                    else:
                        skipped_dst += 1
        if day in exclude:
            if cells is not None:
                excluded_present.append(day)
            continue
        if cells is None:
            gaps.append(f"{day} ({day:%A}): no counts at all")
            continue
        if missing:
            present = n - len(missing)
            if day in (first, last) and _edge_only(missing, n, at_start=day == first):
                where = "the data start" if day == first else "the data end"
                dropped.append((day, f"{present} of {n} bins ({where} mid-day): dropped as a partial day"))
                continue
            gaps.append(f"{day} ({day:%A}): {len(missing)} bin(s) missing: {_ranges(missing, width)}")
            continue
        ins = tuple(c[0] if c is not None else 0 for c in cells)
        outs = tuple(c[1] if c is not None else 0 for c in cells)
        days.append(DayCounts(day, ins, outs))
    if gaps:
        shown = gaps[:MAX_LISTED]
        raise CountsError(
            [f"{path}: gaps in the counts (a missing bin is not a zero):"]
            + [f"  {g}" for g in shown]
            + ([f"  ... and {len(gaps) - MAX_LISTED} more day(s)"] if len(gaps) > MAX_LISTED else [])
            + ["  fill the bins with 0 if the counter was running, or leave those days out with --exclude-days"]
            + (["  (the hour skipped when daylight saving starts is no gap: give --timezone)"] if zone is None else [])
        )
    if skipped_dst:
        notes.append(f"{skipped_dst} bin(s) skipped by a DST change (the wall time did not exist) counted as 0")
    unknown = sorted(d for d in exclude if d not in grid)
    if unknown:
        notes.append(f"{len(unknown)} excluded day(s) are not in the data: {', '.join(map(str, unknown[:5]))}"
                     + (" ..." if len(unknown) > 5 else ""))
    if not days:
        raise CountsError([f"{path}: no whole day of counts left (from {first} to {last}, {len(excluded_present)} excluded)"])
    return DoorCounts(
        source=str(path), sha256=sha256_of(path), format=format, bin_seconds=width, timezone=zone_name,
        days=tuple(days), excluded=tuple(excluded_present), dropped=tuple(dropped), notes=tuple(notes),
    )


def _edge_only(missing: list[int], n: int, *, at_start: bool) -> bool:
    """The missing bins are a run at the start (first day) or the end (last day) of the day."""
    if at_start:
        return missing == list(range(len(missing)))
    return missing == list(range(n - len(missing), n))


def _ranges(indices: list[int], width: int) -> str:
    def hhmm(i: int) -> str:
        s = i * width
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    parts = [f"{hhmm(a)}–{hhmm(b + 1) if b + 1 < SECONDS_PER_DAY // width else '24:00'}" for a, b in runs]
    return ", ".join(parts[:4]) + (f" and {len(parts) - 4} more" if len(parts) > 4 else "")


def parse_exclude(value: str) -> list[date]:
    """``--exclude-days``: a file (one date per line, first field; CalIt2.events works) or a list."""
    path = Path(value)
    try:
        is_file = path.is_file()
    except (OSError, ValueError):
        is_file = False
    if is_file:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CountsError([f"--exclude-days {value}: cannot be read ({exc})"]) from None
        days, problems = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            content = line.split("#", 1)[0].strip()
            if not content:
                continue
            token = content.replace(";", ",").replace("\t", ",").split(",")[0].split()[0]
            day = _date(token)
            if day is None:
                problems.append(f"--exclude-days {value}:{number}: {token!r} is not a date (YYYY-MM-DD or MM/DD/YY)")
            else:
                days.append(day)
        if problems:
            raise CountsError(listed(problems[:MAX_LISTED], len(problems) - MAX_LISTED))
        return days
    days = []
    for token in (t.strip() for t in value.split(",")):
        if not token:
            continue
        day = _date(token)
        if day is None:
            raise CountsError([
                f"--exclude-days {value!r}: {token!r} is not a date; expected a file of dates "
                f"or a comma-separated list (2025-12-24,2025-12-26)"
            ])
        days.append(day)
    return days


def _date(token: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%m/%d/%y", "%m/%d/%Y"):
        try:
            return datetime.strptime(token, fmt).date()
        except ValueError:
            continue
    return None
