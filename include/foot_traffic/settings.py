"""One typed, frozen settings object for every front door (environment, CLI, Airflow).

The environment variable names and defaults are the original producer's; the
validation is new: every problem is collected and reported at once, each naming the
variable, the value it had and what is accepted, before any connection is made.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

MAX_DAILY_CUSTOMERS = 10_000_000
MAX_TIME_SCALE = 1_000_000.0
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})$")

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """Raised for invalid settings; ``problems`` holds one line per bad setting."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _no_bool(value: Any) -> Any:
    # pydantic would take True as 1; a checkbox is never a count.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _parse_flag(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("must be one of 1/0, true/false, yes/no, on/off")
    return value


def _parse_brokers(value: Any) -> Any:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("must be a comma-separated list of host:port")
    brokers = []
    for part in value:
        if not isinstance(part, str):
            raise ValueError("must be a comma-separated list of host:port")
        match = HOST_PORT.match(part)
        if not match or not 1 <= int(match["port"]) <= 65535:
            raise ValueError(f"{part!r} is not host:port (port 1-65535); expected a comma-separated list of host:port")
        brokers.append(part)
    return tuple(brokers)


def _existing_file(value: Path) -> Path:
    try:
        exists = value.is_file()
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte
        exists = False
    if not exists:
        raise ValueError("no such file; expected the path of a YAML or JSON store profile")
    return value


def _existing_catalogue(value: Path) -> Path:
    try:
        exists = value.is_file()
    except (OSError, ValueError):
        exists = False
    if not exists:
        raise ValueError("no such file; expected the path of a YAML or JSON store catalogue")
    return value


def _topic(value: str) -> str:
    if value in {".", ".."} or not TOPIC_NAME.match(value):
        raise ValueError("must be 1-249 characters of ASCII letters, digits, '.', '_' or '-' (Kafka topic rules)")
    return value


Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_DAILY_CUSTOMERS, strict=False)]
Number = Annotated[float, BeforeValidator(_no_bool), AfterValidator(_finite)]
Flag = Annotated[bool, BeforeValidator(_parse_flag)]
Topic = Annotated[str, AfterValidator(_topic)]


class Settings(BaseModel):
    """Every setting of the producer, validated. Field aliases are the environment names."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    kafka_broker: Annotated[tuple[str, ...], BeforeValidator(_parse_brokers)] = Field(
        default=("kafka:9092",), alias="KAFKA_BROKER", description="Bootstrap servers, host:port[,host:port...]"
    )
    kafka_topic: Topic = Field(default="foot_traffic", alias="KAFKA_TOPIC", description="Session topic")
    kafka_topic_realistic: Topic = Field(
        default="foot_traffic_realistic", alias="KAFKA_TOPIC_REALISTIC", description="Entry/exit event topic"
    )
    sleep: Annotated[Number, Field(gt=0, le=60)] = Field(
        default=0.5, alias="SLEEP", description="Longest single wait of the pacer, seconds (stop latency)"
    )
    time_scale: Annotated[Number, Field(gt=0, le=MAX_TIME_SCALE)] = Field(
        default=1.0, alias="TIME_SCALE", description="Simulated seconds per wall-clock second"
    )
    default_daily_customers: Count = Field(default=1000, alias="DEFAULT_DAILY_CUSTOMERS")
    base_daily_customers: Count | None = Field(default=None, alias="BASE_DAILY_CUSTOMERS")
    daily_customers: Count | None = Field(default=None, alias="DAILY_CUSTOMERS")
    daily_variation_pct: Annotated[Number, Field(ge=0, lt=1)] = Field(default=0.10, alias="DAILY_VARIATION_PCT")
    disable_daily_variation: Flag = Field(default=False, alias="DISABLE_DAILY_VARIATION")
    seed: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=2**63 - 1)] | None = Field(
        default=None, alias="SEED"
    )
    max_retries: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=100)] = Field(
        default=6, alias="MAX_RETRIES"
    )
    retry_backoff_seconds: Annotated[Number, Field(ge=0, le=3600)] = Field(
        default=5.0, alias="RETRY_BACKOFF_SECONDS"
    )
    # New settings (not in the original): each has a default that keeps its behaviour.
    profile_file: Annotated[Path, AfterValidator(_existing_file)] | None = Field(
        default=None, alias="FOOT_TRAFFIC_PROFILE", description="YAML/JSON store profile; default: the original model"
    )
    stores_file: Annotated[Path, AfterValidator(_existing_catalogue)] | None = Field(
        default=None,
        alias="STORES_FILE",
        description="YAML/JSON store catalogue (a chain); default: one store on UTC, the original's output",
    )
    closing_grace_minutes: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=1440)] = Field(
        default=15,
        alias="CLOSING_GRACE_MINUTES",
        description="With a catalogue: whoever is inside at closing leaves within this many minutes",
    )
    resume: Flag = Field(
        default=True, alias="FOOT_TRAFFIC_RESUME", description="Skip what the topics already hold for the day"
    )
    compression: Literal["gzip", "none"] = Field(default="gzip", alias="KAFKA_COMPRESSION")
    kafka_client: Literal["kafka-python", "confluent"] = Field(
        default="kafka-python",
        alias="KAFKA_CLIENT",
        description="Producer client: kafka-python (the original's) or confluent (librdkafka, faster)",
    )
    topic_partitions: Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=10_000)] = Field(
        default=3, alias="TOPIC_PARTITIONS", description="Partitions of topics the producer creates"
    )
    topic_replication_factor: Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=32)] = Field(
        default=1, alias="TOPIC_REPLICATION_FACTOR", description="Replication factor of topics the producer creates"
    )
    topic_retention_ms: Annotated[int, BeforeValidator(_no_bool), Field(ge=-1, le=2**63 - 1)] = Field(
        default=-1,
        alias="TOPIC_RETENTION_MS",
        description="retention.ms of created topics; -1 keeps past days (their timestamps are old)",
    )

    @property
    def baseline(self) -> int:
        """Customers on an average day: BASE_DAILY_CUSTOMERS, else DEFAULT_DAILY_CUSTOMERS."""
        return self.base_daily_customers or self.default_daily_customers

    @property
    def variation_enabled(self) -> bool:
        return not self.disable_daily_variation and self.daily_variation_pct > 0

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(self.kafka_broker)

    @classmethod
    def env_names(cls) -> list[str]:
        return [field.alias for field in cls.model_fields.values() if field.alias]

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read the known variables from ``environ``; ``overrides`` (by field name) win.

        An empty value means "unset" for the optional settings (DAILY_CUSTOMERS, SEED,
        BASE_DAILY_CUSTOMERS, FOOT_TRAFFIC_PROFILE, STORES_FILE); for the others it is an error.
        """
        optional = {"DAILY_CUSTOMERS", "SEED", "BASE_DAILY_CUSTOMERS", "FOOT_TRAFFIC_PROFILE", "STORES_FILE"}
        data: dict[str, Any] = {}
        for name in cls.env_names():
            if name in environ:
                value = environ[name]
                if name in optional and isinstance(value, str) and value.strip() == "":
                    continue
                data[name] = value
        for field_name, value in overrides.items():
            if value is None:
                continue
            alias = cls.model_fields[field_name].alias if field_name in cls.model_fields else field_name
            data[alias] = value
        return cls.build(data)

    @classmethod
    def build(cls, data: Mapping[str, Any]) -> Settings:
        """Validate ``data`` (keys: environment names or field names); raise SettingsError."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:  # pragma: no cover - defensive
            raise SettingsError([f"settings could not be read: {exc}"]) from None


def _describe(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"] if not isinstance(part, int)) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problems.append(f"{loc}: unknown setting")
            continue
        if loc == "settings":
            problems.append(message)
            continue
        value = error.get("input")
        shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
        if len(shown) > 80:
            shown = shown[:77] + "..."
        problems.append(f"{loc}={shown}: {message}")
    return problems
