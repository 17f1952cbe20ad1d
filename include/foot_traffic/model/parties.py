"""Who comes in together: the size of each group passing the door.

A *group* is one arrival of the intensity: alone (size 1) with probability
``1 - share``, else a party whose size is drawn from ``sizes`` (2..5 by default). Members
of a party enter one after another, ``gap_min..gap_max`` whole seconds apart, stay the
same time and leave together, in the same order. Each member is a customer of their own
(own id, own records); the party shows in the records (``party_id``/``party_size`` in the
session JSON and an ``ft-party`` header, see records/events.py).

Sizes are independent of arrival times, so the groups' arrival instants are i.i.d. draws
from the intensity and the number of customers per group is i.i.d. from this mix; the day's
total is met exactly by cutting the last group to what is left.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class PartyMix:
    share: float  # probability that a group is a party (size >= 2)
    sizes: dict[int, float]  # party size -> probability among parties (sums to 1)
    gap_min: int = 1  # seconds between two members entering
    gap_max: int = 4

    def size_probabilities(self) -> dict[int, float]:
        """P(group size = k) for every k, solo included."""
        probs = {1: 1.0 - self.share}
        for size, p in self.sizes.items():
            probs[size] = probs.get(size, 0.0) + self.share * p
        return dict(sorted(probs.items()))

    @property
    def mean_group_size(self) -> float:
        return sum(k * p for k, p in self.size_probabilities().items())

    @property
    def max_size(self) -> int:
        return max([1, *self.sizes])

    def sizes_until(self, total: int, seed: int) -> Iterator[int]:
        """Group sizes drawn until they add up to ``total`` (the last one cut to fit)."""
        rng = random.Random(seed)
        rand = rng.random
        cumulative = []
        running = 0.0
        for size, p in sorted(self.sizes.items()):
            running += p
            cumulative.append((running, size))
        cumulative[-1] = (1.0, cumulative[-1][1])
        share = self.share
        left = total
        while left > 0:
            size = 1
            if share > 0 and rand() < share:
                u = rand()
                for edge, k in cumulative:
                    if u < edge:
                        size = k
                        break
            size = min(size, left)
            left -= size
            yield size

    def count_groups(self, total: int, seed: int) -> int:
        return sum(1 for _ in self.sizes_until(total, seed))


NO_PARTIES = PartyMix(share=0.0, sizes={2: 1.0})
