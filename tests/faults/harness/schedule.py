"""A fault schedule: a workload and a sequence of phases, drawn from one seed.

Every schedule is reproducible from the seed it prints (``draw(seed)``) and is plain JSON
(``Schedule.to_json`` / ``from_json``), so a failing one can be kept as a named regression
(``tests/faults/regressions/*.json``) that no later change of ``draw`` can alter.

A phase is what an operator does at one moment: one run (or two at once) of some days,
possibly killed or stopped at a random moment, possibly with a broker fault during it.
After the drawn phases, closing runs finish every day (see ``execute``), so the final
check can require every planned record exactly once.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

# What a phase's producer run can suffer (besides running to its end).
PRODUCER_FAULTS = ("sigkill", "sigterm")
# Broker faults: a clean restart and a stall are survived by any real cluster; a SIGKILL of
# the embedded broker loses what it acknowledged since its last snapshot (no replicated
# Kafka does): a data-losing fault, marked as such in the ledger and judged apart.
BROKER_FAULTS = ("restart", "stall", "kill")
DATA_LOSING = {"kill"}


@dataclass
class Run:
    """One ``foot-traffic produce`` of ``days`` days from ``first`` (a shard: one of the chain's
    shard files, None: every store / the one store)."""

    first: str
    days: int
    shard: int | None = None
    signal: str | None = None  # "sigkill" | "sigterm" after ``after`` seconds
    after: float = 0.0


@dataclass
class Phase:
    kind: str  # what the phase tests (for the ledger): run, kill, term, retry, rerun, concurrent
    runs: list[Run]
    broker: str | None = None  # a broker fault during the phase
    broker_after: float = 0.0
    stall_seconds: float = 0.0
    backfill: bool = False  # the first run of days older than days already written


@dataclass
class Workload:
    chain: bool
    client: str  # kafka-python | confluent
    seed: int  # the producer's SEED
    customers: int  # DAILY_CUSTOMERS (one store) or the stores' base (chain)
    paced: bool  # a paced stream from the day's midnight at ``time_scale``, else full speed
    time_scale: float
    stores: int = 0  # chain: stores in the catalogue
    shards: int = 1  # chain: shard files the stores are cut into
    days: list[tuple[str, int]] = field(default_factory=list)  # day ranges the phases use


@dataclass
class Schedule:
    seed: int
    workload: Workload
    phases: list[Phase]

    @property
    def faults(self) -> dict[str, int]:
        """Faults by kind (producer signals, broker faults, concurrent runs, backfills)."""
        out: dict[str, int] = {}
        for phase in self.phases:
            for run in phase.runs:
                if run.signal:
                    out[run.signal] = out.get(run.signal, 0) + 1
            if phase.broker:
                out[f"broker_{phase.broker}"] = out.get(f"broker_{phase.broker}", 0) + 1
            if phase.kind in ("concurrent", "retry", "rerun"):
                out[phase.kind] = out.get(phase.kind, 0) + 1
            if phase.backfill:
                out["backfill_after_later_days"] = out.get("backfill_after_later_days", 0) + 1
        return out

    @property
    def data_losing(self) -> bool:
        return any(p.broker in DATA_LOSING for p in self.phases)

    def describe(self) -> str:
        w = self.workload
        what = f"chain of {w.stores} stores in {w.shards} shard(s)" if w.chain else "one store"
        pace = f"paced at TIME_SCALE {w.time_scale:g}" if w.paced else "full speed"
        steps = []
        for p in self.phases:
            runs = " + ".join(
                f"{r.first}+{r.days}d" + (f"/shard{r.shard}" if r.shard is not None else "")
                + (f" {r.signal}@{r.after:.1f}s" if r.signal else "") for r in p.runs
            )
            broker = f" broker {p.broker}@{p.broker_after:.1f}s" if p.broker else ""
            steps.append(f"{'backfill:' if p.backfill else ''}{p.kind}[{runs}{broker}]")
        return f"seed {self.seed}: {what}, {w.client}, {pace}, SEED={w.seed}: " + " -> ".join(steps)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        doc = json.loads(text)
        workload = Workload(**{**doc["workload"], "days": [tuple(d) for d in doc["workload"]["days"]]})
        phases = [Phase(**{**p, "runs": [Run(**r) for r in p["runs"]]}) for p in doc["phases"]]
        return cls(doc["seed"], workload, phases)


def draw(
    seed: int, *, clients: tuple[str, ...] = ("kafka-python", "confluent"), max_phases: int = 4, scale: float = 1.0
) -> Schedule:
    """The schedule of ``seed``: a workload and 1..``max_phases`` phases; ``scale`` shrinks
    the days (``make test``'s bounded set runs smaller days than ``make soak``)."""
    rng = random.Random(seed)
    chain = rng.random() < 0.4
    paced = rng.random() < 0.3
    workload = Workload(
        chain=chain,
        client=rng.choice(clients),
        seed=rng.randrange(1, 10_000),
        customers=max(20, round(scale * (rng.randrange(150, 450) if chain else rng.randrange(1_500, 6_000)))),
        paced=paced,
        time_scale=rng.choice((15_000.0, 25_000.0)) if paced else 1.0,
        stores=rng.randrange(3, 7) if chain else 0,
    )
    if chain:
        workload.shards = rng.choice((1, 2, 2, 3))
    base = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 300))
    main = (base.isoformat(), 1 if paced else rng.choice((1, 1, 2, 3)))
    later = ((base + timedelta(days=20)).isoformat(), 1 if paced else rng.choice((1, 2)))
    workload.days = [main]
    phases: list[Phase] = []
    if rng.random() < 0.25:  # live days first, then a backfill of history
        workload.days.append(later)
        phases.append(Phase("run", _runs(rng, workload, later, all_shards=True)))
    for n in range(rng.randrange(1, max_phases + 1)):
        phase = _phase(rng, workload, main)
        phase.backfill = n == 0 and len(workload.days) > 1
        phases.append(phase)
    return Schedule(seed, workload, phases)


def _runs(rng: random.Random, w: Workload, days: tuple[str, int], *, all_shards: bool = False) -> list[Run]:
    """One run per shard (all of them, or one drawn) of ``days``."""
    if not w.chain or w.shards == 1:
        return [Run(days[0], days[1], 0 if w.chain else None)]
    if all_shards:
        return [Run(days[0], days[1], s) for s in range(w.shards)]
    return [Run(days[0], days[1], rng.randrange(w.shards))]


def _phase(rng: random.Random, w: Workload, days: tuple[str, int]) -> Phase:
    kind = rng.choices(
        ("kill", "term", "retry", "rerun", "concurrent", "broker"),
        weights=(3, 1, 2, 1, 2, 3),
    )[0]
    runs = _runs(rng, w, days, all_shards=rng.random() < 0.5)
    phase = Phase(kind, runs)
    # The moment of a fault: a producer takes ~1.5 s to start, a day at full speed a few seconds.
    window = 6.0 if w.paced else 4.0
    if kind in ("kill", "term"):
        victim = rng.choice(runs)
        victim.signal = "sigkill" if kind == "kill" else "sigterm"
        victim.after = round(rng.uniform(1.0, window), 2)
    elif kind == "concurrent":
        twin = Run(runs[0].first, runs[0].days, runs[0].shard)
        if w.chain and w.shards > 1 and rng.random() < 0.5:
            twin.shard = rng.randrange(w.shards)  # two shards at once, or a shard and its retry
        phase.runs = [*runs, twin]
    if kind == "broker" or rng.random() < 0.25:
        phase.broker = rng.choices(BROKER_FAULTS, weights=(4, 3, 1))[0]
        phase.broker_after = round(rng.uniform(1.0, window), 2)
        phase.stall_seconds = round(rng.uniform(2.0, 8.0), 1) if phase.broker == "stall" else 0.0
        if phase.kind == "broker":
            phase.kind = "run"
    return phase
