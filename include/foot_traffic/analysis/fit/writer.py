"""Write a fit as a curve profile (the ``retail.yaml`` format), checked by the project's loader.

The file is written by hand (comments say where each figure came from) and parsed back
with :func:`foot_traffic.model.profile.profile_from_dict` before it replaces anything, so a
profile that the producer would refuse is never written. The fit's source and figures
go in the profile's ``sources`` list (documentation the engine does not read): the file's
name and sha256, the days used and left out, and the goodness of fit.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from foot_traffic import __version__
from foot_traffic.analysis.fit.estimate import GROUP_OF, Fit
from foot_traffic.model.profile import WEEKDAYS, Profile, profile_from_dict


def _hhmm(second: int) -> str:
    return f"{second // 3600:02d}:{second % 3600 // 60:02d}"


def _num(value: float, places: int = 4) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _flow_curve(knots: tuple[int, ...], values: tuple[float, ...], indent: int, per_line: int = 6) -> str:
    items = [f'"{_hhmm(k)}": {_num(v)}' for k, v in zip(knots, values)]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    pad = " " * indent
    return "{" + f",\n{pad} ".join(lines) + "}"


def _q(text: str) -> str:
    """A YAML double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def summary(fit: Fit) -> dict[str, Any]:
    """The fit's figures as plain data: for the profile's ``sources`` entry and ``--json``."""
    c = fit.counts
    used = fit.days_used
    outliers = [d for d, _ in fit.outliers] if not fit.options.keep_outliers else []
    return {
        "file": c.source,
        "sha256": c.sha256,
        "format": c.format,
        "bin_minutes": c.bin_seconds // 60,
        "timezone": c.timezone,
        "days_used": len(used),
        "first_day": str(min(used)),
        "last_day": str(max(used)),
        "excluded_on_request": [str(d) for d in c.excluded],
        "excluded_outliers": [
            {"day": str(d), "weekday": WEEKDAYS[d.weekday()], "robust_z": round(z, 1)} for d, z in fit.outliers
        ] if outliers else [],
        "kept_outliers": [str(d) for d, _ in fit.outliers] if fit.options.keep_outliers else [],
        "dropped_partial": [{"day": str(d), "why": why} for d, why in c.dropped],
        "mean_daily_arrivals": round(fit.level, 1),
        "weekdays": {
            w.weekday: {
                "days": w.days,
                "mean_arrivals": None if math.isnan(w.mean_total) else round(w.mean_total, 1),
                "sd_arrivals": None if math.isnan(w.sd_total) else round(w.sd_total, 1),
                "weight_from": w.total_from,
                "factor": round(w.factor, 4),
                "curve": w.curve,
                "hourly_share_mae_pp": None if math.isnan(w.hourly_mae_pp) else round(w.hourly_mae_pp, 2),
                "hourly_share_max_pp": None if math.isnan(w.hourly_max_pp) else round(w.hourly_max_pp, 2),
                "hourly_r2": None if math.isnan(w.hourly_r2) else round(w.hourly_r2, 3),
                "chi2": None if math.isnan(w.chi2) else round(w.chi2, 1),
                "chi2_dof": w.chi2_dof,
            }
            for w in fit.weekdays.values()
        },
        "curves": {
            k: {
                "days": cf.days, "arrivals": cf.arrivals, "kernel_sd_bins": cf.bandwidth_bins,
                "heldout_hourly_mae_pp": None if cf.heldout_mae_pp is None else round(cf.heldout_mae_pp, 2),
            }
            for k, cf in fit.curves.items()
        },
        "hourly_share_mae_pp": round(fit.hourly_mae_pp, 2),
        "weekday_index_max_error": round(fit.weekday_index_max_err, 4),
        "variation": {
            g: {"days": fit.variation.days[g], "cv": round(fit.variation.cv[g], 3), "pct": round(fit.variation.pct[g], 3),
                "capped": g in fit.variation.capped}
            for g in fit.variation.cv
        },
        "dwell": {
            "sigma": fit.dwell.sigma,
            "min_minutes": fit.dwell.min_minutes,
            "max_minutes": fit.dwell.max_minutes,
            "reset": _hhmm(fit.dwell.reset_second),
            "groups": {
                g: {
                    "little_mean_minutes": round(fit.dwell.mean_minutes[g], 1),
                    "lognormal_mean_minutes": round(fit.dwell.untruncated_mean[g], 1),
                    "ins_per_out": round(fit.dwell.balance[g], 3),
                    "days": fit.dwell.windows[g],
                    "occupancy_mae_pct_of_peak": round(fit.dwell.occupancy_mae_pct[g], 1),
                }
                for g in fit.dwell.mean_minutes
            },
            "clamped_persons_per_day": round(fit.dwell.clamped_persons, 2),
        },
        "notes": list(fit.notes),
    }


def profile_text(fit: Fit, name: str) -> str:
    """The profile file's text."""
    c = fit.counts
    s = summary(fit)
    d = fit.dwell
    level = round(fit.level)
    src = Path(c.source).name
    zone = c.timezone or "the file's own clock (no --timezone)"
    out: list[str] = []
    add = out.append
    add(f"# A store profile fitted from door counts by `foot-traffic fit` (foot-traffic {__version__}).")
    add(f"# Source: {src} (sha256 {c.sha256[:16]}...), {c.format} format, {c.bin_seconds // 60}-minute bins, "
        f"times: {zone}.")
    add(f"# Days: {s['days_used']} used ({s['first_day']} to {s['last_day']}), {len(c.excluded)} excluded on request, "
        f"{len(s['excluded_outliers'])} outlier(s) left out, {len(c.dropped)} partial day(s) dropped.")
    add(f"# Goodness of fit: hourly shares off by {s['hourly_share_mae_pp']} percentage points on average "
        f"(mean absolute error over the weekdays), weekday totals within {100 * fit.weekday_index_max_err:.1f} %;")
    add("# per weekday and per curve in the `sources` entry at the end.")
    add("#")
    add(f"# Volume: this door saw {fit.level:.1f} arrivals on an average day. Weights are the mean arrivals per")
    add("# weekday, so to play the store at its own volume set BASE_DAILY_CUSTOMERS to their mean:")
    add(f"#   FOOT_TRAFFIC_PROFILE={name}.yaml BASE_DAILY_CUSTOMERS={level} foot-traffic produce")
    add("# Times are the store's local clock; without a store catalogue the producer plays them as UTC.")
    add(f"name: {name}")
    add("time_slots: hourly")
    add("")
    add("# Arrival curves: relative rate (1 = the day's average) at the centre of each bin, linear in")
    add("# between: the mean share of arrivals per bin, smoothed by a Gaussian kernel whose width was")
    add("# chosen by cross-validation over alternate weeks, each bin keeping its smoothed share exactly.")
    add("curves:")
    for key, cf in fit.curves.items():
        add(f"  # {key}: {cf.days} days, {cf.arrivals} arrivals, kernel sd {cf.bandwidth_bins:g} bin(s)"
            + (f", held-out hourly error {cf.heldout_mae_pp:.2f} pp" if cf.heldout_mae_pp is not None else ""))
        head = f"  {key}: "
        add(head + _flow_curve(cf.knots, cf.values, len(head)))
    add("")
    add("# Each weekday: weight = its mean arrivals (weekday factor = weight / mean weight), its curve,")
    add("# its mean trip (the log-normal's mean before truncation, so that the truncated mean is the")
    add("# one Little's law gave) and its day-to-day variation: the total is the mean x U[1-p, 1+p],")
    add("# p = sqrt(3) x the coefficient of variation of its group's daily totals (same spread).")
    add("days:")
    for w in WEEKDAYS:
        wf = fit.weekdays[w]
        group = GROUP_OF[w]
        pct = fit.variation.pct.get(group, fit.variation.pooled_pct)
        dwell_mean = d.untruncated_mean.get(group) or next(iter(d.untruncated_mean.values()))
        dwell_mean = min(max(dwell_mean, d.min_minutes), d.max_minutes)
        note = (f"{wf.days} days, mean {wf.mean_total:.1f} sd {wf.sd_total:.1f}" if wf.days else "no days")
        if wf.total_from != "own":
            note += f"; weight from the {wf.total_from} group"
        add(f"  {w}:{' ' * (10 - len(w))}{{weight: {_num(wf.used_total, 3)}, curve: {wf.curve}, "
            f"dwell_mean_minutes: {dwell_mean:.1f}, variation_pct: {_num(pct, 3)}}}  # {note}")
    add("")
    add("# Trip time from the in/out lag: occupancy = cumulative ins - outs from the night's quietest")
    add(f"# time ({_hhmm(d.reset_second)}), outs scaled so each day balances, clamped at 0; Little's law")
    add("# (occupancy = arrival rate x mean trip) gives the mean trip: "
        + ", ".join(f"{g} {m:.1f} min" for g, m in d.mean_minutes.items()) + ".")
    add("# sigma: the log-normal spread whose predicted occupancy is closest to the observed one.")
    add(f"# Truncated at {fit.options.max_trip_factor:g}x the longest mean. No hour dependence is fitted (flat).")
    add("dwell:")
    add("  distribution: lognormal")
    add(f"  sigma: {_num(d.sigma, 2)}")
    add(f"  min_minutes: {d.min_minutes}")
    add(f"  max_minutes: {d.max_minutes}")
    add("")
    add("# No parties: door counts per bin cannot tell who came in together.")
    add("")
    add("# Where the figures come from (documentation; the engine does not read this).")
    add("sources:")
    add("  - id: door-counts")
    add(f"    cite: {_q(f'door counts {src}, fitted by foot-traffic fit {__version__}')}")
    add(f"    file: {_q(c.source)}")
    add(f"    sha256: {c.sha256}")
    add("    took:")
    for line in (
        f"weights: mean arrivals (ins) per weekday over {s['days_used']} days",
        "curves: mean share of arrivals per bin, kernel-smoothed (width by cross-validation)",
        "variation_pct: sqrt(3) x coefficient of variation of daily totals / their weekday's mean, per group",
        "dwell: Little's law on occupancy (cumulative ins - scaled outs); sigma by the occupancy curve",
    ):
        add(f"      - {_q(line)}")
    fit_yaml = yaml.safe_dump({"fit": {k: v for k, v in s.items() if k not in ("file", "sha256")}},
                              sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    for line in fit_yaml.rstrip("\n").splitlines():
        add("    " + line)
    return "\n".join(out) + "\n"


def check_profile(text: str, source: str) -> Profile:
    """Parse ``text`` with the project's loader, as FOOT_TRAFFIC_PROFILE would."""
    return profile_from_dict(yaml.safe_load(text), source)


def write_profile(fit: Fit, path: str | Path, name: str | None = None) -> Profile:
    """Write the profile to ``path`` (atomically) after the loader has accepted it."""
    path = Path(path)
    name = name or path.stem
    text = profile_text(fit, name)
    profile = check_profile(text, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return profile
