"""``FootTrafficProducerOperator``: one simulated store day streamed to Kafka, from Airflow.

A thin front door onto ``foot_traffic.runner.Runner`` (the same runner as
``foot-traffic produce``): settings come from the operator's (templated) arguments, the
seed's environment variables for what the arguments leave unset, and the broker from the
Kafka provider's connection; a stop is requested by ``on_kill``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from foot_traffic_airflow.connection import DEFAULT_CONN_ID, KafkaConnectionError
from foot_traffic_airflow.lineage import TopicLineageMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from foot_traffic.settings import Settings

log = logging.getLogger(__name__)

# operator argument -> Settings field (whose alias is the seed's environment variable)
SETTING_ARGS: dict[str, str] = {
    "daily_customers": "daily_customers",
    "base_daily_customers": "base_daily_customers",
    "daily_variation_pct": "daily_variation_pct",
    "disable_daily_variation": "disable_daily_variation",
    "time_scale": "time_scale",
    "seed": "seed",
    "topic": "kafka_topic",
    "topic_realistic": "kafka_topic_realistic",
    "profile_file": "profile_file",
    "max_retries": "max_retries",
    "retry_backoff_seconds": "retry_backoff_seconds",
    "topic_partitions": "topic_partitions",
    "topic_replication_factor": "topic_replication_factor",
}
# The settings the DAG's Params carry (their defaults already read the environment).
PARAM_ARGS = (
    "daily_customers", "base_daily_customers", "daily_variation_pct", "disable_daily_variation",
    "time_scale", "seed", "topic", "topic_realistic", "profile_file",
)
_NONE_WORDS = {"", "none", "null"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class FootTrafficStopped(AirflowException):
    """The task was stopped (``on_kill``) before the day was complete; what was sent is flushed."""


def _unset(value: Any) -> Any:
    """Rendered templates are strings: ``"None"``/``""``/``"null"`` mean "not set"."""
    if isinstance(value, str):
        value = value.strip()
        if value.lower() in _NONE_WORDS:
            return None
    return value


def _bool(name: str, value: Any) -> bool:
    value = _unset(value)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise AirflowFailException(f"invalid settings:\n  - {name}={value!r}: must be true or false")


def settings_problems_by_argument(problems: Sequence[str]) -> list[str]:
    """Name the operator argument (= the DAG Param) in each SettingsError problem line."""
    from foot_traffic.settings import Settings

    by_alias = {Settings.model_fields[f].alias: arg for arg, f in SETTING_ARGS.items()}
    out = []
    for problem in problems:
        head = problem.split("=", 1)[0].split(":", 1)[0]
        arg = by_alias.get(head)
        out.append(f"{arg} ({problem})" if arg else problem)
    return out


class FootTrafficProducerOperator(TopicLineageMixin, BaseOperator):
    """Stream one simulated day of store foot traffic to the two Kafka topics.

    The day played is the run's logical date (UTC): a run for today streams in real
    time (``time_scale`` compresses it), a run for a past day (``airflow dags test``,
    ``airflow backfill create``, a manual trigger with a logical date) sends that day at
    full speed with that day's timestamps. A restarted attempt sends only what the topics
    do not hold yet (resume). Returns the day's summary (counts per topic and slot) as XCom.

    Arguments left ``None`` take the seed's environment variable (``DAILY_CUSTOMERS``,
    ``TIME_SCALE``, ...) if it is set, else the engine's default. Settings without an
    argument (``SLEEP``, ``KAFKA_COMPRESSION``, ``FOOT_TRAFFIC_RESUME``,
    ``TOPIC_RETENTION_MS``) come from the environment only.

    :param daily_customers: fixed number of customers of the day (``DAILY_CUSTOMERS``);
        None: baseline with daily variation.
    :param base_daily_customers: customers on an average day (``BASE_DAILY_CUSTOMERS``).
    :param daily_variation_pct: daily noise around the baseline, 0 <= x < 1 (``DAILY_VARIATION_PCT``).
    :param disable_daily_variation: no daily noise (``DISABLE_DAILY_VARIATION``).
    :param time_scale: simulated seconds per wall second (``TIME_SCALE``); 1 = real time.
    :param seed: random seed; the same seed and date give the same records (``SEED``).
    :param topic: session topic (``KAFKA_TOPIC``).
    :param topic_realistic: entry/exit event topic (``KAFKA_TOPIC_REALISTIC``).
    :param profile_file: YAML/JSON store profile (``FOOT_TRAFFIC_PROFILE``); None: the original model.
    :param from_midnight: start the simulated clock at the day's midnight instead of now
        (a demo of today with ``time_scale`` 1440 plays the day in a minute).
    :param day: the day to play (``YYYY-MM-DD``); None: the run's logical date (UTC).
    :param kafka_config_id: Airflow connection of the Kafka provider (conn_type ``kafka``,
        ``bootstrap.servers`` and ``security.protocol``/``sasl.*``/``ssl.*`` in its extra);
        when it does not exist, ``KAFKA_BROKER`` is used.
    :param max_retries: connection attempts to the broker before failing (``MAX_RETRIES``).
    :param retry_backoff_seconds: first back-off between them, doubled each time (``RETRY_BACKOFF_SECONDS``).
    :param topic_partitions: partitions of topics this task creates (``TOPIC_PARTITIONS``).
    :param topic_replication_factor: replication factor of topics it creates (``TOPIC_REPLICATION_FACTOR``).
    :param env_fallback: True (default): arguments left None take their environment
        variable. False: the Param-fed arguments (daily_customers, base_daily_customers,
        daily_variation_pct, disable_daily_variation, time_scale, seed, topic,
        topic_realistic, profile_file) ignore the environment, so a Param cleared in the
        trigger form means "unset" (the DAG's Param defaults already read the environment).
    :param progress_every: seconds between progress log lines; None: 10 when accelerated, else 60.
    """

    template_fields: Sequence[str] = (
        "daily_customers",
        "base_daily_customers",
        "daily_variation_pct",
        "disable_daily_variation",
        "time_scale",
        "seed",
        "topic",
        "topic_realistic",
        "profile_file",
        "from_midnight",
        "day",
        "kafka_config_id",
        "max_retries",
        "retry_backoff_seconds",
        "topic_partitions",
        "topic_replication_factor",
    )
    ui_color = "#d9f2e6"

    def __init__(
        self,
        *,
        daily_customers: int | str | None = None,
        base_daily_customers: int | str | None = None,
        daily_variation_pct: float | str | None = None,
        disable_daily_variation: bool | str | None = None,
        time_scale: float | str | None = None,
        seed: int | str | None = None,
        topic: str | None = None,
        topic_realistic: str | None = None,
        profile_file: str | None = None,
        from_midnight: bool | str = False,
        day: date | str | None = None,
        kafka_config_id: str = DEFAULT_CONN_ID,
        max_retries: int | str | None = None,
        retry_backoff_seconds: float | str | None = None,
        topic_partitions: int | str | None = None,
        topic_replication_factor: int | str | None = None,
        env_fallback: bool = True,
        progress_every: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.daily_customers = daily_customers
        self.base_daily_customers = base_daily_customers
        self.daily_variation_pct = daily_variation_pct
        self.disable_daily_variation = disable_daily_variation
        self.time_scale = time_scale
        self.seed = seed
        self.topic = topic
        self.topic_realistic = topic_realistic
        self.profile_file = profile_file
        self.from_midnight = from_midnight
        self.day = day
        self.kafka_config_id = kafka_config_id
        self.max_retries = max_retries
        self.retry_backoff_seconds = retry_backoff_seconds
        self.topic_partitions = topic_partitions
        self.topic_replication_factor = topic_replication_factor
        self.env_fallback = env_fallback
        self.progress_every = progress_every

    @property
    def _stop(self) -> threading.Event:
        # Created on first use, not in __init__: operators are deep-copied, Events are not.
        stop = self.__dict__.get("_stop_event")
        if stop is None:
            stop = self.__dict__.setdefault("_stop_event", threading.Event())
        return stop

    # -- settings -----------------------------------------------------------------------
    def build_settings(self, environ: Mapping[str, str] | None = None, kafka_broker: str | None = None) -> Settings:
        """Validated settings from the (rendered) arguments over the environment.

        Raises ``AirflowFailException`` (no retry: a retry cannot fix a bad value) whose
        message names each bad argument, the value and what is accepted.
        """
        from foot_traffic.settings import Settings, SettingsError

        environ = os.environ if environ is None else environ
        if not self.env_fallback:
            dropped = {Settings.model_fields[SETTING_ARGS[a]].alias for a in PARAM_ARGS} | {"DEFAULT_DAILY_CUSTOMERS"}
            environ = {k: v for k, v in environ.items() if k not in dropped}
        overrides = {field: _unset(getattr(self, arg)) for arg, field in SETTING_ARGS.items()}
        overrides["kafka_broker"] = kafka_broker
        try:
            return Settings.from_env(environ, **overrides)
        except SettingsError as exc:
            lines = settings_problems_by_argument(exc.problems)
            raise AirflowFailException(
                f"{self.task_id}: invalid settings, nothing was sent:\n" + "\n".join(f"  - {p}" for p in lines)
            ) from None

    def day_to_play(self, context: Context) -> date:
        """``day`` if given, else the run's logical date in UTC (run_after for runs without one)."""
        chosen = _unset(self.day)
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
        return moment.astimezone(UTC).date()

    # -- running ------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        from foot_traffic.pacing import SystemClock
        from foot_traffic.plan import day_start
        from foot_traffic.profile import ProfileError, load_profile
        from foot_traffic.publisher import KafkaOptions, PublishError, publisher_for
        from foot_traffic.resume import KafkaDayScanner, PlanMismatch
        from foot_traffic.runner import Runner
        from foot_traffic_airflow.connection import resolve_kafka

        logging.getLogger("kafka").setLevel(logging.WARNING)
        day = self.day_to_play(context)
        from_midnight = _bool("from_midnight", self.from_midnight)
        try:
            target = resolve_kafka(self.kafka_config_id)
        except KafkaConnectionError as exc:
            raise AirflowFailException(f"Kafka connection {self.kafka_config_id!r}: {exc}") from None
        settings = self.build_settings(kafka_broker=target.bootstrap_servers)
        try:
            profile = load_profile(settings.profile_file)
        except ProfileError as exc:
            raise AirflowFailException(f"invalid settings, nothing was sent:\n  - profile_file: {exc}") from None
        self.log.info("Kafka from %s", target.describe())
        self.log.info(
            "playing %s: topics %s and %s, time_scale %g, seed %s, daily_customers %s, from_midnight %s",
            day, settings.kafka_topic, settings.kafka_topic_realistic, settings.time_scale,
            settings.seed, settings.daily_customers, from_midnight,
        )

        self.remember_topics(settings.bootstrap_servers, [settings.kafka_topic, settings.kafka_topic_realistic])
        options = KafkaOptions.from_settings(settings, client_options=target.client_options)
        progress_every = self.progress_every or (10.0 if settings.time_scale > 1 else 60.0)
        runner = Runner(
            settings,
            publisher_for(settings, options, self._stop),
            KafkaDayScanner(options, self._stop),
            clock=SystemClock(),
            stop=self._stop,
            profile=profile,
            sim_anchor=day_start(day).timestamp() if from_midnight else None,
            progress_every=progress_every,
        )
        try:
            (summary,) = runner.run([day], first_from_now=False)
        except InterruptedError:
            raise FootTrafficStopped(f"{day}: stopped while connecting to Kafka; nothing was sent") from None
        except PlanMismatch as exc:
            raise AirflowFailException(f"{day}: {exc}") from None
        except PublishError as exc:
            # A retry resumes: it sends only what the topics do not hold yet.
            raise AirflowException(f"{day}: delivery failed, the day is incomplete: {exc}") from None
        result = summary.as_dict()
        result["topics"] = [settings.kafka_topic, settings.kafka_topic_realistic]
        if summary.stopped or not summary.finished:
            raise FootTrafficStopped(
                f"{day}: stopped after {summary.sent} records (all acknowledged); the day is incomplete, "
                "a new attempt resumes where this one stopped"
            )
        self.log.info("%s done: %s", day, result)
        return result

    def on_kill(self) -> None:
        """Stop the stream: the runner stops at the next record, flushes and returns; the
        task then fails (``FootTrafficStopped``), never reporting success for a partial day."""
        # Set from a helper thread: on_kill may run inside a signal handler that interrupted
        # the main thread while it held the Event's lock.
        threading.Thread(target=self._stop.set, name="foot-traffic-stop", daemon=True).start()
        self.log.warning("on_kill: stopping the stream; flushing what was sent")
