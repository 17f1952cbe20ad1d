"""Read both topics back and compare them with the plan: lost, duplicated, order per customer.

The expected records are regenerated from the settings (``plan_store_day`` +
``StoreDayStream``): plans are deterministic, so the check needs nothing from the producer run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from foot_traffic.local_broker import LocalBroker
from foot_traffic.model.profile import load_profile
from foot_traffic.plan.implicit import implicit_store
from foot_traffic.plan.storeday import plan_store_day
from foot_traffic.records.events import H_DAY, H_EVENT_ID, H_SEQ
from foot_traffic.records.stream import StoreDayStream
from foot_traffic.settings import Settings
from tests.support.kafka_read import read_topic

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DayCheck:
    expected: int
    landed: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # same event id, other bytes
    out_of_order: list[str] = field(default_factory=list)  # per partition / per customer

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.changed or self.out_of_order)

    def describe(self) -> str:
        return (
            f"expected {self.expected}, landed {self.landed}, lost {len(self.lost)}, duplicated "
            f"{len(self.duplicated)}, unexpected {len(self.unexpected)}, changed {len(self.changed)}, "
            f"out of order {len(self.out_of_order)}; first lost {self.lost[:3]}, first duplicated "
            f"{self.duplicated[:3]}, first out of order {self.out_of_order[:3]}"
        )


def expected_records(env: dict[str, str], day: date) -> dict[str, tuple[str, bytes, bytes, int]]:
    """event id -> (topic, key, value, timestamp_ms), in stream order."""
    settings = Settings.from_env(env)
    plan = plan_store_day(implicit_store(settings, load_profile(settings.profile_file)), day, settings)
    stream = StoreDayStream(plan, settings.kafka_topic, settings.kafka_topic_realistic)
    out: dict[str, tuple[str, bytes, bytes, int]] = {}
    for moment in stream:
        for r in moment.records:
            event_id = dict(r.headers)[H_EVENT_ID].decode()
            out[event_id] = (r.topic, r.key, r.value, r.timestamp_ms)
    return out


def check_day(bootstrap: str, env: dict[str, str], day: date) -> DayCheck:
    """Compare what both topics hold of ``day`` with the plan of ``env``'s settings."""
    want = expected_records(env, day)
    topics = [env["KAFKA_TOPIC"], env["KAFKA_TOPIC_REALISTIC"]]
    landed = [r for t in topics for r in read_topic(bootstrap, t) if r.header(H_DAY) == day.isoformat()]
    check = DayCheck(expected=len(want), landed=len(landed))
    seen = Counter(r.header(H_EVENT_ID) for r in landed)
    check.lost = [e for e in want if e not in seen]
    check.duplicated = [e for e, n in seen.items() if n > 1]
    check.unexpected = [e for e in seen if e not in want]
    last_seq: dict[tuple[str, int], int] = {}
    kinds: dict[bytes, list[str]] = defaultdict(list)
    for r in landed:  # partition/offset order within each topic
        event_id = r.header(H_EVENT_ID)
        if event_id in want:
            topic, key, value, ts = want[event_id]
            if (r.topic, r.key, r.value, r.timestamp_ms) != (topic, key, value, ts):
                check.changed.append(event_id)
        seq = int(r.header(H_SEQ))
        where = (r.topic, r.partition)
        if seq <= last_seq.get(where, -1):
            check.out_of_order.append(f"{r.topic}[{r.partition}]@{r.offset}: seq {seq} after {last_seq[where]}")
        last_seq[where] = max(seq, last_seq.get(where, -1))
        if r.topic == env["KAFKA_TOPIC_REALISTIC"]:
            kinds[r.key].append(event_id.rsplit(":", 1)[1])
    for key, seq in kinds.items():
        if seq not in (["entry"], ["entry", "exit"]):
            check.out_of_order.append(f"customer {key.decode()}: {seq}")
    return check


# -- running the standalone producer ------------------------------------------------------
def producer_env(bootstrap: str, topics: tuple[str, str], **extra) -> dict[str, str]:
    env = {
        "KAFKA_BROKER": bootstrap,
        "KAFKA_TOPIC": topics[0],
        "KAFKA_TOPIC_REALISTIC": topics[1],
        "SEED": "7",
        "DAILY_CUSTOMERS": "300",
        "MAX_RETRIES": "3",
        "RETRY_BACKOFF_SECONDS": "0.5",
        "SLEEP": "0.05",
        # set per test by the suite's ``kafka_client`` fixture (both clients run every test)
        "KAFKA_CLIENT": os.environ.get("FAULT_KAFKA_CLIENT", "kafka-python"),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def spawn(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen:
    """``foot-traffic produce ARGS`` as its own process (stdout+stderr to ``log``)."""
    full = {k: v for k, v in os.environ.items() if k not in Settings.env_names()}
    full.update(env)
    full.setdefault("PYTHONPATH", str(ROOT))
    fh = open(log, "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "foot_traffic", "produce", *args],
            env=full, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
        )
    finally:
        fh.close()


def produce(env: dict[str, str], *args: str, log: Path, timeout: float = 90) -> int:
    proc = spawn(env, *args, log=log)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"producer still running after {timeout} s; log {log}:\n{log.read_text()[-3000:]}")


def wait_for_line(log: Path, text: str, timeout: float = 30, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"producer exited ({proc.returncode}) before {text!r}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {log} after {timeout} s")


# The embedded broker's known flaw (tests/integration/test_embedded_broker_flaw.py): after a
# SIGKILL it may accept a crashed-over producer's re-sent batch into a transaction it no longer
# knows, which nothing ends; the producer's resume scan then waits on it. Its signature in a
# producer's log since its last outage: it took its day again, and waits for open transactions
# longer than any live writer's (they commit within KAFKA_TRANSACTION_MS, 1 s by default).
FORGOTTEN_AFTER_SECONDS = 12.0


def waits_on_a_forgotten_transaction(text: str, waiting_since: float | None) -> tuple[bool, float | None]:
    """(whether the log ``text`` shows the flaw, since when (monotonic) it waits): the producer
    took its day again after its last outage and its scan has waited more than
    ``FORGOTTEN_AFTER_SECONDS`` for open transactions, without recovering."""
    since = text[text.rfind("delivery interrupted"):] if "delivery interrupted" in text else ""
    waiting = ("this run owns" in since and "waiting for open transactions of other writers" in since
               and "recovered after" not in since)
    if not waiting:
        return False, None
    now = time.monotonic()
    waiting_since = waiting_since or now
    return now - waiting_since >= FORGOTTEN_AFTER_SECONDS, waiting_since


def end_forgotten_transaction(broker: LocalBroker, ledger) -> LocalBroker:
    """End the forgotten transaction as an operator ends a hanging transaction on Kafka
    (``kafka-transactions.sh abort``): here a clean restart of the embedded broker, whose saved
    state closes every open transaction with an abort marker. Returns the restarted broker;
    the waiting producer sees an outage, heals, and must still deliver every record once."""
    broker.stop()
    ledger.forgotten_transaction_ended()
    return LocalBroker(broker.data_dir, port=broker.port).start()
