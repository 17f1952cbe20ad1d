"""Delivery through librdkafka (confluent-kafka), chosen by ``KAFKA_CLIENT=confluent``.

The same contract as the kafka-python publisher (every record confirmed, or
``DeliveryError``; connection retries; topics created if missing), with librdkafka doing
the batching, compression and I/O in C threads: several times faster on a full-speed
day (see BENCHMARKS.md). kafka-python still serves the admin client and the resume scan.

Producer settings mirror the kafka-python publisher's: acks=all, idempotence, linger
20 ms, 256 KiB batches, the configured compression, and ``partitioner=murmur2_random``,
which puts a key on the same partition as kafka-python's (Java's) default partitioner,
so resume and mixed runs see one layout. Where the producer comes from is a factory:
standalone, the bootstrap servers; under Airflow, the Kafka provider's
``KafkaProducerHook``, whose connection extra is already librdkafka configuration (the
settings here are laid over it and always win).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter
from typing import Any

from foot_traffic.events import H_EVENT_ID, H_SEQ, Record
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.publisher import ConfirmedPublisher, DeliveryError, ProducerFactory
from foot_traffic.retry import retry_connect

log = logging.getLogger(__name__)

POLL_EVERY = 1000  # serve delivery reports every this many sends


def producer_settings(options: KafkaOptions) -> dict[str, Any]:
    """The engine's librdkafka producer settings (laid over any connection configuration)."""
    return {
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


def bootstrap_factory(options: KafkaOptions) -> ProducerFactory:
    """Standalone: a producer for ``KAFKA_BROKER`` (the CLI has no security options)."""
    if options.client_options:
        raise ValueError(
            "librdkafka takes its security settings from the Airflow connection (KafkaProducerHook); "
            f"got kafka-python options {sorted(options.client_options)}"
        )

    def build(settings: dict[str, Any]) -> Any:
        from confluent_kafka import Producer

        return Producer(
            {"bootstrap.servers": options.bootstrap_servers, **settings},
            logger=logging.getLogger("foot_traffic.librdkafka"),
        )

    return build


class _Unreachable(OSError):
    """librdkafka could not fetch metadata (retried like kafka-python's connection errors)."""


class ConfluentPublisher(ConfirmedPublisher):
    """librdkafka producer with confirmed delivery. Not thread-safe: one runner uses it."""

    def __init__(
        self,
        options: KafkaOptions,
        stop: threading.Event | None = None,
        producer_factory: ProducerFactory | None = None,
    ):
        super().__init__(options, stop)
        self.producer_factory = producer_factory or bootstrap_factory(options)
        self._failure: tuple[str, str, str, Any] | None = None  # (topic, event id, seq, error)
        self._purged = False
        self._sent_by_topic: Counter[str] = Counter()
        self._unpolled = 0

    def connect(self) -> None:
        from confluent_kafka import KafkaException

        settings = producer_settings(self.options)
        log.info("connecting to Kafka with librdkafka at %s", self.options.bootstrap_servers)

        def attempt():
            producer = self.producer_factory(settings)
            try:
                producer.list_topics(timeout=self.options.bootstrap_timeout_ms / 1000)
            except KafkaException as exc:
                raise _Unreachable(str(exc)) from None
            return producer

        self._producer = retry_connect(attempt, self.options, self.stop)
        log.info("connected to Kafka at %s (librdkafka)", self.options.bootstrap_servers)

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
                self._serve(0.05)
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
            self._serve(0)

    def _serve(self, seconds: float) -> None:
        """``poll``: serve delivery reports; a fatal client error becomes a ``DeliveryError``."""
        try:
            self._producer.poll(seconds)
        except:  # noqa: E722 - see _fatal: what librdkafka raises may not be an Exception
            self._fatal(sys.exc_info()[1])

    def _fatal(self, exc: BaseException) -> None:
        """Without an ``error_cb``, librdkafka's fatal errors (e.g. the broker lost
        acknowledged writes: OUT_OF_ORDER_SEQUENCE_NUMBER) are raised by poll/flush, as a
        ``KafkaException`` or (confluent-kafka 2.16, seen in the fault suite) as a bare
        ``KafkaError`` object that no ``except Exception`` catches: under Airflow it ended
        ``airflow dags test`` instead of failing the task for a retry. Treated like a failed
        record: nothing more is sent, ``DeliveryError``."""
        from confluent_kafka import KafkaError, KafkaException

        if not isinstance(exc, (KafkaException, KafkaError)):
            raise exc
        if self._failure is None:
            self._failure = ("the topics", "(client)", "?", exc)
            log.error("librdkafka fatal error: %s; nothing more is sent", exc)
        self._raise_if_failed()

    def _flush_step(self, seconds: float) -> bool:
        try:
            return self._producer.flush(seconds) == 0
        except:  # noqa: E722 - see _fatal
            self._fatal(sys.exc_info()[1])
            raise  # not reached: _fatal raises

    def _after_flush(self) -> None:
        # Nothing left in librdkafka and no failure reported: all sent so far are acknowledged.
        self.acked = self.sent
        self.acked_by_topic = Counter(self._sent_by_topic)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``); after a failure drop it instead."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            if self._failure is None:
                left = producer.flush(timeout)
                if left:
                    log.warning("producer close: %d records not acknowledged within %g s: abandoned", left, timeout)
            else:
                producer.purge(in_queue=True, in_flight=True, blocking=False)
                producer.flush(0)
        except (KeyboardInterrupt, SystemExit):
            raise
        except:  # noqa: E722 - a fatal client error at close (see _fatal): nothing more to deliver
            log.warning("producer close: %s", sys.exc_info()[1])
