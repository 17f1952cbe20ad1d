"""The image's Python environment, built without Docker (tests/support/image_env.py): Airflow
of the FROM tag's version with the official image's default extras, then the Dockerfile's
own `pip install` line replayed on it with pip. `pip check` must pass before and after, our
install must add packages and change none, and in that environment the image's commands
must work: `foot-traffic --help` through the Dockerfile's launcher, `airflow dags list`
(our DAG, no import errors), `airflow plugins`, and the classes docker-compose.yaml names.

The environment is cached in .data/image-env/ by the hash of what it is built from: the
first run takes about a minute with a warm package cache (a few on a fresh machine), later
runs reuse it in well under a second. The build's timings are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import image_env as builder  # the image_env fixture: tests/deploy/conftest.py
from tests.support.compose import service_env
from tests.support.dockerfile import ROOT, entrypoint_wrapper, env_vars, image_path, pinned, replay_layout

pytestmark = [pytest.mark.deploy]

DAY = "2025-11-07"


@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    """The image's file system as far as our Dockerfile makes it (COPYs and launcher scripts),
    with the official image's AIRFLOW_HOME (/opt/airflow) under it."""
    return replay_layout(tmp_path_factory.mktemp("image"))


def in_image(image_env: builder.ImageEnv, root: Path, **extra: str) -> dict[str, str]:
    """The environment of a process in the image: its PATH (launchers, then the image's Python),
    the Dockerfile's ENV with paths under ``root``, AIRFLOW_HOME of the official image."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = f"{root / 'usr/local/bin'}:{image_env.bin}:/usr/bin:/bin"
    env["AIRFLOW_HOME"] = str(root / "opt/airflow")
    for key, value in env_vars().items():
        env[key] = image_path(root, value)
    env.update(extra)
    return env


def run(cmd: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# -- the environment itself --------------------------------------------------------------
def test_the_official_image_packages_pass_pip_check(image_env):
    record = image_env.record
    assert record["base_pip_check"]["returncode"] == 0, record["base_pip_check"]["output"]
    base = record["base_packages"]
    assert base["apache-airflow"] == record["spec"]["airflow_version"]
    # a few of the default extras' providers, among them what docker-compose.yaml relies on
    for provider in ("fab", "celery", "postgres", "redis", "cncf-kubernetes", "amazon", "google"):
        assert f"apache-airflow-providers-{provider}" in base, provider


def test_the_dockerfile_install_keeps_pip_check_clean(image_env):
    record = image_env.record
    assert record["install_returncode"] == 0, (image_env.path / "build.log").read_text()[-3000:]
    assert '"apache-airflow==' in record["replayed_install"] and "-r " in record["replayed_install"]
    assert record["pip_check"]["returncode"] == 0, f"pip check after our requirements:\n{record['pip_check']['output']}"


def test_the_dockerfile_install_adds_and_changes_nothing_of_the_image(image_env):
    before, after = image_env.record["base_packages"], image_env.record["packages"]
    changed = {n: (before[n], after.get(n)) for n in before if after.get(n) != before[n]}
    assert changed == {}, f"our requirements moved packages of the image: {changed}"
    added = set(after) - set(before)
    assert {"apache-airflow-providers-apache-kafka", "kafka-python", "confluent-kafka"} <= added
    for name in ("apache-airflow-providers-apache-kafka", "kafka-python", "confluent-kafka"):
        assert after[name] == pinned(name)


def test_exact_pins_are_only_for_what_the_image_lacks(image_env):
    base = image_env.record["base_packages"]
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name = line.split("==")[0].strip().lower()
            if name != "apache-airflow":
                assert name not in base, f"requirements.txt pins {line}, a package the image already has ({base[name]})"


# -- the image's commands ----------------------------------------------------------------
def test_foot_traffic_command_runs_in_the_image_env(image_env, image_root):
    launcher = image_root / entrypoint_wrapper().lstrip("/")
    script = launcher.read_text().replace("/entrypoint", str(image_root / "no-airflow-entrypoint"))
    env = in_image(image_env, image_root)
    result = run(["bash", "-c", script, "entrypoint", "foot-traffic", "--help"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "produce" in result.stdout and "preview" in result.stdout
    preview = run(["bash", "-c", script, "entrypoint", "foot-traffic", "preview", "--date", DAY], dict(env, SEED="3"))
    assert preview.returncode == 0, preview.stderr[-3000:]
    assert f"{DAY} (Friday)" in preview.stdout and "seed 3" in preview.stdout
    where = run(["python", "-c", "import foot_traffic, pydantic; print(foot_traffic.__file__, pydantic.__file__)"], env)
    engine, pydantic_file = where.stdout.split()
    assert engine.startswith(str(image_root / "opt/airflow/include"))  # the image's copy of the engine
    assert pydantic_file.startswith(str(image_env.venv))  # the image's pydantic


@pytest.fixture(scope="module")
def airflow_home(image_env, image_root) -> dict[str, str]:
    """The image's AIRFLOW_HOME with a migrated SQLite database and the DAG folder serialized."""
    env = in_image(image_env, image_root, PYTHONWARNINGS="ignore")
    for args in (["db", "migrate"], ["dags", "reserialize"]):
        result = run(["airflow", *args], env)
        assert result.returncode == 0, f"airflow {' '.join(args)}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return env


def airflow_json(env: dict[str, str], *args: str, returncode: int = 0):
    result = run(["airflow", *args, "-o", "json"], env)
    assert result.returncode == returncode, f"airflow {' '.join(args)}:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)


def test_airflow_lists_our_dag_without_import_errors(airflow_home, image_root):
    dags = {d["dag_id"]: d for d in airflow_json(airflow_home, "dags", "list")}
    assert sorted(dags) == ["foot_traffic_chain_daily", "foot_traffic_daily"]
    for dag_id, dag in dags.items():
        assert dag["fileloc"] == str(image_root / f"opt/airflow/dags/{dag_id}.py")
    assert airflow_json(airflow_home, "dags", "list-import-errors") == []


def test_import_errors_would_show(airflow_home, tmp_path):
    """The empty list above means something: a broken DAG file is reported in this environment."""
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "broken.py").write_text("from airflow.sdk import DAG\nimport foot_traffic_no_such_module\n")
    errors = airflow_json(dict(airflow_home, AIRFLOW__CORE__DAGS_FOLDER=str(folder)), "dags", "list-import-errors",
                          "--local", returncode=1)  # the command fails when there are import errors
    assert len(errors) == 1 and "foot_traffic_no_such_module" in errors[0]["error"]


def test_airflow_plugins_and_providers(airflow_home):
    plugins = airflow_json(airflow_home, "plugins")
    assert isinstance(plugins, list)
    assert all("error" not in json.dumps(p).lower() for p in plugins), plugins
    providers = {p["package_name"]: p["version"] for p in airflow_json(airflow_home, "providers", "list")}
    assert providers["apache-airflow-providers-apache-kafka"] == pinned("apache-airflow-providers-apache-kafka")
    assert "apache-airflow-providers-fab" in providers and "apache-airflow-providers-celery" in providers


def test_what_docker_compose_names_imports_in_the_image_env(airflow_home):
    """The auth manager and executor of docker-compose.yaml, and the Celery app of its worker
    health check, load in the image's environment."""
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    env = service_env(compose["services"]["airflow-scheduler"])
    worker_check = " ".join(compose["services"]["airflow-worker"]["healthcheck"]["test"])
    celery_app = worker_check.split("--app ")[1].split()[0]  # the first app the check tries
    code = (
        "import importlib, sys\n"
        "from airflow.executors.executor_loader import ExecutorLoader\n"
        f"path = {env['AIRFLOW__CORE__AUTH_MANAGER']!r}\n"
        "module, _, name = path.rpartition('.')\n"
        "getattr(importlib.import_module(module), name)\n"
        f"ExecutorLoader.import_executor_cls(ExecutorLoader.get_executor_names()[0])\n"
        f"module, _, name = {celery_app!r}.rpartition('.')\n"
        "print(getattr(importlib.import_module(module), name).main)\n"
    )
    result = run(["python", "-c", code], dict(airflow_home, AIRFLOW__CORE__EXECUTOR=env["AIRFLOW__CORE__EXECUTOR"],
                                              AIRFLOW__CORE__AUTH_MANAGER=env["AIRFLOW__CORE__AUTH_MANAGER"]))
    assert result.returncode == 0, result.stderr[-3000:]
