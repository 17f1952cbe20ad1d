"""Fixtures of the deploy tests: the image-like environment (built or reused once per run),
with its build summary (timings, pip check before/after) printed at the end of the run."""

from __future__ import annotations

import pytest

from tests.support import image_env as builder

_SUMMARIES: list[str] = []


@pytest.fixture(scope="session")
def image_env() -> builder.ImageEnv:
    try:
        env, reused, seconds = builder.get()
    except builder.ImageEnvError as exc:
        pytest.fail(f"could not build the image-like environment: {exc}")
    _SUMMARIES.append(builder.summary(env, reused, seconds))
    return env


def pytest_terminal_summary(terminalreporter):
    for text in _SUMMARIES:
        terminalreporter.write_sep("-", "image-like environment")
        terminalreporter.write_line(text)
