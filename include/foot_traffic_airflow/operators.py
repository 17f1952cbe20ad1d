"""``FootTrafficProducerOperator``: one simulated store day streamed to Kafka, from Airflow.

A thin front door onto the runner that ``foot-traffic produce`` also uses
(``foot_traffic.build.build_runner``). Settings come, in this order, from the original
environment variables, the run's Params (by the names ``Settings`` declares, as values,
not rendered strings) and the operator's ``settings`` argument; the broker from the Kafka
provider's connection; a stop is requested by ``on_kill``.

With ``chain=True`` it plays a store catalogue (or the shard of it named by ``stores``):
every store's local day through one runner; a live day that starts far ahead waits in
the triggerer (deferral), not in a worker slot.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from foot_traffic_airflow.connection import DEFAULT_CONN_ID, KafkaConnectionError
from foot_traffic_airflow.lineage import TopicLineageMixin
from foot_traffic_airflow.task_xcoms import XComProgress, day_played, reporting_failure, waiting

if TYPE_CHECKING:
    from airflow.sdk import Context

    from foot_traffic.settings import Settings
    from foot_traffic.plan.stores import Catalogue

# A live chain shard whose first local midnight is further away than this (wall seconds)
# waits in the triggerer (deferral) instead of holding a worker slot; shorter waits are
# paced. FOOT_TRAFFIC_DEFER_AFTER_SECONDS changes it (tests make it short).
DEFER_AFTER_SECONDS = 60.0


def defer_after_seconds() -> float:
    try:
        value = float(os.environ.get("FOOT_TRAFFIC_DEFER_AFTER_SECONDS", DEFER_AFTER_SECONDS))
    except ValueError:
        raise AirflowFailException(
            "invalid settings:\n  - FOOT_TRAFFIC_DEFER_AFTER_SECONDS: must be a number of seconds"
        ) from None
    return value if value >= 0 else DEFER_AFTER_SECONDS

log = logging.getLogger(__name__)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the task process's own objects out of the garbage collector's full passes while
    a day plays.

    A task runs in a process holding ~700,000 objects of Airflow's (measured in the task of
    ``airflow dags test``; the CLI holds ~50,000), and a full day at full speed triggers
    full collections, each walking all of them: 0.5 s apiece there, a sixth of the task's
    CPU on a 30,000-visit day. ``gc.freeze()`` moves what exists now to the permanent
    generation (nothing of it is freed meanwhile: it lives as long as the task anyway),
    ``gc.unfreeze()`` gives it back afterwards -- what Airflow's own executors do around a
    fork. When something else already froze objects, it is left as it is.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()

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
        from foot_traffic.plan.localday import zone

        return moment.astimezone(zone(self.day_timezone)).date() - timedelta(days=self.days_before)

    # -- running ------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        """Play the day; the UI is told the day first, then the progress, or the failure (``task_xcoms``)."""
        with reporting_failure(context):
            return self._execute(context)

    def _execute(self, context: Context) -> dict[str, Any]:
        from foot_traffic.build import build_runner
        from foot_traffic.delivery.ledger import describe_run
        from foot_traffic.model.profile import ProfileError, load_profile
        from foot_traffic_airflow.connection import librdkafka_producer_factory, resolve_kafka

        logging.getLogger("kafka").setLevel(logging.WARNING)
        day = self.day_to_play(context)
        day_played(context, day)
        try:
            target = resolve_kafka(self.kafka_config_id)
        except KafkaConnectionError as exc:
            raise AirflowFailException(f"Kafka connection {self.kafka_config_id!r}: {exc}") from None
        settings = self.build_settings(context.get("params"), kafka_broker=target.bootstrap_servers)
        if self.chain:
            return self._play_chain(context, day, settings, target)
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
            progress=XComProgress(context),
            owner=describe_run(run_label(context)),
        )
        _, result = self._play_day(context, runner, day, lambda summaries: summaries[0].as_dict(), "the day")
        self._emit_topic_assets(context, settings, result)
        self.log.info("%s done: %s", day, result)
        if settings.validate_day:
            result["validation"] = self.check_the_day(settings, profile, day, target)
        return result

    # -- a chain (a shard of a store catalogue) -----------------------------------------
    def load_shard(self, settings: Settings) -> Catalogue:
        """The catalogue (``stores_file``, else the example chain), cut to ``stores``; a bad
        catalogue or an unknown store fails the task without retries, nothing sent."""
        from foot_traffic.plan.stores import CatalogueError, load_catalogue

        try:
            catalogue = load_catalogue(settings.catalogue_file)
        except CatalogueError as exc:
            raise AirflowFailException(f"{self.task_id}: {exc}\nnothing was sent") from None
        if self.stores is None:
            return catalogue
        try:
            return catalogue.select(self.stores)
        except KeyError as exc:
            raise AirflowFailException(
                f"{self.task_id}: the shard's stores are no longer in the catalogue ({exc.args[0]}); "
                "nothing was sent. Re-run the DAG run (its first task cuts the shards anew)."
            ) from None

    def _play_chain(self, context: Context, day: date, settings: Settings, target, sim_anchor: float | None = None):
        import time

        from foot_traffic.build import build_runner
        from foot_traffic.plan.localday import local_instant
        from foot_traffic.delivery.ledger import describe_run
        from foot_traffic_airflow.connection import librdkafka_producer_factory

        shard = self.load_shard(settings)
        start = min(local_instant(day, 0, store.tz) for store in shard)
        if sim_anchor is None and not settings.from_midnight:
            wait = (start - time.time()) / settings.time_scale
            if wait > defer_after_seconds():
                from airflow.providers.standard.triggers.temporal import DateTimeTrigger

                moment = datetime.fromtimestamp(time.time() + wait, UTC)
                self.log.info(
                    "%d stores, local day %s: the first local midnight is %.0f s away; waiting in the "
                    "triggerer until %s (no worker slot)", len(shard), day, wait, moment.isoformat(timespec="seconds"),
                )
                waiting(context, moment, [s.id for s in shard])
                self.defer(
                    trigger=DateTimeTrigger(moment=moment),
                    method_name="play_after_wait",
                    kwargs={"sim_anchor": float(start)},
                )
        self.log.info(
            "playing the local day %s of %d stores (%s): topics %s and %s, time_scale %g, seed %s, from_midnight %s",
            day, len(shard), ", ".join(s.id for s in shard), settings.kafka_topic, settings.kafka_topic_realistic,
            settings.time_scale, settings.seed, settings.from_midnight,
        )
        runner = build_runner(
            settings,
            day,
            stop=self._stop,
            client_options=target.client_options,
            producer_factory=librdkafka_producer_factory(target) if settings.kafka_client == "confluent" else None,
            progress_every=self.progress_every,
            progress=XComProgress(context),
            catalogue=shard,
            owner=describe_run(run_label(context)),
        )
        if sim_anchor is not None and settings.time_scale != 1:
            # After the wait the simulated clock starts at the first midnight (in real time
            # it simply is the wall clock).
            runner.sim_anchor = sim_anchor
        summaries, result = self._play_day(
            context, runner, day, lambda summaries: chain_result(day, summaries, settings), "the shard's day"
        )
        self.log.info(
            "%s done: %d stores (%d closed), %d visits, %d records sent, %d already present",
            day, result["stores"], len(result["closed_stores"]), result["total_visits"], result["records_sent"],
            result["records_already_present"],
        )
        self._emit_topic_assets(context, settings, result)
        if settings.validate_day:
            result["validation"] = self.check_the_day(settings, None, day, target, catalogue=shard)
        return result

    def play_after_wait(self, context: Context, event: Any = None, sim_anchor: float | None = None) -> dict[str, Any]:
        """Resumed from the triggerer at the shard's first local midnight: play the day."""
        from foot_traffic_airflow.connection import resolve_kafka

        with reporting_failure(context):
            day = self.day_to_play(context)
            try:
                target = resolve_kafka(self.kafka_config_id)
            except KafkaConnectionError as exc:
                raise AirflowFailException(f"Kafka connection {self.kafka_config_id!r}: {exc}") from None
            settings = self.build_settings(context.get("params"), kafka_broker=target.bootstrap_servers)
            return self._play_chain(context, day, settings, target, sim_anchor=sim_anchor)

    def _play_day(self, context: Context, runner, day: date, result_of, what: str):
        """Play ``day`` and map how it ended to Airflow: a bad plan or a fencing fails without
        retry, a delivery failure or a stop fails for a retry (which resumes); returns the
        summaries and ``result_of(summaries)``, the XCom."""
        from foot_traffic.delivery.errors import Fenced, PlanMismatch, PublishError, RecordRefused
        from foot_traffic.delivery.ledger import describe_owner

        try:
            with frozen_heap():
                summaries = runner.run([day], first_from_now=False)
        except InterruptedError:
            raise FootTrafficStopped(f"{day}: stopped while connecting to Kafka; nothing was sent") from None
        except PlanMismatch as exc:
            raise AirflowFailException(f"{day}: {exc}") from None
        except Fenced as exc:  # normally reported in the summary; this is the belt and braces
            raise FootTrafficFenced(f"{day}: {exc}. Not retried: a retry would take the day back.") from None
        except RecordRefused as exc:  # permanent: a retry would be refused again
            raise AirflowFailException(f"{day}: delivery failed, {what} is incomplete: {exc}") from None
        except PublishError as exc:
            # A retry resumes: it sends only what the topics do not hold yet.
            raise AirflowException(f"{day}: delivery failed, {what} is incomplete: {exc}") from None
        result = result_of(summaries)
        if runner.fenced is not None:
            ti = context.get("ti")
            if ti is not None:
                ti.xcom_push(key="return_value", value=result)
            raise FootTrafficFenced(
                f"{day}: fenced by a newer run: {describe_owner(runner.fenced.by)} now writes {what}. "
                f"This attempt stopped after {result['records_sent']} records; nothing was sent twice (its "
                "unfinished transaction was aborted, what it committed stays). Not retried: a retry would take "
                "the day back from the newer run."
            )
        if any(s.stopped or not s.finished for s in summaries):
            raise FootTrafficStopped(
                f"{day}: stopped after {result['records_sent']} records (all acknowledged); {what} is incomplete, "
                "a new attempt resumes where this one stopped"
            )
        return summaries, result

    def _emit_topic_assets(self, context: Context, settings: Settings, result: Mapping[str, Any]) -> None:
        """Hand the topics this run wrote to the DAG's ``announce_topics`` task (XCom
        ``topic_assets``), named by the broker really used: ``kafka://<first bootstrap
        server>/<topic>``. An asset alias among this task's own outlets (a DAG of your own)
        is resolved here directly; see ``assets.py`` for why our DAGs announce in a task
        of its own."""
        from airflow.sdk import Asset, AssetAlias

        from foot_traffic_airflow.assets import TOPIC_ASSETS_XCOM, topic_asset_events

        topic_assets = topic_asset_events(
            settings.bootstrap_servers, settings.kafka_broker[0],
            (settings.kafka_topic, settings.kafka_topic_realistic), result, self.kafka_config_id,
        )
        ti = context.get("ti")
        if ti is not None:
            ti.xcom_push(key=TOPIC_ASSETS_XCOM, value=topic_assets)
        aliases = [o for o in self.outlets or () if isinstance(o, AssetAlias)]
        events = context.get("outlet_events")
        if aliases and events is not None:
            for event in topic_assets:
                for alias in aliases:
                    events[alias].add(Asset(event["uri"]), extra=event["extra"])
        self.log.info("topics written: %s", " and ".join(event["uri"] for event in topic_assets))

    def check_the_day(self, settings: Settings, profile, day: date, target, catalogue=None) -> dict[str, Any]:
        """Read the day back and test it against its model (``validate``); log the table and
        return a summary for XCom. A failed check is reported, not raised: the day was
        delivered, and a statistical test rejects a correct day 1 % of the time."""
        from foot_traffic.delivery.options import KafkaOptions
        from foot_traffic.analysis.validate import read_and_validate, summary_of

        options = KafkaOptions.from_settings(settings, client_options=target.client_options)
        try:
            reports = read_and_validate(settings, profile, day, options, catalogue=catalogue, stop=self._stop)
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


def chain_result(day: date, summaries, settings: Settings) -> dict[str, Any]:
    """The XCom of a chain shard: totals and, per store, what it planned and sent."""
    return {
        "day": day.isoformat(),
        "stores": len(summaries),
        "closed_stores": [s.store_id for s in summaries if s.closed],
        "total_visits": sum(s.total_visits for s in summaries),
        "records_sent": sum(s.sent for s in summaries),
        "records_already_present": sum(s.already_present for s in summaries),
        "topics": [settings.kafka_topic, settings.kafka_topic_realistic],
        "per_store": {
            s.store_id: {"visits": s.total_visits, "sent": s.sent, "already_present": s.already_present,
                         "plan_id": s.plan_id, "closed": s.closed, "seed": s.seed,
                         "sent_per_topic": dict(s.sent_per_topic), "finished": s.finished, "stopped": s.stopped}
            for s in summaries
        },
    }
