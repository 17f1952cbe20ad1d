"""Map an Airflow Kafka connection (provider conn_type ``kafka``) to kafka-python arguments.

The Kafka provider keeps everything in the connection's extra JSON, in librdkafka
(confluent-kafka) spelling: ``bootstrap.servers``, ``security.protocol``,
``sasl.mechanism``, ``sasl.username`` ... This engine talks kafka-python, whose keyword
arguments are spelled differently (``security_protocol``, ``sasl_plain_username`` ...);
:func:`client_options_from_extra` translates. Keys kafka-python has no equivalent for
are ignored with a warning that names the key, never its value.

When the connection does not exist, :func:`resolve_kafka` returns no bootstrap servers
and the caller keeps ``KAFKA_BROKER`` (the original producer's variable).

Nothing here logs or returns a secret in a message: values of password-like keys are
only ever passed to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from foot_traffic.delivery.options import redact

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "kafka_default"

# librdkafka key -> kafka-python keyword (accepted by KafkaProducer, KafkaConsumer and KafkaAdminClient).
KEY_MAP: dict[str, str] = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "sasl.kerberos.service.name": "sasl_kerberos_service_name",
    "sasl.kerberos.domain.name": "sasl_kerberos_domain_name",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
    "ssl.crl.location": "ssl_crlfile",
}
# Keys that make sense for confluent-kafka consumers/producers but are set by this engine
# itself (or mean nothing to it): silently dropped.
IGNORED_KEYS = {
    "client.id", "group.id", "auto.offset.reset", "enable.auto.commit", "acks", "enable.idempotence",
    "compression.type", "compression.codec", "linger.ms", "batch.size", "request.timeout.ms",
    "delivery.timeout.ms", "message.timeout.ms", "retries", "socket.timeout.ms",
}
SECURITY_PROTOCOLS = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
SASL_MECHANISMS = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"}


class KafkaConnectionError(ValueError):
    """The Kafka connection's extra cannot be used; the message never contains a secret."""


@dataclass(frozen=True)
class KafkaTarget:
    """Where and how to connect: bootstrap servers (None: keep KAFKA_BROKER) and client kwargs."""

    conn_id: str
    bootstrap_servers: str | None
    client_options: dict[str, Any] = field(default_factory=dict, repr=False)
    found: bool = False

    def describe(self) -> str:
        """A loggable description (no secret values)."""
        source = f"connection {self.conn_id!r}" if self.found else f"KAFKA_BROKER (no connection {self.conn_id!r})"
        return f"{source}: bootstrap {self.bootstrap_servers or '(from KAFKA_BROKER)'}, options {redact(self.client_options)}"


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _one_of(options: dict[str, Any], key: str, extra_key: str, allowed: set[str]) -> bool:
    """Upper-case ``options[key]`` in place if set; refuse a value outside ``allowed``."""
    if key not in options:
        return False
    value = str(options[key]).upper()
    if value not in allowed:
        raise KafkaConnectionError(f"{extra_key}={value!r} is not one of {', '.join(sorted(allowed))}")
    options[key] = value
    return True


def client_options_from_extra(extra: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """``(bootstrap_servers, kafka-python kwargs)`` from a provider connection's extra.

    Raises :class:`KafkaConnectionError` for values kafka-python would reject later in a
    less readable way (unknown security protocol or SASL mechanism).
    """
    bootstrap = extra.get("bootstrap.servers")
    if bootstrap is not None:
        bootstrap = ",".join(part.strip() for part in str(bootstrap).split(",") if part.strip()) or None
    options: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in extra.items():
        if key == "bootstrap.servers" or value is None:
            continue
        if key in KEY_MAP:
            options[KEY_MAP[key]] = value.strip() if isinstance(value, str) else value
        elif key in {"enable.ssl.certificate.verification"}:
            if not _flag(value):
                options["ssl_check_hostname"] = False
        elif key == "ssl.endpoint.identification.algorithm":
            options["ssl_check_hostname"] = str(value).strip().lower() not in {"", "none"}
        elif key in IGNORED_KEYS:
            continue
        else:
            ignored.append(key)
    if ignored:
        log.warning("Kafka connection extra keys with no kafka-python equivalent, ignored: %s", ", ".join(sorted(ignored)))
    _one_of(options, "security_protocol", "security.protocol", SECURITY_PROTOCOLS)
    if _one_of(options, "sasl_mechanism", "sasl.mechanism", SASL_MECHANISMS):
        if "security_protocol" not in options:
            raise KafkaConnectionError("sasl.mechanism is set but security.protocol is not (SASL_SSL or SASL_PLAINTEXT)")
    return bootstrap, options


def target_from_connection(conn: Any) -> KafkaTarget:
    """A :class:`KafkaTarget` from an Airflow ``Connection`` (extra JSON, else host/port/login)."""
    extra = dict(conn.extra_dejson or {})
    bootstrap, options = client_options_from_extra(extra)
    if bootstrap is None and conn.host:
        bootstrap = f"{conn.host}:{conn.port}" if conn.port else conn.host
    # Login/password fields of the form, when the extra leaves the SASL credentials out.
    if conn.login and "sasl_plain_username" not in options and options.get("sasl_mechanism"):
        options["sasl_plain_username"] = conn.login
    if conn.password and "sasl_plain_password" not in options and options.get("sasl_mechanism"):
        options["sasl_plain_password"] = conn.password
    if bootstrap is None:
        raise KafkaConnectionError(
            f"connection {conn.conn_id!r} has no bootstrap.servers in its extra (nor a host)"
        )
    if conn.conn_type and conn.conn_type != "kafka":
        log.warning("connection %r has conn_type %r, expected 'kafka'; using it anyway", conn.conn_id, conn.conn_type)
    return KafkaTarget(conn.conn_id, bootstrap, options, found=True)


def resolve_kafka(conn_id: str | None = DEFAULT_CONN_ID) -> KafkaTarget:
    """The Kafka target of ``conn_id``; without that connection, fall back to KAFKA_BROKER."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    conn_id = conn_id or DEFAULT_CONN_ID
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("no Airflow connection %r: using KAFKA_BROKER", conn_id)
        return KafkaTarget(conn_id, None, {}, found=False)
    return target_from_connection(conn)


def librdkafka_producer_factory(target: KafkaTarget):
    """``KAFKA_CLIENT=confluent``: the producer of the Kafka provider's own hook.

    The connection's extra is already librdkafka configuration (with the provider's
    callbacks and cloud token helpers resolved by the hook); the engine's producer
    settings are laid over it. Without the connection: None (the engine connects to
    ``KAFKA_BROKER`` itself).
    """
    if not target.found:
        return None

    from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

    class EngineProducerHook(KafkaProducerHook):
        """The provider's producer hook, building the client with the engine's settings on top."""

        def __init__(self, kafka_config_id: str, engine_settings: Mapping[str, Any]):
            super().__init__(kafka_config_id=kafka_config_id)
            self.engine_settings = dict(engine_settings)

        def _get_client(self, config):
            from confluent_kafka import Producer

            return Producer({**config, **self.engine_settings}, logger=logging.getLogger("foot_traffic.librdkafka"))

    def build(engine_settings: Mapping[str, Any]):
        return EngineProducerHook(target.conn_id, engine_settings).get_producer()

    return build
