"""A door sensor's flaws on the entry/exit topic; the session topic stays the ground truth.

Four switches (settings, all off by default: then this stage is not used and the records
are byte for byte what they always were):

* ``SENSOR_MISS_RATE`` p: each passage (an entry or an exit) is not reported with
  probability p; for the 2nd, 3rd ... member of a party, who walks through right behind
  someone, with probability ``min(1, SENSOR_PARTY_MISS_FACTOR x p)`` (beam and radar
  counters count people side by side as one).
* ``SENSOR_DOUBLE_RATE`` q: a reported passage is reported twice with probability q; the
  second event comes 1 or 2 s later (its JSON ``time`` is then) and its ``ft-event-id``
  ends in ``:dup``.
* ``SENSOR_BATCH_SECONDS`` N: a gateway collects the events of each N-second window
  (aligned to the epoch) and uploads them together at the window's end plus
  ``SENSOR_UPLOAD_DELAY_SECONDS`` D: a delay drawn once per window, uniform over the whole
  seconds 0..D. So events reach Kafka up to N + D seconds late and, when D > N, batches
  overtake one another (out of order, an exit may land before its entry). Each event
  keeps its true time in the JSON; its Kafka record timestamp is its upload time.

Determinism: every decision comes from random streams derived from the plan's seed (and
the day, and the store), drawn in the stream's deterministic order (three uniforms per
passage, whatever the rates), and a window's delay from (seed, store, window) alone, so a
window that spans midnight has one upload time in both days' streams.

Sending order and resume: records are released in upload order (ties by event time,
then by the order they were made), and the entry/exit topic's ``ft-seq`` is numbered in
that order, so each partition still receives a day's records as an increasing prefix of
``ft-seq`` and resume's per-partition high-water mark stays exact. The runner merges
these moments with the session records by due time as it merges days.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from foot_traffic.plan.seeds import derive_seed
from foot_traffic.records.events import ENTRY, EXIT, H_EVENT_ID, H_SEQ, Moment, Record

if TYPE_CHECKING:
    from foot_traffic.settings import SensorSettings

DUPLICATE_SUFFIX = ":dup"
DOUBLE_DELAYS = (1, 2)  # seconds after the passage


@dataclass(frozen=True)
class SensorModel:
    miss_rate: float = 0.0
    party_miss_factor: float = 3.0
    double_rate: float = 0.0
    batch_seconds: int = 0
    upload_delay_seconds: int = 0

    @property
    def active(self) -> bool:
        return self.miss_rate > 0 or self.double_rate > 0 or self.batch_seconds > 0

    @property
    def party_miss_rate(self) -> float:
        return min(1.0, self.party_miss_factor * self.miss_rate)

    def miss_rate_for(self, party_pos: int) -> float:
        return self.party_miss_rate if party_pos > 0 else self.miss_rate

    @property
    def max_lateness(self) -> int:
        """Longest time between an event and its upload (seconds)."""
        return self.batch_seconds + self.upload_delay_seconds if self.batch_seconds else 0

    @classmethod
    def from_settings(cls, settings: SensorSettings) -> SensorModel:
        """Each field from its setting ``sensor_<field>`` (``SENSOR_MISS_RATE`` ...)."""
        return cls(**{f.name: getattr(settings, f"sensor_{f.name}") for f in fields(cls)})

    def window_delay(self, key: str, window: int) -> int:
        """The upload delay of one gateway window (0..D whole seconds)."""
        if not self.upload_delay_seconds:
            return 0
        digest = hashlib.sha256(f"foot-traffic/gateway/{key}/{window}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % (self.upload_delay_seconds + 1)

    def upload_time(self, key: str, ts: int) -> int:
        """When an event of instant ``ts`` reaches Kafka."""
        if not self.batch_seconds:
            return ts
        window = ts // self.batch_seconds
        return (window + 1) * self.batch_seconds + self.window_delay(key, window)


def _retag(record: Record, seq: int, due: int, value: bytes | None = None, duplicate: bool = False) -> Record:
    headers = []
    for name, raw in record.headers:
        if name == H_SEQ:
            raw = str(seq).encode()
        elif name == H_EVENT_ID and duplicate:
            raw = raw + DUPLICATE_SUFFIX.encode()
        headers.append((name, raw))
    return replace(record, headers=tuple(headers), seq=seq, due=due, value=record.value if value is None else value)


def sensor_moments(stream, model: SensorModel, rng_seed: int, gateway_key: str) -> Iterator[Moment]:
    """The stream's moments with the sensor's flaws applied to the entry/exit topic.

    :param stream: a StoreDayStream (its entry/exit records are re-made, the others pass).
    :param rng_seed: seed of the per-passage decisions (derived from the plan's seed and day).
    :param gateway_key: names the gateway for the window delays (seed and store).
    """
    rng = random.Random(rng_seed)
    rand = rng.random
    topic = stream.topic_realistic
    heap: list[tuple[int, int, int, Record, object, bool]] = []  # (send, event ts, order, record, visit, dup)
    order = 0
    seq = 0
    push, pop = heapq.heappush, heapq.heappop

    def release(upto: int, inclusive: bool):
        nonlocal seq
        while heap and (heap[0][0] <= upto if inclusive else heap[0][0] < upto):
            send, event_ts, _, record, visit, dup = pop(heap)
            yield Moment(send, visit, (_retag(record, seq, send, duplicate=dup),), False)
            seq += 1

    for moment in stream:
        yield from release(moment.due, inclusive=True)
        now_out: list[Record] = []
        for record in moment.records:
            if record.topic != topic:
                now_out.append(record)
                continue
            visit = moment.visit
            u_miss, u_double, u_delta = rand(), rand(), rand()
            if u_miss < model.miss_rate_for(getattr(visit, "party_pos", 0)):
                continue
            copies = [(record, record.due, False)]
            if u_double < model.double_rate:
                ts = record.due + DOUBLE_DELAYS[int(u_delta * len(DOUBLE_DELAYS))]
                value = stream.atomic_value(record.kind, ts, visit)
                copies.append((replace(record, value=value, due=ts), ts, True))
            for copy, ts, dup in copies:
                send = model.upload_time(gateway_key, ts)
                push(heap, (send, ts, order, copy, visit, dup))
                order += 1
        # What is due now goes out with the moment (without a gateway: the entry right
        # after its session record, as without a sensor).
        while heap and heap[0][0] <= moment.due:
            send, event_ts, _, record, visit, dup = pop(heap)
            now_out.append(_retag(record, seq, send, duplicate=dup))
            seq += 1
        if now_out or moment.entering:  # an entry always has its session record
            yield Moment(moment.due, moment.visit, tuple(now_out), moment.entering)
    yield from release(2**62, inclusive=True)


KINDS = (ENTRY, EXIT)


def day_moments(stream, settings: SensorSettings) -> Iterator[Moment]:
    """The moments a run sends for ``stream``'s day: through the sensor when any flaw is on.

    The one place the runner, ``validate`` and the tests get a day's records from.
    """
    if not settings.sensor_active:
        return iter(stream)
    plan = stream.plan
    store = plan.store_id or ""  # the implicit store's streams: the day's, store ""
    return sensor_moments(
        stream,
        SensorModel.from_settings(settings),
        derive_seed(plan.seed, plan.day, f"sensor/{store}"),
        gateway_key=f"{plan.seed}/{store}",
    )
