"""The Kafka clients' lines that are no errors go to DEBUG; the same loggers' real errors stay."""

from __future__ import annotations

import logging

import pytest
from kafka.errors import Cancelled, KafkaConnectionError

import foot_traffic.delivery.producer  # noqa: F401 - installs the filters, as every front door does


def emit(caplog, logger: str, level: int, msg: str, *args, exc_info=None) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        logging.getLogger(logger).log(level, msg, *args, exc_info=exc_info)
    return [r.levelname for r in caplog.records]


def test_a_metadata_refresh_cancelled_by_close_is_not_an_error(caplog):
    assert emit(caplog, "kafka.cluster", logging.ERROR, "Metadata refresh: failed %s", Cancelled()) == []
    # a refresh that really failed still shows
    assert emit(caplog, "kafka.cluster", logging.ERROR, "Metadata refresh: failed %s",
                KafkaConnectionError("refused")) == ["ERROR"]


class Transport:
    def __init__(self, state: str):
        self.state = state

    def __str__(self) -> str:
        return f"<KafkaTCPTransport [none] ({self.state})>"


@pytest.mark.parametrize("what", ["%s: Error receiving network data closing socket", "%s: Error sending request data: %s"])
def test_io_on_a_transport_already_closed_is_not_an_error(what, caplog):
    args = (Transport("closed"), "Bad file descriptor")[: what.count("%s")]
    try:
        raise OSError(9, "Bad file descriptor")
    except OSError:
        import sys

        info = sys.exc_info()
    assert emit(caplog, "kafka.net.transport", logging.ERROR, what, *args, exc_info=info) == []
    args = (Transport("connected"), "Bad file descriptor")[: what.count("%s")]
    assert emit(caplog, "kafka.net.transport", logging.ERROR, what, *args, exc_info=info) == ["ERROR"]


def test_librdkafkas_warning_about_the_gapless_setting_is_not_one(caplog):
    text = "CONFWARN [foot-traffic-producer#producer-1] [thrd:app]: Configuration property enable.gapless.guarantee is experimental"
    assert emit(caplog, "foot_traffic.librdkafka", logging.WARNING, "%s", text) == []
    assert emit(caplog, "foot_traffic.librdkafka", logging.WARNING, "%s", "FAIL [thrd:x]: Connection refused") == ["WARNING"]


def test_a_slow_step_of_kafka_pythons_event_loop_is_not_a_warning(caplog):
    text = "Task <Task> ran for 0.109s (>0.100s threshold). It is blocking the event loop -- likely a tight sync loop"
    assert emit(caplog, "kafka.net.selector", logging.WARNING, text) == []


def test_debug_still_shows_them(caplog):
    with caplog.at_level(logging.DEBUG, logger="kafka"):
        logging.getLogger("kafka.cluster").error("Metadata refresh: failed %s", Cancelled())
    assert [r.levelname for r in caplog.records] == ["DEBUG"]
