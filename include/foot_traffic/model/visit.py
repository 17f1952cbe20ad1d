"""One customer's trip, as a day's visits come out: the seed shape's, and a curve profile's
with its party."""

from __future__ import annotations

from typing import NamedTuple


class Visit(NamedTuple):
    """One customer's trip. Times are whole epoch seconds; ``slot`` is the plan's segment index."""

    index: int
    customer_id: str
    entry_ts: int
    duration_minutes: int
    slot: int

    @property
    def exit_ts(self) -> int:
        return self.entry_ts + 60 * self.duration_minutes


_PARTY_FIELDS = [*Visit.__annotations__.items(), ("party_id", "str"), ("party_size", "int"), ("party_pos", "int")]


class PartyVisit(NamedTuple("PartyVisitFields", _PARTY_FIELDS)):
    """One customer's trip in a curve profile: :class:`Visit`'s fields, then its party.

    ``party_id`` is the customer id of the party's first member (its own id when alone),
    ``party_size`` the number of people who came in together (1 alone), ``party_pos`` the
    member's place in the line through the door (0 first).
    """

    __slots__ = ()
    exit_ts = Visit.exit_ts
