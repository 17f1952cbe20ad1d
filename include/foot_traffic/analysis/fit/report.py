"""The fit's quality as a person reads it at a terminal (``foot-traffic fit`` prints it)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import IO

from foot_traffic.analysis.fit.estimate import GROUPS, Fit
from foot_traffic.analysis.fit.roundtrip import RoundTrip
from foot_traffic.model.profile import WEEKDAYS


def _f(value: float, fmt: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def print_report(fit: Fit, out: Path, stream: IO[str], round_trip: RoundTrip | None = None, chart: Path | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, width=120, highlight=False, soft_wrap=True)  # commands stay copyable
    c = fit.counts
    console.print(
        f"[bold]{Path(c.source).name}[/]: {c.format}, {c.bin_seconds // 60}-minute bins, "
        f"{c.timezone or 'times as given (no --timezone)'}; {len(fit.days_used)} days used "
        f"({min(fit.days_used)} to {max(fit.days_used)})"
    )
    if c.excluded:
        console.print(f"  excluded on request: {len(c.excluded)} day(s)")
    for d, z in fit.outliers:
        what = "kept (--keep-outliers)" if fit.options.keep_outliers else "left out"
        console.print(f"  outlier {what}: {d} ({WEEKDAYS[d.weekday()]}), robust z {z:+.1f}")
    for d, why in c.dropped:
        console.print(f"  dropped: {d}: {why}")

    table = Table(show_edge=False, pad_edge=False, title=None)
    for name, justify in (
        ("weekday", "left"), ("days", "right"), ("mean", "right"), ("sd", "right"), ("weight", "right"),
        ("factor", "right"), ("curve", "left"), ("hourly MAE pp", "right"), ("max pp", "right"), ("R²", "right"),
        ("χ²/dof", "right"),
    ):
        table.add_column(name, justify=justify)
    for w in WEEKDAYS:
        wf = fit.weekdays[w]
        table.add_row(
            w, str(wf.days), _f(wf.mean_total, ".1f"), _f(wf.sd_total, ".1f"),
            f"{wf.used_total:.1f}" + ("" if wf.total_from == "own" else f" ({wf.total_from})"),
            f"{wf.factor:.3f}", wf.curve, _f(wf.hourly_mae_pp, ".2f"), _f(wf.hourly_max_pp, ".2f"),
            _f(wf.hourly_r2, ".3f"), _f(wf.chi2 / wf.chi2_dof if wf.chi2_dof else float("nan"), ".2f"),
        )
    console.print(table)
    for cf in fit.curves.values():
        console.print(
            f"  curve {cf.key}: {cf.days} days, {cf.arrivals} arrivals, kernel sd {cf.bandwidth_bins:g} bin(s)"
            + (f", held-out hourly MAE {cf.heldout_mae_pp:.2f} pp" if cf.heldout_mae_pp is not None else "")
        )
    v = fit.variation
    for g in v.cv:
        console.print(
            f"  variation {g}: CV of daily totals {v.cv[g]:.3f} ({v.days[g]} days) -> variation_pct {v.pct[g]:.3f}"
            + (" (capped)" if g in v.capped else "")
        )
    d = fit.dwell
    for g in GROUPS:
        if g in d.mean_minutes:
            console.print(
                f"  dwell {g}: {d.mean_minutes[g]:.1f} min by Little's law over {d.windows[g]} days "
                f"({d.balance[g]:.2f} ins per out; occupancy model MAE {d.occupancy_mae_pct[g]:.1f} % of peak)"
            )
    console.print(
        f"  dwell law: log-normal sigma {d.sigma:g}, truncated to {d.min_minutes}-{d.max_minutes} min; "
        f"occupancy reset at {d.reset_second // 3600:02d}:{d.reset_second % 3600 // 60:02d}"
    )
    for note in fit.notes:
        console.print(f"  [yellow]note[/]: {note}")
    if round_trip is not None:
        _round_trip_table(console, round_trip)
    console.print(f"wrote [bold]{out}[/]" + (f" and {chart}" if chart else ""))
    console.print(
        f"play it: FOOT_TRAFFIC_PROFILE={out} BASE_DAILY_CUSTOMERS={max(1, round(fit.level))} foot-traffic produce"
    )


def _round_trip_table(console, rt: RoundTrip) -> None:
    from rich.table import Table

    tol = rt.tolerances
    console.print(
        f"[bold]round trip[/]: {rt.weeks} simulated weeks from the written profile ({rt.visits} visits, "
        f"seed {rt.seed}, BASE_DAILY_CUSTOMERS {rt.baseline}) against the counts"
    )
    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (("check", "left"), ("counts", "right"), ("generated", "right"), ("error", "right"),
                          ("tolerance", "right"), ("", "left")):
        table.add_column(name, justify=justify)

    def row(check, observed, generated, error, limit, ok):
        table.add_row(check, observed, generated, error, limit, "[green]ok[/]" if ok else "[red]outside[/]")

    for w, (o, g) in rt.weekday_index.items():
        e = rt.index_error(w)
        row(f"weekday index {w}", f"{o:.3f}", f"{g:.3f}", f"{e:.1%}", f"{tol.weekday_index:.0%}", e <= tol.weekday_index)
    for k, c in rt.curves.items():
        limit = tol.thin_hourly_mae_pp if c.thin else tol.hourly_mae_pp
        row(f"hourly shares {k}: MAE", "", "", f"{c.mae_pp:.2f} pp", f"{limit} pp", c.mae_pp <= limit)
        if not c.thin:
            row(f"hourly shares {k}: max", "", "", f"{c.max_pp:.2f} pp", f"{tol.hourly_max_pp} pp", c.max_pp <= tol.hourly_max_pp)
    for g, (o, gen) in rt.variation.items():
        row(f"CV of daily totals, {g}", f"{o:.3f}", f"{gen:.3f}", f"{abs(gen - o):.3f}", f"±{tol.variation_cv}",
            abs(gen - o) <= tol.variation_cv)
    for g, (o, gen, _) in rt.dwell_mean.items():
        z = rt.dwell_z(g)
        row(f"mean trip {g} (min)", f"{o:.1f}", f"{gen:.1f}", f"z {z:+.1f}", f"|z| {tol.dwell_z}", abs(z) <= tol.dwell_z)
    for g in rt.occupancy:
        limit = tol.thin_occupancy_mae_pct if g in rt.thin_groups else tol.occupancy_mae_pct
        e = rt.occupancy_mae_pct(g)
        row(f"occupancy {g}: MAE of peak", "", "", f"{e:.1f} %", f"{limit} %", e <= limit)
    console.print(table)
    failures = rt.failures()
    if failures:
        console.print(f"  [red]{len(failures)} figure(s) outside their tolerance[/]: the profile was written; "
                      "see the notes above for why the counts may be hard to fit")
    else:
        console.print("  every figure within its tolerance (docs/fit.md: Round trip)")
