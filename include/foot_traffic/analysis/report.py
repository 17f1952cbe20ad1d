"""A validation's report: its checks (exact, statistical, informative), the data its
charts draw, and the family-wise level the statistical tests share (1 %, Bonferroni)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

ALPHA = 0.01
EXACT, TEST, INFO = "exact", "test", "info"


@dataclass
class Check:
    name: str
    kind: str  # exact | test | info
    statistic: str
    p_value: float | None = None
    passed: bool = True
    detail: str = ""


@dataclass
class DayData:
    """What the charts draw (all instants in epoch seconds)."""

    day: date
    title: str
    start: int
    end: int
    entries: list[int] = field(default_factory=list)  # every customer's entry (sessions)
    exits: list[int] = field(default_factory=list)
    sensor_in: list[int] = field(default_factory=list)  # JSON times of entry events
    sensor_out: list[int] = field(default_factory=list)
    share: Callable[[float, float], float] | None = None  # expected share of arrivals in [a, b)
    customers: int = 0
    trips: list[int] = field(default_factory=list)  # one trip (minutes) per group
    trip_expected: dict[int, float] = field(default_factory=dict)  # minutes -> expected groups


@dataclass
class DayReport:
    day: date
    store: str | None
    plan_id: str
    profile: str
    checks: list[Check]
    data: DayData | None = None
    family: int | None = None  # tests in the whole check (several store-days), None: this day's

    @property
    def tests(self) -> list[Check]:
        return [c for c in self.checks if c.kind == TEST]

    @property
    def level(self) -> float:
        """The per-test level: 1 % shared out over the tests of the check (Bonferroni)."""
        return ALPHA / max(1, self.family or len(self.tests))

    def judge(self) -> None:
        """Set each test's verdict at :attr:`level`."""
        for c in self.checks:
            if c.kind == TEST:
                c.passed = c.p_value is not None and c.p_value >= self.level

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def table(self) -> str:
        head = f"{self.day}{' ' + self.store if self.store else ''}: profile {self.profile}, plan {self.plan_id}"
        rows = [("check", "statistic", "p-value", "verdict")]
        for c in self.checks:
            p = "" if c.p_value is None else (f"{c.p_value:.3g}" if c.p_value >= 1e-4 else f"{c.p_value:.1e}")
            verdict = "info" if c.kind == INFO else ("pass" if c.passed else "FAIL")
            rows.append((c.name, c.statistic, p, verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [head]
        for i, r in enumerate(rows):
            lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
            if i == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        for c in self.checks:
            if c.detail and (not c.passed or c.kind == INFO):
                lines.append(f"  {c.name}: {c.detail}")
        n = len(self.tests)
        family = self.family or n
        lines.append(
            f"  {'PASS' if self.passed else 'FAIL'}: {sum(c.passed for c in self.checks if c.kind != INFO)} of "
            f"{sum(c.kind != INFO for c in self.checks)} checks pass ({n} statistical tests, each at "
            f"{self.level:.2g} = 1 % / {family}; exact checks must hold)"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "store": self.store,
            "plan_id": self.plan_id,
            "profile": self.profile,
            "passed": self.passed,
            "level_per_test": self.level,
            "family_level": ALPHA,
            "checks": [
                {
                    "name": c.name, "kind": c.kind, "statistic": c.statistic, "p_value": c.p_value,
                    "passed": c.passed, "detail": c.detail,
                }
                for c in self.checks
            ],
        }


def apply_family_level(reports: list[DayReport]) -> None:
    """Share the 1 % over every test of several store-days, so the whole check fails a
    correct chain with probability <= 1 %."""
    family = sum(len(r.tests) for r in reports)
    for r in reports:
        r.family = family
        r.judge()
