"""The DAGs' trigger forms: typed Params from ``Settings``, grouped in sections.

What a setting *is* (its type, bounds, environment variable, what it does) is declared
once, in ``foot_traffic.settings.Settings``; the name a run sets it by comes from there
too (``param("seed")``). How Airflow's trigger form shows it is declared here, once per
setting, in ``FORM``: which DAGs show it, its section (Day, Model, Kafka, Sensor, Chain),
its title, its place, and a description of its own where the setting's would not be true
in that form (the chain's stores have their own baselines). The Param's default is the
setting's value in the environment (the original producer's variables), validated like
the producer's settings, so a deployment configured the old way keeps its behaviour and a
malformed variable shows up as a DAG import error naming it instead of a failed run later.

Read at DAG parse time: only ``os.environ`` lookups and a pydantic validation (no I/O,
no connection).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from foot_traffic.settings import Settings, SettingsError

__all__ = ["CHAIN_DAG", "FORM", "STORE_DAG", "chain_params", "dag_params", "demo_params", "env_defaults", "param_schema"]

STORE_DAG, CHAIN_DAG = "store", "chain"  # the one-store DAGs (foot_traffic_daily, _demo) and foot_traffic_chain_daily
DAY, MODEL, KAFKA, SENSOR, CHAIN = "Day", "Model", "Kafka", "Sensor", "Chain"
# The form's sections in order: the chain form starts with its own fields.
SECTIONS = {STORE_DAG: (DAY, MODEL, KAFKA, SENSOR), CHAIN_DAG: (CHAIN, DAY, MODEL, KAFKA, SENSOR)}
BOTH = (STORE_DAG, CHAIN_DAG)


@dataclass(frozen=True)
class FormField:
    """One setting as a field of the trigger form.

    ``described``: this form's description by DAG kind where the setting's own is not true
    there; ``default_from``: a ``Settings`` property that gives the default instead of the
    field (the effective baseline, the catalogue used); ``nullable`` False: never empty.
    """

    setting: str
    section: str
    title: str
    dags: tuple[str, ...] = BOTH
    described: Mapping[str, str] = field(default_factory=dict)
    default_from: str | None = None
    nullable: bool = True
    schema: Mapping[str, Any] = field(default_factory=dict)


LIVE_CHAIN = (
    "A run for today's date (the default logical date) is **live**: each store streams its day in real "
    "time from its local midnight, about 50 hours for the whole chain. A past logical date plays that day "
    "at full speed.\n\n**Paused DAG?** The box *Unpause foot_traffic_chain_daily on trigger* above is "
    "ticked by default, and Airflow 3.3 cannot untick it for you: untick it to play only this run. Left "
    "ticked, the DAG is unpaused and starts a live run every day at 00:00 UTC+14 (10:00 UTC the day before)."
)

FORM: tuple[FormField, ...] = (
    # -- Chain (the chain form only, first) ---------------------------------------------------
    FormField("stores_file", CHAIN, "Store catalogue", dags=(CHAIN_DAG,), default_from="catalogue_file",
              nullable=False, schema={"maxLength": 4096}),
    FormField("closing_grace_minutes", CHAIN, "Closing grace (minutes)", dags=(CHAIN_DAG,)),
    # -- Day ----------------------------------------------------------------------------------
    FormField("time_scale", DAY, "Time scale", described={
        CHAIN_DAG: "Simulated seconds per wall second (TIME_SCALE): 1 = real time. Applies to a live run (each "
        "store from its own local midnight) and to a run with “Start at midnight”; a past day without it is "
        "sent at full speed."}),
    FormField("from_midnight", DAY, "Start at midnight", described={
        STORE_DAG: "Start the simulated clock at the day's midnight (UTC) instead of now, paced by “Time scale”: "
        "1440 plays the day in a minute (FOOT_TRAFFIC_FROM_MIDNIGHT).",
        CHAIN_DAG: "Start the simulated clock at the first store's local midnight instead of now, paced by "
        "“Time scale” (FOOT_TRAFFIC_FROM_MIDNIGHT)."}),
    FormField("validate_day", DAY, "Validate the day", described={
        CHAIN_DAG: "At the end of each shard, read its stores' day back and test it against its model "
        "(FOOT_TRAFFIC_VALIDATE); the report goes to the log and the shard's summary (XCom)."}),
    # -- Model --------------------------------------------------------------------------------
    FormField("daily_customers", MODEL, "Customers of the day", dags=(STORE_DAG,), described={
        STORE_DAG: "Fixed number of customers (DAILY_CUSTOMERS). Empty: “Baseline customers” with “Daily "
        "variation”."}),
    FormField("base_daily_customers", MODEL, "Baseline customers", dags=(STORE_DAG,), default_from="baseline",
              nullable=False),
    FormField("daily_variation_pct", MODEL, "Daily variation", described={
        STORE_DAG: "Random daily noise around “Baseline customers”, 0.10 = ±10 % (DAILY_VARIATION_PCT).",
        CHAIN_DAG: "Random daily noise around each store's baseline (its base_daily_customers in the "
        "catalogue), 0.10 = ±10 %, for stores that set no daily_variation_pct of their own "
        "(DAILY_VARIATION_PCT)."}),
    FormField("disable_daily_variation", MODEL, "Disable daily variation", described={
        STORE_DAG: "Every day gets exactly “Baseline customers” (DISABLE_DAILY_VARIATION).",
        CHAIN_DAG: "Every store gets exactly its catalogue baseline every day, whatever its own "
        "daily_variation_pct (DISABLE_DAILY_VARIATION)."}),
    FormField("seed", MODEL, "Seed"),
    FormField("profile_file", MODEL, "Store profile", dags=(STORE_DAG,), schema={"maxLength": 4096}),
    # -- Kafka --------------------------------------------------------------------------------
    FormField("kafka_topic", KAFKA, "Session topic"),
    FormField("kafka_topic_realistic", KAFKA, "Entry/exit topic"),
    # -- Sensor -------------------------------------------------------------------------------
    FormField("sensor_miss_rate", SENSOR, "Missed passages"),
    FormField("sensor_double_rate", SENSOR, "Double counts"),
    FormField("sensor_batch_seconds", SENSOR, "Gateway batch (s)"),
    FormField("sensor_upload_delay_seconds", SENSOR, "Upload delay (s)"),
)

# pydantic's names for bounds -> JSON Schema's (what Airflow's trigger form reads).
BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
DROPPED = {"title", "description", "default", "format", "param"}


@cache
def _properties() -> dict[str, Any]:
    return Settings.model_json_schema(by_alias=False)["properties"]


@cache
def _param_names() -> dict[str, str]:
    """Settings field -> the name a run sets it by."""
    return {field_name: param_name for param_name, field_name in Settings.params().items()}


def form_fields(dag: str | None = None) -> list[FormField]:
    """The fields of ``dag``'s form (``STORE_DAG`` or ``CHAIN_DAG``) in form order: by
    section, then as ``FORM`` lists them; None: every field."""
    if dag is None:
        return list(FORM)
    order = SECTIONS[dag]
    return sorted((f for f in FORM if dag in f.dags), key=lambda f: order.index(f.section))


def param_name(item: FormField) -> str:
    return _param_names()[item.setting]


def param_schema(item: FormField) -> dict[str, Any]:
    """The JSON schema of one form field as a Param: the setting's type and bounds, its
    section and the form's own keywords. A switch is never "required" (it cannot be empty)."""
    prop = dict(_properties()[item.setting])
    nullable = False
    if "anyOf" in prop:
        options = prop.pop("anyOf")
        nullable = any(o.get("type") == "null" for o in options)
        (value_schema,) = [o for o in options if o.get("type") != "null"]
        prop.update(value_schema)
    schema = {BOUNDS.get(k, k): v for k, v in prop.items() if k not in DROPPED}
    schema.update(item.schema)
    # Airflow marks a field required unless its type admits null; None means "unset" (the
    # environment's value) to the operator.
    if (nullable and item.nullable) or schema.get("type") == "boolean":
        schema["type"] = ["null", schema["type"]]
    schema["section"] = item.section
    return schema


def env_defaults(environ: Mapping[str, str] | None = None, dag: str | None = None) -> dict[str, Any]:
    """Param defaults (by Param name) from the environment, validated like the producer's settings."""
    environ = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        raise ValueError(f"Param defaults come from the environment, and it is {exc}") from None
    defaults = {}
    for item in form_fields(dag):
        value = getattr(settings, item.default_from or item.setting)
        defaults[param_name(item)] = str(value) if isinstance(value, Path) else value  # Params hold JSON
    return defaults


def dag_params(
    environ: Mapping[str, str] | None = None, dag: str = STORE_DAG, *, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``params`` of a one-store DAG (``STORE_DAG``) or of the chain's settings
    (``CHAIN_DAG``; ``chain_params`` adds its shard size): typed, with minimum/maximum, so
    the trigger form validates input, in form order, each in its section.

    ``defaults`` (by Param name) replace the environment's defaults (the demo DAG's
    ``time_scale`` and ``from_midnight``); they are validated like any setting.
    """
    from airflow.sdk import Param

    environ = os.environ if environ is None else environ
    if defaults:
        try:
            Settings.from_sources(environ, overrides=defaults)
        except SettingsError as exc:
            raise ValueError(f"invalid Param defaults: {exc}") from None
    defaults = {**env_defaults(environ, dag), **(defaults or {})}
    params = {}
    for item in form_fields(dag):
        name = param_name(item)
        text = item.described.get(dag) or Settings.model_fields[item.setting].description
        params[name] = Param(defaults[name], title=item.title, description=text, **param_schema(item))
    return params


# The demo DAG: a past day, paced from its midnight, a day per minute.
DEMO_DEFAULTS = {"time_scale": 1440.0, "from_midnight": True}


def demo_params(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The demo DAG's Params: the daily DAG's, with the one-minute demo as defaults, and the day first."""
    from airflow.sdk import Param

    params = dag_params(environ, defaults=DEMO_DEFAULTS)
    return {
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day to play",
            description="The simulated day (UTC). Empty: the day before the run's date (yesterday for a "
            "run triggered now), so the demo never competes with today's scheduled run.",
            section=DAY,
        ),
        **params,
    }


def chain_params(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The chain DAG's Params: its catalogue and shard size first (with what triggering it
    live means), then the settings every shard plays with."""
    from airflow.sdk import Param

    from foot_traffic_airflow.chain import CHAIN_DAG_ENV, MAX_SHARD_SIZE, chain_dag_options

    environ = os.environ if environ is None else environ
    params = dag_params(environ, dag=CHAIN_DAG)
    catalogue = params.pop("stores_file")
    shard_default, _ = CHAIN_DAG_ENV["FOOT_TRAFFIC_CHAIN_SHARD_SIZE"]
    return {
        # The form's first field carries the warning: Markdown (description_md) shows when there is no plain one.
        "stores_file": Param(catalogue.value, description=None, description_md=f"{catalogue.description}\n\n{LIVE_CHAIN}",
                             **{k: v for k, v in catalogue.schema.items() if k != "description"}),
        "shard_size": Param(
            chain_dag_options(environ)["shard_size"], type="integer", minimum=1, maximum=MAX_SHARD_SIZE,
            title="Stores per shard", section=CHAIN,
            description="Stores played by one mapped task (one Kafka producer each); the default comes from "
            f"FOOT_TRAFFIC_CHAIN_SHARD_SIZE ({shard_default} when unset).",
        ),
        **params,
    }


TOPICS_ALIAS = "foot_traffic_topics"


def topics_alias() -> Any:
    """The outlet of the producer task: an asset alias that each successful run resolves to the
    topics it really wrote, ``kafka://<first bootstrap server of its connection>/<topic>``
    (the Kafka provider's URI scheme, OpenLineage's namespace), with the day and counts as the
    event's extra. Downstream DAGs schedule on ``AssetAlias("foot_traffic_topics")``."""
    from airflow.sdk import AssetAlias

    return AssetAlias(TOPICS_ALIAS)
