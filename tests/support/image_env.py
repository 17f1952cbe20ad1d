"""A Python environment built the way the Docker image is, without Docker.

The image is `FROM apache/airflow:<version>-python<X.Y>` plus the Dockerfile's own
`pip install`. The official image holds Airflow of that version installed with its default
extras, so this builds, in a virtualenv:

1. ``apache-airflow[<default extras>]==<version>`` with pip (the version of the official
   Dockerfile's AIRFLOW_PIP_VERSION) in it: the base, as the official image holds it;
2. then the Dockerfile's own ``RUN pip install ...`` line, replayed with that environment's
   pip (``${AIRFLOW_VERSION}`` and the requirements path substituted);

and records ``pip check`` and ``pip freeze`` after each step, with timings, in build.json.

Where the default extras come from: the official Dockerfile of apache/airflow, line
``ARG AIRFLOW_EXTRAS="..."`` (as of its release 3.3.0, the latest 3.3 Dockerfile on record
here: commit 0060b1a446d07a86af2b4f847b2242195e9423ac), which
https://airflow.apache.org/docs/docker-stack/build-arg-ref.html documents as the default
extras of the image ("AIRFLOW_EXTRAS ... Default extras with which Airflow is installed").

What differs from the real image: the official image is built with Airflow's constraints
file (constraints-<version>/constraints-<python>.txt on GitHub, not reachable from these
machines); without it, pip/uv take the newest versions the same requirement specifiers
allow, which is the official build's own fallback ("Falling back to no-constraints
installation"). Step 1 uses `uv pip install` (same PEP 440 / extras semantics as pip, ~10x
faster); step 2 uses pip itself, as the Dockerfile does. System libraries: the official
image's build stage has the headers that mysqlclient (extra ``mysql``) and python-ldap
(extra ``ldap``) compile against; on Debian they are installed here with apt-get when
missing (as root), otherwise the build stops and names the packages.

Cached in .data/image-env/<key>/ (git-ignored): the key is a hash of everything above
(version, Python, extras, pip version, requirements.txt, the Dockerfile's install line,
this module's BUILD_VERSION); a finished build with the same key is reused, other keys
are deleted (an environment is ~2 GB). ``python -m tests.support.image_env`` builds or
reuses it and prints the summary (`make image-env`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.dockerfile import ROOT, base_image, pip_install_commands, requirements_destination

# apache/airflow Dockerfile, `ARG AIRFLOW_EXTRAS=` (see the module docstring).
AIRFLOW_EXTRAS = (
    "aiobotocore,amazon,async,celery,cncf-kubernetes,common-io,common-messaging,docker,"
    "elasticsearch,fab,ftp,git,google,google-auth,graphviz,grpc,hashicorp,http,ldap,"
    "microsoft-azure,mysql,odbc,openlineage,opensearch,pandas,postgres,redis,sendgrid,sftp,"
    "slack,snowflake,ssh,statsd,uv"
)
# apache/airflow Dockerfile, `ARG AIRFLOW_PIP_VERSION=` (same commit).
PIP_VERSION = "26.1.2"
# Bump when the way of building changes, to invalidate cached environments.
BUILD_VERSION = 1

CACHE = Path(os.environ.get("FT_IMAGE_ENV_CACHE", ROOT / ".data" / "image-env"))

# Debian packages with the headers that extras of the image compile against (no wheels on
# PyPI for mysqlclient and python-ldap), and how to tell they are there.
SYSTEM_BUILD_DEPS = {
    "libmariadb-dev": ("pkg-config", "--exists", "libmariadb"),  # mysqlclient (extra mysql)
    "libldap2-dev": ("test", "-e", "/usr/include/lber.h"),  # python-ldap (extra ldap)
    "libsasl2-dev": ("test", "-e", "/usr/include/sasl/sasl.h"),  # python-ldap
}


class ImageEnvError(RuntimeError):
    pass


@dataclass(frozen=True)
class ImageEnv:
    path: Path  # .data/image-env/<key>
    record: dict  # build.json

    @property
    def venv(self) -> Path:
        return self.path / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"


def spec() -> dict:
    """Everything the environment is built from; its hash is the cache key."""
    repo, version, python_tag = base_image()
    (install,) = pip_install_commands()
    return {
        "base_image": f"{repo}:{version}-{python_tag}",
        "airflow_version": version,
        "python": python_tag.removeprefix("python"),
        "airflow_extras": AIRFLOW_EXTRAS,
        "pip_version": PIP_VERSION,
        "requirements_txt": (ROOT / "requirements.txt").read_text(),
        "dockerfile_install": install,
        "requirements_destination": requirements_destination(),
        "build_version": BUILD_VERSION,
    }


def key(s: dict) -> str:
    return hashlib.sha256(json.dumps(s, sort_keys=True).encode()).hexdigest()[:16]


def _uv() -> str:
    here = Path(sys.executable).parent / "uv"
    found = str(here) if here.exists() else shutil.which("uv")
    if not found:
        raise ImageEnvError("uv not found (make venv installs it into .venv/bin)")
    return found


def _run(cmd: list[str], log: Path, **kw) -> subprocess.CompletedProcess:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, **kw)
    return proc


def _tail(log: Path, n: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


def missing_system_deps() -> list[str]:
    missing = []
    for package, check in SYSTEM_BUILD_DEPS.items():
        try:
            ok = subprocess.run(check, capture_output=True).returncode == 0
        except FileNotFoundError:
            ok = False
        if not ok:
            missing.append(package)
    return missing


def ensure_system_deps(log: Path) -> list[str]:
    """Install the missing header packages with apt-get (root on Debian); returns what it installed."""
    missing = missing_system_deps()
    if not missing:
        return []
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ImageEnvError(
            f"the image's extras mysql and ldap compile against system headers; missing: {' '.join(missing)} "
            f"(Debian: apt-get install -y {' '.join(missing)})"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends", *missing]
    if _run(install, log, env=env, timeout=1200).returncode != 0:
        _run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"], log, env=env, timeout=1200)
        if _run(install, log, env=env, timeout=1200).returncode != 0:
            raise ImageEnvError(f"apt-get install {' '.join(missing)} failed:\n{_tail(log)}")
    still = missing_system_deps()
    if still:
        raise ImageEnvError(f"still missing after apt-get: {still}")
    return missing


def _pip_check(python: Path) -> dict:
    proc = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True,
                          env=_pip_env(), timeout=300)
    return {"returncode": proc.returncode, "output": (proc.stdout + proc.stderr).strip()}


def _freeze(python: Path) -> dict[str, str]:
    proc = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True,
                          text=True, env=_pip_env(), timeout=300, check=True)
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(proc.stdout)}


def _pip_env(**extra: str) -> dict[str, str]:
    """pip as in the image: no pip.conf of this machine (its find-links and constraints)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    for name in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT"):  # how this machine reaches the registry
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def replayed_install_command(s: dict, requirements: Path) -> str:
    """The Dockerfile's pip install line as it runs here: ${AIRFLOW_VERSION} is the official
    image's ENV (its version), the requirements path is this repository's file."""
    command = s["dockerfile_install"]
    command = command.replace("${AIRFLOW_VERSION}", s["airflow_version"]).replace("$AIRFLOW_VERSION", s["airflow_version"])
    if "$" in command:
        raise ImageEnvError(f"the Dockerfile's install line uses a variable this replay does not know: {command}")
    return command.replace(s["requirements_destination"], str(requirements))


def build(path: Path, s: dict) -> dict:
    """Build the environment into ``path`` (fresh) and return its record."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    log = path / "build.log"
    record: dict = {"spec": s, "key": path.name, "timings_s": {}}
    started = time.monotonic()

    t = time.monotonic()
    record["system_packages_installed"] = ensure_system_deps(log)
    record["timings_s"]["system_deps"] = round(time.monotonic() - t, 1)

    uv = _uv()
    uv_env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PYTHON"))}
    uv_env["UV_PYTHON_DOWNLOADS"] = "never"  # the machine's CPython of the image's X.Y, or fail
    venv = path / "venv"
    t = time.monotonic()
    if _run([uv, "venv", "--quiet", "--python", s["python"], str(venv)], log, env=uv_env, timeout=300).returncode:
        raise ImageEnvError(f"no Python {s['python']} for the image-like environment:\n{_tail(log)}")
    base = [f"apache-airflow[{s['airflow_extras']}]=={s['airflow_version']}", f"pip=={s['pip_version']}"]
    if _run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), *base], log, env=uv_env,
            timeout=3600).returncode:
        raise ImageEnvError(f"installing the official image's packages failed:\n{_tail(log)}")
    record["timings_s"]["base"] = round(time.monotonic() - t, 1)
    python = venv / "bin" / "python"
    record["base_pip_check"] = _pip_check(python)
    record["base_packages"] = _freeze(python)

    requirements = path / "requirements.txt"
    shutil.copy2(ROOT / "requirements.txt", requirements)
    command = replayed_install_command(s, requirements)
    record["replayed_install"] = command
    t = time.monotonic()
    env = _pip_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = _run(["bash", "-euo", "pipefail", "-c", command], log, env=env, cwd=path, timeout=1800)
    record["timings_s"]["dockerfile_install"] = round(time.monotonic() - t, 1)
    record["install_returncode"] = proc.returncode
    record["pip_check"] = _pip_check(python)
    record["packages"] = _freeze(python)
    record["timings_s"]["total"] = round(time.monotonic() - started, 1)
    (path / "build.json").write_text(json.dumps(record, indent=1, sort_keys=True))
    return record


def get(rebuild: bool = False) -> tuple[ImageEnv, bool, float]:
    """The image-like environment: (env, reused, seconds taken). Builds it if needed."""
    s = spec()
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / key(s)
    started = time.monotonic()
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (parallel test runs)
        done = path / "build.json"
        reused = done.exists() and not rebuild and (path / "venv" / "bin" / "python").exists()
        if reused:
            record = json.loads(done.read_text())
        else:
            record = build(path, s)
            for other in CACHE.iterdir():
                if other.is_dir() and other != path:
                    shutil.rmtree(other, ignore_errors=True)
    return ImageEnv(path, record), reused, time.monotonic() - started


def summary(env: ImageEnv, reused: bool, seconds: float) -> str:
    r = env.record
    added = sorted(set(r["packages"]) - set(r["base_packages"]))
    changed = sorted(n for n in r["base_packages"] if n in r["packages"] and r["packages"][n] != r["base_packages"][n])
    spec_, before, after = r["spec"], r["base_packages"], r["packages"]
    extras = len(spec_["airflow_extras"].split(","))
    lines = [
        f"image-like environment {env.path} ({'reused' if reused else 'built'} in {seconds:.1f} s)",
        f"  like {spec_['base_image']}: apache-airflow[{extras} default extras]=={spec_['airflow_version']}, "
        f"{len(before)} packages; build timings {r['timings_s']}",
        f"  pip check before our requirements: {r['base_pip_check']['output']}",
        f"  Dockerfile's install, replayed: {r['replayed_install']} -> exit {r['install_returncode']}",
        f"  added {len(added)}: " + ", ".join(f"{n}=={after[n]}" for n in added),
        "  changed: " + (", ".join(f"{n} {before[n]} -> {after[n]}" for n in changed) or "nothing"),
        f"  pip check after: {r['pip_check']['output']}",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    try:
        env, reused, seconds = get(rebuild="--rebuild" in argv)
    except ImageEnvError as exc:
        print(f"image-like environment: {exc}", file=sys.stderr)
        return 1
    print(summary(env, reused, seconds))
    ok = env.record["install_returncode"] == 0 and env.record["pip_check"]["returncode"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
