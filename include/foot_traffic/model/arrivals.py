"""A curve profile's day of visits: NHPP arrivals given the day's total, parties, dwell.

Given the day's total of customers, the groups passing the door (solo visitors and
parties, ``parties.py``) are counted first; their arrival instants are then i.i.d. with
density proportional to the intensity over the open time (``intensity.py``), which is
a non-homogeneous Poisson process conditioned on its count. They are generated already
sorted, one at a time, as uniform order statistics (``next = 1 - (1 - prev) * U^(1/k)``)
pushed through the inverse CDF of the piecewise-linear intensity, so memory stays O(1)
whatever the day's size (plus the members of the parties still to be released).

Party members enter ``gap`` seconds after one another (never past the end of the open
time), all stay the group's trip time (drawn from ``dwell.py`` at the group's arrival
hour) and leave in the same order; a store closing cuts each member's trip to
``leave_by``. Visits come out in entry order, numbered in that order.

Random streams (each its own seed, derived by the caller from seed, store and day):
``sizes`` (group sizes), ``arrivals`` (instants), ``gaps`` (member gaps), ``dwell``,
``ids`` (customer UUIDs). Only ``sizes`` and ``arrivals`` decide the slot counts, so a
counting pass (:func:`slot_counts`) need not draw the rest.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator

from foot_traffic.model.curve_profile import CurveModel
from foot_traffic.model.intensity import SECONDS_PER_DAY, DayIntensity
from foot_traffic.model.visit import PartyVisit

_UUID_KEEP = ~(0xF000 << 64) & ~(0xC000 << 48)  # UUID version 4, RFC 4122 variant
_UUID_MARK = (0x4000 << 64) | (0x8000 << 48)


def _uuid4(getrandbits) -> str:
    h = ((getrandbits(128) & _UUID_KEEP) | _UUID_MARK).to_bytes(16, "big").hex("-", 2)
    return h[:4] + h[5:29] + h[30:34] + h[35:]


def _groups(model: CurveModel, intensity: DayIntensity, total: int, seeds: Callable[[str], int]):
    """(arrival instant as float, its piece, group size) for every group, in time order."""
    if total <= 0 or intensity.total_mass <= 0:
        return
    mix = model.parties
    count = mix.count_groups(total, seeds("sizes"))
    sizes = mix.sizes_until(total, seeds("sizes"))
    rng = random.Random(seeds("arrivals"))
    rand = rng.random
    walk = intensity.quantiles()
    remaining_gap = 1.0
    for k in range(count, 0, -1):
        remaining_gap *= rand() ** (1.0 / k)
        instant, piece = walk(1.0 - remaining_gap)
        yield instant, piece, next(sizes)


def visits(
    model: CurveModel,
    intensity: DayIntensity,
    weekday: str,
    total: int,
    seeds: Callable[[str], int],
) -> Iterator[PartyVisit]:
    """All visits of the day in entry order (see the module doc)."""
    dwell = model.dwell
    gap_rng = random.Random(seeds("gaps"))
    dwell_rng = random.Random(seeds("dwell"))
    id_bits = random.Random(seeds("ids")).getrandbits
    gap_min, gap_max = model.parties.gap_min, model.parties.gap_max
    gap_span = gap_max - gap_min
    pending: list[tuple[int, int, str, int, int, str, int, int]] = []  # members not yet released
    order = 0
    index = 0
    push, pop = heapq.heappush, heapq.heappop
    for instant, piece, size in _groups(model, intensity, total, seeds):
        t0 = int(instant)
        if t0 >= piece.end:
            t0 = piece.end - 1
        while pending and pending[0][0] <= t0:
            entry, _, customer, minutes, slot, party, size_, pos = pop(pending)
            yield PartyVisit(index, customer, entry, minutes, slot, party, size_, pos)
            index += 1
        local = (piece.local0 + (t0 - piece.start)) % SECONDS_PER_DAY
        u = dwell_rng.random()
        minutes = dwell.draw(dwell.mu_at(weekday, local), u)
        leader = _uuid4(id_bits)
        entry = t0
        for pos in range(size):
            customer = leader if pos == 0 else _uuid4(id_bits)
            if pos:
                step = gap_min + (gap_rng.randint(0, gap_span) if gap_span else 0)
                entry = min(entry + step, piece.open_end - 1)
            where = piece if entry < piece.end else intensity.piece_at(entry) or piece
            trip = minutes
            if where.leave_by and entry + 60 * trip > where.leave_by:
                trip = max(0, (where.leave_by - entry) // 60)
            push(pending, (entry, order, customer, trip, where.slot, leader, size, pos))
            order += 1
    while pending:
        entry, _, customer, minutes, slot, party, size_, pos = pop(pending)
        yield PartyVisit(index, customer, entry, minutes, slot, party, size_, pos)
        index += 1


def slot_counts(
    model: CurveModel, intensity: DayIntensity, total: int, seeds: Callable[[str], int], slots: int
) -> tuple[int, ...]:
    """Customers entering per slot index: the same draws as :func:`visits` for sizes,
    arrival instants and gaps (which decide the slots), without trip times or ids."""
    counts = [0] * slots
    gap_rng = random.Random(seeds("gaps"))
    gap_min, gap_max = model.parties.gap_min, model.parties.gap_max
    gap_span = gap_max - gap_min
    for instant, piece, size in _groups(model, intensity, total, seeds):
        entry = int(instant)
        if entry >= piece.end:
            entry = piece.end - 1
        counts[piece.slot] += 1
        for _ in range(1, size):
            step = gap_min + (gap_rng.randint(0, gap_span) if gap_span else 0)
            entry = min(entry + step, piece.open_end - 1)
            where = piece if entry < piece.end else intensity.piece_at(entry) or piece
            counts[where.slot] += 1
    return tuple(counts)
