"""Paths and process checks the test modules share.

conftest.py holds fixtures only: pytest imports it itself, so a test module that needs
a plain function or a path imports it from here (or from notebook_runner, browser_lab,
attacks), never from conftest.py or from another test module.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

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
