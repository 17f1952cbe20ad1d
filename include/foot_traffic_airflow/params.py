"""The DAGs' typed Params, derived from ``Settings``, and the asset alias of the topics.

Each setting that a DAG exposes is declared once, in ``foot_traffic.settings.Settings``
(``json_schema_extra=param(...)``: the Param's name, title, description, bounds and
type come from there). The Param's default is the setting's value in the environment
(the original producer's variables), validated like the producer's settings, so a
deployment configured the old way keeps its behaviour and a malformed variable shows up
as a DAG import error naming it instead of a failed run later.

Read at DAG parse time: only ``os.environ`` lookups and a pydantic validation (no I/O,
no connection).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from foot_traffic.settings import CHAIN_DAG, STORE_DAG, Settings, SettingsError

__all__ = ["CHAIN_DAG", "STORE_DAG", "dag_params", "env_defaults", "param_schema", "topic_assets"]

# pydantic's names for bounds -> JSON Schema's (what Airflow's trigger form reads).
BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
DROPPED = {"title", "description", "default", "format", "param"}


@cache
def _properties() -> dict[str, Any]:
    return Settings.model_json_schema(by_alias=False)["properties"]


def param_schema(field_name: str) -> dict[str, Any]:
    """The JSON schema of one setting as a Param: its type, bounds and extra keywords."""
    field = Settings.model_fields[field_name]
    prop = dict(_properties()[field_name])
    declared = field.json_schema_extra["param"]
    nullable = False
    if "anyOf" in prop:
        options = prop.pop("anyOf")
        nullable = any(o.get("type") == "null" for o in options)
        (value_schema,) = [o for o in options if o.get("type") != "null"]
        prop.update(value_schema)
    schema = {BOUNDS.get(k, k): v for k, v in prop.items() if k not in DROPPED}
    schema.update(declared["schema"])
    if nullable and declared["nullable"]:
        schema["type"] = ["null", schema["type"]]
    return schema


def env_defaults(environ: Mapping[str, str] | None = None, dag: str | None = None) -> dict[str, Any]:
    """Param defaults (by Param name) from the environment, validated like the producer's settings."""
    environ = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        raise ValueError(f"Param defaults come from the environment, and it is {exc}") from None
    defaults = {}
    for param_name, field_name in Settings.params(dag).items():
        source = Settings.model_fields[field_name].json_schema_extra["param"]["default_from"] or field_name
        value = getattr(settings, source)
        defaults[param_name] = str(value) if isinstance(value, Path) else value  # Params hold JSON
    return defaults


def dag_params(
    environ: Mapping[str, str] | None = None, dag: str = STORE_DAG, *, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``params`` of the one-store DAG (``STORE_DAG``) or the chain DAG (``CHAIN_DAG``):
    typed, with minimum/maximum, so the trigger form validates input.

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
    for param_name, field_name in Settings.params(dag).items():
        field = Settings.model_fields[field_name]
        params[param_name] = Param(
            defaults[param_name], title=field.title, description=field.description, **param_schema(field_name)
        )
    return params


# The demo DAG: a past day, paced from its midnight, a day per minute.
DEMO_DEFAULTS = {"time_scale": 1440.0, "from_midnight": True}


def demo_params(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The demo DAG's Params: the daily DAG's, with the one-minute demo as defaults, and the day."""
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
