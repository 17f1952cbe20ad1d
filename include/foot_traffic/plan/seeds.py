"""Seeds: one derivation for every random stream of every plan, and a run's random seed.

Every draw of a plan comes from a stream seeded by (seed, day, stream name) and the store:
different days, stores or streams never correlate, and a store's records depend on no
other store. The implicit store (no catalogue) keeps the derivation of the first
producer (``v1``), a catalogue store its own (``s1``): same seeds, same plans, as ever.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import date

PLAN_VERSION = "v1"  # the implicit store's streams and plan ids
STORE_PLAN_VERSION = "s1"  # a catalogue store's


def derive_seed(seed: int, day: date, stream: str, store_id: str | None = None) -> int:
    """An independent 128-bit seed per (seed, day, stream) of the implicit store (``store_id``
    None) or of the catalogue store ``store_id``."""
    if store_id is None:
        text = f"foot-traffic/{PLAN_VERSION}/{seed}/{day.isoformat()}/{stream}"
    else:
        text = f"foot-traffic/{STORE_PLAN_VERSION}/{seed}/{store_id}/{day.isoformat()}/{stream}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def curve_seeds(seed: int, day: date, store_id: str | None = None) -> Callable[[str], int]:
    """The seeds of a curve profile's streams, by name (``arrivals.py`` asks for them)."""
    return lambda stream: derive_seed(seed, day, f"curve/{stream}", store_id)


def random_seed() -> int:
    """The effective seed of a run without SEED; logged and carried in headers."""
    return secrets.randbits(63)
