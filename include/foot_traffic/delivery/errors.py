"""What delivery can go wrong with, as one family of errors the runner and the front doors map.

``PublishError`` and its subclasses mean "not (fully) delivered"; ``Fenced`` means another
run took the day over (nothing is wrong with the data); ``PlanMismatch`` means the day
already holds records of another plan and this run refuses to mix them.
"""

from __future__ import annotations

from datetime import date
from typing import Any


class PublishError(RuntimeError):
    """Base of the delivery errors: the day could not be (fully) delivered."""


class BrokerUnavailable(PublishError):
    """No broker answered within the retry budget."""


class DeliveryError(PublishError):
    """A record was not acknowledged by the broker (or a transaction step failed)."""


class RecordRefused(DeliveryError):
    """The broker refused a record as invalid (``INVALID_RECORD``, error 87): e.g. its value
    does not match the schema a schema-enforcing broker holds for the topic.

    Permanent, unlike an outage: the same record is refused again, so the runner does not
    heal it and a task is not retried. The day stops; with transactions its open transaction
    is aborted (nothing of it becomes visible to ``read_committed`` consumers). ``key`` is
    None where the client does not say which record it was (librdkafka with transactions
    reports the refused partition only). How to recover: docs/schemas.md.
    """

    def __init__(self, topic: str | None, key: str | None, reason: str, *, partition: int | None = None):
        self.topic, self.key, self.reason, self.partition = topic, key, reason, partition
        where = f"topic {topic or '?'}" + (f" partition {partition}" if partition is not None else "")
        which = f"the record with key {key}" if key is not None else "a record (its key is not reported)"
        super().__init__(
            f"{where} refused {which}: {reason}. A refused record is refused again: not retried (with "
            "transactions, the day's open transaction is aborted). Check the broker's schema for the topic "
            "(docs/schemas.md)"
        )


INVALID_RECORD = 87  # Kafka's error code for a record the broker failed to validate


class LostAcknowledgedWrites(DeliveryError):
    """The broker no longer holds records it acknowledged (it lost its last writes)."""


class UndecidedTransactions(PublishError):
    """A transaction begun before a read stayed open longer than the broker's timeout allows."""


class Fenced(PublishError):
    """A newer run took over a day of this run: Kafka fenced this producer's transactional id,
    or the day ledger shows a newer owner of one of its store-days.

    Nothing more is sent by this producer, and its open transaction was aborted by the newer
    writer: what it committed before stays, exactly once, and the newer writer continues
    from there. ``by`` is the newer writer's take record when it could be read
    (``foot_traffic.delivery.ledger``); ``stores`` every store of the fenced producer (None
    stands for the implicit store of a run without a catalogue).
    """

    def __init__(
        self,
        message: str,
        *,
        day: date | None = None,
        stores: tuple[str | None, ...] = (),
        by: dict[str, Any] | None = None,
        transactional_id: str | None = None,
    ):
        super().__init__(message)
        self.day = day
        self.stores = stores
        self.by = by
        self.transactional_id = transactional_id


class PlanMismatch(RuntimeError):
    """The day already holds records of another plan; mixing them would corrupt the day."""
