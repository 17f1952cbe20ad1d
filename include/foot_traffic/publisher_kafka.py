"""Delivery with kafka-python (the original producer's client, the default).

acks=all with idempotence; every record confirmed by its callback. After the first
failed record the publisher is *fenced*: the sender thread is held inside the error
callback until the producer is abandoned, so nothing sent later (kafka-python would bump
the epoch and go on) lands behind a hole. Each partition therefore keeps holding a
prefix of the day, which resume relies on. The fence needs kafka-python internals,
kept behind :mod:`foot_traffic.kafka_internals`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from foot_traffic import kafka_internals
from foot_traffic.events import Record
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.publisher import ConfirmedPublisher, DeliveryError
from foot_traffic.retry import retry_connect

log = logging.getLogger(__name__)


class KafkaPublisher(ConfirmedPublisher):
    """kafka-python producer with confirmed delivery. Not thread-safe: one runner uses it."""

    def __init__(self, options: KafkaOptions, stop: threading.Event | None = None):
        super().__init__(options, stop)
        self._error: tuple[Record, BaseException] | None = None
        self._released = threading.Event()  # set when the producer is abandoned (the fence opens)

    def connect(self) -> None:
        from kafka import KafkaProducer

        config = dict(
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,  # ordered with idempotence
            linger_ms=20,
            batch_size=256 * 1024,
            compression_type=None if self.options.compression == "none" else self.options.compression,
            retries=2_147_483_647,  # bounded by delivery_timeout_ms
            request_timeout_ms=self.options.request_timeout_ms,
            delivery_timeout_ms=self.options.delivery_timeout_ms,
            max_block_ms=self.options.delivery_timeout_ms,
            client_id="foot-traffic-producer",
            **self.options.common(),
        )
        log.info("connecting to Kafka: %s", self.options.redacted())
        self._producer = retry_connect(lambda: KafkaProducer(**config), self.options, self.stop)
        log.info("connected to Kafka at %s", self.options.bootstrap_servers)

    def _visible_partitions(self, topic: str):
        return self._producer.partitions_for(topic)

    # -- sending ----------------------------------------------------------------------------
    def _raise_if_failed(self) -> None:
        if self._error is not None:
            record, exc = self._error
            raise DeliveryError(
                f"record {record.kind} seq {record.seq} to {record.topic} was not delivered: "
                f"{type(exc).__name__}: {exc}"
            )

    def _on_ack(self, topic: str) -> Callable[[Any], None]:
        def ack(_metadata: Any) -> None:
            self.acked += 1
            self.acked_by_topic[topic] += 1

        return ack

    def _on_error(self, record: Record) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            if self._error is None:
                self._error = (record, exc)
                log.error(
                    "record %s seq %d to %s not delivered (%s: %s): holding the producer until it is abandoned",
                    record.kind, record.seq, record.topic, type(exc).__name__, exc,
                )
            if kafka_internals.in_io_thread(self._producer):
                self._released.wait()

        return failed

    def send(self, record: Record) -> None:
        from kafka.errors import KafkaError

        self._raise_if_failed()
        try:
            future = self._producer.send(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers),
                timestamp_ms=record.timestamp_ms,
            )
        except KafkaError as exc:
            raise DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} refused: {exc}") from exc
        self.sent += 1
        future.add_callback(self._on_ack(record.topic))
        future.add_errback(self._on_error(record))

    def _flush_step(self, seconds: float) -> bool:
        from kafka.errors import KafkaError, KafkaTimeoutError

        try:
            self._producer.flush(timeout=seconds)
            return True
        except KafkaTimeoutError:
            return False
        except KafkaError as exc:
            raise DeliveryError(f"flush failed: {exc}") from exc

    def close(self, timeout: float = 10.0) -> None:
        """Close; after a failure (or when a flush times out) abandon unsent records instead."""
        if self._producer is None:
            return
        from kafka.errors import KafkaError

        try:
            if self._error is None:
                try:
                    self._producer.close(timeout=timeout)
                    return
                except KafkaError as exc:
                    log.warning("producer close did not complete (%s): abandoning unsent records", exc)
            self._abandon()
        finally:
            self._producer = None

    def _abandon(self) -> None:
        """Stop the sender thread without sending anything more; unacknowledged records fail."""
        producer = self._producer
        kafka_internals.stop_io_thread(producer, self._released)
        try:
            producer.close(timeout=0)
        except Exception as exc:  # noqa: BLE001 - already failing; keep the first error
            log.debug("forced close: %s", exc)
