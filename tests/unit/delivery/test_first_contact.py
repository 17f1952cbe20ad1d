"""The run's first connection on real sockets (no broker): what each attempt found, how
many attempts, how long, and a stop while waiting."""

from __future__ import annotations

import threading
import time

import pytest

from foot_traffic.delivery.first_contact import NoBroker, first_contact, plural
from foot_traffic.delivery.options import KafkaOptions
from tests.support import dead_ends


def options(address: str, retries: int = 3, backoff: float = 0.2, timeout_ms: int = 500) -> KafkaOptions:
    return KafkaOptions(bootstrap_servers=address, max_retries=retries, retry_backoff_seconds=backoff,
                        bootstrap_timeout_ms=timeout_ms)


@pytest.fixture
def closed_port():
    with dead_ends.refused() as address:
        yield int(address.rsplit(":", 1)[1])


@pytest.fixture
def full_backlog_port():
    with dead_ends.full_backlog() as address:
        yield int(address.rsplit(":", 1)[1])


@pytest.fixture
def silent_port():
    with dead_ends.silent() as address:
        yield int(address.rsplit(":", 1)[1])


def test_a_refused_port_is_named_refused_after_max_retries_attempts_backoff_apart(closed_port):
    started = time.monotonic()
    with pytest.raises(NoBroker) as caught:
        first_contact(options(f"127.0.0.1:{closed_port}", retries=3, backoff=0.3), threading.Event())
    took = time.monotonic() - started
    exc = caught.value
    assert exc.attempts == 3 and "connection refused" in exc.problem
    assert f"127.0.0.1:{closed_port}" in str(exc) and "3 attempts" in str(exc) and "MAX_RETRIES=3" in str(exc)
    assert 0.55 <= took < 3, took  # two waits of 0.3 s between three attempts


def test_an_unresolvable_host_is_named_not_resolvable():
    with pytest.raises(NoBroker) as caught:
        first_contact(options("no-such-host.invalid:9092", retries=1), threading.Event())
    assert "not resolvable" in caught.value.problem and "1 attempt in" in str(caught.value)


def test_no_answer_to_a_connection_is_named_timed_out(full_backlog_port):
    with pytest.raises(NoBroker) as caught:
        first_contact(options(f"127.0.0.1:{full_backlog_port}", retries=1, timeout_ms=300), threading.Event())
    assert "timed out after 0.3 s" in caught.value.problem


def test_a_listener_that_is_no_kafka_broker_says_so_without_client_error_lines(silent_port, caplog):
    caplog.set_level("INFO")
    with pytest.raises(NoBroker) as caught:
        first_contact(options(f"127.0.0.1:{silent_port}", retries=2, backoff=0.1, timeout_ms=400), threading.Event())
    assert "a TCP connection opens, but no Kafka broker answers" in caught.value.problem
    # kafka-python's own per-connection lines went to DEBUG: only ours are left
    assert {r.name for r in caplog.records} == {"foot_traffic.delivery.first_contact"}
    assert [r.levelname for r in caplog.records] == ["WARNING"]  # "attempt 1 of 2 ...; next attempt in ..."


def test_several_servers_each_say_what_they_found(closed_port):
    with pytest.raises(NoBroker) as caught:
        first_contact(options(f"127.0.0.1:{closed_port},no-such-host.invalid:9092", retries=1), threading.Event())
    assert f"127.0.0.1:{closed_port}: connection refused" in caught.value.problem
    assert "no-such-host.invalid:9092: the host name is not resolvable" in caught.value.problem


def test_a_stop_while_waiting_ends_at_once(closed_port):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(InterruptedError):
        first_contact(options(f"127.0.0.1:{closed_port}", retries=6, backoff=5), stop)
    assert time.monotonic() - started < 2


def test_plural():
    assert (plural(1, "attempt"), plural(2, "attempt"), plural(0, "day")) == ("1 attempt", "2 attempts", "0 days")
