"""Kafka provider connection -> kafka-python arguments, and secrets kept out of logs."""

from __future__ import annotations

import json
import logging
import threading
from types import SimpleNamespace

import pytest

from foot_traffic_airflow.connection import (
    KafkaConnectionError,
    client_options_from_extra,
    redact,
    resolve_kafka,
    target_from_connection,
)
from foot_traffic.delivery.errors import BrokerUnavailable
from foot_traffic.delivery.kafka_python import KafkaPublisher
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.local_broker import free_port
from foot_traffic.settings import Settings
from tests.support.kafka_clients import recorded  # noqa: F401 - a fixture

SECRET = "s3cr3t-Pa55word-xyz"
KEY_SECRET = "key-pa55-never-logged"


def conn(extra=None, **fields):
    base = dict(conn_id="kafka_test", conn_type="kafka", host=None, port=None, login=None, password=None)
    base.update(fields)
    return SimpleNamespace(extra_dejson=extra or {}, **base)


def test_plaintext_bootstrap_only():
    assert client_options_from_extra({"bootstrap.servers": " a:9092 , b:9093 "}) == ("a:9092,b:9093", {})


def test_sasl_ssl_scram_with_certificates():
    bootstrap, options = client_options_from_extra(
        {
            "bootstrap.servers": "broker:9094",
            "security.protocol": "sasl_ssl",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": "producer",
            "sasl.password": SECRET,
            "ssl.ca.location": "/etc/kafka/ca.pem",
            "ssl.certificate.location": "/etc/kafka/client.pem",
            "ssl.key.location": "/etc/kafka/client.key",
            "ssl.key.password": SECRET,
            "ssl.endpoint.identification.algorithm": "none",
            "group.id": "ignored-by-a-producer",
        }
    )
    assert bootstrap == "broker:9094"
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "producer",
        "sasl_plain_password": SECRET,
        "ssl_cafile": "/etc/kafka/ca.pem",
        "ssl_certfile": "/etc/kafka/client.pem",
        "ssl_keyfile": "/etc/kafka/client.key",
        "ssl_password": SECRET,
        "ssl_check_hostname": False,
    }


def test_every_mapped_option_is_accepted_by_every_kafka_python_client():
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    from foot_traffic_airflow.connection import KEY_MAP

    for kwarg in set(KEY_MAP.values()) | {"ssl_check_hostname"}:
        for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
            assert kwarg in client.DEFAULT_CONFIG, f"{client.__name__} does not accept {kwarg}"


def test_sasl_plain_credentials_from_login_and_password_fields():
    target = target_from_connection(
        conn({"bootstrap.servers": "b:9092", "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"},
             login="user", password=SECRET)
    )
    assert target.client_options["sasl_plain_username"] == "user"
    assert target.client_options["sasl_plain_password"] == SECRET
    assert SECRET not in target.describe()
    assert SECRET not in repr(target)


def test_host_and_port_when_extra_has_no_bootstrap():
    assert target_from_connection(conn({}, host="kafka.internal", port=9092)).bootstrap_servers == "kafka.internal:9092"


@pytest.mark.parametrize(
    "extra, words",
    [
        ({"bootstrap.servers": "b:1", "security.protocol": "TLS"}, ["security.protocol", "TLS", "SASL_SSL"]),
        ({"bootstrap.servers": "b:1", "security.protocol": "SASL_SSL", "sasl.mechanism": "MD5"}, ["sasl.mechanism", "MD5"]),
        ({"bootstrap.servers": "b:1", "sasl.mechanism": "PLAIN"}, ["security.protocol"]),
    ],
)
def test_bad_values_are_refused_with_a_readable_message(extra, words):
    with pytest.raises(KafkaConnectionError) as err:
        client_options_from_extra(extra)
    for word in words:
        assert word in str(err.value)


def test_no_bootstrap_at_all_is_refused():
    with pytest.raises(KafkaConnectionError, match="bootstrap.servers"):
        target_from_connection(conn({"security.protocol": "SSL"}))


def test_unknown_keys_are_named_but_their_values_never_logged(caplog):
    caplog.set_level(logging.WARNING)
    client_options_from_extra({"bootstrap.servers": "b:1", "sasl.oauthbearer.client.secret": SECRET})
    assert "sasl.oauthbearer.client.secret" in caplog.text
    assert SECRET not in caplog.text


def test_redact_hides_secret_values():
    shown = redact({"sasl_plain_password": SECRET, "ssl_password": SECRET, "ssl_keyfile": "/k", "sasl_plain_username": "u"})
    assert SECRET not in json.dumps(shown)
    assert shown["sasl_plain_username"] == "u"


def test_resolve_uses_the_airflow_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_TEST_RESOLVE",
        json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": "10.0.0.1:9092", "security.protocol": "SSL"}}),
    )
    target = resolve_kafka("kafka_test_resolve")
    assert target.found
    assert target.bootstrap_servers == "10.0.0.1:9092"
    assert target.client_options == {"security_protocol": "SSL"}


def test_resolve_falls_back_to_kafka_broker_without_a_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_KAFKA_NOT_THERE", raising=False)
    target = resolve_kafka("kafka_not_there")
    assert not target.found and target.bootstrap_servers is None and target.client_options == {}
    assert "KAFKA_BROKER" in target.describe()


def test_airflow_connection_extra_reaches_the_client_and_is_not_logged(caplog, recorded):
    caplog.set_level(logging.DEBUG)
    extra = {
        "bootstrap.servers": f"127.0.0.1:{free_port()}",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "producer",
        "sasl.password": SECRET,
        "ssl.ca.location": "/etc/ssl/ca.pem",
        "ssl.key.password": KEY_SECRET,
        "unknown.secret.key": SECRET,
    }
    bootstrap, client_options = client_options_from_extra(extra)
    settings = Settings.from_env({"KAFKA_BROKER": bootstrap, "MAX_RETRIES": "0"})
    base = KafkaOptions.from_settings(settings, client_options)
    opts = KafkaOptions(**{**base.__dict__, "bootstrap_timeout_ms": 300})
    with pytest.raises(BrokerUnavailable):
        KafkaPublisher(opts, threading.Event()).connect()
    kwargs = recorded["KafkaProducer"]
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
    assert kwargs["sasl_plain_username"] == "producer" and kwargs["sasl_plain_password"] == SECRET
    assert kwargs["ssl_cafile"] == "/etc/ssl/ca.pem" and kwargs["ssl_password"] == KEY_SECRET
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert SECRET not in text and KEY_SECRET not in text
