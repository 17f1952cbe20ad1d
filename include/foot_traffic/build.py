"""The one place that assembles a runner from validated settings, for every front door.

``foot-traffic produce`` and the Airflow operator differ only in where settings and the
Kafka connection come from and how a stop is requested; both call :func:`build_runner`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

from foot_traffic.delivery import delivery_for
from foot_traffic.delivery.connect import reachable
from foot_traffic.delivery.ledger import describe_run
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.producer import ProducerFactory
from foot_traffic.model.profile import Profile, load_profile
from foot_traffic.plan.localday import day_start, local_instant
from foot_traffic.plan.stores import Catalogue
from foot_traffic.run.pacing import Clock, SystemClock
from foot_traffic.run.progress import ProgressReporter
from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings


def progress_cadence(settings: Settings) -> float:
    """Seconds between progress lines: every 10 s when accelerated, else every minute."""
    return 10.0 if settings.time_scale > 1 else 60.0


def build_runner(
    settings: Settings,
    first_day: date,
    *,
    stop: threading.Event,
    profile: Profile | None = None,
    clock: Clock | None = None,
    client_options: Mapping[str, Any] | None = None,
    producer_factory: ProducerFactory | None = None,
    progress_every: float | None = None,
    progress: ProgressReporter | None = None,
    detail_level: int = logging.INFO,
    catalogue: Catalogue | None = None,
    owner: Mapping[str, Any] | None = None,
) -> Runner:
    """A runner for ``settings`` starting with ``first_day``.

    :param profile: the loaded profile (load it once, to validate it before connecting);
        None loads ``settings.profile_file``.
    :param client_options: kafka-python security options (from an Airflow connection).
    :param producer_factory: builds the librdkafka producer (``KAFKA_CLIENT=confluent``).
    :param progress: where progress goes (default: log lines); see ``foot_traffic.progress``.
    :param detail_level: log level of per-slot lines (DEBUG for long backfills).
    :param catalogue: a store catalogue (a chain): every store plays its local day; with
        ``from_midnight`` the simulated clock starts at the first store's local midnight.
    :param owner: who this run is (``delivery.ledger.describe_run``), written in each take
        record so that a run it fences can name it.
    """
    options = KafkaOptions.from_settings(settings, client_options=client_options)
    return Runner(
        settings,
        delivery_for(
            settings, options, stop, dict(owner) if owner else describe_run("foot-traffic"),
            producer_factory=producer_factory, detail_level=detail_level,
        ),
        clock=clock or SystemClock(),
        stop=stop,
        profile=profile or load_profile(settings.profile_file if catalogue is None else None),
        sim_anchor=sim_anchor(settings, first_day, catalogue),
        progress_every=progress_every or progress_cadence(settings),
        progress=progress,
        detail_level=detail_level,
        catalogue=catalogue,
        probe=lambda: reachable(options),
    )


def sim_anchor(settings: Settings, first_day: date, catalogue: Catalogue | None = None) -> float | None:
    """Where the simulated clock starts: now (None), or with ``from_midnight`` the first
    day's midnight (UTC; with a catalogue, the earliest local midnight of its stores)."""
    if not settings.from_midnight:
        return None
    if catalogue is None:
        return day_start(first_day).timestamp()
    return float(min(local_instant(first_day, 0, store.tz) for store in catalogue))
