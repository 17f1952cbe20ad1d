"""Delivery with kafka-python (the original producer's client, the default).

acks=all with idempotence; every record confirmed by its callback. After the first
failed record the publisher is *fenced*: the sender thread is held inside the error
callback until the producer is abandoned, so nothing sent later (kafka-python would bump
the epoch and go on) lands behind a hole. Each partition therefore keeps holding a
prefix of the day, which resume relies on. The fence needs kafka-python internals,
kept behind :mod:`foot_traffic.kafka_internals`.

With a ``transactional_id`` the same fence is what makes a *fenced* producer stop:
kafka-python 3.0.12 answers the broker's ``INVALID_PRODUCER_EPOCH`` by queueing an
epoch bump (KIP-360), and a fenced producer that sends that bump takes the id back and
fences the newer one (checked on the embedded broker). The errback holds the sender
thread before the bump goes out, and ``close()`` then stops the thread without sending
anything (no abort with the old epoch either): the loser stops at its first fencing
error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka.errors import InvalidRecordError, KafkaError
from kafka.partitioner.default import murmur2

from foot_traffic.delivery import internals as kafka_internals
from foot_traffic.delivery.connect import retry_connect
from foot_traffic.delivery.errors import (
    INVALID_RECORD,
    BrokerUnavailable,
    DeliveryError,
    Fenced,
    LostAcknowledgedWrites,
    PublishError,
    RecordRefused,
)
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.producer import ConfirmedPublisher
from foot_traffic.records.events import Record

# Keys whose partition ``send`` remembers, per topic (cleared when full): more than the
# customers inside a busy store, whose exits come after their entries.
KEY_PARTITION_CACHE = 65_536

log = logging.getLogger(__name__)


def is_fencing(exc: BaseException | None) -> bool:
    """Whether a kafka-python error says that a newer producer took the transactional id."""
    from kafka.errors import InvalidProducerEpochError, ProducerFencedError

    if isinstance(exc, (ProducerFencedError, InvalidProducerEpochError)):
        return True
    # "Cannot perform send because at least one previous transactional ... request has failed", cause
    return any(isinstance(arg, (ProducerFencedError, InvalidProducerEpochError)) for arg in getattr(exc, "args", ()))


# kafka-python's error for the other records of a batch in which the broker named invalid ones.
_BATCH_OF_INVALID = "part of a batch which had one more more invalid records"


def is_refusal(exc: BaseException | None) -> bool:
    """Whether the broker refused a record as invalid: error 87, a record of the same batch, or
    a send kafka-python refused because of it ("Cannot perform send ...", the error its cause)."""
    if isinstance(exc, InvalidRecordError) or (exc is not None and _BATCH_OF_INVALID in str(exc)):
        return True
    return any(isinstance(arg, InvalidRecordError) for arg in getattr(exc, "args", ()))


class KafkaPublisher(ConfirmedPublisher):
    """kafka-python producer with confirmed delivery. Not thread-safe: one runner uses it."""

    def __init__(
        self, options: KafkaOptions, stop: threading.Event | None = None, *, transactional_id: str | None = None
    ):
        super().__init__(options, stop, transactional_id=transactional_id)
        self._error: tuple[Record | None, BaseException] | None = None
        self._released = threading.Event()  # set when the producer is abandoned (the fence opens)
        self._last_offset: dict[tuple[str, int], int] = {}  # (topic, partition) -> last acknowledged offset
        self._ack = self._on_ack  # bound once: attached to every record's future
        self._key_partitions: dict[str, dict[bytes, int]] = {}  # topic -> key -> partition (``send``)

    def connect(self) -> None:
        from kafka import KafkaProducer

        # A reconnect after an outage (the runner heals): a new producer, the old one's failure forgotten.
        self._error = None
        self._released = threading.Event()
        self._last_offset = {}
        self._key_partitions = {}
        self._partitions = {}
        self.sent = self.acked = 0
        self.in_transaction = False

        transactional = (
            {"transactional_id": self.transactional_id, "transaction_timeout_ms": self.options.transaction_timeout_ms}
            if self.transactional_id
            else {}
        )
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
            **transactional,
            **self.options.common(),
        )
        # A day's transactional producer says it at DEBUG: one per day would crowd a backfill's log.
        level = logging.DEBUG if self.transactional_id else logging.INFO
        log.log(level, "connecting to Kafka: %s", self.options.redacted())
        self._producer = retry_connect(lambda: KafkaProducer(**config), self.options, self.stop)
        self._closed_connections = kafka_internals.closed_connections(self._producer)
        self._closed_at_begin = 0
        log.log(level, "connected to Kafka at %s", self.options.bootstrap_servers)
        if self.transactional_id:
            self._init_transactions()

    def _init_transactions(self) -> None:
        from kafka.errors import KafkaError, KafkaTimeoutError

        try:
            self._producer.init_transactions()
        except KafkaError as exc:
            self._error = (None, exc)
            if is_fencing(exc):
                raise Fenced(
                    f"transactional id {self.transactional_id} was taken by a newer producer during init",
                    transactional_id=self.transactional_id,
                ) from None
            if isinstance(exc, KafkaTimeoutError):
                raise BrokerUnavailable(
                    f"no transaction coordinator answered for {self.transactional_id}: {exc}"
                ) from None
            raise DeliveryError(
                f"cannot initialise transactions for {self.transactional_id} ({type(exc).__name__}: {exc}); "
                "a broker without transactions (or without the TransactionalId WRITE permission) needs "
                "KAFKA_TRANSACTIONS=0"
            ) from None

    def _visible_partitions(self, topic: str):
        return self._producer.partitions_for(topic)

    # -- sending ----------------------------------------------------------------------------
    def _raise_if_failed(self) -> None:
        if self._error is not None:
            record, exc = self._error
            if is_refusal(exc):
                self._raise_refused()
            if record is not None:
                what = f"record {record.kind} seq {record.seq} to {record.topic}"
            else:  # no record of ours failed: a transaction step, or the broker lost what it had acknowledged
                what = "the transaction" if self.transactional_id and not isinstance(exc, LostAcknowledgedWrites) \
                    else "what the broker had acknowledged"
            if self.transactional_id and is_fencing(exc):
                raise Fenced(
                    f"{what} refused: {type(exc).__name__}: a newer producer holds transactional id "
                    f"{self.transactional_id}",
                    transactional_id=self.transactional_id,
                )
            if isinstance(exc, LostAcknowledgedWrites):
                raise LostAcknowledgedWrites(f"{what} was lost by the broker: {exc}")
            raise DeliveryError(f"{what} was not delivered: {type(exc).__name__}: {exc}")

    def _on_ack(self, metadata: Any) -> None:
        """A record was acknowledged (on the sender thread; one bound method for every record)."""
        self.acked += 1
        self.acked_by_topic[metadata.topic] += 1
        # Our records land at increasing offsets of their partition. One at or below an
        # earlier acknowledged offset means the broker lost what it had acknowledged
        # (a crashed broker that restarted from an older state, without telling the
        # producer by a sequence error): stop like after a failed record.
        where = metadata.topic_partition  # a TopicPartition: equal (and hashed) as (topic, partition)
        last = self._last_offset.get(where, -1)
        if metadata.offset <= last:
            self._lost(where, last, metadata.offset)
        else:
            self._last_offset[where] = metadata.offset

    def _on_error(self, record: Record) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            first = self._error[1] if self._error is not None else None
            # The refused record itself beats a record that only shared its batch.
            if first is None or (isinstance(exc, InvalidRecordError) and is_refusal(first)
                                 and not isinstance(first, InvalidRecordError)):
                self._error = (record, exc)
                log.error(
                    "record %s seq %d to %s not delivered (%s: %s): %s",
                    record.kind, record.seq, record.topic, type(exc).__name__,
                    "fenced by a newer producer" if self.transactional_id and is_fencing(exc) else exc,
                    "refused by the broker" + ("; its transaction is aborted" if self.transactional_id else "")
                    if is_refusal(self._error[1]) else "holding the producer until it is abandoned",
                )
            # Not after a refusal: kafka-python sends nothing more by itself (a fatal error without
            # transactions, an abortable one in a transaction, which close() aborts through this
            # thread), and a held thread would also hold a send waiting for a topic's metadata.
            if kafka_internals.in_io_thread(self._producer) and not is_refusal(self._error[1]):
                self._released.wait()

        return failed

    def _raise_refused(self, wait: float = 5.0) -> None:
        """Raise ``RecordRefused`` naming the refused record. Its errback may come a moment after
        kafka-python refused a later send for it, or after a record that only shared its batch."""
        deadline = time.monotonic() + wait
        while not isinstance(self._error[1], InvalidRecordError) and time.monotonic() < deadline:
            time.sleep(0.01)
        record, exc = self._error
        if not isinstance(exc, InvalidRecordError):  # not named: the record above is not the refused one
            record = None
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else getattr(exc, "description", str(exc))
        raise RecordRefused(None if record is None else record.topic,
                            None if record is None else record.key.decode(errors="replace"),
                            f"{type(exc).__name__} (INVALID_RECORD, {INVALID_RECORD}): {reason}")

    def _aborts_refusal(self) -> bool:
        """The first failure is a refused record in a transaction: ``close`` aborts it."""
        return bool(self.transactional_id) and self._error is not None and is_refusal(self._error[1])

    def _lost(self, where: tuple[str, int], acknowledged: int, now: int) -> None:
        if self._error is None:
            self._error = (None, LostAcknowledgedWrites(
                f"{where[0]}[{where[1]}] had acknowledged offset {acknowledged}, now writes at {now}"
            ))
            log.error(
                "the broker lost acknowledged records of %s[%d] (acknowledged up to offset %d, now at %d): "
                "holding the producer until it is abandoned", where[0], where[1], acknowledged, now,
            )
        if kafka_internals.in_io_thread(self._producer):
            self._released.wait()

    def verify(self) -> None:
        """Every partition written still holds what it acknowledged (its end offset is past
        the last acknowledged one); else ``DeliveryError``. Run when a day ends: a broker that
        lost records and got no later ones of ours shows it only here."""
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        # What was acknowledged *before* asking: records of ours acknowledged meanwhile (other
        # store-days still sending) lie past the end offsets read, and are no loss.
        acknowledged = dict(self._last_offset)
        if not acknowledged:
            return
        try:
            consumer = KafkaConsumer(client_id="foot-traffic-verify", enable_auto_commit=False, **self.options.common())
            try:
                ends = consumer.end_offsets([TopicPartition(t, p) for t, p in acknowledged])
            finally:
                consumer.close()
        except KafkaError as exc:
            raise DeliveryError(f"cannot check what the broker holds: {exc}") from None
        for tp, end in ends.items():
            last = acknowledged[(tp.topic, tp.partition)]
            if end <= last:
                self._error = (None, LostAcknowledgedWrites(f"{tp.topic}[{tp.partition}] ends at {end}, acknowledged {last}"))
                self._raise_if_failed()

    def send(self, record: Record) -> None:
        """Hand ``record`` to the client; its acknowledgement or failure comes back in a
        callback on the sender thread. The hot path of a full-speed day: no per-call
        import, one callback shared by every record, both attached under one lock.

        The partition is the default partitioner's (murmur2 of the key, modulo the topic's
        partitions: ``murmur2_partition``), computed once per key -- a visit's three records
        share their key -- instead of once per record by the client's pure-Python murmur2.
        The topic's partition count is the one seen after its first record (as the resume
        scan's); the first record of each topic goes through the client's partitioner."""
        if self._error is not None:
            self._raise_if_failed()
        topic, key = record.topic, record.key
        keys = self._key_partitions.get(topic)
        if keys is None:
            partition = None
        else:
            partition = keys.get(key)
            if partition is None:
                if len(keys) >= KEY_PARTITION_CACHE:
                    keys.clear()
                partition = keys[key] = (murmur2(key) & 0x7FFFFFFF) % self._partitions[topic]
        try:
            future = self._producer.send(
                topic,
                value=record.value,
                key=key,
                headers=list(record.headers),
                partition=partition,
                timestamp_ms=record.due * 1000,
            )
        except KafkaError as exc:
            if self._error is None:  # a refusal is another record's, named by its errback
                self._error = (None if is_refusal(exc) else record, exc)
            self._raise_if_failed()
        self.sent += 1
        kafka_internals.add_callbacks(future, self._ack, self._on_error(record))
        if keys is None:
            self.partition_count(topic)  # the client knows the topic now: no wait
            self._key_partitions[topic] = {}

    def send_to(self, record: Record, partition: int) -> None:
        """Send ``record`` to ``partition`` (the day ledger's records), confirmed like any record."""
        if self._error is not None:
            self._raise_if_failed()
        try:
            future = self._producer.send(record.topic, value=record.value, key=record.key, headers=list(record.headers),
                                         partition=partition, timestamp_ms=record.due * 1000)
        except KafkaError as exc:
            if self._error is None:
                self._error = (record, exc)
            self._raise_if_failed()
        self.sent += 1
        kafka_internals.add_callbacks(future, self._ack, self._on_error(record))

    def _stalled(self, exc: DeliveryError) -> None:
        if self._error is None:
            self._error = (None, exc)

    def _flush_step(self, seconds: float) -> bool:
        from kafka.errors import KafkaError, KafkaTimeoutError

        try:
            self._producer.flush(timeout=seconds)
            return True
        except KafkaTimeoutError:
            return False
        except KafkaError as exc:
            raise DeliveryError(f"flush failed: {exc}") from exc

    # -- transactions -------------------------------------------------------------------------
    def _begin_transaction(self) -> None:
        from kafka.errors import KafkaError

        try:
            self._producer.begin_transaction()
        except KafkaError as exc:
            self._error = (None, exc)
            self._raise_if_failed()
        self._closed_at_begin = self._closed_connections()

    def connections_lost(self) -> int:
        return self._closed_connections() if self._producer is not None else 0

    def _commit_transaction(self, timeout: float) -> None:
        from kafka.errors import KafkaError

        lost = self._closed_connections() - self._closed_at_begin
        if lost:
            # A transaction whose connections dropped is not committed: a broker that came back
            # without its transaction state would take the commit and hide the records from
            # read_committed consumers (tests/integration/test_embedded_broker_flaw.py). Apache
            # Kafka keeps that state; there the replay costs this one transaction.
            self._error = (None, DeliveryError(
                f"{lost} broker connection(s) lost during the transaction of {self.transactional_id}: "
                "not committed (its outcome on the broker is uncertain); the day resumes from its last position"))
            self._raise_if_failed()
        try:
            kafka_internals.end_transaction(self._producer, True, timeout)
        except KafkaError as exc:
            self._error = (None, exc)
            self._raise_if_failed()

    def close(self, timeout: float = 10.0) -> None:
        """Close; after a failure (or when a flush times out) abandon unsent records instead.

        An open transaction without failure is aborted first (its records never become
        visible, and read_committed consumers are not held back until it times out). A
        failed or fenced producer is abandoned without a word to the broker.
        """
        if self._producer is None:
            return
        from kafka.errors import KafkaError

        try:
            if self.in_transaction and self._aborts_refusal():
                # The transaction holding the refused record: abort it, so that nothing of it
                # becomes visible (and read_committed consumers are not held back until it times out).
                try:
                    kafka_internals.end_transaction(self._producer, False, timeout)
                except KafkaError as exc:
                    log.warning("could not abort the transaction of %s (%s): abandoning it", self.transactional_id, exc)
                else:
                    self.in_transaction = False
                    log.info("aborted the transaction of %s that held the refused record", self.transactional_id)
                    self._producer.close(timeout=timeout)
                    return
            if self._error is None and self.in_transaction:
                try:
                    # Nothing in flight first: a batch failed by the abort would hit the fence.
                    self.flush(timeout)
                    kafka_internals.end_transaction(self._producer, False, timeout)
                    self.in_transaction = False
                    log.info("aborted the open transaction of %s", self.transactional_id)
                except (KafkaError, PublishError) as exc:
                    log.warning("could not abort the open transaction of %s (%s): abandoning it", self.transactional_id, exc)
                    if self._error is None:
                        self._error = (None, exc)
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
