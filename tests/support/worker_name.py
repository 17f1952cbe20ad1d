"""``[core] hostname_callable`` for tests that run several Airflow workers on one machine.

A task instance records the host of the worker that ran it (``task_instance.hostname``);
two Celery workers on one machine share a host name, so each gets its own through
``FT_TEST_WORKER_NAME`` (``AIRFLOW__CORE__HOSTNAME_CALLABLE=tests.support.worker_name.hostname``).
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("FT_TEST_WORKER_NAME") or socket.getfqdn()
