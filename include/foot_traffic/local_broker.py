"""A real Kafka-wire-protocol broker on 127.0.0.1 for tests and local runs (no Docker).

Wraps the ``noida-db`` binary (PyPI ``noida-db``, a dev dependency): start it on a free
port with its own data directory, wait until a metadata request succeeds, stop it with
SIGINT (SIGKILL for fault tests). Not used in production: there, ``KAFKA_BROKER`` or the
Airflow connection points at a real cluster.

    python -m foot_traffic.local_broker --port 19092 --data-dir .data/kafka   # foreground
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from importlib import resources
from pathlib import Path


class BrokerStartError(RuntimeError):
    pass


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def binary() -> Path:
    try:
        return Path(str(resources.files("noida_db") / "noida-db"))
    except ModuleNotFoundError:
        raise BrokerStartError("the local broker needs the dev dependency noida-db (pip install -r requirements-dev.txt)") from None


def wait_ready(bootstrap: str, timeout: float = 20.0) -> None:
    """Return once the broker answers a metadata request; raise after ``timeout`` seconds.

    The port is polled with plain TCP first: a kafka-python client that finds no listener
    backs off for many seconds before it tries again.
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            break
        except OSError as exc:
            last = exc
            time.sleep(0.02)
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise BrokerStartError(f"broker at {bootstrap} not ready after {timeout:g} s: {last}")


class LocalBroker:
    """One noida-db Kafka broker process. Use as a context manager or start()/stop()."""

    def __init__(self, data_dir: str | Path, port: int | None = None, host: str = "127.0.0.1", log_file: str | Path | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.host = host
        self.log_file = Path(log_file) if log_file else self.data_dir.parent / f"{self.data_dir.name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> LocalBroker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(binary()), "start", "--only", "kafka", "--host", self.host,
            "--kafka-port", str(self.port), "--data-dir", str(self.data_dir),
        ]
        log = open(self.log_file, "ab")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        try:
            wait_ready(self.bootstrap, timeout)
        except BrokerStartError:
            self.kill()
            raise BrokerStartError(
                f"local broker did not start on {self.bootstrap}; see {self.log_file}"
            ) from None
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGINT: the broker saves its data)."""
        if not self.running():
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests (the broker may lose its last second of writes)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local Kafka-protocol broker in the foreground.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_KAFKA_PORT", "19092")))
    parser.add_argument("--data-dir", default=".data/kafka")
    args = parser.parse_args(argv)
    broker = LocalBroker(args.data_dir, args.port)
    stopping = False

    def on_signal(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    broker.start()
    print(f"local Kafka broker ready at {broker.bootstrap} (data in {broker.data_dir}, log {broker.log_file})", flush=True)
    while not stopping and broker.running():
        time.sleep(0.2)
    broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
