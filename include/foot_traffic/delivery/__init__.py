"""Delivery: how a run's records reach Kafka, exactly once for ``read_committed`` consumers.

Modules by concern: ``errors`` (what can go wrong), ``options`` (client settings),
``connect`` (retries), ``topics`` (creation, partitioning), ``producer`` (one producer with
confirmed delivery) and its two clients ``kafka_python`` and ``confluent`` (their private
internals behind ``internals``), ``ledger`` (the day ledger: owners and positions),
``transactions`` (one transactional producer per local day, positions committed with the
records; ``ledger_io``: how it reads the ledger), ``direct`` (``KAFKA_TRANSACTIONS=0``) and ``scan`` (reading a day back).

The runner talks to one object, chosen here (``delivery_for``): ``transactions.Transactions``
or ``direct.Direct``. Both take a local day's store-days (``look``, ``take``), hand out one
writer per local day (``send``, ``touch``, ``finish``), commit (``idle``, ``flush``) and
close; ``transactional`` says which guarantees hold (fencing, positions).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["delivery_for"]


def delivery_for(
    settings,
    options,
    stop: threading.Event,
    owner: dict[str, Any],
    *,
    producer_factory=None,
    detail_level: int = logging.INFO,
):
    """The runner's delivery for ``settings``: with ``KAFKA_TRANSACTIONS`` on (the default),
    one transactional producer per local day and the day ledger (``Transactions``); off, one
    idempotent producer for every day, the original's delivery (``Direct``). (Imports here:
    the package is imported where only its options are needed, e.g. by DAG files.)"""
    from foot_traffic.delivery.direct import Direct
    from foot_traffic.delivery.ledger import LEDGER_LAYOUT, ledger_topic
    from foot_traffic.delivery.producer import producer_for
    from foot_traffic.delivery.scan import KafkaDayScanner
    from foot_traffic.delivery.topics import ensure_topics
    from foot_traffic.delivery.ledger_io import KafkaLedgerIO
    from foot_traffic.delivery.transactions import Transactions

    topics = [settings.kafka_topic, settings.kafka_topic_realistic]
    scanner = KafkaDayScanner(options, stop) if settings.resume else None

    def scan(day, stores, since_ms):
        return scanner.scan(day, topics, since_ms, stores)

    if settings.kafka_transactions:
        ledger = ledger_topic(topics[0])

        def producer(tid: str):
            return producer_for(settings, options, stop, producer_factory=producer_factory, transactional_id=tid)

        return Transactions(
            topics, settings.kafka_client, producer, KafkaLedgerIO(options, ledger, producer, stop), owner,
            transaction_ms=settings.kafka_transaction_ms, detail_level=detail_level, stop=stop,
            scan=scan if scanner is not None else None,
            ensure=lambda: ensure_topics(options, [*topics, ledger], stop, layouts={ledger: LEDGER_LAYOUT}),
        )
    return Direct(
        producer_for(settings, options, stop, producer_factory=producer_factory),
        scan if scanner is not None else None,
        lambda: ensure_topics(options, topics, stop),
    )
