"""What ``make run`` and ``make airflow`` share: their child processes and how they report.

- child processes in their own process group, stopped as a group (also what they forked);
- Ctrl-C, SIGTERM and a closed terminal turned into :class:`Interrupted`, so that the
  ``finally`` blocks stop every child;
- the environment of an Airflow command on this repository's DAGs, with the
  ``kafka_default`` connection pointing at the local broker;
- the console's step and detail lines.

A plain module next to the scripts: ``python scripts/<script>.py`` puts this directory
first on ``sys.path``, so the scripts import it without any path set-up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "foot_traffic_daily"
CONN_ENV = "AIRFLOW_CONN_KAFKA_DEFAULT"
BIN = Path(sys.executable).parent


# -- output ------------------------------------------------------------------------------
_T0 = time.monotonic()
_COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def colour(code: str, text: str) -> str:
    """``text`` in ANSI colour ``code`` on a terminal (not with NO_COLOR)."""
    return f"\033[{code}m{text}\033[0m" if _COLOR else text


def step(text: str) -> None:
    print(f"\n{colour('1;36', '==>')} {colour('1', text)}  {colour('2', f'[{time.monotonic() - _T0:5.1f} s]')}", flush=True)


def info(text: str = "") -> None:
    print(f"    {text}", flush=True)


# -- processes ---------------------------------------------------------------------------
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    pass


def ignore_stop_signals() -> None:
    """From here on a second Ctrl-C must not interrupt the cleanup."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _raise_interrupted(signum, _frame):
    name = signal.Signals(signum).name
    ignore_stop_signals()
    print(f"\n{name} received: stopping everything this command started ...", file=sys.stderr, flush=True)
    raise Interrupted(name)


def install_signal_handlers() -> None:
    """Ctrl-C, SIGTERM and a closed terminal end the run through ``finally`` blocks that
    stop every child process."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_interrupted)


def _default_sigint() -> None:
    # Children of a background job inherit an ignored SIGINT; give them the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(command: list[str], env: dict[str, str], log_path: Path | None = None, **kwargs) -> subprocess.Popen:
    """Start ``command`` in its own process group (stopped as a group by ``stop_group``)."""
    out = open(log_path, "ab") if log_path else subprocess.PIPE
    try:
        return subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_sigint,
            **kwargs,
        )
    finally:
        if log_path:
            out.close()


def group_alive(pgid: int) -> list[int]:
    """Pids still in process group ``pgid`` (Linux /proc; empty list elsewhere)."""
    alive = []
    proc = Path("/proc")
    if not proc.is_dir():
        return alive
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state ppid pgrp ...; a zombie (Z) is already dead
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def stop_group(process: subprocess.Popen | None, name: str, grace: float = 20.0, first: int = signal.SIGTERM) -> None:
    """Signal the whole process group, wait ``grace`` seconds, then SIGKILL what is left."""
    if process is None:
        return
    pgid = process.pid
    try:
        os.killpg(pgid, first)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()
        if process.returncode is not None and not group_alive(pgid):
            return
        time.sleep(0.2)
    left = group_alive(pgid)
    if left or process.poll() is None:
        info(f"{name}: still running after {grace:g} s, killing process group {pgid} ({len(left)} processes)")
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            pass


# -- Airflow -----------------------------------------------------------------------------
def airflow_env(airflow_home: Path, bootstrap: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of every Airflow command: this repo's DAGs and the Kafka connection."""
    from foot_traffic.settings import Settings

    env = dict(os.environ)
    # The producer's own variables (DAILY_CUSTOMERS, KAFKA_TOPIC, ...) would change the
    # plan behind the Params' back: the run is defined by its Params only.
    for name in Settings.env_names():
        env.pop(name, None)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            CONN_ENV: json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": bootstrap}}),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("AIRFLOW_CONFIG", None)
    env.update(extra or {})
    return env


def run_checked(command: list[str], env: dict[str, str], log_path: Path, what: str, timeout: float) -> None:
    process = spawn(command, env, log_path)
    try:
        rc = process.wait(timeout)
    except subprocess.TimeoutExpired:
        stop_group(process, what, grace=5)
        raise RuntimeError(f"{what} did not finish in {timeout:g} s; see {log_path}") from None
    except BaseException:
        stop_group(process, what, grace=5)
        raise
    if rc != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise RuntimeError(f"{what} failed (exit {rc}); last lines of {log_path}:\n" + "\n".join(tail))

