"""``foot-traffic fit --chart``: observed door counts against the fitted model, as one PNG.

Panels: mean arrivals per weekday (observed, with the days' spread, and the profile's),
daily totals over the data's span (days used, left out as outliers, excluded on request),
one panel per intraday curve (observed share per bin against the fitted curve, and the
generated days when a round trip was run), and the occupancy over the day per group
(observed from cumulative ins - outs, the model's, and the generated days').
matplotlib with the Agg backend: no display needed.
"""

from __future__ import annotations

import math
from pathlib import Path

from foot_traffic.analysis.fit.curves import aggregate
from foot_traffic.analysis.fit.estimate import GROUPS, Fit
from foot_traffic.analysis.fit.roundtrip import RoundTrip
from foot_traffic.model.profile import WEEKDAYS

OBSERVED, FITTED, GENERATED, MUTED = "#1f77b4", "#d62728", "#2ca02c", "#999999"


def draw(fit: Fit, path: str | Path, round_trip: RoundTrip | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.gridspec import GridSpec

    path = Path(path)
    curves = list(fit.curves.values())
    ncols = 3
    curve_rows = math.ceil(len(curves) / ncols)
    height = 4.2 * (2 + curve_rows)
    fig = plt.figure(figsize=(15, height), dpi=100)
    grid = GridSpec(2 + curve_rows, ncols * 2, figure=fig, hspace=0.55, wspace=0.6, top=1 - 0.8 / height)
    c = fit.counts
    fig.suptitle(
        f"foot-traffic fit: {Path(c.source).name} ({c.format}, {c.bin_seconds // 60}-min bins) — "
        f"{len(fit.days_used)} days used, {len(c.excluded)} excluded, "
        f"{len(fit.outliers) if not fit.options.keep_outliers else 0} outliers left out; "
        f"hourly shares MAE {fit.hourly_mae_pp:.2f} pp",
        fontsize=13, y=1 - 0.25 / height,
    )

    # weekday totals
    ax = fig.add_subplot(grid[0, 0:3])
    xs = range(7)
    obs = [0.0 if math.isnan(fit.weekdays[w].mean_total) else fit.weekdays[w].mean_total for w in WEEKDAYS]
    sds = [0.0 if math.isnan(fit.weekdays[w].sd_total) else fit.weekdays[w].sd_total for w in WEEKDAYS]
    ax.bar(xs, obs, yerr=sds, color=OBSERVED, alpha=0.6, capsize=3, label="observed mean ± sd")
    ax.plot(xs, [fit.weekdays[w].used_total for w in WEEKDAYS], "D", color=FITTED, label="profile (weight)")
    if round_trip is not None:
        gen_level = fit.level
        ax.plot(
            [i for i, w in enumerate(WEEKDAYS) if w in round_trip.weekday_index],
            [round_trip.weekday_index[w][1] * gen_level for w in WEEKDAYS if w in round_trip.weekday_index],
            "x", color=GENERATED, markersize=9, label="generated (index x level)",
        )
    ax.set_xticks(list(xs), [w[:3] for w in WEEKDAYS])
    ax.set_ylabel("arrivals per day")
    ax.set_title("Weekday totals")
    ax.legend(fontsize=8)

    # daily totals over time
    ax = fig.add_subplot(grid[0, 3:6])
    used = set(fit.days_used)
    outliers = {d for d, _ in fit.outliers}
    days = sorted(c.days, key=lambda d: d.day)
    ax.plot([d.day for d in days if d.day in used], [d.total_in for d in days if d.day in used], ".", color=OBSERVED,
            label="day used")
    if outliers:
        marked = [d for d in days if d.day in outliers]
        ax.plot([d.day for d in marked], [d.total_in for d in marked], "o", mfc="none", color=FITTED,
                label="outlier " + ("(kept)" if fit.options.keep_outliers else "(left out)"))
    for d in c.excluded:
        ax.axvline(d, color=MUTED, lw=0.6, alpha=0.6)
    if c.excluded:
        ax.plot([], [], color=MUTED, lw=0.6, label="excluded on request")
    ax.set_ylabel("arrivals (ins)")
    ax.set_title("Daily totals")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=25)

    # curves
    bin_h = c.bin_seconds / 3600.0
    for k, cf in enumerate(curves):
        row, col = 1 + k // ncols, (k % ncols) * 2
        ax = fig.add_subplot(grid[row, col:col + 2])
        n = len(cf.observed_share)
        centres = [(i + 0.5) * bin_h for i in range(n)]
        ax.bar(centres, [s * n for s in cf.observed_share], width=bin_h * 0.9, color=OBSERVED, alpha=0.45,
               label="observed")
        ax.plot([t / 3600 for t in cf.knots], cf.values, color=FITTED, lw=2, label="fitted curve")
        if round_trip is not None and cf.key in round_trip.curves:
            gen = round_trip.curves[cf.key].generated
            per_h = fit.report_seconds / 3600.0
            m = len(gen)
            ax.step([i * per_h for i in range(m + 1)], [g * m for g in gen] + [gen[-1] * m], where="post",
                    color=GENERATED, lw=1, label="generated (per hour)")
        weekdays = cf.weekdays if cf.key in GROUPS else ()
        who = f" ({', '.join(w[:3] for w in weekdays)})" if weekdays else ""
        per = fit.report_seconds // c.bin_seconds
        observed_h, fitted_h = aggregate(cf.observed_share, per), aggregate(cf.fitted_share, per)
        mae = 100 * sum(abs(a - b) for a, b in zip(observed_h, fitted_h)) / len(observed_h)
        ax.set_title(f"{cf.key}{who}: {cf.days} days, {cf.arrivals} arrivals; hourly MAE {mae:.2f} pp", fontsize=10)
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 3))
        ax.set_xlabel("local time (h)")
        ax.set_ylabel("rate (1 = day's mean)")
        if k == 0:
            ax.legend(fontsize=8)

    # occupancy per group
    d = fit.dwell
    groups = [g for g in GROUPS if g in d.observed_occupancy]
    for k, group in enumerate(groups[:2]):
        ax = fig.add_subplot(grid[1 + curve_rows, k * 3:(k + 1) * 3])
        observed = d.observed_occupancy[group]
        hours = [(d.reset_second + j * c.bin_seconds) / 3600.0 for j in range(len(observed))]
        ax.plot(hours, observed, "o-", ms=3, color=OBSERVED, label="observed (cumulative ins - scaled outs)")
        ax.plot(hours, d.fitted_occupancy[group], color=FITTED, lw=2,
                label=f"model: log-normal mean {d.mean_minutes[group]:.0f} min, sigma {d.sigma:g}")
        if round_trip is not None and group in round_trip.occupancy:
            ax.plot(hours, round_trip.occupancy[group][1], "--", color=GENERATED, label="generated days")
        ax.set_title(f"Occupancy, {group}: {d.windows[group]} days, {d.balance[group]:.2f} ins per out; "
                     f"MAE {d.occupancy_mae_pct[group]:.1f} % of peak", fontsize=10)
        ticks = [h for h in range(0, 49, 3) if hours[0] <= h <= hours[-1]]
        ax.set_xticks(ticks, [f"{h % 24:02d}" for h in ticks])
        ax.set_xlabel("local time (h), from the night's reset")
        ax.set_ylabel("people inside")
        ax.legend(fontsize=8)

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
