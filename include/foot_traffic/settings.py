"""The producer's settings for every front door (environment, CLI, Airflow), in groups.

``Settings`` holds every setting; it is made of four groups, each a type of its own that
the domain takes where it reads only that concern: ``SimulationSettings`` (the plan and
its pacing), ``KafkaSettings`` (delivery), ``SensorSettings`` (the door sensor's flaws)
and ``ChainSettings`` (the store catalogue).

The environment variable names and defaults are the original producer's; the
validation is new: every problem is collected and reported at once, each naming the
variable, the value it had and what is accepted, before any connection is made.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

MAX_DAILY_CUSTOMERS = 10_000_000
# The example chain shipped with the engine (the chain DAG's default catalogue).
EXAMPLE_CHAIN = Path(__file__).resolve().parent / "chains" / "example_chain.yaml"
MAX_TIME_SCALE = 1_000_000.0
TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"
TOPIC_NAME = re.compile(TOPIC_PATTERN)
HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})$")

# Profiles shipped in foot_traffic/profiles/ (profile.BUILTIN; kept here so that reading
# settings, e.g. when Airflow parses the DAG, imports no YAML).
BUILTIN_PROFILES = ("seed", "retail")

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """Raised for invalid settings; ``problems`` holds one line per bad setting."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


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


def _profile_ref(value: str) -> str:
    """A built-in profile name or the path of an existing profile file."""
    if value in BUILTIN_PROFILES:
        return value
    _existing_file_named(value)
    return value


def _existing_file_named(value: str) -> None:
    _existing_file(Path(value), f"a built-in profile ({', '.join(BUILTIN_PROFILES)}) or the path of a YAML or JSON "
                                "store profile")


def _existing_catalogue(value: Path) -> Path:
    _existing_file(value, "the path of a YAML or JSON store catalogue")
    return value


def _existing_file(path: Path, expected: str) -> None:
    """``ValueError`` unless ``path`` is a file: no such file, or a directory."""
    try:
        if path.is_file():
            return
        problem = "is a directory, not a file" if path.is_dir() else "no such file"
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte
        problem = "no such file"
    raise ValueError(f"{problem}; expected {expected}")


def _topic(value: str) -> str:
    if value in {".", ".."} or not TOPIC_NAME.match(value):
        raise ValueError("must be 1-249 characters of ASCII letters, digits, '.', '_' or '-' (Kafka topic rules)")
    return value


Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=MAX_DAILY_CUSTOMERS, strict=False)]
Number = Annotated[float, BeforeValidator(_no_bool), AfterValidator(_finite)]
Flag = Annotated[bool, BeforeValidator(_parse_flag)]
Topic = Annotated[str, AfterValidator(_topic), Field(json_schema_extra={"pattern": TOPIC_PATTERN, "minLength": 1, "maxLength": 249})]


def param(name: str) -> dict[str, Any]:
    """Marks a setting that a run can set by ``name`` (a DAG run's Params and conf, e.g.
    ``seed``): ``Settings.from_sources(params=...)`` reads it by that name. How a front door
    presents it (Airflow's trigger form: which DAGs, section, title, order) is that front
    door's business (``foot_traffic_airflow.params``), not the engine's."""
    return {"param": {"name": name}}


class SettingsGroup(BaseModel):
    """What every group of settings shares: frozen, no unknown keys, field aliases are the
    environment names; read from the environment, a run's Params and explicit values."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    @classmethod
    def env_names(cls) -> list[str]:
        return [field.alias for field in cls.model_fields.values() if field.alias]

    @classmethod
    def params(cls) -> dict[str, str]:
        """Param name -> field name, for the settings a run can set by name (see ``param``)."""
        return {
            extra["param"]["name"]: name
            for name, field in cls.model_fields.items()
            if isinstance(extra := field.json_schema_extra, dict) and "param" in extra
        }

    @classmethod
    def _key(cls, name: str) -> str:
        """The environment name of a setting given by env name, field name or Param name."""
        field_name = cls.params().get(name, name)
        field = cls.model_fields.get(field_name)
        return field.alias if field is not None and field.alias else name

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Self:
        """Read the known variables from ``environ``; ``overrides`` (by field name) win."""
        return cls.from_sources(environ, overrides=overrides)

    @classmethod
    def from_sources(
        cls,
        environ: Mapping[str, str],
        *,
        params: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Self:
        """Settings from the environment, a DAG run's Params and explicit values, in that order.

        - ``environ``: the original variables. An empty value means "unset" for the
          settings whose default is None (SEED, DAILY_CUSTOMERS ...); for the others it is
          an error.
        - ``params``: a run's Params; only the names of :meth:`params` are read. A Param
          replaces its variable even when it is None ("unset"): its default already came
          from the environment when the DAG was parsed.
        - ``overrides``: by Param, field or environment name; None keeps what was there.
        Problems name each setting as it was given (Param name, variable, key).
        """
        data: dict[str, Any] = {}
        shown: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            alias = field.alias or name
            if alias in environ:
                value = environ[alias]
                if field.default is None and isinstance(value, str) and value.strip() == "":
                    continue
                data[alias] = value
        for param_name, field_name in cls.params().items():
            if params is not None and param_name in params:
                alias = cls.model_fields[field_name].alias or field_name
                data.pop(alias, None)
                if params[param_name] is not None:
                    data[alias] = params[param_name]
                    shown[alias] = param_name
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            alias = cls._key(key)
            data[alias] = value
            shown[alias] = key
        return cls.build(data, shown)

    @classmethod
    def build(cls, data: Mapping[str, Any], shown: Mapping[str, str] | None = None) -> Self:
        """Validate ``data`` (keys: environment names or field names); raise SettingsError.

        ``shown`` renames keys in the problems (e.g. ``DAILY_CUSTOMERS`` -> the Param's name).
        """
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise SettingsError(_describe(exc, shown or {})) from None
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:  # pragma: no cover - defensive
            raise SettingsError([f"settings could not be read: {exc}"]) from None


class SimulationSettings(SettingsGroup):
    """How a day is simulated and paced: customers, their variation, seed, profile, closing
    grace, time scale and where the simulated clock starts. The original producer's
    variables and defaults; the newer ones keep its behaviour by default."""

    sleep: Annotated[Number, Field(gt=0, le=60)] = Field(
        default=0.5, alias="SLEEP", description="Longest single wait of the pacer, seconds (stop latency)"
    )
    time_scale: Annotated[Number, Field(gt=0, le=MAX_TIME_SCALE)] = Field(
        default=1.0, alias="TIME_SCALE",
        description="Simulated seconds per wall second (TIME_SCALE): 1 = real time, 1440 = a day per minute. "
        "Applies to today's run and to any run started at midnight (from_midnight); "
        "a past day without from_midnight is sent at full speed.",
        json_schema_extra=param("time_scale"),
    )
    default_daily_customers: Count = Field(
        default=1000, alias="DEFAULT_DAILY_CUSTOMERS",
        description="Customers on an average day when BASE_DAILY_CUSTOMERS is unset (the original's name)",
    )
    base_daily_customers: Count | None = Field(
        default=None, alias="BASE_DAILY_CUSTOMERS",
        description="Customers on an average day (BASE_DAILY_CUSTOMERS / DEFAULT_DAILY_CUSTOMERS).",
        json_schema_extra=param("base_daily_customers"),
    )
    daily_customers: Count | None = Field(
        default=None, alias="DAILY_CUSTOMERS",
        description="Fixed number of customers (DAILY_CUSTOMERS). Empty: baseline with daily variation.",
        json_schema_extra=param("daily_customers"),
    )
    daily_variation_pct: Annotated[Number, Field(ge=0, lt=1)] = Field(
        default=0.10, alias="DAILY_VARIATION_PCT",
        description="Random daily noise around the baseline, 0.10 = ±10 % (DAILY_VARIATION_PCT).",
        json_schema_extra=param("daily_variation_pct"),
    )
    disable_daily_variation: Flag = Field(
        default=False, alias="DISABLE_DAILY_VARIATION",
        description="Every day gets exactly the baseline (DISABLE_DAILY_VARIATION).",
        json_schema_extra=param("disable_daily_variation"),
    )
    seed: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=2**63 - 1)] | None = Field(
        default=None, alias="SEED",
        description="Same seed and date give the same records (SEED). Empty: random.",
        json_schema_extra=param("seed"),
    )
    profile_file: Annotated[str, AfterValidator(_profile_ref)] | None = Field(
        default=None, alias="FOOT_TRAFFIC_PROFILE",
        description="A built-in profile (seed: the original model; retail: a calibrated store with parties) "
        "or the path of a YAML/JSON profile on the workers (FOOT_TRAFFIC_PROFILE). Empty: seed.",
        json_schema_extra=param("profile_file"),
    )
    from_midnight: Flag = Field(
        default=False, alias="FOOT_TRAFFIC_FROM_MIDNIGHT",
        description="Start the simulated clock at the day's midnight instead of now, paced by time_scale "
        "(a demo of a day: time_scale 1440 plays it in a minute) (FOOT_TRAFFIC_FROM_MIDNIGHT).",
        json_schema_extra=param("from_midnight"),
    )
    validate_day: Flag = Field(
        default=False, alias="FOOT_TRAFFIC_VALIDATE",
        description="At the end of a run, read the day back and test it against its model (FOOT_TRAFFIC_VALIDATE); "
        "the report goes to the log and the summary (XCom).",
        json_schema_extra=param("validate"),
    )
    closing_grace_minutes: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=1440)] = Field(
        default=15, alias="CLOSING_GRACE_MINUTES",
        description="Whoever is inside a store at closing time leaves within this many minutes (CLOSING_GRACE_MINUTES).",
        json_schema_extra=param("closing_grace_minutes"),
    )

    @property
    def baseline(self) -> int:
        """Customers on an average day: BASE_DAILY_CUSTOMERS, else DEFAULT_DAILY_CUSTOMERS."""
        return self.base_daily_customers or self.default_daily_customers

    @property
    def variation_enabled(self) -> bool:
        return not self.disable_daily_variation and self.daily_variation_pct > 0


class KafkaSettings(SettingsGroup):
    """Where the records go and how they get there: brokers, topics, client, transactions,
    connection retries, resume, and the topics the producer creates."""

    kafka_broker: Annotated[tuple[str, ...], BeforeValidator(_parse_brokers)] = Field(
        default=("kafka:9092",), alias="KAFKA_BROKER", description="Bootstrap servers, host:port[,host:port...]"
    )
    kafka_topic: Topic = Field(
        default="foot_traffic", alias="KAFKA_TOPIC",
        description="One record per visit (KAFKA_TOPIC).", json_schema_extra=param("topic"),
    )
    kafka_topic_realistic: Topic = Field(
        default="foot_traffic_realistic", alias="KAFKA_TOPIC_REALISTIC",
        description="Separate entry and exit events (KAFKA_TOPIC_REALISTIC).", json_schema_extra=param("topic_realistic"),
    )
    max_retries: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=100)] = Field(
        default=6, alias="MAX_RETRIES", description="Connection attempts to the broker before failing"
    )
    retry_backoff_seconds: Annotated[Number, Field(ge=0, le=3600)] = Field(
        default=5.0, alias="RETRY_BACKOFF_SECONDS", description="First back-off between attempts, doubled each time"
    )
    resume: Flag = Field(
        default=True, alias="FOOT_TRAFFIC_RESUME", description="Skip what the topics already hold for the day"
    )
    compression: Literal["gzip", "none"] = Field(
        default="gzip", alias="KAFKA_COMPRESSION", description="Compression of the record batches sent to Kafka"
    )
    kafka_client: Literal["kafka-python", "confluent"] = Field(
        default="kafka-python",
        alias="KAFKA_CLIENT",
        description="Producer client: kafka-python (the original's) or confluent (librdkafka, faster)",
    )
    kafka_transactions: Flag = Field(
        default=True,
        alias="KAFKA_TRANSACTIONS",
        description="One writer per day, enforced by Kafka: each day is written by a transactional producer "
        "whose id is derived from the topics and the day, so a newer run of the day fences the older one. "
        "0 only for a broker without transactions (or without the TransactionalId permission)",
    )
    kafka_transaction_ms: Annotated[int, BeforeValidator(_no_bool), Field(ge=10, le=60_000)] = Field(
        default=1000,
        alias="KAFKA_TRANSACTION_MS",
        description="Longest a transaction stays open while records flow without pause (a day at full speed), "
        "in ms: how late read_committed consumers see them; a live stream commits whenever it waits",
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
    def bootstrap_servers(self) -> str:
        return ",".join(self.kafka_broker)


class SensorSettings(SettingsGroup):
    """The door sensor's flaws on the entry/exit topic (``records.sensor``); all off by default."""

    sensor_miss_rate: Annotated[Number, Field(ge=0, le=0.5)] = Field(
        default=0.0, alias="SENSOR_MISS_RATE",
        description="Share of entries/exits the door sensor does not report (SENSOR_MISS_RATE; 0 = none).",
        json_schema_extra=param("sensor_miss_rate"),
    )
    sensor_party_miss_factor: Annotated[Number, Field(ge=1, le=20)] = Field(
        default=3.0, alias="SENSOR_PARTY_MISS_FACTOR",
        description="Misses are this many times likelier for a party's 2nd, 3rd ... member (SENSOR_PARTY_MISS_FACTOR)",
    )
    sensor_double_rate: Annotated[Number, Field(ge=0, le=0.5)] = Field(
        default=0.0, alias="SENSOR_DOUBLE_RATE",
        description="Share of reported passages reported twice, 1-2 s apart (SENSOR_DOUBLE_RATE; 0 = none).",
        json_schema_extra=param("sensor_double_rate"),
    )
    sensor_batch_seconds: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=3600)] = Field(
        default=0, alias="SENSOR_BATCH_SECONDS",
        description="The gateway uploads the entry/exit events every N seconds (SENSOR_BATCH_SECONDS; 0 = at once).",
        json_schema_extra=param("sensor_batch_seconds"),
    )
    sensor_upload_delay_seconds: Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=3600)] = Field(
        default=0, alias="SENSOR_UPLOAD_DELAY_SECONDS",
        description="Each gateway batch is uploaded 0..D seconds late, D = SENSOR_UPLOAD_DELAY_SECONDS "
        "(needs a batch; D > batch makes batches overtake one another).",
        json_schema_extra=param("sensor_upload_delay_seconds"),
    )

    @field_validator("sensor_upload_delay_seconds")
    @classmethod
    def _delay_needs_a_batch(cls, value: int, info: ValidationInfo) -> int:
        if value and info.data.get("sensor_batch_seconds") == 0:
            raise ValueError("the upload delay is per gateway batch: set SENSOR_BATCH_SECONDS too (e.g. 30)")
        return value

    @property
    def sensor_active(self) -> bool:
        """Whether the door sensor's flaws change the entry/exit topic at all."""
        return self.sensor_miss_rate > 0 or self.sensor_double_rate > 0 or self.sensor_batch_seconds > 0


class ChainSettings(SettingsGroup):
    """A chain of stores: the catalogue each of them plays its local day from."""

    stores_file: Annotated[Path, AfterValidator(_existing_catalogue)] | None = Field(
        default=None, alias="STORES_FILE",
        description="YAML/JSON store catalogue on the workers (STORES_FILE), read at run time: every store "
        "plays its local day. Default: the example chain shipped with the engine.",
        json_schema_extra=param("stores_file"),
    )

    @property
    def catalogue_file(self) -> str:
        """The store catalogue to use: STORES_FILE, else the example chain shipped with the engine."""
        return str(self.stores_file if self.stores_file is not None else EXAMPLE_CHAIN)


# pydantic lists the fields of the last base first: simulation, Kafka, sensor, chain.
class Settings(ChainSettings, SensorSettings, KafkaSettings, SimulationSettings):
    """Every setting of the producer, validated, in its four groups. A domain function takes
    the group it reads (the sensor model a ``SensorSettings``, the Kafka options a
    ``KafkaSettings``, a store-day's plan a ``SimulationSettings``); a ``Settings`` is each."""


def _describe(exc: ValidationError, shown: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"] if not isinstance(part, int)) or "settings"
        loc = shown.get(loc, loc)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problems.append(f"{loc}: unknown setting")
            continue
        if loc == "settings":
            problems.append(message)
            continue
        value = error.get("input")
        text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
        if len(text) > 80:
            text = text[:77] + "..."
        problems.append(f"{loc}={text}: {message}")
    return problems
