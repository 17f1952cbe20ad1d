"""Read a file of door counts: a generic CSV or the UCI CalIt2 format, into DoorCounts.

Two readers: a generic CSV (a timestamp column and in/out count columns; the bin width
inferred from the timestamps or given) and the UCI CalIt2 format (``flow,MM/DD/YY,
HH:MM:SS,count``, flow 7 = out, 9 = in, the count covering the bin *before* the
timestamp). Both give rows that ``counts.arrange`` turns into :class:`DoorCounts`.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from foot_traffic.analysis.fit.counts import (
    MAX_LISTED, SECONDS_PER_DAY, CountRow, CountsError, DoorCounts, arrange, check_bin_minutes, listed, zone_of,
)

TIME_NAMES = ("timestamp", "time", "datetime", "date_time", "ts", "period", "interval_start", "start")
IN_NAMES = ("in", "ins", "entries", "entry", "enter", "entered", "in_count", "count_in", "incoming")
OUT_NAMES = ("out", "outs", "exits", "exit", "exited", "out_count", "count_out", "outgoing")
FORMATS = ("csv", "calit2")  # and "auto" in read_counts: detect_format


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
) -> tuple[list[CountRow], int | None]:
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
    rows: list[CountRow] = []
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
        raise CountsError(listed(problems, bad - MAX_LISTED))
    if not raw:
        raise CountsError([f"{path}: a header but no rows of counts"])
    width_seconds = bin_seconds or _infer_bin(path, [r[1] for r in raw])
    shift = timedelta(seconds=width_seconds) if bin_label == "end" else timedelta(0)
    for number, when, ins, outs in raw:
        rows.append(CountRow(number, when - shift, ins, outs))
    return rows, width_seconds


def read_calit2_rows(path: Path, text: str, bin_seconds: int | None) -> tuple[list[CountRow], int]:
    """``flow,MM/DD/YY,HH:MM:SS,count``; a timestamp ends its bin; 7 = out, 9 = in."""
    width = bin_seconds or 1800
    shift = timedelta(seconds=width)
    problems: list[str] = []
    bad = 0
    by_time: dict[datetime, CountRow] = {}
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
        row = by_time.setdefault(when, CountRow(number, when - shift, -1, -1))
        if flow == "9":
            row.ins = count
        else:
            row.outs = count
    if problems:
        raise CountsError(listed(problems, bad - MAX_LISTED))
    if not by_time:
        raise CountsError([f"{path}: no rows of counts"])
    half = [r for r in by_time.values() if r.ins < 0 or r.outs < 0]
    for row in half[:MAX_LISTED]:
        missing = "in (9)" if row.ins < 0 else "out (7)"
        problems.append(f"{path}:{row.line}: {row.when + shift:%m/%d/%y %H:%M:%S} has no {missing} row")
    if problems:
        raise CountsError(listed(problems, len(half) - MAX_LISTED))
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
