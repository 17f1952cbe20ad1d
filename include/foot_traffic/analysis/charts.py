"""Pictures of a day and of a week (matplotlib, Agg backend: no display needed).

* :func:`day_chart`: what ``foot-traffic validate --chart day.png`` draws from the records
  read back: the intensity (customers expected per 15 minutes) with the arrivals observed
  per 15 minutes; occupancy over the day (from the sessions, and as the door sensor sees
  it when its flaws are on); the trip-time histogram with the model's curve.
* :func:`week_chart`: a week's arrivals per hour of two profiles one above the other (the
  docs' ``retail`` beside ``seed``), from plans alone (no broker).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

BIN = 15 * 60  # seconds per arrivals bin


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def day_chart(data, path, *, width: float = 11.0):
    """Draw ``data`` (a validate.DayData) as a PNG into ``path`` (a file name or a binary
    file object, e.g. a web response's buffer); returns ``path``."""
    import numpy as np

    plt = _pyplot()
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(width, 10.5), gridspec_kw={"height_ratios": [1.2, 1, 1]})
    start = data.start
    span = max(24 * 3600, data.end - start)
    edges = np.arange(start, start + span + BIN, BIN)

    # 1. Arrivals per 15 minutes, and the intensity they are drawn from.
    counts, _ = np.histogram(data.entries, bins=edges)
    centers = (edges[:-1] - start) / 3600.0
    ax1.bar(centers, counts, width=BIN / 3600.0, align="edge", color="#9ecae1", edgecolor="#6baed6",
            linewidth=0.3, label="customers entering per 15 min (sessions)")
    if data.sensor_in and len(data.sensor_in) != len(data.entries):
        sensed, _ = np.histogram(data.sensor_in, bins=edges)
        ax1.step(centers, sensed, where="post", color="#e6550d", linewidth=0.9, label="entry events per 15 min (door sensor)")
    if data.share is not None:
        fine = np.arange(start + BIN // 2, start + span - BIN // 2 + 1, 60)
        expected = [data.customers * data.share(t - BIN / 2, t + BIN / 2) for t in fine]
        ax1.plot((fine - start) / 3600.0, expected, color="#08306b", linewidth=1.6,
                 label="intensity: customers expected per 15 min")
    ax1.set_xlim(0, span / 3600.0)
    ax1.set_ylabel("customers / 15 min")
    ax1.set_title(data.title)
    ax1.legend(loc="upper left", fontsize=8, frameon=False)

    # 2. Occupancy: customers inside the store.
    def occupancy(ins: Iterable[int], outs: Iterable[int]):
        moves = sorted([(t, 1) for t in ins] + [(t, -1) for t in outs])
        times, level, now = [start], [0], 0
        for t, d in moves:
            now += d
            times.append(t)
            level.append(now)
        times.append(start + span)
        level.append(now)
        return (np.array(times) - start) / 3600.0, level

    x, y = occupancy(data.entries, data.exits)
    ax2.step(x, y, where="post", color="#31a354", linewidth=1.2, label="in the store (sessions: ground truth)")
    if data.sensor_in and (len(data.sensor_in) != len(data.entries) or len(data.sensor_out) != len(data.exits)):
        xs, ys = occupancy(data.sensor_in, data.sensor_out)
        ax2.step(xs, ys, where="post", color="#e6550d", linewidth=0.9, label="entries - exits counted by the door sensor")
    ax2.set_xlim(0, span / 3600.0)
    ax2.set_ylabel("customers inside")
    ax2.set_xlabel("hours from the day's midnight")
    ax2.legend(loc="upper left", fontsize=8, frameon=False)
    for ax in (ax1, ax2):
        ax.set_xticks(range(0, int(span / 3600.0) + 1, 2))
        ax.grid(axis="y", linewidth=0.3)

    # 3. Trip times with the model's curve.
    if data.trips:
        top = max(max(data.trips), max(data.trip_expected or {0: 0})) + 1
        bins = np.arange(0, top + 5, 5)
        ax3.hist(data.trips, bins=bins, color="#bcbddc", edgecolor="#756bb1", linewidth=0.4,
                 label=f"trip minutes, one per group ({len(data.trips)})")
        if data.trip_expected:
            per_bin = np.zeros(len(bins) - 1)
            for m, n in data.trip_expected.items():
                i = min(int(m // 5), len(per_bin) - 1)
                per_bin[i] += n
            ax3.plot(bins[:-1] + 2.5, per_bin, color="#3f007d", linewidth=1.6, marker=".", markersize=3,
                     label="model: groups expected per 5 min")
        ax3.set_xlabel("trip duration (minutes)")
        ax3.set_ylabel("groups / 5 min")
        ax3.legend(loc="upper right", fontsize=8, frameon=False)
        ax3.grid(axis="y", linewidth=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def week_chart(series: dict[str, list[int]], first: date, path: str, title: str) -> str:
    """Arrivals per hour over a week, one panel per profile. ``series``: label -> 168 counts."""
    import numpy as np

    plt = _pyplot()
    fig, axes = plt.subplots(len(series), 1, figsize=(11, 2.6 * len(series) + 0.6), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    colors = ["#6baed6", "#fd8d3c", "#74c476", "#9e9ac8"]
    for ax, (label, counts), color in zip(axes, series.items(), colors):
        ax.bar(np.arange(len(counts)), counts, width=1.0, align="edge", color=color, edgecolor=color, linewidth=0)
        ax.set_ylabel("customers / hour")
        ax.set_title(label, fontsize=10, loc="left")
        ax.grid(axis="y", linewidth=0.3)
        for d in range(1, 7):
            ax.axvline(24 * d, color="#999999", linewidth=0.5)
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    axes[-1].set_xticks([24 * d + 12 for d in range(7)])
    axes[-1].set_xticklabels([f"{names[(first + timedelta(days=d)).weekday()]} {(first + timedelta(days=d)).day}" for d in range(7)])
    axes[-1].set_xlim(0, 168)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
