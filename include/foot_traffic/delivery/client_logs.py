"""Client-library log lines that look like errors but are not, sent to DEBUG.

A successful run prints no ERROR. The Kafka clients print a few in one anyway; each is
matched exactly here (message and exception), so that a real failure still shows:

* kafka-python 3.0.12 closes a client's connections from the calling thread while its I/O
  thread may still have a metadata request in flight: that request ends ``Cancelled``
  (``kafka.cluster``: "Metadata refresh: failed Cancelled"), and a read racing the close
  finds the socket already gone (``kafka.net.transport`` on a transport that says
  ``(closed)``: "Error receiving network data closing socket" or "Error sending request
  data: Bad file descriptor", with a traceback). The resume scanner and the per-day
  producers close clients after every day, so a backfill showed one of these every few days.
* kafka-python's event loop warns when one of its steps took over 0.1 s ("It is blocking
  the event loop"; the threshold is not configurable): on a busy machine the thread
  generating records holds the interpreter that long now and then; nothing is late or lost.
* librdkafka warns (``CONFWARN``) that ``enable.gapless.guarantee`` is experimental, once
  per producer, one producer per day: the engine sets it on purpose (see
  ``publisher_confluent.producer_settings``).

Installed when this module is imported (``foot_traffic.publisher`` imports it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable


def _cancelled_refresh(record: logging.LogRecord) -> bool:
    from kafka.errors import Cancelled

    return record.msg == "Metadata refresh: failed %s" and any(isinstance(a, Cancelled) for a in record.args or ())


def _io_after_close(record: logging.LogRecord) -> bool:
    transport = str(record.args[0]) if record.args else ""
    text = str(record.msg)
    return transport.endswith("(closed)>") and ("Error receiving network data" in text or "Error sending request data" in text)


def _slow_task(record: logging.LogRecord) -> bool:
    return "It is blocking the event loop" in str(record.msg)


def _gapless_warning(record: logging.LogRecord) -> bool:
    text = record.getMessage()
    return "CONFWARN" in text and "enable.gapless.guarantee" in text


class ToDebug(logging.Filter):
    """A logger filter: records that ``matches`` become DEBUG records (dropped unless the
    logger is enabled for DEBUG)."""

    def __init__(self, matches: Callable[[logging.LogRecord], bool]):
        super().__init__()
        self.matches = matches

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG or not self.matches(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


NOT_ERRORS: dict[str, Callable[[logging.LogRecord], bool]] = {
    "kafka.cluster": _cancelled_refresh,
    "kafka.net.transport": _io_after_close,
    "kafka.net.selector": _slow_task,
    "foot_traffic.librdkafka": _gapless_warning,
}

for _name, _matches in NOT_ERRORS.items():
    logging.getLogger(_name).addFilter(ToDebug(_matches))
