"""librdkafka's errors as the engine's: which error is a fencing, a refused record, or only
the consequence of another failure (``confluent``'s publisher reads them)."""

from __future__ import annotations

import re

from foot_traffic.delivery.errors import INVALID_RECORD, RecordRefused


def kafka_error(exc: BaseException):
    """The ``KafkaError`` inside a confluent-kafka exception (also when it surfaced as the
    cause of a ``SystemError``: a delivery callback run while a fatal error was pending)."""
    from confluent_kafka import KafkaError, KafkaException

    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, KafkaException) and candidate.args and isinstance(candidate.args[0], KafkaError):
            return candidate.args[0]
    return None


def is_consequence(err) -> bool:
    """Whether ``err`` only follows another failure: a record purged from the queue (after
    a fatal error, or by us), or a produce refused because the producer failed already."""
    if err is None or not hasattr(err, "code"):
        return False
    from confluent_kafka import KafkaError

    return err.code() in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT, KafkaError._FATAL)


def is_fencing(err) -> bool:
    """Whether a librdkafka error says that a newer producer took the transactional id."""
    from confluent_kafka import KafkaError

    return err is not None and err.code() in (
        KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
    )


# How librdkafka names the partition whose batch failed a transaction ("ProduceRequest for T [P] ...").
_FAILED_BATCH = re.compile(r"ProduceRequest for (?P<topic>\S+) \[(?P<partition>[0-9]+)\]")


def refusal(err, topic: str, key: str | None) -> RecordRefused | None:
    """``RecordRefused`` when librdkafka's ``err`` is the broker's INVALID_RECORD (87), else None.

    Per-record reports (without transactions) name the record; with transactions only the
    commit fails, its text naming the topic and partition of the refused batch. The gap-less
    guarantee may turn the refusal into its own fatal error first (``_GAPLESS_GUARANTEE``,
    "Broker failed to validate record"): the same refusal."""
    if err is None:
        return None
    from confluent_kafka import KafkaError

    gapless = err.code() == KafkaError._GAPLESS_GUARANTEE and "failed to validate record" in err.str()
    if err.code() != INVALID_RECORD and not gapless:
        return None
    partition = None
    found = _FAILED_BATCH.search(err.str())
    if found is not None:
        topic = topic or found["topic"]
        partition = int(found["partition"])
    return RecordRefused(topic or None, key, f"{err.name()} ({INVALID_RECORD}): {err.str()}", partition=partition)
