"""``FootTrafficProducerOperator``: one simulated store day streamed to Kafka, from Airflow.

A thin front door onto what ``foot-traffic produce`` also uses: the catalogue, the runner
(``foot_traffic.build``) and how a run ended (``foot_traffic.run.outcome``), said the
Airflow way (an exception that retries or not, XComs). Settings come, in this order, from the original
environment variables, the run's Params (by the names ``Settings`` declares, as values,
not rendered strings) and the operator's ``settings`` argument; the broker from the Kafka
provider's connection; a stop is requested by ``on_kill``.

With ``chain=True`` it plays a store catalogue (or the shard of it named by ``stores``):
every store's local day through one runner; a live day that starts far ahead waits in
the triggerer (deferral), not in a worker slot.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from foot_traffic.run.outcome import Ending, Outcome
from foot_traffic_airflow.connection import DEFAULT_CONN_ID, KafkaConnectionError
from foot_traffic_airflow.lineage import TopicLineageMixin
from foot_traffic_airflow.task_context import day_to_play, defer_after_seconds, frozen_heap, run_label
from foot_traffic_airflow.task_xcoms import XComProgress, day_played, push, reporting_failure, waiting

if TYPE_CHECKING:
    from airflow.sdk import Context

    from foot_traffic.plan.stores import Catalogue
    from foot_traffic.settings import Settings

__all__ = ["FootTrafficFenced", "FootTrafficProducerOperator", "FootTrafficStopped", "frozen_heap"]


class FootTrafficStopped(AirflowException):
    """The task was stopped (``on_kill``) before the day was complete; what was sent is flushed."""


class FootTrafficFenced(AirflowFailException):
    """A newer run of the same day took it over: this attempt stopped, and is not retried
    (a retry would take the day back and fence the newer run in turn)."""


# How a run's ending fails the task: a stop or a delivery failure is retried (a retry resumes),
# the rest is not (a retry cannot change it).
FAILS_WITH: dict[Ending, type[AirflowException]] = {
    Ending.STOPPED: FootTrafficStopped, Ending.FAILED: AirflowException, Ending.FENCED: FootTrafficFenced,
    Ending.REFUSED: AirflowFailException, Ending.INVALID: AirflowFailException,
}


class FootTrafficProducerOperator(TopicLineageMixin, BaseOperator):
    """Stream one simulated day of store foot traffic to the two Kafka topics.

    The day played is the run's logical date (UTC): a run for today streams in real
    time (``time_scale`` compresses it); a run for a past day (``airflow dags test``,
    ``airflow backfill create``, a manual trigger with a logical date) sends that day at
    full speed with that day's timestamps, unless ``from_midnight`` paces it from its
    midnight. A restarted attempt sends only what the topics do not hold yet (resume).
    Returns the day's summary (counts per topic and slot) as XCom.

    One writer per day: with ``KAFKA_TRANSACTIONS`` on (the default) the day is written
    by a transactional producer whose id is derived from the topics and the day, so a
    newer run of the same day (a manual trigger, a retry while a zombie still sends, a
    ``foot-traffic produce --date``) fences this one. A fenced attempt stops at once,
    pushes its summary with ``"fenced": true`` and the newer run's take record
    (``fenced_by``), and fails with ``FootTrafficFenced`` naming that run -- not retried.

    Settings (``foot_traffic.settings.Settings``: the original producer's environment variables and
    their defaults) are read from the worker's environment, then from the run's Params
    whose names ``Settings.params()`` lists (a Param set to None means "unset": its
    default already came from the environment), then from ``settings``. Every value is
    validated once, before anything is sent; a bad one fails the task without retries,
    naming the Param (or variable) as it was given.

    :param settings: setting values by Param name (``seed``, ``time_scale``, ``topic`` ...),
        field name or environment name (``KAFKA_COMPRESSION`` ...); templated. None values
        are ignored.
    :param day: the day to play (``YYYY-MM-DD``); None or empty: the run's logical date (UTC),
        minus ``days_before`` days.
    :param days_before: without ``day``, play the day this many days before the run's date
        (the demo DAG: 1, yesterday).
    :param kafka_config_id: Airflow connection of the Kafka provider (conn_type ``kafka``,
        ``bootstrap.servers`` and ``security.protocol``/``sasl.*``/``ssl.*`` in its extra);
        when it does not exist, ``KAFKA_BROKER`` is used. With ``KAFKA_CLIENT=confluent``
        the producer comes from the provider's ``KafkaProducerHook``.
    :param progress_every: seconds between progress log lines; None: 10 when accelerated, else 60.
    :param chain: play a store catalogue (the ``stores_file`` Param / ``STORES_FILE``, else the
        example chain): every store's local day. False (default): the one implicit store,
        whatever ``STORES_FILE`` says.
    :param stores: with ``chain``, the ids of the stores to play (a shard); None: all of them.
    :param day_timezone: the time zone in which the logical date names the day to play
        (the chain DAG uses UTC+14, where each calendar day begins first).
    """

    template_fields: Sequence[str] = ("settings", "day", "kafka_config_id")
    template_fields_renderers = {"settings": "json"}
    ui_color = "#d9f2e6"

    def __init__(
        self,
        *,
        settings: Mapping[str, Any] | None = None,
        day: date | str | None = None,
        kafka_config_id: str = DEFAULT_CONN_ID,
        progress_every: float | None = None,
        chain: bool = False,
        stores: Sequence[str] | None = None,
        day_timezone: str = "UTC",
        days_before: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.day = day
        self.days_before = days_before
        self.kafka_config_id = kafka_config_id
        self.progress_every = progress_every
        self.chain = chain
        self.stores = list(stores) if stores is not None else None
        self.day_timezone = day_timezone

    @property
    def _stop(self) -> threading.Event:
        # Created on first use, not in __init__: operators are deep-copied, Events are not.
        stop = self.__dict__.get("_stop_event")
        if stop is None:
            stop = self.__dict__.setdefault("_stop_event", threading.Event())
        return stop

    # -- settings -----------------------------------------------------------------------
    def build_settings(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        kafka_broker: str | None = None,
    ) -> Settings:
        """Validated settings: environment, then the run's ``params``, then ``settings``.

        Raises ``AirflowFailException`` (no retry: a retry cannot fix a bad value) whose
        message names each bad Param or variable, the value and what is accepted.
        """
        from foot_traffic.settings import Settings, SettingsError

        overrides = dict(self.settings or {})
        if kafka_broker is not None:
            overrides["KAFKA_BROKER"] = kafka_broker
        environ = os.environ if environ is None else environ
        if not self.chain:  # the one-store DAG never turns into a chain because of the worker's environment
            environ = {k: v for k, v in environ.items() if k != "STORES_FILE"}
            params = {k: v for k, v in (params or {}).items() if k != "stores_file"} if params is not None else None
        try:
            return Settings.from_sources(environ, params=params, overrides=overrides)
        except SettingsError as exc:
            self._refuse(exc)

    def _refuse(self, exc: ValueError) -> NoReturn:
        """Bad settings, catalogue or profile: fail without retries, nothing sent."""
        from foot_traffic.run.outcome import invalid_input

        raise AirflowFailException(f"{self.task_id}: {invalid_input(exc, 'profile_file').text}") from None

    def day_to_play(self, context: Context) -> date:
        """``day`` if given, else the run's logical date in ``day_timezone`` (run_after for
        runs without one), ``days_before`` days earlier."""
        return day_to_play(context, self.day, self.days_before, self.day_timezone)

    # -- running ------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        """Play the day; the UI is told the day first, then the progress, or the failure (``task_xcoms``)."""
        with reporting_failure(context):
            day = self.day_to_play(context)
            day_played(context, day)
            return self._play(context, day)

    def play_after_wait(self, context: Context, event: Any = None, sim_anchor: float | None = None) -> dict[str, Any]:
        """Resumed from the triggerer at the shard's first local midnight: play the day."""
        with reporting_failure(context):
            return self._play(context, self.day_to_play(context), resumed_at=sim_anchor)

    def _play(self, context: Context, day: date, resumed_at: float | None = None) -> dict[str, Any]:
        from foot_traffic.analysis.validate import check_delivered
        from foot_traffic.build import build_runner, load_stores
        from foot_traffic.delivery.ledger import describe_run
        from foot_traffic.delivery.options import KafkaOptions
        from foot_traffic.model.profile import ProfileError, load_profile
        from foot_traffic.plan.stores import CatalogueError
        from foot_traffic.run.outcome import play
        from foot_traffic_airflow.assets import push_topic_assets
        from foot_traffic_airflow.connection import librdkafka_producer_factory, resolve_kafka

        logging.getLogger("kafka").setLevel(logging.WARNING)
        try:
            target = resolve_kafka(self.kafka_config_id)
        except KafkaConnectionError as exc:
            raise AirflowFailException(f"Kafka connection {self.kafka_config_id!r}: {exc}") from None
        settings = self.build_settings(context.get("params"), kafka_broker=target.bootstrap_servers)
        topics = [settings.kafka_topic, settings.kafka_topic_realistic]
        try:
            shard = load_stores(settings, self.stores) if self.chain else None
            profile = None if self.chain else load_profile(settings.profile_file)
        except (CatalogueError, ProfileError) as exc:
            self._refuse(exc)
        if shard is None:
            self.log.info("Kafka from %s", target.describe())
            self.log.info("playing %s: topics %s and %s, time_scale %g, seed %s, daily_customers %s, from_midnight %s",
                          day, *topics, settings.time_scale, settings.seed, settings.daily_customers,
                          settings.from_midnight)
            self.remember_topics(settings.bootstrap_servers, topics)
        else:
            if resumed_at is None and not settings.from_midnight:
                self._wait_for_first_midnight(context, day, settings, shard)
            self.log.info("playing the local day %s of %d stores (%s): topics %s and %s, time_scale %g, seed %s, "
                          "from_midnight %s", day, len(shard), ", ".join(s.id for s in shard), *topics,
                          settings.time_scale, settings.seed, settings.from_midnight)
        runner = build_runner(
            settings, day, stop=self._stop, profile=profile, client_options=target.client_options,
            producer_factory=librdkafka_producer_factory(target) if settings.kafka_client == "confluent" else None,
            progress_every=self.progress_every, progress=XComProgress(context), catalogue=shard,
            owner=describe_run(run_label(context)), resumed_at=resumed_at,
        )
        with frozen_heap():
            outcome = play(runner, [day], stopped_by="on_kill", what="the day" if shard is None else "the shard's day",
                           first_from_now=False)
        result = self._result(day, outcome, topics, shard)
        self._fail_unless_done(context, day, outcome, result)
        if shard is None:
            self.log.info("%s done: %s", day, result)
        else:
            self.log.info("%s done: %d stores (%d closed), %d visits, %d records sent, %d already present", day,
                          result["stores"], len(result["closed_stores"]), result["total_visits"],
                          result["records_sent"], result["records_already_present"])
        events = push_topic_assets(context, self.outlets, settings, result, self.kafka_config_id)
        self.log.info("topics written: %s", " and ".join(event["uri"] for event in events))
        if settings.validate_day:
            options = KafkaOptions.from_settings(settings, client_options=target.client_options)
            result["validation"] = check_delivered(settings, profile, day, options, catalogue=shard, stop=self._stop,
                                                   log=self.log)
        return result

    @staticmethod
    def _result(day: date, outcome: Outcome, topics: list[str], shard: Catalogue | None) -> dict[str, Any] | None:
        """The XCom: the day's summary, or a shard's totals and stores (None: no summary)."""
        from foot_traffic.run.outcome import chain_result

        if outcome.summaries is None:
            return None
        return outcome.summaries[0].as_dict() if shard is None else chain_result(day, outcome.summaries, topics)

    def _fail_unless_done(self, context: Context, day: date, outcome: Outcome, result: dict[str, Any] | None) -> None:
        """A fenced attempt still pushes its summary (naming the newer run), then fails for good."""
        if outcome.ending is Ending.DONE:
            return
        text = f"{day}: {outcome.text}"
        if outcome.ending is Ending.FENCED:
            if result is not None:
                push(context, "return_value", result)
            text += ". Not retried: a retry would take the day back from the newer run."
        raise FAILS_WITH[outcome.ending](text)

    def _wait_for_first_midnight(self, context: Context, day: date, settings: Settings, shard: Catalogue) -> None:
        """A live shard whose first local midnight is far ahead waits in the triggerer (no worker slot)."""
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from foot_traffic.build import first_midnight

        start = first_midnight(shard, day)
        wait = (start - time.time()) / settings.time_scale
        if wait <= defer_after_seconds():
            return
        moment = datetime.fromtimestamp(time.time() + wait, UTC)
        self.log.info("%d stores, local day %s: the first local midnight is %.0f s away; waiting in the triggerer "
                      "until %s (no worker slot)", len(shard), day, wait, moment.isoformat(timespec="seconds"))
        waiting(context, moment, [s.id for s in shard])
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="play_after_wait",
                   kwargs={"sim_anchor": float(start)})

    def on_kill(self) -> None:
        """Stop the stream: the runner stops at the next record, flushes and returns; the
        task then fails (``FootTrafficStopped``), never reporting success for a partial day."""
        # Set from a helper thread: on_kill may run inside a signal handler that interrupted
        # the main thread while it held the Event's lock.
        threading.Thread(target=self._stop.set, name="foot-traffic-stop", daemon=True).start()
        self.log.warning("on_kill: stopping the stream; flushing what was sent")
