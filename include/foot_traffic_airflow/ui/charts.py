"""Inline SVG charts, drawn on the server: slots, the day, the week.

Every bar and line carries its number (``data-key``/``data-value`` and a ``<title>``
tooltip), so what is drawn can be checked against the engine. Axis labels are placed so
that they stay readable at any number of slots (6, 24, 96): a label is drawn only where it
fits beside its neighbours and inside the chart, and numbers above bars only where the
bar is wide enough for them (the tables beside the charts give every number).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from html import escape

from foot_traffic.plan.timeline import DayTimeline


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def num(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def hhmm(minute: int) -> str:
    day, rest = divmod(minute, 1440)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return text if day == 0 else f"{text} (+{day}d)"


def nice_scale(top: float, ticks: int = 4) -> tuple[float, float]:
    """(axis maximum, tick step): a 1/2/2.5/5 x 10^k step with about ``ticks`` ticks."""
    if top <= 0:
        return 1.0, 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= raw:
            break
    if step < 1:
        step = 1.0
    return math.ceil(top / step) * step, step


# Advance widths in em of DejaVu Sans (the widest of the usual sans-serif fonts, Debian's
# default): an estimate that errs on the wide side for the others.
_EM = {**dict.fromkeys("0123456789", 0.64), ":": 0.34, ",": 0.32, ".": 0.32, " ": 0.32, "–": 0.5, "-": 0.36}


def text_width(text: str, size: float = 11.0) -> float:
    """Estimated width of ``text`` at ``size`` px, in the chart's own units."""
    return size * sum(_EM.get(c, 0.62) for c in text)


W, H = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 22, 48
LABEL_GAP = 6.0  # at least this much between two axis labels


def _y_axis(top: float, step: float, y0: float, height: float, width: float, left: float) -> list[str]:
    parts = []
    value = 0.0
    while value <= top + 1e-9:
        y = y0 - height * value / top
        parts.append(f'<line class="grid" x1="{left}" x2="{left + width}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{num(value)}</text>')
        value += step
    return parts


def _svg(chart: str, title: str, body: Iterable[str], height: int = H, width: int = W) -> str:
    return (
        f'<svg class="chart" data-chart="{esc(chart)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{esc(title)}</title>" + "".join(body) + "</svg>"
    )


def _slot_start(label: str) -> int | None:
    """The start minute of a slot label (``10:00–10:59``), None when it is not one."""
    try:
        hh, mm = label[:5].split(":")
        return int(hh) * 60 + int(mm)
    except ValueError:
        return None


def slot_axis_labels(labels: Sequence[str], centers: Sequence[float], group: float, width: float) -> list[tuple[int, str, float]]:
    """``(slot index, text, x)`` of the slot labels to draw, centred under their slots.

    Whole labels (``07:00–09:59``) when each fits its slot; else start times (``10:00``)
    every k-th slot, k the smallest that leaves room, preferring slots that start on a
    round hour, and never a label that would overlap the one before it or leave the chart.
    """
    if labels and all(text_width(label) + LABEL_GAP <= group for label in labels):
        texts = list(labels)
    else:
        texts = [label[:5] if _slot_start(label) is not None else label for label in labels]
    widest = max((text_width(t) for t in texts), default=0.0)
    every = max(1, math.ceil((widest + LABEL_GAP) / max(group, 1e-9)))
    starts = [_slot_start(label) for label in labels]
    if every > 1 and all(s is not None for s in starts) and len(starts) > 1:
        spacing = (starts[1] or 0) - (starts[0] or 0)
        for minutes in (30, 60, 120, 180, 240, 360, 480, 720):  # round steps, if the slots are regular
            k = minutes // spacing if spacing and minutes % spacing == 0 else 0
            if k >= every and all(b - a == spacing for a, b in zip(starts, starts[1:])):  # type: ignore[operator]
                every = k
                break
    chosen: list[tuple[int, str, float]] = []
    right_edge = -math.inf
    for i, (text, x) in enumerate(zip(texts, centers)):
        if i % every:
            continue
        half = text_width(text) / 2
        if x - half < 1 or x + half > width - 1 or x - half < right_edge + LABEL_GAP:
            continue
        chosen.append((i, text, x))
        right_edge = x + half
    return chosen


def slots_chart(slots: Sequence[tuple[str, int]], delivered: Mapping[str, int] | None = None, width: int = 600) -> str:
    """Visits per slot: planned bars, and delivered bars beside them for a run."""
    series = [("planned", dict(slots))] + ([("delivered", dict(delivered))] if delivered is not None else [])
    highest = max([v for _, values in series for v in values.values()] + [1])
    top, step = nice_scale(highest)
    pw, ph = width - LEFT - RIGHT, H - TOP - BOTTOM
    y0 = TOP + ph
    parts = _y_axis(top, step, y0, ph, pw, LEFT)
    group = pw / max(len(slots), 1)
    bar = min(56.0, group * 0.8 / len(series))
    # Numbers above the bars only when each fits its bar (no overlap with the next one).
    show_values = all(text_width(num(v), 10.5) <= bar - 1 for _, values in series for v in values.values())
    for i, (label, _) in enumerate(slots):
        gx = LEFT + group * i + (group - bar * len(series)) / 2
        for j, (name, values) in enumerate(series):
            value = values.get(label, 0)
            h = ph * value / top
            x, y = gx + j * bar, y0 - h
            parts.append(
                f'<rect class="bar {name}" data-key="{esc(label)}" data-value="{value}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{max(bar - 3, 1):.1f}" height="{h:.1f}" rx="2"><title>{esc(label)}: {num(value)} {name}</title></rect>'
            )
            if show_values:
                parts.append(
                    f'<text class="value" x="{x + (bar - 3) / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle">{num(value)}</text>'
                )
    centers = [LEFT + group * (i + 0.5) for i in range(len(slots))]
    for i, text, x in slot_axis_labels([label for label, _ in slots], centers, group, width):
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y0 + 4}"/>')
        parts.append(
            f'<text class="label" data-slot="{esc(slots[i][0])}" x="{x:.1f}" y="{y0 + 18}" text-anchor="middle">{esc(text)}</text>'
        )
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + pw}" y1="{y0}" y2="{y0}"/>')
    legend = [("planned", "planned")] + ([("delivered", "delivered (entries)")] if delivered is not None else [])
    lx = LEFT
    for name, text in legend:
        parts.append(f'<rect class="bar {name} legend" x="{lx}" y="{H - 16}" width="10" height="10" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 14}" y="{H - 7}">{esc(text)}</text>')
        lx += 30 + text_width(text)
    if not show_values:
        parts.append(f'<text class="legend" x="{width - RIGHT}" y="{H - 7}" text-anchor="end">'
                     "numbers: hover a bar, or the table</text>")
    return _svg("slots", "Visits per slot" + (", planned and delivered" if delivered is not None else ""), parts, H, width)


def day_chart(timeline: DayTimeline, slot_starts: Sequence[int] = (), width: int = 1000) -> str:
    """Over the day: customers inside (line, top panel) and entries per hour (bars, below)."""
    height = 330
    minutes = len(timeline.occupancy)
    pw = width - LEFT - RIGHT
    occ_top, occ_h = TOP, 150
    bar_top, bar_h = TOP + occ_h + 34, 82
    x_of = lambda minute: LEFT + pw * minute / max(minutes - 1, 1)  # noqa: E731
    parts: list[str] = []
    # top panel: occupancy
    top, step = nice_scale(max(timeline.peak, 1), 3)
    parts += _y_axis(top, step, occ_top + occ_h, occ_h, pw, LEFT)
    for start in slot_starts:
        if start:
            x = x_of(start)
            parts.append(f'<line class="slotline" x1="{x:.1f}" x2="{x:.1f}" y1="{occ_top}" y2="{bar_top + bar_h}"/>')
    midnight = x_of(1440)
    parts.append(f'<line class="midnight" x1="{midnight:.1f}" x2="{midnight:.1f}" y1="{occ_top}" y2="{bar_top + bar_h}"/>')
    points = timeline.occupancy_every(5)
    y_of = lambda v: occ_top + occ_h - occ_h * v / top  # noqa: E731
    line = " ".join(f"{'M' if i == 0 else 'L'}{x_of(m):.1f},{y_of(v):.1f}" for i, (m, v) in enumerate(points))
    area = f"{line} L{x_of(points[-1][0]):.1f},{occ_top + occ_h} L{x_of(0):.1f},{occ_top + occ_h} Z"
    parts.append(f'<path class="occupancy-area" d="{area}"/>')
    parts.append(
        f'<path class="occupancy" data-peak="{timeline.peak}" data-peak-minute="{timeline.peak_minute}" '
        f'data-points="{len(points)}" d="{line}"><title>customers inside, every 5 minutes</title></path>'
    )
    px, py = x_of(timeline.peak_minute), y_of(timeline.peak)
    parts.append(f'<circle class="peak" cx="{px:.1f}" cy="{py:.1f}" r="3.5"/>')
    anchor = "end" if px > LEFT + pw * 0.8 else "start"
    parts.append(
        f'<text class="value peak-label" x="{px + (-6 if anchor == "end" else 6):.1f}" y="{max(py - 6, occ_top + 10):.1f}" '
        f'text-anchor="{anchor}">peak {num(timeline.peak)} at {hhmm(timeline.peak_minute)}</text>'
    )
    parts.append(f'<text class="panel" x="{LEFT + 4}" y="{occ_top - 8}">customers inside</text>')
    # bottom panel: entries per hour
    btop, bstep = nice_scale(max(max(timeline.entries_per_hour), 1), 2)
    parts += _y_axis(btop, bstep, bar_top + bar_h, bar_h, pw, LEFT)
    hour_w = pw * 60 / max(minutes - 1, 1)
    for hour, value in enumerate(timeline.entries_per_hour):
        h = bar_h * value / btop
        x = x_of(hour * 60)
        parts.append(
            f'<rect class="bar hour" data-key="{hour:02d}" data-value="{value}" x="{x + 0.5:.1f}" '
            f'y="{bar_top + bar_h - h:.1f}" width="{max(hour_w - 1.5, 1):.1f}" height="{h:.1f}">'
            f"<title>{hour:02d}:00–{hour:02d}:59: {num(value)} entries</title></rect>"
        )
    parts.append(f'<text class="panel" x="{LEFT + 4}" y="{bar_top - 8}">entries per hour</text>')
    base = bar_top + bar_h
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + pw}" y1="{base}" y2="{base}"/>')
    for hour in range(0, minutes // 60 + 1, 3):
        x = x_of(hour * 60)
        parts.append(f'<text class="tick label" x="{x:.1f}" y="{base + 16}" text-anchor="middle">{hour % 24:02d}</text>')
    parts.append(
        f'<text class="legend" x="{LEFT}" y="{height - 8}">UTC hours; the dashed line is midnight '
        f"(late exits after it), faint lines are the profile's slots</text>"
    )
    return _svg("day", "Over the day: customers inside and entries per hour", parts, height, width)


def week_chart(week: Sequence[tuple[date, str, int]], selected: date, width: int = 600) -> str:
    """The planned total of each day of the week; the chosen day highlighted."""
    height = H
    top, step = nice_scale(max([n for _, _, n in week] + [1]))
    pw, ph = width - LEFT - RIGHT, height - TOP - BOTTOM
    y0 = TOP + ph
    parts = _y_axis(top, step, y0, ph, pw, LEFT)
    group = pw / max(len(week), 1)
    bar = min(64.0, group * 0.6)
    show_values = all(text_width(num(n), 10.5) <= group - 4 for _, _, n in week)
    for i, (day, weekday, value) in enumerate(week):
        h = ph * value / top
        x, y = LEFT + group * i + (group - bar) / 2, y0 - h
        cls = "bar week selected" if day == selected else "bar week"
        parts.append(
            f'<rect class="{cls}" data-key="{day.isoformat()}" data-value="{value}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{h:.1f}" rx="2"><title>{weekday} {day.isoformat()}: {num(value)} visits</title></rect>'
        )
        if show_values:
            parts.append(f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle">{num(value)}</text>')
        parts.append(f'<text class="label" x="{x + bar / 2:.1f}" y="{y0 + 16}" text-anchor="middle">{weekday[:3]}</text>')
        parts.append(f'<text class="tick" x="{x + bar / 2:.1f}" y="{y0 + 30}" text-anchor="middle">{day.strftime("%d %b")}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + pw}" y1="{y0}" y2="{y0}"/>')
    return _svg("week", "Planned visits in the week", parts, height, width)
