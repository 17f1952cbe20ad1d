"""Connecting with retries: growing back-off with jitter, bounded by MAX_RETRIES, stoppable."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from foot_traffic.delivery.errors import BrokerUnavailable
from foot_traffic.delivery.options import KafkaOptions

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0


def backoff_delays(max_retries: int, base: float, rng: random.Random | None = None) -> list[float]:
    """Delays between connection attempts: base, 2 base, 4 base ... capped, with +-20 % jitter."""
    rng = rng or random.Random()
    cap = max(base, MAX_BACKOFF_SECONDS)
    return [min(base * 2**n, cap) * rng.uniform(0.8, 1.2) for n in range(max_retries)]


def retry_connect(
    connect: Callable[[], Any],
    options: KafkaOptions,
    stop: threading.Event,
    what: str = "Kafka",
) -> Any:
    """Call ``connect`` until it succeeds, ``MAX_RETRIES`` retries apart by growing back-off."""
    from kafka.errors import KafkaError

    delays = backoff_delays(options.max_retries, options.retry_backoff_seconds)
    attempt = 0
    while True:
        attempt += 1
        try:
            return connect()
        except (KafkaError, OSError) as exc:
            if attempt > len(delays):
                raise BrokerUnavailable(
                    f"cannot reach {what} at {options.bootstrap_servers} after {attempt} attempt{'s' if attempt > 1 else ''} "
                    f"(MAX_RETRIES={options.max_retries}, RETRY_BACKOFF_SECONDS={options.retry_backoff_seconds:g}): "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            delay = delays[attempt - 1]
            log.warning(
                "%s at %s not reachable (attempt %d of %d: %s); next try in %.1f s",
                what, options.bootstrap_servers, attempt, len(delays) + 1, type(exc).__name__, delay,
            )
            if stop.wait(delay):
                raise InterruptedError(f"stopped while waiting for {what} at {options.bootstrap_servers}")


def reachable(options: KafkaOptions) -> None:
    """One connection attempt, no retries: ``BrokerUnavailable`` unless a broker answers.

    The runner's probe after each back-off of an outage, so that waiting for the broker
    is that loop's alone (reconnecting with ``retry_connect`` would nest a second budget)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        KafkaAdminClient(client_id="foot-traffic-probe", **options.common()).close()
    except (KafkaError, OSError) as exc:
        raise BrokerUnavailable(
            f"no broker answers at {options.bootstrap_servers}: {type(exc).__name__}: {exc}"
        ) from None
