"""A day's visits with a seed-shaped profile: uniform entries over the open time of each
segment, streamed in entry order with O(1) memory.

Each segment's entry times are drawn as sorted uniform order statistics one at a time
(``next = 1 - (1 - prev) * U^(1/k)``) over its open seconds, then the visit's trip and
customer id; a closing cuts the trip to the whole minutes before closing + grace. (A
curve profile's visits come from ``model/arrivals.py``.)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

from foot_traffic.model.profile import DurationBand
from foot_traffic.model.visit import Visit


def uniform_visits(
    segments: Sequence, counts: Sequence[int], durations: Sequence[DurationBand], rng_seed: int
) -> Iterator[Visit]:
    """All visits of a day in entry order: ``counts[i]`` uniform entries over the open
    pieces ``(start, end, leave_by)`` of ``segments[i]``.

    The hot loop of every run (a 1,000,000-visit day must plan in <= 2 s): locals only,
    and the same draws in the same order as the plain version, so the same plan (see
    ``trip_and_customer``)."""
    rng = random.Random(rng_seed)
    rand = rng.random
    draw = trip_and_customer(rng, durations)
    new_visit = tuple.__new__  # Visit(...) without the namedtuple's Python-level __new__
    index = 0
    for seg_index, (segment, count) in enumerate(zip(segments, counts)):
        if not count:
            continue
        pieces = segment.pieces
        width = segment.open_seconds
        last = width - 1
        piece = 0
        p_start, p_end, leave_by = pieces[0]
        shift = p_start  # entry = shift + offset inside the current piece
        piece_end = p_end - p_start  # open seconds of the segment up to the current piece's end
        remaining_gap = 1.0  # 1 - (the previous order statistic)
        for k in range(count, 0, -1):
            remaining_gap *= rand() ** (1.0 / k)
            offset = int((1.0 - remaining_gap) * width)
            if offset > last:
                offset = last
            while offset >= piece_end:
                piece += 1
                p_start, p_end, leave_by = pieces[piece]
                shift = p_start - piece_end
                piece_end += p_end - p_start
            entry = shift + offset
            duration, customer = draw()
            if leave_by and entry + 60 * duration > leave_by:
                duration = (leave_by - entry) // 60
            yield new_visit(Visit, (index, customer, entry, duration, seg_index))
            index += 1


def trip_and_customer(rng: random.Random, durations: Sequence[DurationBand]) -> Callable[[], tuple[int, str]]:
    """The draws of a visit after its entry time, as one call of the visit loop: its trip
    length in whole minutes from the ``durations`` bands, then its customer id, a
    version-4 UUID text (RFC 4122 variant).

    The same draws in the same order as ``randint`` and ``uuid.UUID(int=...)`` would make,
    for the same plans: CPython's randint(a, b) is a + _randbelow(b - a + 1), which draws
    getrandbits(n.bit_length()) until the value is below n; inlined here."""
    rand, getrandbits = rng.random, rng.getrandbits
    # (cumulative probability, min minutes, number of possible minutes, its bit length)
    bands = []
    running = 0.0
    for band in durations:
        running += band.probability
        span = band.max_minutes - band.min_minutes + 1
        bands.append((running, band.min_minutes, span, span.bit_length()))
    bands[-1] = (1.0, *bands[-1][1:])  # no gap from float rounding
    keep = ~(0xF000 << 64) & ~(0xC000 << 48)  # version 4, RFC 4122 variant
    mark = (0x4000 << 64) | (0x8000 << 48)

    def draw() -> tuple[int, str]:
        u = rand()
        for edge, low, span, nbits in bands:
            if u < edge:
                break
        r = getrandbits(nbits)
        while r >= span:
            r = getrandbits(nbits)
        # 32 hex digits in groups of 4 ("xxxx-xxxx-...-xxxx"), regrouped 8-4-4-4-12.
        h = ((getrandbits(128) & keep) | mark).to_bytes(16, "big").hex("-", 2)
        return low + r, h[:4] + h[5:29] + h[30:34] + h[35:]

    return draw
