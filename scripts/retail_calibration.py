"""Print the retail profile (or another curve profile) next to the published figures.

    .venv/bin/python scripts/retail_calibration.py [PROFILE]

PROFILE: a built-in name or a profile file (default: retail). The figures are computed
from the model the way they were measured (foot_traffic.model.calibration); the sources are
cited in profiles/retail.yaml.
"""

from __future__ import annotations

import sys

from foot_traffic.model import calibration
from foot_traffic.model.profile import WEEKDAYS, load_profile


def main(argv: list[str]) -> int:
    profile = load_profile(argv[0] if argv else "retail")
    if profile.model is None:
        print(f"{profile.name} is not a curve profile: nothing to calibrate")
        return 2
    print(f"profile {profile.name} ({profile.digest()})")
    print(f"  {'source':10s} {'figure':78s} {'published':>9s} {'model':>8s}  ok")
    ok = True
    for target, value in calibration.report(profile):
        met = target.met_by(value)
        ok &= met
        bound = "<=" if target.upper_only else "+-"
        print(f"  {target.source:10s} {target.what:78s} {target.published:9.3f} {value:8.3f}  {'yes' if met else 'NO'} ({bound}{target.tolerance:g})")
    print("  share of shoppers in the store during each hour (ATUS measure), %:")
    w = profile.model.day_weight
    shares = {d: calibration.in_store_share_by_hour(profile, d) for d in WEEKDAYS}
    for label, days in (("weekday", WEEKDAYS[:5]), ("weekend", WEEKDAYS[5:])):
        row = calibration.averaged(shares, days, w)
        print(f"    {label}: " + " ".join(f"{h:02d}h {100 * v:4.1f}" for h, v in enumerate(row) if h >= 6))
    print(f"  arrivals 00:00-06:00: Monday {100 * calibration.night_share(profile, 'Monday'):.1f} %, "
          f"Saturday {100 * calibration.night_share(profile, 'Saturday'):.1f} %")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
