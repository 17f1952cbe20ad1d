"""Security basics: SASL/SSL options reach every kafka-python client the engine builds, and
passwords never appear in logs (KafkaOptions.redacted, captured logs of a failing connect).

No fake Kafka: the real kafka-python clients are built (and validate their configuration);
a subclass only records the keyword arguments it was given. With nothing listening, each
client fails after one short attempt, which is also the path that logs the most.
"""

from __future__ import annotations

import logging
import threading

import pytest

from foot_traffic.local_broker import free_port
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.errors import BrokerUnavailable
from foot_traffic.delivery.topics import ensure_topics
from foot_traffic.delivery.kafka_python import KafkaPublisher
from foot_traffic.delivery.scan import KafkaDayScanner
from foot_traffic.settings import Settings
from tests.support.kafka_clients import recorded  # noqa: F401 - a fixture

PASSWORD = "pa55-W0rd-never-logged"
KEY_PASSWORD = "key-pa55-never-logged"

SASL_SSL = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_plain_username": "producer",
    "sasl_plain_password": PASSWORD,
    "ssl_cafile": "/etc/ssl/ca.pem",
    "ssl_certfile": "/etc/ssl/client.pem",
    "ssl_keyfile": "/etc/ssl/client.key",
    "ssl_password": KEY_PASSWORD,
    "ssl_check_hostname": True,
}
SASL_PLAINTEXT = {
    "security_protocol": "SASL_PLAINTEXT",
    "sasl_mechanism": "PLAIN",
    "sasl_plain_username": "producer",
    "sasl_plain_password": PASSWORD,
}


def options(client_options, **kw) -> KafkaOptions:
    settings = Settings.from_env({"KAFKA_BROKER": f"127.0.0.1:{free_port()}", "MAX_RETRIES": "0"})
    base = KafkaOptions.from_settings(settings, client_options)
    return KafkaOptions(**{**base.__dict__, "bootstrap_timeout_ms": 300, **kw})


def test_from_settings_keeps_every_client_option():
    opts = options(SASL_SSL)
    common = opts.common()
    for key, value in SASL_SSL.items():
        assert common[key] == value


@pytest.mark.parametrize("client_options", [SASL_SSL, SASL_PLAINTEXT], ids=["SASL_SSL", "SASL_PLAINTEXT"])
def test_security_options_reach_producer_consumer_and_admin(client_options, recorded, caplog):
    caplog.set_level(logging.DEBUG)
    opts = options(client_options)
    stop = threading.Event()
    with pytest.raises(BrokerUnavailable):
        KafkaPublisher(opts, stop).connect()
    with pytest.raises(BrokerUnavailable):
        ensure_topics(opts, ["t"], stop)
    with pytest.raises(BrokerUnavailable):
        from datetime import date

        KafkaDayScanner(opts, stop).scan(date(2025, 11, 7), ["t"], 0, [None])
    assert set(recorded) == {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient"}
    for name, kwargs in recorded.items():
        for key, value in client_options.items():
            assert kwargs.get(key) == value, (name, key)
        assert kwargs["bootstrap_servers"] == opts.bootstrap_servers
    # the producer keeps its delivery guarantees whatever the connection adds
    assert recorded["KafkaProducer"]["acks"] == "all" and recorded["KafkaProducer"]["enable_idempotence"] is True
    # nothing logged (ours or kafka-python's, at DEBUG) carries a secret
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "connecting to Kafka" in text
    assert PASSWORD not in text and KEY_PASSWORD not in text


def test_redacted_hides_passwords_and_keeps_the_rest():
    red = options(SASL_SSL).redacted()
    assert red["sasl_plain_password"] == "***" and red["ssl_password"] == "***"
    assert red["ssl_keyfile"] == "***"  # where the key lives is not logged either
    assert red["sasl_plain_username"] == "producer" and red["security_protocol"] == "SASL_SSL"
    assert PASSWORD not in repr(red) and KEY_PASSWORD not in repr(red)


@pytest.mark.parametrize(
    "key", ["sasl_plain_password", "ssl_password", "sasl_oauth_token_provider", "client_secret", "api_token"]
)
def test_any_password_like_key_is_redacted(key):
    assert options({key: PASSWORD}).redacted()[key] == "***"


def test_options_repr_is_the_only_leak_left_and_is_not_logged(caplog):
    """KafkaOptions is a dataclass: its repr shows client_options. The engine must log
    ``redacted()`` only; this pins that no engine log line uses the repr."""
    caplog.set_level(logging.DEBUG, logger="foot_traffic")
    opts = options(SASL_SSL)
    with pytest.raises(BrokerUnavailable):
        KafkaPublisher(opts, threading.Event()).connect()
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)
