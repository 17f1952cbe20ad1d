"""Client settings shared by every Kafka client the engine builds, and their redaction.

One place turns validated ``Settings`` into client options (producer, consumer, admin)
and decides which of them may be logged: values of secret-looking keys never are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from foot_traffic.settings import KafkaSettings

# Matched in kafka-python keywords (sasl_plain_password, ssl_keyfile) and librdkafka keys
# (sasl.password, ssl.key.location, sasl.jaas.config) alike.
SECRET_WORDS = ("password", "secret", "token", "keyfile", "key_password", "key.location", "oauth", "jaas")


def is_secret(key: str) -> bool:
    """Whether a client option's value must never be logged."""
    key = key.lower()
    return any(word in key for word in SECRET_WORDS)


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as they may be logged: values of secret keys replaced by ``***``."""
    return {k: ("***" if is_secret(str(k)) and v not in (None, "") else v) for k, v in options.items()}


@dataclass(frozen=True)
class KafkaOptions:
    """Client settings shared by producer, consumer and admin client."""

    bootstrap_servers: str
    client_options: Mapping[str, Any] = field(default_factory=dict)  # security_protocol, sasl_*, ssl_*
    compression: str = "gzip"
    max_retries: int = 6
    retry_backoff_seconds: float = 5.0
    partitions: int = 3
    replication_factor: int = 1
    retention_ms: int = -1
    request_timeout_ms: int = 30_000
    delivery_timeout_ms: int = 120_000
    # How long the broker lets a transaction stay open before aborting it (a writer that
    # died mid-transaction holds back read_committed consumers of its partitions that
    # long, unless a newer writer of its day aborts it first). librdkafka requires it to
    # be at least delivery_timeout_ms.
    transaction_timeout_ms: int = 120_000
    # How long one connection attempt may take (kafka-python's own default, 30 s, makes
    # every attempt against a dead broker block that long, whatever MAX_RETRIES says).
    bootstrap_timeout_ms: int = 5_000
    # A flush or commit that sees no acknowledgement for this long fails (DeliveryError):
    # a client that stays stuck after its broker restarted (kafka-python 3.0 waiting for a
    # lost transaction coordinator until delivery_timeout_ms) is then healed by the runner
    # (reconnect, re-scan) instead of holding the stream for minutes.
    stall_timeout_ms: int = 15_000

    @classmethod
    def from_settings(cls, settings: KafkaSettings, client_options: Mapping[str, Any] | None = None) -> KafkaOptions:
        """Options from the Kafka settings; ``client_options`` adds
        kafka-python keyword arguments (security_protocol, sasl_*, ssl_*)."""
        return cls(
            bootstrap_servers=settings.bootstrap_servers,
            client_options=dict(client_options or {}),
            compression=settings.compression,
            max_retries=settings.max_retries,
            retry_backoff_seconds=settings.retry_backoff_seconds,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            retention_ms=settings.topic_retention_ms,
        )

    def common(self) -> dict[str, Any]:
        """kafka-python keyword arguments every client takes."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "bootstrap_timeout_ms": self.bootstrap_timeout_ms,
            **dict(self.client_options),
        }

    def redacted(self) -> dict[str, Any]:
        """The configuration as it may be logged: secrets replaced."""
        return redact(self.common())


class _RedactClientConfig(logging.Filter):
    """kafka-python's KafkaAdminClient logs its whole configuration, passwords included, at
    DEBUG: replace secret values in any mapping logged by that logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping):
            record.args = redact(args)
        elif isinstance(args, tuple) and any(isinstance(a, Mapping) for a in args):
            record.args = tuple(redact(a) if isinstance(a, Mapping) else a for a in args)
        return True


logging.getLogger("kafka.admin.client").addFilter(_RedactClientConfig())
