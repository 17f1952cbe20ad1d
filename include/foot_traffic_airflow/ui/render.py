"""HTML and inline SVG for the plugin's pages, drawn on the server.

No JavaScript library, no font, no image from anywhere: the page is one HTML document
(the only script, inline, follows Airflow's light/dark switch). Every bar and line
carries its number (``data-key``/``data-value``, a ``<title>`` tooltip and a label), so
what is drawn can be checked against the engine, by a person or by a test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from html import escape
from urllib.parse import quote, urlencode

from foot_traffic.model.profile import BUILTIN, builtin_profile
from foot_traffic.plan.timeline import DayTimeline

from foot_traffic_airflow.ui.runs import RunRow
from foot_traffic_airflow.ui.views import STORES_READ_BACK, Delivery, PlanView, RunView


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def num(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


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


def hhmm(minute: int) -> str:
    day, rest = divmod(minute, 1440)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return text if day == 0 else f"{text} (+{day}d)"


# -- charts -------------------------------------------------------------------------------
W, H = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 22, 48


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
    for i, (label, _) in enumerate(slots):
        gx = LEFT + group * i + (group - bar * len(series)) / 2
        for j, (name, values) in enumerate(series):
            value = values.get(label, 0)
            h = ph * value / top
            x, y = gx + j * bar, y0 - h
            parts.append(
                f'<rect class="bar {name}" data-key="{esc(label)}" data-value="{value}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar - 3:.1f}" height="{h:.1f}" rx="2"><title>{esc(label)}: {num(value)} {name}</title></rect>'
            )
            parts.append(
                f'<text class="value" x="{x + (bar - 3) / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle">{num(value)}</text>'
            )
        parts.append(
            f'<text class="label" x="{LEFT + group * (i + 0.5):.1f}" y="{y0 + 18}" text-anchor="middle">{esc(label)}</text>'
        )
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + pw}" y1="{y0}" y2="{y0}"/>')
    legend = [("planned", "planned")] + ([("delivered", "delivered (entries)")] if delivered is not None else [])
    lx = LEFT
    for name, text in legend:
        parts.append(f'<rect class="bar {name} legend" x="{lx}" y="{H - 16}" width="10" height="10" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 14}" y="{H - 7}">{esc(text)}</text>')
        lx += 30 + 7 * len(text)
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
        parts.append(f'<text class="tick" x="{x:.1f}" y="{base + 16}" text-anchor="middle">{hour % 24:02d}</text>')
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
    for i, (day, weekday, value) in enumerate(week):
        h = ph * value / top
        x, y = LEFT + group * i + (group - bar) / 2, y0 - h
        cls = "bar week selected" if day == selected else "bar week"
        parts.append(
            f'<rect class="{cls}" data-key="{day.isoformat()}" data-value="{value}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{h:.1f}" rx="2"><title>{weekday} {day.isoformat()}: {num(value)} visits</title></rect>'
        )
        parts.append(f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle">{num(value)}</text>')
        parts.append(f'<text class="label" x="{x + bar / 2:.1f}" y="{y0 + 16}" text-anchor="middle">{weekday[:3]}</text>')
        parts.append(f'<text class="tick" x="{x + bar / 2:.1f}" y="{y0 + 30}" text-anchor="middle">{day.strftime("%d %b")}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + pw}" y1="{y0}" y2="{y0}"/>')
    return _svg("week", "Planned visits in the week", parts, height, width)


def _icon(stroke: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" '
        f'stroke="{stroke}" stroke-width="1.8"><ellipse cx="7" cy="8.5" rx="3" ry="4.8"/>'
        '<ellipse cx="7" cy="18.2" rx="2.1" ry="2.1"/><ellipse cx="17" cy="5.8" rx="3" ry="4.3"/>'
        '<ellipse cx="17" cy="14.6" rx="2.1" ry="2.1"/></svg>'
    )


ICONS = {"icon.svg": _icon("#3f3f46"), "icon-dark.svg": _icon("#d4d4d8")}


# -- page ---------------------------------------------------------------------------------
_DARK = """color-scheme:dark;--bg:#111113;--fg:#e4e4e7;--muted:#a1a1aa;--border:#2e2e33;--subtle:#1b1b1f;
--planned:#3b82f6;--delivered:#4ade80;--hour:#71717a;--occ:#a78bfa;--occ-fill:rgba(167,139,250,.18);
--ok:#4ade80;--bad:#f87171;--warn:#fbbf24;--accent:#7dd3fc;--grid:#26262b"""
CSS = """
:root{color-scheme:light;--bg:#fff;--fg:#18181b;--muted:#71717a;--border:#e4e4e7;--subtle:#f4f4f5;
--planned:#60a5fa;--delivered:#22c55e;--hour:#a1a1aa;--occ:#7c3aed;--occ-fill:rgba(124,58,237,.14);
--ok:#15803d;--bad:#b91c1c;--warn:#b45309;--accent:#0369a1;--grid:#ececef}
:root[data-theme=dark]{""" + _DARK + """}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){""" + _DARK + """}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{padding:14px 20px 28px;max-width:1320px}
h1{font-size:20px;font-weight:600;margin:0 0 2px}h2{font-size:15px;font-weight:600;margin:18px 0 8px}
h3{font-size:14px;font-weight:600;margin:14px 0 6px}
.sub{color:var(--muted);margin:0 0 12px}a{color:var(--accent)}
form.query{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-end;padding:10px 12px;border:1px solid var(--border);border-radius:8px;background:var(--subtle)}
form.query label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:3px}
form.query input,form.query select{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--border);border-radius:6px;padding:4px 8px;min-width:0}
form.query input[type=number]{width:8.5em}
button{font:inherit;font-weight:600;color:#fff;background:#0369a1;border:0;border-radius:6px;padding:5px 14px;cursor:pointer}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(128px,1fr));gap:8px;margin:12px 0}
.card{border:1px solid var(--border);border-radius:8px;padding:7px 10px}
.card .k{font-size:12px;color:var(--muted)}.card .v{font-size:17px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:6px 18px;align-items:start}
.chart{width:100%;height:auto;display:block;border:1px solid var(--border);border-radius:8px;background:var(--bg)}
.chart text{fill:var(--fg);font-size:11px}.chart .tick,.chart .legend,.chart .panel{fill:var(--muted)}
.chart .value{font-size:10.5px;font-variant-numeric:tabular-nums}.chart .grid{stroke:var(--grid)}
.chart .axis{stroke:var(--muted)}.chart .slotline{stroke:var(--border);stroke-dasharray:2 3}
.chart .midnight{stroke:var(--muted);stroke-dasharray:5 4}
.bar.planned{fill:var(--planned)}.bar.delivered{fill:var(--delivered)}.bar.hour{fill:var(--hour)}
.bar.week{fill:var(--planned);opacity:.5}.bar.week.selected{opacity:1}
.occupancy{fill:none;stroke:var(--occ);stroke-width:1.6}.occupancy-area{fill:var(--occ-fill)}.peak{fill:var(--occ)}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:4px 0 8px}
th,td{border-bottom:1px solid var(--border);padding:4px 10px;text-align:right}th{color:var(--muted);font-weight:600;font-size:12px}
td:first-child,th:first-child{text-align:left}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}.muted{color:var(--muted)}
.banner{border-radius:8px;padding:8px 12px;margin:10px 0;border:1px solid var(--border);border-left-width:4px}
.banner.complete{border-left-color:var(--ok)}.banner.incomplete,.banner.failed,.banner.mismatch{border-left-color:var(--bad)}
.banner.running,.banner.pending{border-left-color:var(--warn)}
.verdict{font-weight:600}.verdict.complete{color:var(--ok)}.verdict.incomplete,.verdict.failed,.verdict.mismatch{color:var(--bad)}
.verdict.running,.verdict.pending{color:var(--warn)}
.errors{border-left-color:var(--bad)}.errors ul{margin:4px 0 0 18px;padding:0}
.state{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;border:1px solid var(--border);vertical-align:middle}
.state.success{color:var(--ok)}.state.failed,.state.upstream_failed{color:var(--bad)}.state.running,.state.queued{color:var(--warn)}
.delivery{border-top:1px solid var(--border);margin-top:16px}
code{font-size:12px;background:var(--subtle);padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}
"""

THEME_JS = """(function(){var d=document.documentElement;function apply(){var m=null;
try{if(window.parent!==window){var c=window.parent.document.documentElement.classList;m=c.contains('dark')?'dark':(c.contains('light')?'light':null);}}catch(e){}
if(!m){try{var t=localStorage.getItem('theme');if(t==='dark'||t==='light')m=t;}catch(e){}}
if(m)d.setAttribute('data-theme',m);else d.removeAttribute('data-theme');}
apply();window.addEventListener('storage',apply);
try{new MutationObserver(apply).observe(window.parent.document.documentElement,{attributes:true,attributeFilter:['class']});}catch(e){}})();"""


def document(title: str, body: str, nonce: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        f'<script nonce="{esc(nonce)}">{THEME_JS}</script></head><body><main>{body}</main></body></html>'
    )


def cards(items: Iterable[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{v}</div></div>' for k, v in items
    ) + "</div>"


def grid(*columns: str) -> str:
    return '<div class="grid">' + "".join(f"<div>{c}</div>" for c in columns) + "</div>"


def errors_box(problems: Sequence[str]) -> str:
    return (
        '<div class="banner errors" role="alert"><strong>Cannot draw this plan:</strong><ul>'
        + "".join(f"<li>{esc(p)}</li>" for p in problems) + "</ul></div>"
    )


def plan_form(values: Mapping[str, str], profiles: Sequence[str]) -> str:
    def field(name: str, label: str, kind: str = "number", extra: str = "") -> str:
        return (
            f'<label>{esc(label)}<input name="{name}" type="{kind}" value="{esc(values.get(name, ""))}" {extra}></label>'
        )

    options = "".join(
        f'<option value="{esc(p)}"{" selected" if p == values.get("profile") else ""}>{esc(p)}</option>' for p in profiles
    )
    return (
        '<form class="query" method="get" action="">'
        + field("day", "Day (UTC)", "date")
        + field("seed", "Seed", extra='min="0" step="1"')
        + field("customers", "Customers (empty: baseline)", extra='min="1" step="1" placeholder="baseline"')
        + field("baseline", "Baseline", extra='min="1" step="1"')
        + field("variation", "Daily variation", extra='min="0" max="0.99" step="0.01"')
        + f'<label>Profile<select name="profile">{options}</select></label>'
        + '<button type="submit">Show plan</button></form>'
    )


def _slot_starts(view: PlanView) -> list[int]:
    starts = []
    for label, _ in view.slots:
        hh, mm = label[:5].split(":")
        starts.append(int(hh) * 60 + int(mm))
    return starts


def timeline_cards(view: PlanView) -> list[tuple[str, str]]:
    if view.timeline is None:
        return []
    t = view.timeline
    return [
        ("Peak inside", f"{num(t.peak)} <span class=muted>at {hhmm(t.peak_minute)}</span>"),
        ("Mean trip", f"{t.mean_trip_minutes:.1f} min"),
        ("Exits after 24:00", num(t.exits_after_midnight)),
    ]


def slot_table(view: PlanView) -> str:
    rows = "".join(
        f'<tr data-slot="{esc(label)}"><td>{esc(label)}</td><td>{num(count)}</td>'
        f"<td>{count / view.total:.1%}</td></tr>" if view.total else ""
        for label, count in view.slots
    )
    return (
        f"<table class=\"plan-slots\"><thead><tr><th>Slot (UTC)</th><th>Visits</th><th>Share</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def runs_table(rows: Sequence[RunRow]) -> str:
    if not rows:
        return '<p class="muted">No producer run yet (or none you may read).</p>'
    body = "".join(
        f'<tr><td><a href="runs/{quote(r.dag_id, safe="")}/{quote(r.run_id, safe="")}">{esc(r.run_id)}</a></td>'
        f"<td>{esc(r.dag_id)}</td><td>{esc(_when(r.logical_date or r.run_after))}</td>"
        f'<td><span class="state {esc(r.state or "none")}">{esc(r.state or "none")}</span></td></tr>'
        for r in rows
    )
    return (
        "<table class=\"runs\"><thead><tr><th>Run</th><th>DAG</th><th>Logical date</th><th>State</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


def plan_page(
    view: PlanView | None,
    values: Mapping[str, str],
    profiles: Sequence[str],
    runs: Sequence[RunRow],
    problems: Sequence[str] = (),
    nonce: str = "",
) -> str:
    body = ["<h1>Foot traffic</h1>"]
    if view is not None:
        body.append(
            f'<p class="sub">The plan of {esc(view.day.isoformat())} ({esc(view.weekday)}), seed {num(view.seed)}, '
            f"profile {esc(view.profile_name)}, plan id <code>{esc(view.plan_id)}</code>: what the producer sends "
            "for that day with these Params, computed by its own engine.</p>"
        )
    else:
        body.append('<p class="sub">The plan of a day, computed by the producer\'s own engine.</p>')
    body.append(plan_form(values, profiles))
    if problems:
        body.append(errors_box(problems))
    if view is not None:
        body.append(cards([("Visits planned", num(view.total)), ("Weekday", esc(view.weekday))] + timeline_cards(view)))
        left = "<h2>Visits per slot</h2>" + slots_chart(view.slots)
        right = (f"<h2>The week of {esc(view.day.isoformat())}</h2>" + week_chart(view.week, view.day)) if view.week else ""
        body.append(grid(left, right))
        if view.timeline is not None:
            body += ["<h2>Over the day</h2>", day_chart(view.timeline, _slot_starts(view))]
        elif view.timeline_note:
            body.append(f'<p class="muted">{esc(view.timeline_note)}</p>')
        body.append(grid("<h2>Per slot</h2>" + slot_table(view), "<h2>Recent producer runs</h2>" + runs_table(runs)))
    else:
        body += ["<h2>Recent producer runs</h2>", runs_table(runs)]
    return document("Foot traffic", "".join(body), nonce)


# -- run page -----------------------------------------------------------------------------
STATUS_TEXT = {"ok": ("✓", "ok"), "short": ("✗ short", "bad"), "over": ("✗ over", "bad"),
               "resumed": ("resumed", "warn"), "pending": ("…", "muted"), "unknown": ("?", "muted")}


def _status(status: str) -> str:
    text, cls = STATUS_TEXT.get(status, (status, "muted"))
    return f'<span class="{cls}">{esc(text)}</span>'


def delivery_section(d: Delivery, plan_link: str | None) -> str:
    title = f"{d.task_id}" + (f" [{d.label or d.map_index}]" if d.map_index >= 0 or d.label else "")
    s = d.summary or {}
    out = [f'<section class="delivery" data-verdict="{esc(d.verdict)}"><h2>Task {esc(title)} '
           f'<span class="state {esc(d.state or "none")}">{esc(d.state or "none")}</span></h2>']
    out.append(f'<div class="banner {esc(d.verdict)}" data-verdict="{esc(d.verdict)}"><strong>{esc(d.verdict)}</strong>: '
               f"{esc(d.verdict_text)}</div>")
    items: list[tuple[str, str]] = []
    if s:
        sent = sum(int(v) for v in (s.get("sent_per_topic") or {}).values())
        items += [
            ("Day", esc(s.get("day"))), ("Visits planned", num(int(s["total_visits"]))), ("Records sent", num(sent)),
            ("Already in topics", num(int(s.get("records_already_present") or 0))),
            ("Max lag", f"{float(s.get('max_lag_seconds') or 0):.3f} s"),
            ("Finished", "yes" if s.get("finished") and not s.get("stopped") else "no"),
        ]
    items += [("Attempts", num(d.try_number)), ("Duration", f"{d.duration:.1f} s" if d.duration else "–")]
    out.append(cards(items))
    if s:
        out.append(f'<p class="muted">Seed {num(int(s["seed"]))}, plan id <code>{esc(s.get("plan_id", ""))}</code>.</p>')
    if d.plan_note:
        out.append(f'<p class="muted">Plan: {esc(d.plan_note)}</p>')
    left, right = "", ""
    if d.slots:
        delivered = {c.label: c.delivered for c in d.slots if c.delivered is not None} if s else None
        planned = [(c.label, c.planned) for c in d.slots]
        left = "<h3>Visits per slot: plan and delivered</h3>" + slots_chart(planned, delivered)
        rows = "".join(
            f'<tr data-slot="{esc(c.label)}" data-status="{esc(c.status)}"><td>{esc(c.label)}</td><td>{num(c.planned)}</td>'
            f"<td>{num(c.delivered)}</td><td>{_status(c.status)}</td></tr>"
            for c in d.slots
        )
        right += (
            "<h3>Per-slot check</h3><table class=\"slots\"><thead><tr><th>Slot (UTC)</th><th>Planned</th>"
            f"<th>Entries sent</th><th>Check</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if d.topics:
        rows = "".join(
            f'<tr data-topic="{esc(t.topic)}" data-status="{esc(t.status)}"><td>{esc(t.topic)}</td><td>{num(t.expected)}</td>'
            f"<td>{num(t.sent)}</td><td>{num(t.read_back)}</td><td>{_status(t.status)}</td></tr>"
            for t in d.topics
        )
        right += (
            "<h3>Records per topic</h3><table class=\"topics\"><thead><tr><th>Topic</th><th>Expected</th>"
            f"<th>Sent</th><th>In topic</th><th>Check</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if d.readback is not None:
        rb = d.readback
        if rb.error:
            right += f'<p class="muted">Read-back from the topics: {esc(rb.error)}</p>'
        else:
            right += f'<p class="muted">"In topic": read back from {esc(rb.bootstrap)} ({esc(rb.source)}) in {rb.seconds:.2f} s.</p>'
    if left or right:
        out.append(grid(left, right))
    if d.plan is not None:
        if d.plan.timeline is not None:
            out += ["<h3>The plan over the day</h3>", day_chart(d.plan.timeline, _slot_starts(d.plan))]
        if d.plan.week:
            out += [f"<h3>The week of {esc(d.plan.day.isoformat())}</h3>",
                    grid(week_chart(d.plan.week, d.plan.day), "")]
        if plan_link:
            out.append(f'<p><a href="{esc(plan_link)}">This plan on the plan page</a></p>')
    out.append("</section>")
    return "".join(out)


def run_page(view: RunView, nonce: str = "") -> str:
    r = view.run
    body = [
        "<h1>Foot traffic: plan and delivery</h1>",
        f'<p class="sub">Run <code>{esc(r.run_id)}</code> of <code>{esc(r.dag_id)}</code>, logical date '
        f'{esc(_when(r.logical_date))}, <span class="state {esc(r.state or "none")}">{esc(r.state or "none")}</span>. '
        f'<a href="../../">Plan page</a></p>',
    ]
    if not view.deliveries:
        body.append('<div class="banner pending">This run has no producer task instance yet.</div>')
    if view.stores:
        body.append(store_picker(view))
    if view.overview:
        body.append(stores_overview(view))
        return document(f"Foot traffic: {r.run_id}", "".join(body), nonce)
    for d in view.deliveries:
        link = None
        builtin = next((n for n in BUILTIN if d.plan and d.plan.plan_id.endswith(":" + builtin_profile(n).digest())), None)
        if d.plan is not None and builtin is not None:
            link = "../../?" + urlencode({"day": d.plan.day.isoformat(), "seed": d.plan.seed,
                                          "customers": d.plan.total, "profile": builtin})
        body.append(delivery_section(d, link))
    return document(f"Foot traffic: {r.run_id}", "".join(body), nonce)


def store_picker(view: RunView) -> str:
    """A chain run's stores: pick one to see (and read back) only its day."""
    options = '<option value="">All stores</option>' + "".join(
        f'<option value="{esc(s)}"{" selected" if s == view.store else ""}>{esc(s)}</option>' for s in view.stores
    )
    shown = f"store <code>{esc(view.store)}</code>" if view.store else f"all {num(len(view.stores))} stores"
    return (
        '<form class="query stores" method="get" action="">'
        f'<label>Store<select name="store">{options}</select></label><button type="submit">Show</button>'
        f'<span class="muted">Showing {shown}.</span></form>'
    )


def stores_overview(view: RunView) -> str:
    """Every store-day of a large chain run from its summary alone (no read-back), each a link
    to its own page, where it is read back from the topics."""
    rows = []
    for d in view.deliveries:
        s = d.summary or {}
        store = str(s.get("store_id") or "")
        sent = sum(int(v) for v in (s.get("sent_per_topic") or {}).values()) if s else None
        planned = int(s["total_visits"]) if s.get("total_visits") is not None else None
        link = f'<a href="?{urlencode({"store": store})}">{esc(store)}</a>' if store else esc(d.label or d.task_id)
        rows.append(
            f'<tr data-store="{esc(store)}" data-verdict="{esc(d.verdict)}"><td>{link}</td><td>{esc(s.get("day", "–"))}</td>'
            f"<td>{num(planned)}</td><td>{num(sent)}</td>"
            f'<td><span class="verdict {esc(d.verdict)}">{esc(d.verdict)}</span> {esc(d.verdict_text)}</td></tr>'
        )
    return (
        f'<p class="muted">{num(len(view.deliveries))} store-days: their verdicts from the tasks\' summaries; '
        "pick a store to check its records in the topics too (a read-back of every store at once is "
        "left out above " + num(STORES_READ_BACK) + " stores).</p>"
        '<table class="stores"><thead><tr><th>Store</th><th>Local day</th><th>Visits planned</th>'
        f"<th>Records sent</th><th>Verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def message_page(title: str, text: str, nonce: str = "") -> str:
    return document(title, f"<h1>{esc(title)}</h1><p>{esc(text)}</p>", nonce)
