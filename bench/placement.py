"""Where the bench's clients and servers run: fixed, and the same for both sides of a ratio.

Left to the scheduler, a server woken on the client's core answers in ~30 us and one
woken on the other core in ~70 us, and which one gets which changes from run to run:
a ratio would then measure placement, not the software. So every client (the load
generator, redis-py, redis-benchmark) runs on the first CPU and every server on the last.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cpus() -> tuple[set[int], set[int]]:
    """(client CPUs, server CPUs); the same set twice on a one-CPU machine."""
    available = sorted(os.sched_getaffinity(0))
    return {available[0]}, {available[-1]}


def pin_client() -> None:
    """For subprocess preexec_fn: the child runs where clients run."""
    os.sched_setaffinity(0, cpus()[0])


def pin_server() -> None:
    """For subprocess preexec_fn: the child and all its threads run where servers run."""
    os.sched_setaffinity(0, cpus()[1])


def pin_running_server(pid: int) -> None:
    """Move every thread of a server that is already running to the server CPUs."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus()[1])


@contextmanager
def as_client() -> Iterator[None]:
    """Run this process on the client CPUs for the duration, then everywhere again."""
    everywhere = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus()[0])
    try:
        yield
    finally:
        os.sched_setaffinity(0, everywhere)
