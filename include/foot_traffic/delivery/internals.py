"""The one door to kafka-python internals the engine relies on (pinned: kafka-python 3.0.12).

kafka-python has no public way to stop its sender thread without sending what it still
holds, nor to tell from an errback whether it runs on that thread. The delivery fence of
``KafkaPublisher`` needs both. Its ``commit_transaction``/``abort_transaction`` wait
without a timeout (forever if the coordinator never answers, or if the fence holds the
sender thread); :func:`end_transaction` is the same request with a bounded wait.
Everything touching ``producer._sender``, ``producer._transaction_manager`` or a future's
``_add_cb_eb`` (both callbacks of a record under one lock) lives here,
and ``tests/unit/delivery/test_kafka_internals.py`` fails loudly when an upgrade changes it.
"""

from __future__ import annotations

import threading
from typing import Any

TESTED_KAFKA_PYTHON = "3.0.12"


def io_thread(producer: Any) -> threading.Thread:
    """The producer's background sender thread (raises if the internals moved)."""
    sender = getattr(producer, "_sender", None)
    if not isinstance(sender, threading.Thread) or not callable(getattr(sender, "force_close", None)):
        import kafka

        raise RuntimeError(
            f"kafka-python {kafka.__version__}: KafkaProducer._sender is not the sender thread this "
            f"engine was built against ({TESTED_KAFKA_PYTHON}); re-check foot_traffic.delivery.internals"
        )
    return sender


def in_io_thread(producer: Any) -> bool:
    """Whether the caller is the producer's sender thread (errbacks run there)."""
    return producer is not None and threading.current_thread() is io_thread(producer)


def stop_io_thread(producer: Any, release: threading.Event, timeout: float = 10.0) -> None:
    """Stop the sender thread without sending anything more; unsent records fail.

    ``release`` is set after ``force_close`` so a sender held in an errback (the fence)
    wakes up into a closed sender and exits.
    """
    sender = io_thread(producer)
    sender.force_close()
    release.set()
    if sender is not threading.current_thread():
        sender.join(timeout)


def add_callbacks(future: Any, callback: Any, errback: Any) -> None:
    """``future.add_callback(callback)`` and ``future.add_errback(errback)`` under one lock
    acquire (kafka-python's own fast path for its per-record futures): one of the costs a
    record pays in the sending thread, which shares the GIL with the sender thread."""
    both = getattr(future, "_add_cb_eb", None)
    if both is None:
        import kafka

        raise RuntimeError(
            f"kafka-python {kafka.__version__}: Future._add_cb_eb is not the one this engine was built "
            f"against ({TESTED_KAFKA_PYTHON}); re-check foot_traffic.delivery.internals"
        )
    both(callback, errback)


def end_transaction(producer: Any, commit: bool, timeout: float) -> None:
    """Commit (or abort) the open transaction, waiting at most ``timeout`` seconds.

    What ``KafkaProducer.commit_transaction``/``abort_transaction`` do, with a bounded
    wait. Raises the transaction's error (``ProducerFencedError`` ...) or
    ``KafkaTimeoutError``.
    """
    from kafka.errors import KafkaTimeoutError

    manager = getattr(producer, "_transaction_manager", None)
    if manager is None or not callable(getattr(manager, "begin_commit", None)):
        import kafka

        raise RuntimeError(
            f"kafka-python {kafka.__version__}: KafkaProducer._transaction_manager is not the one this "
            f"engine was built against ({TESTED_KAFKA_PYTHON}); re-check foot_traffic.delivery.internals"
        )
    result = manager.begin_commit() if commit else manager.begin_abort()
    io_thread(producer).wakeup()
    if not result.wait(timeout_ms=timeout * 1000):
        raise KafkaTimeoutError(f"transaction {'commit' if commit else 'abort'} not acknowledged within {timeout:g} s")


def read_from(consumer: Any, starts: dict[Any, int]) -> None:
    """Make a read_committed ``consumer`` ignore aborted transactions listed in a fetch response
    that began before the offset the read of their partition started at (``starts``).

    Apache Kafka lists in a fetch response only the aborted transactions that overlap the
    fetched range. The embedded test broker lists every aborted transaction of the partition;
    a client then marks a producer id as aborted at the first batch past such an entry's first
    offset and skips that producer's batches until its abort marker, which lies before the
    read's start and never comes: a transactional id keeps its producer id across epochs, so a
    retried day's committed records vanish (tests/integration/test_embedded_broker_flaw.py).
    Only for reads whose wanted records all lie in transactions that began at or after
    ``starts`` (the resume scan's and read-back's: a day's records begin at the first record
    timestamped at or after its start).
    """
    fetcher = getattr(consumer, "_fetcher", None)
    records_class = getattr(fetcher, "PartitionRecords", None)
    if records_class is None or not callable(getattr(fetcher, "_parse_fetched_data", None)):
        import kafka

        raise RuntimeError(
            f"kafka-python {kafka.__version__}: KafkaConsumer._fetcher.PartitionRecords is not the one this "
            f"engine was built against ({TESTED_KAFKA_PYTHON}); re-check foot_traffic.delivery.internals"
        )
    base = records_class if not hasattr(records_class, "read_starts") else records_class.__mro__[1]

    class StartedPartitionRecords(base):
        read_starts = dict(starts)

        def __init__(self, fetch_offset, tp, records, *args, aborted_transactions=None, **kwargs):
            start = self.read_starts.get(tp)
            if start is not None and aborted_transactions:
                aborted_transactions = [t for t in aborted_transactions if t.first_offset >= start]
            super().__init__(fetch_offset, tp, records, *args, aborted_transactions=aborted_transactions, **kwargs)

    fetcher.PartitionRecords = StartedPartitionRecords


def closed_connections(producer: Any) -> Any:
    """A counter of the connections ``producer`` has closed (lost) since now: a callable
    returning the count. kafka-python records each closed connection in its
    ``connections-closed`` sensor (as a rate only); a cumulative ``Total`` is added to it."""
    from kafka.metrics.stats import Total

    metrics = getattr(producer, "_metrics", None)
    sensor = metrics.get_sensor("connections-closed") if metrics is not None else None
    if sensor is None:
        import kafka

        raise RuntimeError(
            f"kafka-python {kafka.__version__}: KafkaProducer._metrics has no 'connections-closed' sensor "
            f"({TESTED_KAFKA_PYTHON} had one); re-check foot_traffic.delivery.internals"
        )
    name = metrics.metric_name("connection-close-total", "foot-traffic", "Connections closed since the producer began")
    total = Total()
    sensor.add(name, total)
    return lambda: int(total.measure(None, 0))
