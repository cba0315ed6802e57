"""Shared fixtures: real Redis servers, never fakes."""

from __future__ import annotations

import os
import time
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


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone(pid: int, timeout: float = 10) -> bool:
    """Wait up to `timeout` s for `pid` to exit; True once it has."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)
