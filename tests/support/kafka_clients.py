"""A fixture that records what the engine gives kafka-python's real client classes.

No fake Kafka: the real clients are built (and validate their configuration); a subclass
only records the keyword arguments it was given.
"""

from __future__ import annotations

import kafka
import kafka.admin
import pytest


@pytest.fixture
def recorded(monkeypatch):
    """kwargs given to each real kafka-python client class, by class name."""
    calls: dict[str, dict] = {}

    def recording(cls):
        class Recording(cls):
            def __init__(self, **kwargs):
                calls[cls.__name__] = dict(kwargs)
                super().__init__(**kwargs)

        return Recording

    monkeypatch.setattr(kafka, "KafkaProducer", recording(kafka.KafkaProducer))
    monkeypatch.setattr(kafka, "KafkaConsumer", recording(kafka.KafkaConsumer))
    monkeypatch.setattr(kafka.admin, "KafkaAdminClient", recording(kafka.admin.KafkaAdminClient))
    return calls
