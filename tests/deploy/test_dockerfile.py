"""The Dockerfile, checked statically (no Docker engine here) and by replaying its file layout.

Static: base image = the official Airflow image of the pinned version, non-root user,
requirements.txt installed, dags/ plugins/ include/ copied from paths that exist and that
.dockerignore keeps. Replayed: the COPY instructions are applied to a temporary folder
standing for the image's file system, and the image's entrypoint runs there with bash:
`foot-traffic preview` runs the engine from the copied include/, other commands go to
Airflow's entrypoint, and the copied DAG folder loads in a DagBag with the image's
PYTHONPATH.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dockerfile import (
    ROOT,
    base_image,
    copies,
    entrypoint_wrapper,
    env_vars,
    heredoc_files,
    image_path,
    of,
    pinned,
    pip_install_commands,
    replay_layout,
    requirements_destination,
)

PYTHON_TAG = "python3.11"


def dockerignore() -> list[str]:
    return [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def ignored(path: str) -> bool:
    path = path.rstrip("/")
    for pattern in dockerignore():
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatch(Path(path).name, pattern[3:]):
            return True
    return False


# -- static checks -----------------------------------------------------------------------
def test_base_image_is_the_official_airflow_of_the_pinned_version():
    repo, version, python = base_image()
    assert (repo, version, python) == ("apache/airflow", pinned("apache-airflow"), PYTHON_TAG)
    # the image's Python is one the project supports (pyproject: requires-python >=3.11)
    assert '>=3.11"' in (ROOT / "pyproject.toml").read_text()


def test_runs_as_the_non_root_airflow_user():
    users = [ins.args for ins in of("USER")]
    assert users, "no USER: the image would run as the base image's user only by accident"
    assert users[-1] == "airflow"
    for _sources, _dest, ins in copies():
        assert "--chown=airflow:0" in ins.args, f"COPY {ins.args}: files must belong to airflow:0 (the image's convention)"


def test_copied_paths_exist_and_are_in_the_build_context():
    seen = set()
    for sources, _dest, _ins in copies():
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
            assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
            seen.add(source.rstrip("/"))
    assert {"requirements.txt", "dags", "plugins", "include"} <= seen


def test_dockerignore_keeps_secrets_and_local_state_out():
    for path in (".env", ".venv", ".data", ".airflow", ".git"):
        assert ignored(path), f"{path} must be in .dockerignore"


def test_requirements_are_installed_the_way_the_airflow_docs_extend_the_image():
    """One pip install with "apache-airflow==${AIRFLOW_VERSION}" and -r requirements.txt: pip
    may add what the project needs but cannot move the image's Airflow; no cache left in a layer."""
    dest = requirements_destination()
    (command,) = pip_install_commands()
    assert re.search(rf"pip install [^&;]*-r {re.escape(dest)}", command), "requirements.txt is copied but not installed"
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in command, command
    assert "--no-cache-dir" in command, command
    assert "constraint" not in command, "the image's constraints are its installed versions; ours would fight them"
    # the same version as the FROM tag and the requirements' own pin
    assert base_image()[1] == pinned("apache-airflow")


def test_requirements_pin_nothing_the_image_pins_for_airflow():
    """The packages that broke the image-like environment's pip check (python-dateutil 4 vs
    flask-appbuilder/botocore/google-cloud-bigquery <3) and their kind stay out of requirements.txt."""
    text = (ROOT / "requirements.txt").read_text()
    for package in ("python-dateutil", "SQLAlchemy", "alembic", "starlette", "fastapi", "pendulum",
                    "apache-airflow-core", "apache-airflow-task-sdk"):
        assert not re.search(rf"(?im)^{re.escape(package)}\s*[=<>~!]", text), f"{package} is the image's to pin"


def test_project_lands_where_airflow_and_python_look():
    layout = {src[0].rstrip("/"): d.rstrip("/") for src, d, _ in copies()}
    assert layout["dags"] == "/opt/airflow/dags"
    assert layout["plugins"] == "/opt/airflow/plugins"
    assert layout["include"] in env_vars()["PYTHONPATH"].split(":")


def test_foot_traffic_command_goes_through_the_entrypoint():
    (entrypoint,) = of("ENTRYPOINT")
    words = eval(entrypoint.args)  # JSON array form  # noqa: S307 - our own Dockerfile
    assert words[:2] == ["/usr/bin/dumb-init", "--"], "keep the official image's init"
    wrapper = words[2]
    files = heredoc_files()
    assert wrapper in files and "/usr/local/bin/foot-traffic" in files
    (cmd,) = of("CMD")
    assert eval(cmd.args) == ["foot-traffic", "produce"]  # noqa: S307
    made_executable = " ".join(ins.args for ins in of("RUN"))
    for path in (wrapper, "/usr/local/bin/foot-traffic"):
        assert path in files and path in made_executable


# -- the image's layout, replayed --------------------------------------------------------
@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    """A folder standing for the image's file system, built by the Dockerfile's COPYs."""
    root = replay_layout(tmp_path_factory.mktemp("image"))
    # Airflow's own entrypoint, standing in: it shows what it was asked to run.
    (root / "entrypoint").write_text('#!/usr/bin/env bash\necho "airflow-entrypoint: $*"\n')
    (root / "entrypoint").chmod(0o755)
    return root


def image_env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KAFKA_", "SEED", "DAILY_"))}
    for key, value in env_vars().items():
        env[key] = image_path(root, value)
    env["PATH"] = f"{root / 'usr/local/bin'}:{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def run_entrypoint(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    wrapper = root / entrypoint_wrapper().lstrip("/")
    script = wrapper.read_text().replace("/entrypoint", str(root / "entrypoint"))
    return subprocess.run(
        ["bash", "-c", script, "entrypoint", *args], env=image_env(root, **extra),
        capture_output=True, text=True, timeout=120,
    )


def test_image_runs_the_producer_command(image_root):
    result = run_entrypoint(image_root, "foot-traffic", "preview", "--date", "2025-11-07", SEED="1")
    assert result.returncode == 0, result.stderr
    assert "2025-11-07 (Friday)" in result.stdout and "seed 1" in result.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import foot_traffic, foot_traffic_airflow; print(foot_traffic.__file__, foot_traffic_airflow.__file__)"],
        env=image_env(image_root), capture_output=True, text=True, timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert all(path.startswith(str(image_root / "opt/airflow/include")) for path in where.stdout.split())


def test_image_passes_other_commands_to_airflow(image_root):
    result = run_entrypoint(image_root, "scheduler")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "airflow-entrypoint: scheduler"


def test_image_dag_folder_loads_with_the_image_pythonpath(image_root, tmp_path):
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(image_root / 'opt/airflow/dags')!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(sorted(bag.dag_ids))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=image_env(image_root, AIRFLOW_HOME=str(tmp_path)),
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "foot_traffic_daily" in result.stdout
