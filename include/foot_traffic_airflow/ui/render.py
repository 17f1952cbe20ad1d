"""HTML for the plugin's pages, drawn on the server (the charts: ``charts``).

No JavaScript library, no font, no image from anywhere: the page is one HTML document
(the only script, inline, follows Airflow's light/dark switch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from urllib.parse import quote, urlencode

from foot_traffic.model.profile import BUILTIN, builtin_profile
from foot_traffic.plan.timeline import DayTimeline

from foot_traffic_airflow.ui.charts import day_chart, esc, hhmm, num, slots_chart, week_chart
from foot_traffic_airflow.ui.render_chain import chain_cards, shards_table, store_header, store_picker, stores_table
from foot_traffic_airflow.ui.runs import RunRow
from foot_traffic_airflow.ui.views import STORES_READ_BACK, Delivery, PlanView, RunView


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
td.text,th.text{text-align:left}td.day{white-space:nowrap}td.text{max-width:520px}.id{white-space:nowrap}.small{font-size:12px}.scroll{overflow-x:auto}
.status{display:inline-block;min-width:5.5em;font-weight:600}
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
    def played(r: RunRow) -> str:
        if r.day:
            return esc(r.day)
        return f'<span class="muted" title="the day it plays is not known yet">logical date {esc(_when(r.logical_date or r.run_after))}</span>'

    body = "".join(
        f'<tr data-run="{esc(r.run_id)}"><td><a href="runs/{quote(r.dag_id, safe="")}/{quote(r.run_id, safe="")}">'
        f"{esc(r.run_id)}</a></td><td>{esc(r.dag_id)}</td><td class=\"day\">{played(r)}</td>"
        f'<td><span class="state {esc(r.state or "none")}">{esc(r.state or "none")}</span></td></tr>'
        for r in rows
    )
    return (
        "<table class=\"runs\"><thead><tr><th>Run</th><th>DAG</th><th>Day played</th><th>State</th></tr></thead>"
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
            f'<p class="sub">The plan of {esc(view.day.isoformat())} ({esc(view.weekday)}), seed {int(view.seed)}, '
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


def delivery_section(d: Delivery, link: str | None) -> str:
    """One day's plan against its delivery. A chain store's day: only the store's own values
    (attempts, duration and state are its shard's, in the shard table)."""
    s = d.summary or {}
    store = s.get("store_id")
    if store is not None:
        head = f"Store {esc(store)}: its local day"
    else:
        title = f"{d.task_id}" + (f" [{d.label or d.map_index}]" if d.map_index >= 0 or d.label else "")
        head = f'Task {esc(title)} <span class="state {esc(d.state or "none")}">{esc(d.state or "none")}</span>'
    out = [f'<section class="delivery" data-verdict="{esc(d.verdict)}"><h2>{head}</h2>']
    out.append(f'<div class="banner {esc(d.verdict)}" data-verdict="{esc(d.verdict)}"><strong>{esc(d.verdict)}</strong>: '
               f"{esc(d.verdict_text)}</div>")
    items: list[tuple[str, str]] = []
    if s:
        sent = sum(int(v) for v in (s.get("sent_per_topic") or {}).values())
        items += [
            ("Day", esc(s.get("day"))), ("Visits planned", num(int(s["total_visits"]))), ("Records sent", num(sent)),
            ("Already in topics", num(int(s.get("records_already_present") or 0))),
        ]
        if "max_lag_seconds" in s:
            items.append(("Max lag", f"{float(s.get('max_lag_seconds') or 0):.3f} s"))
        items.append(("Finished", "yes" if s.get("finished") and not s.get("stopped") else "no"))
    if store is None:
        items += [("Attempts", num(d.try_number)), ("Duration", f"{d.duration:.1f} s" if d.duration else "–")]
    out.append(cards(items))
    if s:
        out.append(f'<p class="muted">Seed {int(s["seed"])}, plan id <code>{esc(s.get("plan_id", ""))}</code>.</p>')
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
        if link:
            out.append(f'<p><a class="plan-link" href="{esc(link)}">This plan and its week on the plan page</a></p>')
    out.append("</section>")
    return "".join(out)


def plan_link(d: Delivery) -> str | None:
    """The plan page showing this plan and the same week: the run's own baseline, variation
    and fixed customers (``PlanView.query``), with a built-in profile (the page offers no other)."""
    if d.plan is None:
        return None
    builtin = next((n for n in BUILTIN if d.plan.plan_id.endswith(":" + builtin_profile(n).digest())), None)
    if builtin is None:
        return None
    query = d.plan.query or {"day": d.plan.day.isoformat(), "seed": str(d.plan.seed), "customers": str(d.plan.total)}
    return "../../?" + urlencode({**query, "profile": builtin})


def run_page(view: RunView, nonce: str = "") -> str:
    r = view.run
    chain = view.chain
    played = f"day played {esc(chain.day)}, " if chain is not None and chain.day else ""
    body = [
        "<h1>Foot traffic: plan and delivery</h1>",
        f'<p class="sub">Run <code>{esc(r.run_id)}</code> of <code>{esc(r.dag_id)}</code>, {played}logical date '
        f'{esc(_when(r.logical_date))}, <span class="state {esc(r.state or "none")}">{esc(r.state or "none")}</span>. '
        f'<a href="../../">Plan page</a></p>',
    ]
    if not r.tasks:
        body.append('<div class="banner pending">This run has no producer task instance yet.</div>')
    if chain is not None:
        body.append(store_picker(view.stores, view.store))
        body += chain_section(view)
    if chain is None or view.store is not None:  # all of a chain's stores: the table says it all
        body += [delivery_section(d, plan_link(d)) for d in view.deliveries]
    if chain is not None and view.store is not None:
        body += ["<h2>Its shard</h2>", shards_table(chain.shards)]
    return document(f"Foot traffic: {r.run_id}", "".join(body), nonce)


def chain_section(view: RunView) -> list[str]:
    """A chain run: every store in one table and every shard in another; the store picked alone."""
    chain = view.chain
    read_back = not view.overview and any(row.read_back is not None for row in chain.stores)
    if view.store is None:
        note = (f'<p class="muted">"In topics": the records of each store\'s plan read back from the topics, '
                "in one scan.</p>" if read_back else
                f'<p class="muted">Pick a store to check its records in the topics (a read-back of every store '
                f"at once is left out above {num(STORES_READ_BACK)} stores, and for stores still under way).</p>")
        return [cards(chain_cards(chain)), "<h2>Stores</h2>", stores_table(chain.stores, read_back), note,
                "<h2>Shards</h2>", shards_table(chain.shards)]
    (row,) = chain.stores
    return [cards(store_header(row)), stores_table(chain.stores, row.read_back is not None, link=False)]


def message_page(title: str, text: str, nonce: str = "") -> str:
    return document(title, f"<h1>{esc(title)}</h1><p>{esc(text)}</p>", nonce)
