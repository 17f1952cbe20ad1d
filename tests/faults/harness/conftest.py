"""The randomized harness picks each schedule's client itself: no per-client repetition."""

import pytest


@pytest.fixture(autouse=True)
def kafka_client() -> str:
    """Overrides tests/faults/conftest.py's parametrized fixture: a schedule names its client."""
    return "schedule"
