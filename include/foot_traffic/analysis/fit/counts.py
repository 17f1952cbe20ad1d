"""Door counts read from a file: ins and outs per bin of each local day, checked.

Two readers: a generic CSV (a timestamp column and in/out count columns; the bin width
inferred from the timestamps or given) and the UCI CalIt2 format (``flow,MM/DD/YY,
HH:MM:SS,count``, flow 7 = out, 9 = in, the count covering the bin *before* the
timestamp). Both give :class:`DoorCounts`: whole local days of wall-clock bins, in date
order. Every problem found in a file is reported at once (:class:`CountsError`), each
naming the line, the value and what is accepted; nothing is guessed silently: what was
dropped or merged is said in ``notes``.

Time: bins are placed on the store's wall clock. Naive timestamps are the store's local
time; with ``timezone`` they are checked against it (a wall time skipped by a DST change
is not a gap; the repeated hour's two bins are added into one). Aware timestamps
(``+01:00``, ``Z``) are converted to ``timezone``, or kept on their own wall clock.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECONDS_PER_DAY = 86_400
MAX_LISTED = 8  # problems of one kind listed before "... and N more"

TIME_NAMES = ("timestamp", "time", "datetime", "date_time", "ts", "period", "interval_start", "start")
IN_NAMES = ("in", "ins", "entries", "entry", "enter", "entered", "in_count", "count_in", "incoming")
OUT_NAMES = ("out", "outs", "exits", "exit", "exited", "out_count", "count_out", "outgoing")
FORMATS = ("csv", "calit2")  # and "auto" in read_counts: detect_format


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
class _Row:
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


def _listed(problems: list[str], more: int) -> list[str]:
    if more > 0:
        problems.append(f"... and {more} more like these")
    return problems


def _count(text: str, where: str, problems: list[str]) -> int | None:
    value = text.strip()
    try:
        number = int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            as_float = None
        if as_float is not None and as_float.is_integer() and abs(as_float) < 1e12:
            number = int(as_float)
        else:
            problems.append(f"{where}: {text!r} is not a count (a whole number >= 0)")
            return None
    if number < 0:
        problems.append(f"{where}: {number} is negative; counts must be whole numbers >= 0")
        return None
    return number


def _parse_time(text: str, time_format: str | None) -> datetime:
    text = text.strip()
    if time_format:
        return datetime.strptime(text, time_format)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise CountsError([f"{path}: is a directory, not a file of door counts"]) from None
    except OSError as exc:
        raise CountsError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CountsError([f"{path}: not UTF-8 text (byte {exc.start}); expected a CSV file of door counts"]) from None
    if not text.strip():
        raise CountsError([f"{path}: is empty; expected rows of door counts"])
    return text


def _pick(header: list[str], given: str | None, names: tuple[str, ...], role: str, flag: str) -> tuple[int | None, str | None]:
    """The column index for ``role``: the one named by ``flag``, else the first known name."""
    lowered = [h.strip().lower() for h in header]
    if given is not None:
        if given.strip().lower() in lowered:
            return lowered.index(given.strip().lower()), None
        return None, f"{flag} {given!r}: no such column; the columns are {', '.join(repr(h) for h in header)}"
    for name in names:
        if name in lowered:
            return lowered.index(name), None
    return None, (
        f"no {role} column: expected one named {', '.join(names[:6])}, ... or {flag} NAME; "
        f"the columns are {', '.join(repr(h) for h in header)}"
    )


def read_csv_rows(
    path: Path, text: str, *, time_column: str | None, in_column: str | None, out_column: str | None,
    time_format: str | None, bin_label: str, bin_seconds: int | None,
) -> tuple[list[_Row], int | None]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise CountsError([f"{path}: no header row; expected column names such as timestamp,in,out"])
    problems: list[str] = []
    lowered = [h.strip().lower() for h in header]
    d_idx = None  # a separate date column: "Date,Time,In,Out" exports
    if time_column is None and "date" in lowered and not any(n in lowered for n in TIME_NAMES if n != "time"):
        d_idx = lowered.index("date")
        t_idx, err = (lowered.index("time"), None) if "time" in lowered else (None, None)
    else:
        t_idx, err = _pick(header, time_column, TIME_NAMES, "timestamp", "--time-column")
    if err:
        problems.append(f"{path}: {err}")
    i_idx, err = _pick(header, in_column, IN_NAMES, "in-count", "--in-column")
    if err:
        problems.append(f"{path}: {err}")
    o_idx, err = _pick(header, out_column, OUT_NAMES, "out-count", "--out-column")
    if err:
        problems.append(f"{path}: {err}")
    if problems:
        raise CountsError(problems)
    width = max(i for i in (t_idx, d_idx, i_idx, o_idx) if i is not None) + 1
    rows: list[_Row] = []
    bad = 0
    raw: list[tuple[int, datetime, int, int]] = []
    for number, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        where = f"{path}:{number}"
        if len(record) < width:
            bad += 1
            if bad <= MAX_LISTED:
                problems.append(f"{where}: {len(record)} fields, expected at least {width} ({','.join(record)!r})")
            continue
        before = len(problems)
        stamp = record[t_idx] if d_idx is None else " ".join(record[i].strip() for i in (d_idx, t_idx) if i is not None)
        try:
            when = _parse_time(stamp, time_format)
        except ValueError:
            hint = f"the format {time_format!r}" if time_format else "ISO 8601 (2025-03-01 09:30) or give --time-format"
            problems.append(f"{where}: timestamp {stamp!r} is not {hint}")
            when = None
        ins = _count(record[i_idx], f"{where}: {header[i_idx].strip()}", problems)
        outs = _count(record[o_idx], f"{where}: {header[o_idx].strip()}", problems)
        if len(problems) > before:
            bad += 1
            if bad > MAX_LISTED:
                del problems[before:]
            continue
        raw.append((number, when, ins, outs))
    if problems:
        raise CountsError(_listed(problems, bad - MAX_LISTED))
    if not raw:
        raise CountsError([f"{path}: a header but no rows of counts"])
    width_seconds = bin_seconds or _infer_bin(path, [r[1] for r in raw])
    shift = timedelta(seconds=width_seconds) if bin_label == "end" else timedelta(0)
    for number, when, ins, outs in raw:
        rows.append(_Row(number, when - shift, ins, outs))
    return rows, width_seconds


def read_calit2_rows(path: Path, text: str, bin_seconds: int | None) -> tuple[list[_Row], int]:
    """``flow,MM/DD/YY,HH:MM:SS,count``; a timestamp ends its bin; 7 = out, 9 = in."""
    width = bin_seconds or 1800
    shift = timedelta(seconds=width)
    problems: list[str] = []
    bad = 0
    by_time: dict[datetime, _Row] = {}
    seen: dict[tuple[datetime, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        parts = [p.strip() for p in line.split(",")]
        before = len(problems)
        if len(parts) != 4:
            problems.append(f"{where}: {line!r} is not flow,MM/DD/YY,HH:MM:SS,count (CalIt2 format)")
        else:
            flow, day_text, time_text, count_text = parts
            if flow not in ("7", "9"):
                problems.append(f"{where}: flow {flow!r} is neither 7 (out) nor 9 (in)")
            try:
                when = datetime.strptime(f"{day_text} {time_text}", "%m/%d/%y %H:%M:%S")
            except ValueError:
                problems.append(f"{where}: {day_text} {time_text} is not MM/DD/YY HH:MM:SS")
                when = None
            count = _count(count_text, f"{where}: count", problems)
        if len(problems) > before:
            bad += 1
            if bad > MAX_LISTED:
                del problems[before:]
            continue
        if (when, flow) in seen:
            bad += 1
            if bad <= MAX_LISTED:
                problems.append(f"{where}: flow {flow} at {when:%m/%d/%y %H:%M:%S} again (first on line {seen[(when, flow)]})")
            continue
        seen[(when, flow)] = number
        row = by_time.setdefault(when, _Row(number, when - shift, -1, -1))
        if flow == "9":
            row.ins = count
        else:
            row.outs = count
    if problems:
        raise CountsError(_listed(problems, bad - MAX_LISTED))
    if not by_time:
        raise CountsError([f"{path}: no rows of counts"])
    half = [r for r in by_time.values() if r.ins < 0 or r.outs < 0]
    for row in half[:MAX_LISTED]:
        missing = "in (9)" if row.ins < 0 else "out (7)"
        problems.append(f"{path}:{row.line}: {row.when + shift:%m/%d/%y %H:%M:%S} has no {missing} row")
    if problems:
        raise CountsError(_listed(problems, len(half) - MAX_LISTED))
    return sorted(by_time.values(), key=lambda r: r.when), width


def _infer_bin(path: Path, times: list[datetime]) -> int:
    """The bin width: the most common step between consecutive distinct timestamps."""
    distinct = sorted(set(times))
    if len(distinct) < 2:
        raise CountsError([f"{path}: one timestamp only; cannot infer the bin width (give --bin-minutes)"])
    steps = Counter(int((b - a).total_seconds()) for a, b in zip(distinct, distinct[1:]))
    width, _ = steps.most_common(1)[0]
    if width < 60 or width % 60 or SECONDS_PER_DAY % width:
        raise CountsError([
            f"{path}: the usual step between timestamps is {width} s, not a whole number of minutes that "
            f"divides a day; give --bin-minutes (e.g. 15, 30, 60)"
        ])
    return width


def check_bin_minutes(value: int | None) -> int | None:
    if value is None:
        return None
    if not 1 <= value <= 1440 or 1440 % value:
        raise CountsError([f"--bin-minutes {value}: must divide a day (1440 minutes), e.g. 5, 10, 15, 30, 60"])
    return value * 60


CALIT2_LINE = re.compile(r"^\s*[79],\d\d/\d\d/\d\d,\d\d:\d\d:\d\d,\s*\d+\s*$")


def detect_format(path: str | Path) -> str:
    """``calit2`` when the first line looks like ``9,07/24/05,00:30:00,3``, else ``csv``."""
    try:
        with Path(path).open("r", encoding="utf-8-sig", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    return "calit2" if CALIT2_LINE.match(line) else "csv"
    except OSError:
        pass  # read_counts says why
    return "csv"


def read_counts(
    path: str | Path,
    *,
    format: str = "auto",
    timezone: str | None = None,
    bin_minutes: int | None = None,
    bin_label: str | None = None,
    exclude: tuple[date, ...] | list[date] = (),
    time_column: str | None = None,
    in_column: str | None = None,
    out_column: str | None = None,
    time_format: str | None = None,
) -> DoorCounts:
    """Read, check and arrange a file of door counts; raise :class:`CountsError`."""
    path = Path(path)
    if format == "auto":
        format = detect_format(path)
    if format not in FORMATS:
        raise CountsError([f"--format {format!r}: expected one of {', '.join(FORMATS)}"])
    zone = zone_of(timezone)
    bin_seconds = check_bin_minutes(bin_minutes)
    if bin_label not in (None, "start", "end"):
        raise CountsError([f"--bin-label {bin_label!r}: expected start or end"])
    text = _read_text(path)
    if format == "calit2":
        if bin_label == "start":
            raise CountsError(["--bin-label start: the CalIt2 format's timestamps end their bin (a count covers the half hour before)"])
        rows, width = read_calit2_rows(path, text, bin_seconds)
    else:
        rows, width = read_csv_rows(
            path, text, time_column=time_column, in_column=in_column, out_column=out_column,
            time_format=time_format, bin_label=bin_label or "start", bin_seconds=bin_seconds,
        )
    return arrange(path, rows, width, zone, timezone, format, set(exclude))


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
    path: Path, rows: list[_Row], width: int, zone: ZoneInfo | None, zone_name: str | None, format: str, exclude: set[date]
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
    _listed(problems, off_grid - MAX_LISTED)
    _listed(problems, duplicates - MAX_LISTED)
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
            raise CountsError(_listed(problems[:MAX_LISTED], len(problems) - MAX_LISTED))
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
