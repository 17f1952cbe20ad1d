"""docker-compose.yaml and .env.example, checked without a Docker engine.

The compose file is validated against the Compose Specification's JSON schema (vendored
in tests/deploy/schema/, see SOURCE.md there), before and after variable interpolation
with .env.example, and every service, path, variable and command in it is checked
against the repository: the Dockerfile, the DAG's connection, the engine's settings.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from foot_traffic.settings import Settings
from tests.support.compose import (
    COMPOSE,
    ENV_EXAMPLE,
    VARIABLE,
    MissingVariable,
    interpolate_all,
    load,
    read_env_file,
    service_env,
    variables_used,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "schema" / "compose-spec.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
DAG_FILE = ROOT / "dags" / "foot_traffic_daily.py"

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
ONE_SHOT = {"airflow-init", "kafka-init"}
SECRETS = {"POSTGRES_PASSWORD", "_AIRFLOW_WWW_USER_PASSWORD"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load()


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def resolved(compose, env_example) -> dict:
    return interpolate_all(compose, env_example)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(validator, document) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


# -- the schema --------------------------------------------------------------------------
def test_vendored_schema_is_the_documented_one():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert SCHEMA_SHA256 in (HERE / "schema" / "SOURCE.md").read_text()
    assert (HERE / "schema" / "LICENSE.compose-spec").read_text().lstrip().startswith("Apache License")


def test_compose_file_matches_the_compose_specification(validator, compose):
    assert _errors(validator, compose) == []


def test_compose_file_after_interpolation_with_env_example(validator, resolved):
    assert _errors(validator, resolved) == []


def test_schema_check_is_not_vacuous(validator, compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["kafka"]["healthcheck"]["interval"] = ["10s"]
    broken["services"]["postgres"]["restart_policy"] = "always"
    assert len(_errors(validator, broken)) >= 2


# -- variables and secrets ---------------------------------------------------------------
def test_every_variable_is_in_env_example(env_example):
    used = variables_used(COMPOSE.read_text())
    assert used, "the compose file uses no variable?"
    missing = sorted(used - set(env_example))
    assert missing == [], f"variables used by docker-compose.yaml but not in .env.example: {missing}"


def test_no_default_secrets(compose):
    """The passwords have no default: without .env, compose refuses to start."""
    text = COMPOSE.read_text()
    for name in SECRETS:
        uses = [m for m in VARIABLE.finditer(text) if (m["braced"] or m["bare"]) == name]
        assert uses, name
        assert all(m["op"] == ":?" for m in uses), f"{name} must be required (${{{name}:?...}})"
    with pytest.raises(MissingVariable):
        interpolate_all(compose, {})
    assert not re.search(r"(?i)password[^\n]*:\s*['\"]?airflow['\"]?\s*$", text, re.M)


def test_env_example_holds_no_secret(env_example):
    for key, value in env_example.items():
        if re.search(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY$", key):
            assert value in ("", "CHANGE-ME"), f".env.example: {key} must be a placeholder, not {value!r}"
        assert not re.fullmatch(r"[A-Za-z0-9+/=_-]{24,}", value), f".env.example: {key} looks like a real secret"


def test_env_is_git_ignored_and_the_example_is_not():
    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0

    assert ignored(".env")
    assert not ignored(".env.example")


# -- services ----------------------------------------------------------------------------
def test_airflow_services_of_the_official_compose(resolved):
    services = resolved["services"]
    for name, command in AIRFLOW_SERVICES.items():
        assert name in services, name
        assert services[name]["command"] == command, name
    assert {"postgres", "redis", "kafka", "kafka-init", "airflow-init"} <= set(services)
    for name in AIRFLOW_SERVICES:
        env = service_env(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW_CONFIG"].startswith("/opt/airflow/config/")


def dag_execution_timeout_s() -> float:
    """The longest execution_timeout of any task in dags/ (the chain's shards run longest)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    timeouts = [t.execution_timeout.total_seconds() for d in bag.dags.values() for t in d.tasks if t.execution_timeout]
    assert timeouts, "no task of dags/ has an execution_timeout"
    return max(timeouts)


def test_celery_does_not_redeliver_a_running_day(resolved):
    """Redis re-delivers an unacknowledged Celery task after visibility_timeout (Airflow's default
    86400 s): a day's task may run up to the DAG's execution_timeout, so it must be longer."""
    timeout = dag_execution_timeout_s()
    assert timeout > 86400, "the DAG's tasks fit the default: this check would not be needed"
    for name in AIRFLOW_SERVICES:
        env = service_env(resolved["services"][name])
        visibility = float(env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"])
        assert visibility > timeout, f"{name}: visibility_timeout {visibility} s <= execution_timeout {timeout} s"


def test_long_running_services_have_health_checks(resolved):
    for name, service in resolved["services"].items():
        if name in ONE_SHOT or "producer" in (service.get("profiles") or []):
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"


def test_dependencies_exist_and_wait_for_health(resolved):
    services = resolved["services"]
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if target in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, target)
            else:
                assert condition == "service_healthy", (name, target)
                assert services[target].get("healthcheck"), (name, target)
    for name in AIRFLOW_SERVICES:
        assert "airflow-init" in services[name]["depends_on"], name
        assert "kafka-init" in services[name]["depends_on"], name


def test_airflow_image_is_built_from_this_repository(resolved):
    for name in [*AIRFLOW_SERVICES, "airflow-init", "foot-traffic-producer"]:
        build = resolved["services"][name]["build"]
        context = ROOT / build["context"]
        assert context.resolve() == ROOT
        assert (context / build.get("dockerfile", "Dockerfile")).is_file()


def test_bind_mounts_exist_and_named_volumes_are_declared(resolved):
    declared = set(resolved.get("volumes") or {})
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name, service in resolved["services"].items():
        for volume in service.get("volumes") or []:
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist in the repository"
                # the mount replaces what the image holds there: the same folder
                folder = Path(source).name
                assert f"{folder}/ {target}/" in dockerfile, f"{name}: {source}:{target} differs from the Dockerfile"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_kafka_in_kraft_mode(resolved):
    kafka = resolved["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = service_env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert "kafka:9093" in env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert not any("zookeeper" in name for name in resolved["services"])
    for name, service in resolved["services"].items():
        assert not [k for k in service_env(service) if "ZOOKEEPER" in k], name


def test_topic_init_creates_the_engine_topics(resolved):
    init = resolved["services"]["kafka-init"]
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "kafka-topics.sh --bootstrap-server kafka:9092 --create --if-not-exists" in script
    env = service_env(init)
    defaults = Settings()
    assert env["KAFKA_TOPIC"] == defaults.kafka_topic
    assert env["KAFKA_TOPIC_REALISTIC"] == defaults.kafka_topic_realistic
    assert int(env["TOPIC_PARTITIONS"]) == defaults.topic_partitions
    for name in ("KAFKA_TOPIC", "KAFKA_TOPIC_REALISTIC", "TOPIC_PARTITIONS"):
        assert f"${{{name}}}" in script, f"kafka-init does not use {name}"


def test_kafka_connection_preset_for_the_dag(resolved):
    dag_source = DAG_FILE.read_text()
    assert 'dag_id="foot_traffic_daily"' in dag_source
    conn_ids = set(re.findall(r"kafka_config_id\s*=\s*['\"]([\w-]+)['\"]", dag_source)) or {"kafka_default"}
    listeners = service_env(resolved["services"]["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for name in AIRFLOW_SERVICES:
        env = service_env(resolved["services"][name])
        for conn_id in conn_ids:
            conn = json.loads(env[f"AIRFLOW_CONN_{conn_id.upper()}"])
            assert conn["conn_type"] == "kafka"
            bootstrap = conn["extra"]["bootstrap.servers"]
            assert f"://{bootstrap}" in listeners, f"{bootstrap} is not an advertised listener of kafka"
            assert env["KAFKA_BROKER"] == bootstrap


def test_producer_variables_are_the_engine_settings(resolved):
    from foot_traffic_airflow.chain import CHAIN_DAG_ENV, chain_dag_options

    known = set(Settings.env_names())
    producer = resolved["services"]["foot-traffic-producer"]
    assert producer["command"] == ["foot-traffic", "produce"]
    assert set(service_env(producer)) <= known
    for name in AIRFLOW_SERVICES:
        env = service_env(resolved["services"][name])
        producer_vars = {k for k in env if not k.startswith(("AIRFLOW", "_"))} - {"DUMB_INIT_SETSID"}
        producer_vars -= set(CHAIN_DAG_ENV)  # the chain DAG's own variables
        assert producer_vars <= known, producer_vars - known
        chain_dag_options(env)  # the chain DAG accepts what compose gives it
    # the settings accept what compose gives them
    Settings.from_env(service_env(producer))
