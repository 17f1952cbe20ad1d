"""The DAG's typed Params and topic Assets, with defaults from the seed's environment variables.

Read at DAG parse time: only ``os.environ`` lookups and a pydantic validation (no I/O,
no connection), so a deployment configured the old way (``KAFKA_TOPIC``, ``TIME_SCALE``,
``SEED``, ``DAILY_CUSTOMERS`` ...) keeps its behaviour, and a malformed variable shows up
as a DAG import error naming it instead of a failed run later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from foot_traffic.settings import MAX_DAILY_CUSTOMERS, MAX_TIME_SCALE, Settings, SettingsError

TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"
PARAM_ENV = (
    "DAILY_CUSTOMERS",
    "DEFAULT_DAILY_CUSTOMERS",
    "BASE_DAILY_CUSTOMERS",
    "DAILY_VARIATION_PCT",
    "DISABLE_DAILY_VARIATION",
    "TIME_SCALE",
    "SEED",
    "KAFKA_TOPIC",
    "KAFKA_TOPIC_REALISTIC",
)


def env_defaults(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Param defaults (by Param name) from the environment, validated like the producer's settings."""
    environ = os.environ if environ is None else environ
    try:
        s = Settings.from_env({k: environ[k] for k in PARAM_ENV if k in environ})
    except SettingsError as exc:
        raise ValueError(f"foot_traffic_daily: Param defaults come from the environment, and it is {exc}") from None
    profile = (environ.get("FOOT_TRAFFIC_PROFILE") or "").strip() or None
    return {
        "daily_customers": s.daily_customers,
        "base_daily_customers": s.baseline,
        "daily_variation_pct": s.daily_variation_pct,
        "disable_daily_variation": s.disable_daily_variation,
        "time_scale": s.time_scale,
        "seed": s.seed,
        "topic": s.kafka_topic,
        "topic_realistic": s.kafka_topic_realistic,
        "from_midnight": False,
        "profile_file": profile,
    }


def dag_params(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The DAG's ``params``: typed, with minimum/maximum, so the trigger form validates input."""
    from airflow.sdk import Param

    d = env_defaults(environ)
    return {
        "daily_customers": Param(
            d["daily_customers"], type=["null", "integer"], minimum=1, maximum=MAX_DAILY_CUSTOMERS,
            title="Customers of the day",
            description="Fixed number of customers (DAILY_CUSTOMERS). Empty: baseline with daily variation.",
        ),
        "base_daily_customers": Param(
            d["base_daily_customers"], type="integer", minimum=1, maximum=MAX_DAILY_CUSTOMERS,
            title="Baseline customers",
            description="Customers on an average day (BASE_DAILY_CUSTOMERS / DEFAULT_DAILY_CUSTOMERS).",
        ),
        "daily_variation_pct": Param(
            d["daily_variation_pct"], type="number", minimum=0, exclusiveMaximum=1,
            title="Daily variation", description="Random daily noise around the baseline, 0.10 = ±10 % (DAILY_VARIATION_PCT).",
        ),
        "disable_daily_variation": Param(
            d["disable_daily_variation"], type="boolean",
            title="Disable daily variation", description="Every day gets exactly the baseline (DISABLE_DAILY_VARIATION).",
        ),
        "time_scale": Param(
            d["time_scale"], type="number", exclusiveMinimum=0, maximum=MAX_TIME_SCALE,
            title="Time scale",
            description="Simulated seconds per wall second (TIME_SCALE): 1 = real time, 1440 = a day per minute. "
            "Past days are always sent at full speed.",
        ),
        "seed": Param(
            d["seed"], type=["null", "integer"], minimum=0, maximum=2**63 - 1,
            title="Seed", description="Same seed and date give the same records (SEED). Empty: random.",
        ),
        "topic": Param(
            d["topic"], type="string", minLength=1, maxLength=249, pattern=TOPIC_PATTERN,
            title="Session topic", description="One record per visit (KAFKA_TOPIC).",
        ),
        "topic_realistic": Param(
            d["topic_realistic"], type="string", minLength=1, maxLength=249, pattern=TOPIC_PATTERN,
            title="Entry/exit topic", description="Separate entry and exit events (KAFKA_TOPIC_REALISTIC).",
        ),
        "from_midnight": Param(
            d["from_midnight"], type="boolean",
            title="Start at midnight",
            description="Start the simulated clock at the day's midnight instead of now (demos of today with a time scale).",
        ),
        "profile_file": Param(
            d["profile_file"], type=["null", "string"], maxLength=4096,
            title="Store profile file", description="YAML/JSON store profile on the workers (FOOT_TRAFFIC_PROFILE). Empty: the original model.",
        ),
    }


def topic_assets(environ: Mapping[str, str] | None = None) -> list[Any]:
    """Assets of the two default topics, ``kafka://<first broker>/<topic>`` (the Kafka provider's scheme)."""
    from airflow.sdk import Asset

    environ = os.environ if environ is None else environ
    d = env_defaults(environ)
    server = (environ.get("KAFKA_BROKER") or "kafka:9092").split(",")[0].strip() or "kafka:9092"
    return [Asset(f"kafka://{server}/{d['topic']}"), Asset(f"kafka://{server}/{d['topic_realistic']}")]
