"""HTML of a chain run's tab: the store picker, a table of its stores, a table of its shards.

One row per store (its time zone, opening hours, visits planned, records delivered and
read back, status) and one per shard (state, attempts, duration, how far it is or why it
failed): a shard's values are never repeated on its stores' rows.
"""

from __future__ import annotations

from urllib.parse import urlencode

from foot_traffic_airflow.ui.chainview import ChainView, ShardRow, StoreRow
from foot_traffic_airflow.ui.charts import esc, num

# status -> (CSS class, what the reader is told)
STATUS_CLASS = {"complete": "ok", "closed": "muted", "running": "warn", "waiting": "muted", "pending": "muted",
                "incomplete": "bad", "failed": "bad", "mismatch": "bad", "unknown": "muted", "done": "ok"}


TEXT_CLASS = ' class="text"'  # a left-aligned column (words, not numbers)


def status_badge(status: str) -> str:
    return f'<span class="status {STATUS_CLASS.get(status, "muted")}">{esc(status)}</span>'


def store_picker(stores: list[str], picked: str | None) -> str:
    """A chain run's stores: pick one to see (and read back) only its day."""
    options = '<option value="">All stores</option>' + "".join(
        f'<option value="{esc(s)}"{" selected" if s == picked else ""}>{esc(s)}</option>' for s in stores
    )
    shown = f"store <code>{esc(picked)}</code>" if picked else f"all {num(len(stores))} stores"
    return (
        '<form class="query stores" method="get" action="">'
        f'<label>Store<select name="store">{options}</select></label><button type="submit">Show</button>'
        f'<span class="muted">Showing {shown}.</span></form>'
    )


def chain_cards(view: ChainView) -> list[tuple[str, str]]:
    """The run in a few numbers: its day, its stores by status, visits and records."""
    counts = view.counts()
    planned = sum(r.visits or 0 for r in view.stores)
    delivered = sum(r.delivered or 0 for r in view.stores)
    done = counts.get("complete", 0) + counts.get("closed", 0)
    under_way = counts.get("running", 0) + counts.get("waiting", 0) + counts.get("pending", 0)
    bad = sum(counts.get(k, 0) for k in ("incomplete", "failed", "mismatch"))
    return [
        ("Day played", esc(view.day or "–")), ("Stores", num(len(view.stores))),
        ("Complete or closed", num(done)), ("Under way", num(under_way)), ("Failed or short", num(bad)),
        ("Visits planned", num(planned)), ("Records delivered", num(delivered)),
    ]


def stores_table(rows: list[StoreRow], with_read_back: bool, link: bool = True) -> str:
    """One row per store: its own values only (its shard's are in the shard table)."""
    heads = ["Store", "Time zone", "Opening hours (local)", "Shard", "Visits planned", "Records delivered"]
    heads += ["In topics"] if with_read_back else []
    heads += ["Status"]
    left = {"Store", "Time zone", "Opening hours (local)", "Status"}

    def row_html(r: StoreRow) -> str:
        store = f'<span class="id">{esc(r.store_id)}</span>'
        if link:
            store = f'<a class="id" href="?{urlencode({"store": r.store_id})}">{esc(r.store_id)}</a>'
        if r.name:
            store += f'<div class="muted small">{esc(r.name)}</div>'
        shard = "–" if r.shard is None else f'<a href="#shard-{r.shard}">{r.shard}</a>'
        return (
            f'<tr data-store="{esc(r.store_id)}" data-status="{esc(r.status)}"><td>{store}</td>'
            f"<td class=\"text\">{esc(r.timezone or '–')}</td><td class=\"text\">{esc(r.hours or '–')}</td><td>{shard}</td>"
            f"<td>{num(r.visits)}</td><td>{num(r.delivered)}</td>"
            + (f"<td>{num(r.read_back)}</td>" if with_read_back else "")
            + f'<td class="text">{status_badge(r.status)} <span class="muted">{esc(r.text)}</span></td></tr>'
        )

    return (
        '<div class="scroll"><table class="stores"><thead><tr>'
        + "".join(f"<th{TEXT_CLASS if h in left else ''}>{esc(h)}</th>" for h in heads)
        + "</tr></thead><tbody>" + "".join(row_html(r) for r in rows) + "</tbody></table></div>"
    )


def shards_table(rows: list[ShardRow]) -> str:
    body = "".join(
        f'<tr id="shard-{s.map_index}" data-shard="{s.map_index}" data-status="{esc(s.status)}">'
        f"<td>{s.map_index}</td><td class=\"text\">{num(len(s.stores))}: {esc(_few(s.stores))}</td>"
        f'<td><span class="state {esc(s.state or "none")}">{esc(s.state or "none")}</span></td>'
        f"<td>{num(s.try_number)}</td><td>{f'{s.duration:.1f} s' if s.duration else '–'}</td>"
        f'<td class="text">{status_badge(s.status)} <span class="muted">{esc(s.text)}</span></td></tr>'
        for s in rows
    )
    return (
        '<div class="scroll"><table class="shards"><thead><tr><th>Shard</th><th class="text">Stores</th><th>Task</th>'
        f'<th>Attempts</th><th>Duration</th><th class="text">Status</th></tr></thead><tbody>{body}</tbody></table></div>'
    )


def _few(stores: list[str], most: int = 6) -> str:
    return ", ".join(stores[:most]) + (f" and {len(stores) - most} more" if len(stores) > most else "")


def store_header(row: StoreRow) -> list[tuple[str, str]]:
    """The picked store's own facts (its shard's are in the shard table)."""
    return [("Store", esc(row.store_id) + (f' <span class="muted">{esc(row.name)}</span>' if row.name else "")),
            ("Time zone", esc(row.timezone or "–")), ("Opening hours (local)", esc(row.hours or "–")),
            ("Shard", "–" if row.shard is None else f'<a href="#shard-{row.shard}">{row.shard}</a>')]
