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

With a ``transactional_id`` the producer is transactional. librdkafka treats a fencing
(``_FENCED``, or ``INVALID_PRODUCER_EPOCH`` on a record) as fatal: it sends nothing more
and ``close()`` adds nothing (no flush, no abort).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from typing import Any

from foot_traffic.delivery.connect import retry_connect
from foot_traffic.delivery.confluent_errors import is_consequence, is_fencing, kafka_error, refusal
from foot_traffic.delivery.errors import BrokerUnavailable, DeliveryError, Fenced
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.producer import ConfirmedPublisher, ProducerFactory
from foot_traffic.records.events import H_EVENT_ID, H_SEQ, Record

log = logging.getLogger(__name__)

POLL_EVERY = 1000  # serve delivery reports every this many sends


def producer_settings(options: KafkaOptions, transactional_id: str | None = None) -> dict[str, Any]:
    """The engine's librdkafka producer settings (laid over any connection configuration)."""
    transactional = (
        {"transactional.id": transactional_id, "transaction.timeout.ms": options.transaction_timeout_ms}
        if transactional_id
        else {}
    )
    return {
        **transactional,
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
        *,
        transactional_id: str | None = None,
    ):
        super().__init__(options, stop, transactional_id=transactional_id)
        self.producer_factory = producer_factory or bootstrap_factory(options)
        self._failure: tuple[str, str, str, Any] | None = None  # (topic, event id, seq, error)
        self._failed_key: str | None = None  # the key of the record that failed, when reported
        self._consequence = False  # the failure kept is a consequence (purged, fatal) whose cause may follow
        self._purged = False
        self._sent_by_topic: Counter[str] = Counter()
        # Per-record failure reports without transactions. With them, a failed record fails
        # the commit anyway, and no Python callback may run: confluent-kafka 2.16 runs
        # pending reports inside flush() after a fatal error (a fencing) was raised, and
        # the callback then fails with SystemError, or worse, a raw KafkaError escapes.
        self._report = {} if transactional_id else {"on_delivery": self._on_delivery}
        self._unpolled = 0

    def connect(self) -> None:
        from confluent_kafka import KafkaException

        # A reconnect after an outage (the runner heals): a new producer, the old one's failure forgotten.
        self._failure = None
        self._failed_key = None
        self._consequence = False
        self._purged = False
        self._unpolled = 0
        self.sent = self.acked = 0
        self._sent_by_topic = Counter()
        self.in_transaction = False
        settings = producer_settings(self.options, self.transactional_id)
        self._connections_lost = self._lost_at_begin = 0
        if self.transactional_id:
            settings["error_cb"] = self._on_client_error
        level = logging.DEBUG if self.transactional_id else logging.INFO  # a day's producer: quieter
        log.log(level, "connecting to Kafka with librdkafka at %s", self.options.bootstrap_servers)

        def attempt():
            producer = self.producer_factory(settings)
            try:
                producer.list_topics(timeout=self.options.bootstrap_timeout_ms / 1000)
            except KafkaException as exc:
                raise _Unreachable(str(exc)) from None
            return producer

        self._producer = retry_connect(attempt, self.options, self.stop)
        log.log(level, "connected to Kafka at %s (librdkafka)", self.options.bootstrap_servers)
        if self.transactional_id:
            self._init_transactions()

    def _init_transactions(self) -> None:
        from confluent_kafka import KafkaError, KafkaException

        try:
            self._producer.init_transactions(self.options.delivery_timeout_ms / 1000)
        except KafkaException as exc:
            err = kafka_error(exc)
            self._fail(None, err)
            if is_fencing(err):
                raise Fenced(
                    f"transactional id {self.transactional_id} was taken by a newer producer during init",
                    transactional_id=self.transactional_id,
                ) from None
            if err is not None and err.code() == KafkaError._TIMED_OUT:
                raise BrokerUnavailable(f"no transaction coordinator answered for {self.transactional_id}: {err}") from None
            raise DeliveryError(
                f"cannot initialise transactions for {self.transactional_id} ({exc}); a broker without "
                "transactions (or without the TransactionalId WRITE permission) needs KAFKA_TRANSACTIONS=0"
            ) from None

    def _fail(self, where: tuple[str, str, str] | None, err: Any) -> None:
        """Keep the first failure: ``where`` is (topic, event id, seq), None for the transaction.

        A consequence (a record purged from librdkafka's queue, "_FATAL") is kept until its
        cause is reported: after a fatal error librdkafka purges its queue at once, and the
        in-flight record that caused it (a record the broker refused) reports later."""
        consequence = is_consequence(err)
        if self._failure is None or (self._consequence and not consequence and err is not None):
            topic, event_id, seq = where or ("", "", "")
            self._failure = (topic, event_id, seq, err)
            self._consequence = consequence
            if consequence:
                log.warning("%s not delivered: %s; waiting for its cause",
                            f"record {event_id} to {topic}" if where else "the producer", err)
                return
            fenced = self.transactional_id and is_fencing(err)
            log.error(
                "%s not delivered: %s; nothing more is sent",
                f"record {event_id} to {topic}" if where else f"transaction of {self.transactional_id}",
                "fenced by a newer producer" if fenced else err,
            )

    def _serve(self, call, *args):
        """``poll``/``flush``: a fatal error (fencing ...) surfaces here as an exception."""
        from confluent_kafka import KafkaException

        from confluent_kafka import KafkaError

        try:
            return call(*args)
        except (KafkaException, SystemError) as exc:
            # confluent-kafka 2.16 may also end a call that served a failed record's report
            # with a bare SystemError ("returned NULL without setting an exception"): the
            # report itself (``_on_delivery``) then says what failed.
            err = kafka_error(exc)
            if err is not None:
                self._fail(None, err)
            elif self._failure is None:
                log.error("librdkafka call failed without a Kafka error: %s", exc)
                self._fail(None, None)
            self._raise_if_failed()
        except:  # noqa: E722 - see below
            # Without an error_cb, a fatal error (e.g. the broker lost acknowledged writes:
            # OUT_OF_ORDER_SEQUENCE_NUMBER) may come out of poll/flush as a bare KafkaError
            # object that no ``except Exception`` catches (confluent-kafka 2.16, seen in the
            # fault suite: under Airflow it ended ``airflow dags test`` instead of failing the
            # task for a retry). Treated like a failed record: nothing more is sent.
            exc = sys.exc_info()[1]
            if not isinstance(exc, KafkaError):
                raise
            self._fail(None, exc)
            self._raise_if_failed()

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
        if self._failure is None or (self._consequence and not is_consequence(err)):
            headers = dict(msg.headers() or ())  # not always carried by a failure report
            key = (msg.key() or b"").decode(errors="replace")
            where = (
                msg.topic(),
                headers.get(H_EVENT_ID, f"of customer {key}".encode()).decode(errors="replace"),
                headers.get(H_SEQ, b"?").decode(errors="replace"),
            )
            self._failed_key = key
            self._fail(where, err)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            if not self._purged and self._producer is not None:
                # Drop what is still queued, so no later record lands behind the hole.
                self._purged = True
                try:
                    self._producer.purge(in_queue=True, in_flight=False, blocking=False)
                except Exception as exc:  # noqa: BLE001 - already failing; keep the first error
                    log.debug("purge: %s", exc)
            if self._consequence:
                self._await_cause()
            topic, event_id, seq, err = self._failure
            refused = refusal(err, topic, self._failed_key if topic else None)
            if refused is not None:
                raise refused
            what = f"record {event_id} seq {seq} to {topic}" if topic else "the transaction"
            if self.transactional_id and is_fencing(err):
                raise Fenced(
                    f"{what} refused: a newer producer holds transactional id {self.transactional_id} ({err})",
                    transactional_id=self.transactional_id,
                )
            raise DeliveryError(f"{what} was not delivered: {err}")

    def _await_cause(self, seconds: float = 5.0) -> None:
        """Serve the in-flight records' reports (a few seconds at most) until one says why."""
        deadline = time.monotonic() + seconds
        while self._consequence and self._producer is not None and time.monotonic() < deadline:
            try:
                if not len(self._producer):
                    break
                self._producer.poll(0.1)
            except:  # noqa: E722 - a fatal error may come out of poll as a bare KafkaError: it is the cause
                err = kafka_error(sys.exc_info()[1]) or sys.exc_info()[1]
                if hasattr(err, "code"):
                    self._fail(None, err)
                break
        if self._consequence:
            self._consequence = False
            topic, event_id, _, err = self._failure
            log.error("%s not delivered: %s; nothing more is sent (no other cause reported)",
                      f"record {event_id} to {topic}" if topic else "the producer", err)

    def send(self, record: Record) -> None:
        """Queue ``record`` in librdkafka. The hot path of a full-speed day: one ``produce``
        call; a full queue or a refused record takes the slow path (``_send_refused``)."""
        if self._failure is not None:
            self._raise_if_failed()
        producer = self._producer
        try:
            if self._report:
                producer.produce(
                    record.topic, record.value, record.key, headers=list(record.headers),
                    timestamp=record.due * 1000, on_delivery=self._on_delivery,
                )
            else:
                producer.produce(
                    record.topic, record.value, record.key, headers=list(record.headers), timestamp=record.due * 1000
                )
        except Exception as exc:  # noqa: BLE001 - BufferError, KafkaException: see _send_refused
            self._send_refused(record, exc)
        self.sent += 1
        self._sent_by_topic[record.topic] += 1
        self._unpolled += 1
        if self._unpolled >= POLL_EVERY:
            self._unpolled = 0
            self._serve(producer.poll, 0)

    def send_to(self, record: Record, partition: int) -> None:
        """Send ``record`` to ``partition`` (the day ledger's records), confirmed like any record."""
        from confluent_kafka import KafkaError, KafkaException

        if self._failure is not None:
            self._raise_if_failed()
        while True:
            try:
                self._producer.produce(record.topic, record.value, record.key, partition=partition,
                                       timestamp=record.due * 1000, **self._report)
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                self._serve(self._producer.poll, 0.05)
                self._raise_if_failed()
            except KafkaException as exc:
                self._serve(self._producer.poll, 0)
                err = kafka_error(exc)
                if self.in_transaction and err is not None and err.code() == KafkaError._STATE:
                    # The transaction failed before (a refused record): its commit says why.
                    self._commit_transaction(self.options.delivery_timeout_ms / 1000)
                self._fail((record.topic, record.kind, str(record.seq)), err)
                self._raise_if_failed()
                raise
        self.sent += 1
        self._sent_by_topic[record.topic] += 1

    def _send_refused(self, record: Record, exc: Exception) -> None:
        """``produce`` refused ``record``: a full local queue is served and the record
        queued again; a fatal error (every produce refused) is raised as the failure."""
        producer = self._producer
        while True:
            if isinstance(exc, BufferError):  # local queue full: serve delivery reports, then retry
                self._serve(producer.poll, 0.05)
                self._raise_if_failed()
            else:
                from confluent_kafka import KafkaException

                if isinstance(exc, KafkaException):
                    # A fatal error refuses every produce (_FATAL): poll surfaces its cause.
                    self._serve(producer.poll, 0)
                    self._fail((record.topic, f"{record.kind} seq {record.seq}", str(record.seq)), kafka_error(exc))
                    self._raise_if_failed()
                raise exc
            try:
                producer.produce(
                    record.topic,
                    record.value,
                    record.key,
                    headers=list(record.headers),
                    timestamp=record.timestamp_ms,
                    **self._report,
                )
                return
            except Exception as again:  # noqa: BLE001 - handled above, in the next round
                exc = again

    def _flush_step(self, seconds: float) -> bool:
        return self._serve(self._producer.flush, seconds) == 0

    # -- transactions -------------------------------------------------------------------------
    def _begin_transaction(self) -> None:
        from confluent_kafka import KafkaException

        # Serve the client's pending events first: a connection lost before the transaction
        # (a broker restart while the day was being taken) is not lost during it.
        self._serve(self._producer.poll, 0)
        try:
            self._producer.begin_transaction()
        except KafkaException as exc:
            self._fail(None, kafka_error(exc))
            self._raise_if_failed()
        self._lost_at_begin = self._connections_lost

    def _on_client_error(self, err) -> None:
        """librdkafka's client-level errors (served by poll/flush): a lost connection is counted."""
        from confluent_kafka import KafkaError

        if err.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
            self._connections_lost += 1
        elif err.fatal() and self._consequence:
            self._fail(None, err)  # the cause of a refused produce ("_FATAL")
        log.debug("librdkafka: %s", err)

    def connections_lost(self) -> int:
        if self._producer is not None:
            self._serve(self._producer.poll, 0)
        return self._connections_lost

    def _commit_transaction(self, timeout: float) -> None:
        from confluent_kafka import KafkaException

        lost = self._connections_lost - self._lost_at_begin
        if lost:
            # See kafka_python: a transaction whose connections dropped is not committed.
            self._fail(None, None)
            raise DeliveryError(
                f"{lost} broker connection error(s) during the transaction of {self.transactional_id}: not committed "
                "(its outcome on the broker is uncertain); the day resumes from its last position")
        try:
            self._producer.commit_transaction(timeout)
        except KafkaException as exc:
            err = kafka_error(exc)
            if err is not None and err.retriable() and not err.fatal():
                try:  # librdkafka: a retriable commit error may be retried as is
                    self._producer.commit_transaction(timeout)
                    return
                except KafkaException as again:
                    err = kafka_error(again)
            self._fail(None, err)
            self._raise_if_failed()

    def _stalled(self, exc: DeliveryError) -> None:
        self._fail(None, None)

    def _pending(self) -> int:
        try:
            return len(self._producer)  # messages in librdkafka's queues, in flight included
        except TypeError:  # no producer (closed), or a test double without a queue
            return self.sent - self.acked

    def _after_flush(self) -> None:
        # Nothing left in librdkafka and no failure reported: all sent so far are acknowledged.
        self.acked = self.sent
        self.acked_by_topic = Counter(self._sent_by_topic)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``); after a failure drop it instead.

        An open transaction without failure is aborted (its records never become visible);
        after a failure or a fencing nothing more is said to the broker.
        """
        from confluent_kafka import KafkaException

        producer, self._producer = self._producer, None
        if producer is None:
            return
        if self._failure is None and self.in_transaction:
            try:
                producer.abort_transaction(timeout)
                self.in_transaction = False
                log.info("aborted the open transaction of %s", self.transactional_id)
            except KafkaException as exc:
                log.warning("could not abort the open transaction of %s (%s): abandoning it", self.transactional_id, exc)
                self._failure = ("", "", "", kafka_error(exc))
        if self._failure is None:
            left = producer.flush(timeout)
            if left:
                log.warning("producer close: %d records not acknowledged within %g s: abandoned", left, timeout)
            return
        try:
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.flush(0)
            err = self._failure[3]
            if self.in_transaction and err is not None and not err.fatal() and not is_fencing(err):
                # An abortable failure: abort now rather than hold read_committed
                # consumers back until the broker times the transaction out.
                producer.abort_transaction(timeout)
                log.info("aborted the failed transaction of %s", self.transactional_id)
        except (KafkaException, SystemError) as exc:
            log.debug("closing a failed producer: %s", exc)
