"""Shared fixtures: real Redis servers, never fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    """A fresh embedded redis-server of the test's own, stopped afterwards."""
    server = EmbeddedRedis().start()
    yield server
    server.stop()


@pytest.fixture
def output_dir() -> Path:
    """Where tests leave files worth looking at after a run (screenshots, plots)."""
    path = ROOT / "test-output"
    path.mkdir(exist_ok=True)
    return path
