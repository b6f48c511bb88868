"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from sentry_receiver import SentryReceiver  # noqa: E402


@pytest.fixture
def sentry_receiver() -> Iterator[SentryReceiver]:
    """A running loopback Sentry envelope receiver; ``.dsn`` points the SDK at it."""
    receiver = SentryReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def make_sentry_sink(sentry_receiver: SentryReceiver) -> Iterator[Callable[..., Any]]:
    """Factory for :class:`sinks.sentry.SentrySink` instances pointed at the loopback receiver.

    Every sink created is closed at teardown (so the process-wide SDK client is shut down).
    """
    from sinks.sentry import SentrySink

    sinks: list[SentrySink] = []

    def make(**kwargs: Any) -> SentrySink:
        kwargs.setdefault("dsn", sentry_receiver.dsn)
        kwargs.setdefault("environment", "test")
        kwargs.setdefault("timeout", 5.0)
        sink = SentrySink(**kwargs)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The one small Spark session (``local[2]``) of every Spark test; started on first use."""
    from monitor.engines.spark import spark_session

    session = spark_session()
    yield session
    session.stop()
