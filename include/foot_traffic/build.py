"""What every front door does before a run, in one place: load the store catalogue, choose
the first day, assemble the runner from validated settings.

``foot-traffic produce`` and the Airflow operators differ only in where settings and the
Kafka connection come from, how a stop is requested and how they say how the run ended
(``run.outcome``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from foot_traffic.delivery import delivery_for
from foot_traffic.delivery.connect import reachable
from foot_traffic.delivery.ledger import describe_run
from foot_traffic.delivery.options import KafkaOptions
from foot_traffic.delivery.producer import ProducerFactory
from foot_traffic.model.profile import Profile, load_profile
from foot_traffic.plan.localday import day_start, local_date, local_instant, today
from foot_traffic.plan.stores import Catalogue, CatalogueError, load_catalogue
from foot_traffic.run.pacing import Clock, SystemClock
from foot_traffic.run.progress import ProgressReporter
from foot_traffic.run.runner import Runner
from foot_traffic.settings import Settings

log = logging.getLogger("foot_traffic")


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
    resumed_at: float | None = None,
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
    :param resumed_at: a run that waited for its first local midnight (a deferred shard)
        starts its simulated clock there.
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
        sim_anchor=sim_anchor(settings, first_day, catalogue, resumed_at),
        progress_every=progress_every or progress_cadence(settings),
        progress=progress,
        detail_level=detail_level,
        catalogue=catalogue,
        probe=lambda: reachable(options),
    )


def sim_anchor(
    settings: Settings, first_day: date, catalogue: Catalogue | None = None, resumed_at: float | None = None
) -> float | None:
    """Where the simulated clock starts: now (None), or with ``from_midnight`` the first
    day's midnight (UTC; with a catalogue, the earliest local midnight of its stores); a
    run ``resumed_at`` its first midnight starts there (in real time that is now anyway)."""
    if resumed_at is not None and settings.time_scale != 1:
        return resumed_at
    if not settings.from_midnight:
        return None
    if catalogue is None:
        return day_start(first_day).timestamp()
    return float(first_midnight(catalogue, first_day))


def first_midnight(catalogue: Catalogue, day: date) -> int:
    """The instant ``day`` begins first among the catalogue's stores (epoch seconds)."""
    return min(local_instant(day, 0, store.tz) for store in catalogue)


def first_day(catalogue: Catalogue | None, now: float) -> date:
    """The day a run without a date starts with: the earliest local date among the stores
    at ``now`` (without a catalogue, the implicit store's: today in UTC)."""
    if catalogue is None:
        return today(datetime.fromtimestamp(now, UTC))
    return min(local_date(now, store.tz) for store in catalogue)


def load_stores(settings: Settings, stores: Sequence[str] | None = None) -> Catalogue:
    """The run's store catalogue (``STORES_FILE``, else the example chain), validated;
    ``stores``: only these (a shard). ``CatalogueError`` lists every problem, a store the
    catalogue no longer holds included."""
    catalogue = load_catalogue(settings.catalogue_file)
    ignored = [name for name, value in (
        ("DAILY_CUSTOMERS", settings.daily_customers),
        ("BASE_DAILY_CUSTOMERS", settings.base_daily_customers),
        ("FOOT_TRAFFIC_PROFILE", settings.profile_file),
    ) if value is not None]
    if ignored:
        log.warning(
            "%s: not used with a store catalogue (each store has its own base_daily_customers, "
            "daily_customers and profile)", ", ".join(ignored),
        )
    if stores is None:
        return catalogue
    try:
        return catalogue.select(stores)
    except KeyError as exc:
        raise CatalogueError(catalogue.source, [
            f"the shard's stores are no longer in it ({exc.args[0]}); a new run cuts the shards anew"
        ]) from None
