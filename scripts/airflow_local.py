#!/usr/bin/env python3
"""``make airflow``: the local Kafka broker plus ``airflow standalone`` with this repo's DAG.

    python scripts/airflow_local.py

- broker: the local Kafka-protocol broker on 127.0.0.1:19092 (``LOCAL_KAFKA_PORT``), data
  kept in ``.data/kafka`` (the same as ``make broker``);
- Airflow: ``airflow standalone`` (API server + UI, scheduler, dag-processor, triggerer,
  LocalExecutor with 4 workers) on http://127.0.0.1:8080 (``AIRFLOW__API__PORT``), home
  ``.airflow/standalone`` (kept between runs), DAGs from ``dags/``, the ``kafka_default``
  connection given through ``AIRFLOW_CONN_KAFKA_DEFAULT``;
- prints the UI address and the login once the API answers, and how to run a day; the
  plugin in ``plugins/`` puts the "Foot traffic" page in the UI's navigation;
- Ctrl-C (or SIGTERM) stops Airflow's processes and the broker; nothing keeps running.

New DAGs start paused (Airflow's default). Unpausing ``foot_traffic_daily`` starts today's
scheduled run (today in real time). The one-minute demo is the DAG ``foot_traffic_demo``:
unpause it and trigger it with the form's defaults; it plays yesterday (another day than
the scheduled run's, so another writer: the two never fence each other).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _proc import (
    BIN, CONN_ENV, DAG_ID, ROOT, Interrupted, airflow_env, group_alive, ignore_stop_signals, info,
    install_signal_handlers, spawn, step, stop_group
)

PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
DEMO_DAG_ID = "foot_traffic_demo"  # yesterday in a minute, with the trigger form's defaults


def port_free(host: str, port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def api_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def login(airflow_home: Path, user: str) -> str:
    path = airflow_home / PASSWORDS_FILE
    try:
        passwords = json.loads(path.read_text())
        return f"{user} / {passwords[user]}   (from {path})"
    except (OSError, ValueError, KeyError):
        return f"{user} / see {path}"


def write_env_file(path: Path, env: dict[str, str], names: list[str]) -> None:
    lines = ["# source this file to use the airflow CLI against `make airflow`'s Airflow"]
    lines += [f"export {name}={shlex.quote(env[name])}" for name in names if name in env]
    lines.append(f"export PATH={shlex.quote(str(BIN))}:\"$PATH\"")
    path.write_text("\n".join(lines) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW__API__PORT", "8080")),
                        help="API server / UI port (default 8080, or AIRFLOW__API__PORT)")
    parser.add_argument("--kafka-port", type=int, default=int(os.environ.get("LOCAL_KAFKA_PORT", "19092")),
                        help="local broker port (default 19092, or LOCAL_KAFKA_PORT)")
    parser.add_argument("--workdir", type=Path, default=ROOT,
                        help="where .data/kafka and .airflow/standalone live (default: the repository)")
    parser.add_argument("--user", default="admin", help="UI user of Airflow's simple auth manager (default admin)")
    parser.add_argument("--startup-timeout", type=float, default=240.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    from foot_traffic.local_broker import LocalBroker

    host = "127.0.0.1"
    workdir = args.workdir.resolve()
    airflow_home = workdir / ".airflow" / "standalone"
    url = f"http://{host}:{args.port}"
    broker = None
    airflow = None
    try:
        for name, port in (("the Airflow UI", args.port), ("the local broker", args.kafka_port)):
            if not port_free(host, port):
                raise RuntimeError(
                    f"port {port} on {host} (for {name}) is in use: stop what uses it, or choose another "
                    "with AIRFLOW__API__PORT / LOCAL_KAFKA_PORT"
                )

        step("Starting the local Kafka broker")
        broker = LocalBroker(workdir / ".data" / "kafka", port=args.kafka_port)
        broker.start()
        info(f"ready at {broker.bootstrap} (data {broker.data_dir}, log {broker.log_file})")

        step("Starting airflow standalone (about 20-60 s)")
        airflow_home.mkdir(parents=True, exist_ok=True)
        env = airflow_env(
            airflow_home,
            broker.bootstrap,
            {
                "AIRFLOW__API__HOST": host,
                "AIRFLOW__API__PORT": str(args.port),
                "AIRFLOW__API__BASE_URL": url,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{args.user}:admin",
            },
        )
        write_env_file(
            airflow_home / "env.sh",
            env,
            ["AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER",
             "AIRFLOW__CORE__LOAD_EXAMPLES", CONN_ENV],
        )
        log_path = airflow_home / "standalone.log"
        info(f"AIRFLOW_HOME={airflow_home}, DAGs from {ROOT / 'dags'}, log {log_path}")
        airflow = spawn([str(BIN / "airflow"), "standalone"], env, log_path)
        deadline = time.monotonic() + args.startup_timeout
        while not api_ready(url):
            if airflow.poll() is not None:
                tail = log_path.read_text(errors="replace").splitlines()[-30:]
                raise RuntimeError(f"airflow standalone exited ({airflow.returncode}):\n" + "\n".join(tail))
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer at {url} within {args.startup_timeout:g} s; see {log_path}")
            time.sleep(1)
        for _ in range(20):  # the password file is written right after the API starts
            if (airflow_home / PASSWORDS_FILE).exists():
                break
            time.sleep(0.5)

        step("Airflow is up")
        info(f"UI        {url}")
        info(f"Foot traffic  {url}/plugin/foot-traffic   (in the navigation: the plan of any day; a run's")
        info("              plan against what it delivered is its 'Foot traffic' tab, and the task's extra link)")
        info(f"login     {login(airflow_home, args.user)}")
        info(f"Kafka     {broker.bootstrap} (connection kafka_default; topics foot_traffic, foot_traffic_realistic)")
        yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        info(f"DAG       {DAG_ID}: paused, as new DAGs start; unpausing starts today's scheduled run")
        info("          (today in real time, with the Params' defaults)")
        info(f"one whole day ({yesterday}) in about a minute: DAG {DEMO_DAG_ID}, Trigger, keep the form's defaults")
        info(f"  or: source {airflow_home / 'env.sh'}")
        info(f"      airflow dags unpause {DEMO_DAG_ID} && airflow dags trigger {DEMO_DAG_ID}")
        info("Ctrl-C stops Airflow and the broker.")
        while airflow.poll() is None:
            time.sleep(0.5)
        raise RuntimeError(f"airflow standalone exited ({airflow.returncode}); see {log_path}")
    except Interrupted:
        return 0
    except Exception as exc:  # noqa: BLE001
        print(f"\nmake airflow failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        ignore_stop_signals()
        if airflow is not None:
            stop_group(airflow, "airflow standalone", grace=30)
            left = group_alive(airflow.pid)
            info("airflow standalone stopped" + (f" (still running: {left})" if left else ""))
        if broker is not None:
            broker.stop()
            info("broker stopped")


if __name__ == "__main__":
    sys.exit(main())
