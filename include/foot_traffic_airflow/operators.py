"""``FootTrafficProducerOperator``: one simulated store day streamed to Kafka, from Airflow.

A thin front door onto the runner that ``foot-traffic produce`` also uses
(``foot_traffic.build.build_runner``). Settings come, in this order, from the original
environment variables, the run's Params (by the names ``Settings`` declares, as values,
not rendered strings) and the operator's ``settings`` argument; the broker from the Kafka
provider's connection; a stop is requested by ``on_kill``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from foot_traffic_airflow.connection import DEFAULT_CONN_ID, KafkaConnectionError
from foot_traffic_airflow.lineage import TopicLineageMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from foot_traffic.settings import Settings

log = logging.getLogger(__name__)


class FootTrafficStopped(AirflowException):
    """The task was stopped (``on_kill``) before the day was complete; what was sent is flushed."""


class FootTrafficFenced(AirflowFailException):
    """A newer run of the same day took it over: this attempt stopped, and is not retried
    (a retry would take the day back and fence the newer run in turn)."""


def run_label(context: Mapping[str, Any]) -> str:
    """This task instance as a writer of the day, e.g. ``Airflow foot_traffic_daily/manual__2026-...
    produce_day try 1`` (named by a run it fences)."""
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or "?"
    run_id = getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None) or "?"
    task_id = getattr(ti, "task_id", None) or "?"
    label = f"Airflow {dag_id}/{run_id} {task_id}"
    map_index = getattr(ti, "map_index", -1)
    if isinstance(map_index, int) and map_index >= 0:
        label += f"[{map_index}]"
    try_number = getattr(ti, "try_number", None)
    return label + (f" try {try_number}" if try_number is not None else "")


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
    pushes its summary with ``"fenced": true`` and the newer run's owner record
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
        days_before: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.day = day
        self.days_before = days_before
        self.kafka_config_id = kafka_config_id
        self.progress_every = progress_every

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
        try:
            return Settings.from_sources(os.environ if environ is None else environ, params=params, overrides=overrides)
        except SettingsError as exc:
            raise AirflowFailException(
                f"{self.task_id}: invalid settings, nothing was sent:\n" + "\n".join(f"  - {p}" for p in exc.problems)
            ) from None

    def day_to_play(self, context: Context) -> date:
        """``day`` if given, else the run's logical date in UTC (run_after for runs without one),
        ``days_before`` days earlier."""
        chosen = self.day.strip() or None if isinstance(self.day, str) else self.day
        if chosen is not None:
            if isinstance(chosen, datetime):
                return chosen.astimezone(UTC).date()
            if isinstance(chosen, date):
                return chosen
            try:
                return date.fromisoformat(str(chosen)[:10])
            except ValueError:
                raise AirflowFailException(f"invalid settings:\n  - day={chosen!r}: expected YYYY-MM-DD") from None
        moment = context.get("logical_date")
        if moment is None:
            dag_run = context.get("dag_run")
            moment = getattr(dag_run, "run_after", None) or context.get("data_interval_end")
        if moment is None:
            raise AirflowFailException("no logical date, run_after or data interval: cannot tell which day to play")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).date() - timedelta(days=self.days_before)

    # -- running ------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        from foot_traffic.build import build_runner
        from foot_traffic.ownership import describe_owner, describe_run
        from foot_traffic.profile import ProfileError, load_profile
        from foot_traffic.publisher import Fenced, PublishError
        from foot_traffic.resume import PlanMismatch
        from foot_traffic_airflow.connection import librdkafka_producer_factory, resolve_kafka

        logging.getLogger("kafka").setLevel(logging.WARNING)
        day = self.day_to_play(context)
        try:
            target = resolve_kafka(self.kafka_config_id)
        except KafkaConnectionError as exc:
            raise AirflowFailException(f"Kafka connection {self.kafka_config_id!r}: {exc}") from None
        settings = self.build_settings(context.get("params"), kafka_broker=target.bootstrap_servers)
        try:
            profile = load_profile(settings.profile_file)
        except ProfileError as exc:
            raise AirflowFailException(f"invalid settings, nothing was sent:\n  - profile_file: {exc}") from None
        self.log.info("Kafka from %s", target.describe())
        self.log.info(
            "playing %s: topics %s and %s, time_scale %g, seed %s, daily_customers %s, from_midnight %s",
            day, settings.kafka_topic, settings.kafka_topic_realistic, settings.time_scale,
            settings.seed, settings.daily_customers, settings.from_midnight,
        )
        self.remember_topics(settings.bootstrap_servers, [settings.kafka_topic, settings.kafka_topic_realistic])
        runner = build_runner(
            settings,
            day,
            stop=self._stop,
            profile=profile,
            client_options=target.client_options,
            producer_factory=librdkafka_producer_factory(target) if settings.kafka_client == "confluent" else None,
            progress_every=self.progress_every,
            owner=describe_run(run_label(context)),
        )
        try:
            (summary,) = runner.run([day], first_from_now=False)
        except InterruptedError:
            raise FootTrafficStopped(f"{day}: stopped while connecting to Kafka; nothing was sent") from None
        except PlanMismatch as exc:
            raise AirflowFailException(f"{day}: {exc}") from None
        except Fenced as exc:  # normally reported in the summary; this is the belt and braces
            raise FootTrafficFenced(f"{day}: {exc}. Not retried: a retry would take the day back.") from None
        except PublishError as exc:
            # A retry resumes: it sends only what the topics do not hold yet.
            raise AirflowException(f"{day}: delivery failed, the day is incomplete: {exc}") from None
        result = summary.as_dict()
        if runner.fenced is not None:
            ti = context.get("ti")
            if ti is not None:
                ti.xcom_push(key="return_value", value=result)
            raise FootTrafficFenced(
                f"{day}: fenced by a newer run: {describe_owner(runner.fenced.by)} now writes this day. "
                f"This attempt stopped after {summary.sent} records; nothing was sent twice (its unfinished "
                "transaction was aborted, what it committed stays). Not retried: a retry would take the day "
                "back from the newer run."
            )
        if summary.stopped or not summary.finished:
            raise FootTrafficStopped(
                f"{day}: stopped after {summary.sent} records (all acknowledged); the day is incomplete, "
                "a new attempt resumes where this one stopped"
            )
        self._emit_topic_assets(context, settings, result)
        self.log.info("%s done: %s", day, result)
        if settings.validate_day:
            result["validation"] = self.check_the_day(settings, profile, day, target)
        return result

    def _emit_topic_assets(self, context: Context, settings: Settings, result: Mapping[str, Any]) -> None:
        """Resolve each asset alias among the outlets to the topics this run wrote, named by the
        broker it really used: ``kafka://<first bootstrap server>/<topic>``."""
        from airflow.sdk import Asset, AssetAlias

        aliases = [o for o in self.outlets or () if isinstance(o, AssetAlias)]
        events = context.get("outlet_events")
        if not aliases or events is None:
            return
        server = settings.kafka_broker[0]
        for topic in (settings.kafka_topic, settings.kafka_topic_realistic):
            extra = {
                "day": result["day"],
                "bootstrap_servers": settings.bootstrap_servers,
                "kafka_config_id": self.kafka_config_id,
                "plan_id": result["plan_id"],
                "records_sent": result["sent_per_topic"].get(topic, 0),  # by this run (resume skips the rest)
            }
            for alias in aliases:
                events[alias].add(Asset(f"kafka://{server}/{topic}"), extra=extra)
        self.log.info("asset events: kafka://%s/%s and .../%s", server, settings.kafka_topic, settings.kafka_topic_realistic)

    def check_the_day(self, settings: Settings, profile, day: date, target) -> dict[str, Any]:
        """Read the day back and test it against its model (``validate``); log the table and
        return a summary for XCom. A failed check is reported, not raised: the day was
        delivered, and a statistical test rejects a correct day 1 % of the time."""
        from foot_traffic.kafka_options import KafkaOptions
        from foot_traffic.validate import read_and_validate, summary_of

        options = KafkaOptions.from_settings(settings, client_options=target.client_options)
        try:
            reports = read_and_validate(settings, profile, day, options, stop=self._stop)
        except Exception as exc:  # the day is delivered; a failed read-back must not fail the task
            self.log.warning("%s: validation could not run: %s", day, exc)
            return {"passed": None, "error": str(exc)}
        for report in reports:
            for line in report.table().splitlines():
                self.log.info("%s", line)
        summary = summary_of(reports)
        if not summary["passed"]:
            self.log.warning("%s: the day does NOT match its model (see the table above)", day)
        return summary

    def on_kill(self) -> None:
        """Stop the stream: the runner stops at the next record, flushes and returns; the
        task then fails (``FootTrafficStopped``), never reporting success for a partial day."""
        # Set from a helper thread: on_kill may run inside a signal handler that interrupted
        # the main thread while it held the Event's lock.
        threading.Thread(target=self._stop.set, name="foot-traffic-stop", daemon=True).start()
        self.log.warning("on_kill: stopping the stream; flushing what was sent")
