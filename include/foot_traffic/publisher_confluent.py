"""Delivery through librdkafka (confluent-kafka), chosen by ``KAFKA_CLIENT=confluent``.

The same contract as :class:`foot_traffic.publisher.KafkaPublisher` (every record
confirmed, or ``DeliveryError``; connection retries; topics created if missing), with
librdkafka doing the batching, compression and I/O in C threads: on the embedded broker
it sends a full-speed day several times faster than kafka-python (see BENCHMARKS.md).
kafka-python stays the default and still serves the admin client and the resume scan.

Settings mirror KafkaPublisher's: acks=all, idempotence, linger 20 ms, 256 KiB batches,
the configured compression, and ``partitioner=murmur2_random``, which puts a key on the
same partition as kafka-python's (Java's) default partitioner, so resume and mixed runs
see one layout. In Airflow, ``base_config`` takes the provider connection's extra
(``KafkaProducerHook``'s librdkafka configuration); the producer settings above win.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from foot_traffic.events import H_EVENT_ID, H_SEQ, Record
from foot_traffic.publisher import (
    DeliveryError,
    KafkaOptions,
    KafkaPublisher,
    retry_connect,
)

log = logging.getLogger(__name__)

# kafka-python keyword (KafkaOptions.client_options) -> librdkafka key.
CLIENT_KEYS = {
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "sasl_kerberos_service_name": "sasl.kerberos.service.name",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "ssl_crlfile": "ssl.crl.location",
}
POLL_EVERY = 1000  # serve delivery reports every this many sends


def librdkafka_config(options: KafkaOptions, base_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The producer configuration: connection settings, then ours (which always win)."""
    config: dict[str, Any] = {"bootstrap.servers": options.bootstrap_servers}
    for key, value in options.client_options.items():
        if key in CLIENT_KEYS:
            config[CLIENT_KEYS[key]] = value
        else:
            log.warning("client option %s has no librdkafka equivalent here: ignored", key)
    config.update(base_config or {})
    config.update(
        {
            "acks": "all",
            "enable.idempotence": True,
            "max.in.flight.requests.per.connection": 5,
            "linger.ms": 20,
            "batch.size": 256 * 1024,
            "compression.type": "none" if options.compression == "none" else options.compression,
            "partitioner": "murmur2_random",
            # A failed batch must never leave a hole that later batches land behind:
            # resume relies on each partition holding a prefix of the day (see resume.py).
            "enable.gapless.guarantee": True,
            "request.timeout.ms": options.request_timeout_ms,
            "delivery.timeout.ms": options.delivery_timeout_ms,
            "client.id": "foot-traffic-producer",
            # Reports for failures only: a record that leaves librdkafka's queue without
            # one was acknowledged (acks=all), so flush() == 0 and no report proves
            # delivery without a Python callback per record.
            "delivery.report.only.error": True,
        }
    )
    return config


class _Unreachable(OSError):
    """librdkafka could not fetch metadata (retried like kafka-python's connection errors)."""


class ConfluentPublisher(KafkaPublisher):
    """librdkafka producer with confirmed delivery. Not thread-safe: one runner uses it."""

    def __init__(
        self,
        options: KafkaOptions,
        stop: threading.Event | None = None,
        base_config: Mapping[str, Any] | None = None,
    ):
        super().__init__(options, stop)
        self.base_config = dict(base_config or {})
        self._failure: tuple[str, str, str, Any] | None = None  # (topic, event id, seq, error)
        self._purged = False
        self._sent_by_topic: Counter[str] = Counter()
        self._unpolled = 0
        self.acked_by_topic: Counter[str] = Counter()

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> None:
        from confluent_kafka import KafkaException, Producer

        config = librdkafka_config(self.options, self.base_config)
        log.info("connecting to Kafka with librdkafka: %s", self.options.redacted())

        def attempt():
            producer = Producer(config, logger=logging.getLogger("foot_traffic.librdkafka"))
            try:
                producer.list_topics(timeout=self.options.bootstrap_timeout_ms / 1000)
            except KafkaException as exc:
                raise _Unreachable(str(exc)) from None
            return producer

        self._producer = retry_connect(attempt, self.options, self.stop)
        log.info("connected to Kafka at %s (librdkafka)", self.options.bootstrap_servers)

    # ensure_topics: inherited (kafka-python admin client, same topic settings)

    def _visible_partitions(self, topic: str):
        meta = self._producer.list_topics(topic, timeout=5).topics.get(topic)
        if meta is not None and meta.error is None:
            return meta.partitions
        return None

    # -- sending ----------------------------------------------------------------------------
    def _on_delivery(self, err, msg) -> None:
        """The delivery report of a failed record (served by poll/flush in this thread)."""
        if err is None:  # not requested (delivery.report.only.error), but harmless
            return
        if self._failure is None:
            headers = dict(msg.headers() or ())  # not always carried by a failure report
            key = (msg.key() or b"").decode(errors="replace")
            self._failure = (
                msg.topic(),
                headers.get(H_EVENT_ID, f"of customer {key}".encode()).decode(errors="replace"),
                headers.get(H_SEQ, b"?").decode(errors="replace"),
                err,
            )
            log.error("record %s to %s not delivered: %s; nothing more is sent", self._failure[1], msg.topic(), err)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            if not self._purged and self._producer is not None:
                # Drop what is still queued, so no later record lands behind the hole.
                self._purged = True
                try:
                    self._producer.purge(in_queue=True, in_flight=False, blocking=False)
                except Exception as exc:  # noqa: BLE001 - already failing; keep the first error
                    log.debug("purge: %s", exc)
            topic, event_id, seq, err = self._failure
            raise DeliveryError(f"record {event_id} seq {seq} to {topic} was not delivered: {err}")

    def send(self, record: Record) -> None:
        if self._failure is not None:
            self._raise_if_failed()
        producer = self._producer
        while True:
            try:
                producer.produce(
                    record.topic,
                    record.value,
                    record.key,
                    headers=list(record.headers),
                    timestamp=record.timestamp_ms,
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                producer.poll(0.05)
                self._raise_if_failed()
            except Exception as exc:
                from confluent_kafka import KafkaException

                if isinstance(exc, KafkaException):
                    raise DeliveryError(f"record {record.kind} seq {record.seq} to {record.topic} refused: {exc}") from exc
                raise
        self.sent += 1
        self._sent_by_topic[record.topic] += 1
        self._unpolled += 1
        if self._unpolled >= POLL_EVERY:
            self._unpolled = 0
            producer.poll(0)

    def _flush_step(self, seconds: float) -> bool:
        return self._producer.flush(seconds) == 0

    def _after_flush(self) -> None:
        # Nothing left in librdkafka and no failure reported: all sent so far are acknowledged.
        self.acked = self.sent
        self.acked_by_topic = Counter(self._sent_by_topic)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``); after a failure drop it instead."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        if self._failure is None:
            left = producer.flush(timeout)
            if left:
                log.warning("producer close: %d records not acknowledged within %g s: abandoned", left, timeout)
        else:
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.flush(0)
