"""A real Kafka-wire-protocol broker on 127.0.0.1 for tests and local runs (no Docker).

Wraps the ``noida-db`` binary (PyPI ``noida-db``, a dev dependency): start it on a free
port with its own data directory, wait until a metadata request succeeds, stop it with
SIGINT (SIGKILL for fault tests). Not used in production: there, ``KAFKA_BROKER`` or the
Airflow connection points at a real cluster.

    python -m foot_traffic.local_broker --port 19092 --data-dir .data/kafka   # foreground

Exit codes of that command: 0 after Ctrl-C/SIGTERM (the broker stopped cleanly), 1 when
it could not start (the port is taken, the data directory belongs to another running
broker, it did not answer in time) or its process ended by itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
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


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (a bind fails as the broker's would)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the broker binds: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def wait_ready(bootstrap: str, timeout: float = 20.0, alive: Callable[[], bool] | None = None) -> None:
    """Return once the broker answers a metadata request; raise after ``timeout`` seconds,
    or as soon as ``alive()`` says its process ended (it could not start).

    The port is polled with plain TCP first: a kafka-python client that finds no listener
    backs off for many seconds before it tries again.
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise BrokerStartError("its process ended before it was ready")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            break
        except OSError as exc:
            last = exc
            time.sleep(0.02)
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise BrokerStartError("its process ended before it was ready")
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
    raise BrokerStartError(f"it did not answer within {timeout:g} s ({last})")


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
        """Start the broker and wait until it answers; ``BrokerStartError`` when the port is
        taken, or the process ends (a data directory held by another broker) or does not
        answer within ``timeout`` s (the message quotes its log)."""
        if port_taken(self.host, self.port):
            raise BrokerStartError(
                f"port {self.port} on {self.host} is already in use (another broker, e.g. `make broker` in another "
                f"terminal?): use that one (KAFKA_BROKER={self.bootstrap}), stop it, or pick another port"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(binary()), "start", "--only", "kafka", "--host", self.host,
            "--kafka-port", str(self.port), "--data-dir", str(self.data_dir),
        ]
        log = open(self.log_file, "ab")
        start = log.tell()
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        try:
            wait_ready(self.bootstrap, timeout, alive=self.running)
        except BrokerStartError as exc:
            self.kill()
            said = self._said_since(start)
            raise BrokerStartError(
                f"the broker on {self.bootstrap}: {exc}" + (f": {said}" if said else "") + f" (its log: {self.log_file})"
            ) from None
        return self

    def _said_since(self, offset: int) -> str:
        """The broker's error lines written to its log since ``offset`` (why it ended)."""
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(offset)
                lines = fh.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return " / ".join(line.strip() for line in lines if line.lstrip().lower().startswith(("error", "hint")))

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
    try:
        broker.start()
    except BrokerStartError as exc:
        print(f"local Kafka broker: cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    print(
        f"local Kafka broker ready at {broker.bootstrap} (data in {broker.data_dir}, log {broker.log_file}); "
        f"use it with KAFKA_BROKER={broker.bootstrap}; Ctrl-C stops it",
        flush=True,
    )
    while not stopping and broker.running():
        time.sleep(0.2)
    if not stopping:
        print(f"local Kafka broker: the broker process ended (exit {broker.process.returncode}); see {broker.log_file}",
              file=sys.stderr, flush=True)
        return 1
    broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
