"""The run's first connection to Kafka: fail fast, and say why, when there is no broker.

The original producer tried to connect ``MAX_RETRIES`` times, ``RETRY_BACKOFF_SECONDS``
apart, then gave up; :func:`first_contact` does the same before a run starts (defaults:
6 attempts 5 s apart, about 25-35 s), so that a wrong ``KAFKA_BROKER`` ends in half a
minute with one clear error (not resolvable, refused, timed out, not a Kafka broker)
instead of minutes of growing back-off and client-library lines. An outage *later* in
the run is another matter: the runner heals it with its doubling back-off
(``Runner._heal``), unchanged.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.errors import BrokerUnavailable
from foot_traffic.delivery.connect import reachable

log = logging.getLogger(__name__)


class NoBroker(BrokerUnavailable):
    """The run's first connection found no broker: nothing was sent."""

    def __init__(self, message: str, *, address: str, problem: str, attempts: int, seconds: float):
        super().__init__(message)
        self.address = address
        self.problem = problem  # "connection refused", "not resolvable (...)", "timed out ..."
        self.attempts = attempts
        self.seconds = seconds


def first_contact(options: KafkaOptions, stop: threading.Event, *, what: str = "Kafka") -> None:
    """The run's first connection, as the original producer made it: ``MAX_RETRIES``
    attempts (at least one) starting ``RETRY_BACKOFF_SECONDS`` apart; ``NoBroker`` naming
    what each attempt found (not resolvable, refused, timed out, not Kafka) if none answers.

    A broker that goes away *later* is the runner's to heal (``Runner._heal``); this only
    spares a run without any broker the growing back-off meant for a passing outage.
    Each attempt looks with plain sockets first (a name, a TCP connection), so that the
    client library is asked only where something listens, and its own lines go to DEBUG.
    """
    attempts = max(1, options.max_retries)
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        began = time.monotonic()
        problem = _probe(options)
        if problem is None:
            if attempt > 1:
                log.info("%s at %s answered (attempt %d of %d)", what, options.bootstrap_servers, attempt, attempts)
            return
        if attempt == attempts:
            break
        wait = max(0.0, options.retry_backoff_seconds - (time.monotonic() - began))
        log.warning(
            "%s at %s: %s (attempt %d of %d); next attempt in %.1f s",
            what, options.bootstrap_servers, problem, attempt, attempts, wait,
        )
        if stop.wait(wait):
            raise InterruptedError(f"stopped while waiting for {what} at {options.bootstrap_servers}")
    seconds = time.monotonic() - started
    raise NoBroker(
        f"cannot reach {what} at {options.bootstrap_servers}: {problem} ({plural(attempts, 'attempt')} in "
        f"{seconds:.0f} s: MAX_RETRIES={options.max_retries}, RETRY_BACKOFF_SECONDS={options.retry_backoff_seconds:g})",
        address=options.bootstrap_servers, problem=problem, attempts=attempts, seconds=seconds,
    )


def plural(count: int, noun: str) -> str:
    """``1 attempt``, ``2 attempts``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _probe(options: KafkaOptions) -> str | None:
    """One attempt: None when a broker answers, else what was found (per server if several)."""
    from kafka.cluster import collect_hosts

    timeout = options.bootstrap_timeout_ms / 1000
    servers = collect_hosts(options.bootstrap_servers, randomize=False)
    found = []
    for host, port, _family in servers:
        problem = _tcp_problem(host, port, timeout)
        if problem is None:  # something listens: ask it as a Kafka client would
            try:
                with _client_lines_at_debug():
                    reachable(options)
                return None
            except BrokerUnavailable as exc:
                said = str(exc).removeprefix(f"no broker answers at {options.bootstrap_servers}: ")
                return f"a TCP connection opens, but no Kafka broker answers ({said})"
        found.append(problem if len(servers) == 1 else f"{host}:{port}: {problem}")
    return "; ".join(found)


def _tcp_problem(host: str, port: int, timeout: float) -> str | None:
    """Why no TCP connection to ``host:port`` opens within ``timeout`` s (None: it opens)."""
    try:
        addresses = _resolve(host, port, timeout)
    except socket.gaierror as exc:
        return f"the host name is not resolvable ({exc.strerror})"
    except TimeoutError:
        return f"the host name did not resolve within {timeout:g} s"
    problem = "no address"
    for family, kind, proto, _name, address in addresses:
        with closing(socket.socket(family, kind, proto)) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(address)
                return None
            except ConnectionRefusedError:
                problem = "connection refused: nothing listens on that port"
            except TimeoutError:
                problem = f"connection timed out after {timeout:g} s: no answer (a firewall, or a host that is down)"
            except OSError as exc:
                problem = f"cannot connect ({exc.strerror or exc})"
    return problem


def _resolve(host: str, port: int, timeout: float) -> list[tuple]:
    """``getaddrinfo`` bounded by ``timeout`` (a resolver that hangs would hold every attempt)."""
    done: list = []

    def lookup() -> None:
        try:
            done.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            done.append(exc)

    thread = threading.Thread(target=lookup, name="kafka-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if not done:
        raise TimeoutError(host)
    if isinstance(done[0], BaseException):
        raise done[0]
    return done[0]


@contextmanager
def _client_lines_at_debug() -> Iterator[None]:
    """kafka-python's own lines of a probe (ERROR per failed connection) only at DEBUG."""
    client = logging.getLogger("kafka")
    saved = client.level
    if not log.isEnabledFor(logging.DEBUG):
        client.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        client.setLevel(saved)
