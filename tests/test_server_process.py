"""The steps every server process shares: start, wait until it answers, stop, reap leftovers.

Real redis-server (or valkey-server) processes, started from the binary the pack embeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import server_process
from helpers.redis_server import EmbeddedRedis, find_binary


@pytest.fixture
def started(tmp_path):
    """A server started with `command` and `spawn` on a free port; stopped afterwards."""
    port = server_process.free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1"]
    command = server_process.command(find_binary()[0], tmp_path, *options)
    process = server_process.spawn(command, console=tmp_path / "console.log")
    yield process, port
    server_process.stop(process)


def test_a_spawned_server_answers_keeps_nothing_and_stops(started, tmp_path) -> None:
    process, port = started
    assert server_process.wait_until(
        process, lambda: server_process.answers(process.pid, port=port)
    )
    assert server_process.is_server(process.pid, port=port)
    assert (tmp_path / "redis.log").exists(), "its log goes to the folder it was given"
    server_process.stop(process)
    assert process.poll() is not None
    assert not list(tmp_path.glob("*.rdb")), "a server that keeps nothing wrote a dump"


def test_answers_is_false_for_another_server_on_the_port(private_redis) -> None:
    assert server_process.answers(private_redis.pid, port=private_redis.port)
    assert not server_process.answers(private_redis.pid + 1, port=private_redis.port)
    assert not server_process.answers(private_redis.pid, port=server_process.free_port())


def test_wait_until_gives_up_when_the_process_exits() -> None:
    process = server_process.spawn([sys.executable, "-c", "pass"])
    began = time.monotonic()
    assert not server_process.wait_until(process, lambda: False, timeout=30)
    assert time.monotonic() - began < 10, "it waited for the timeout, not for the exit"


def test_a_stopped_frozen_server_is_woken_and_stopped(private_redis) -> None:
    os.kill(private_redis.pid, signal.SIGSTOP)  # as the cluster lesson freezes a replica
    server_process.stop(private_redis.process)
    assert private_redis.process.poll() is not None


def test_only_a_server_is_killed_as_a_leftover() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert server_process.pid_alive(other.pid)
        assert not server_process.is_server(other.pid)
        assert not server_process.kill_left_behind(other.pid)
        assert other.poll() is None, "a process that is not a server was killed"
    finally:
        other.kill()
        other.wait()
    assert not server_process.pid_alive(other.pid)


def test_a_server_on_another_port_is_not_the_one_recorded(private_redis) -> None:
    assert server_process.is_server(private_redis.pid, port=private_redis.port)
    assert not server_process.is_server(private_redis.pid, port=private_redis.port + 1)


def test_orphaned_needs_a_real_folder_whose_owner_is_gone(tmp_path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    server_process.claim(mine)
    assert not server_process.orphaned(mine), "this process is alive"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (mine / "owner.pid").write_text(str(dead.pid))
    assert server_process.orphaned(mine)
    young = tmp_path / "being-created"
    young.mkdir()
    assert not server_process.orphaned(young), "no owner.pid yet: it may be being created"
    link = tmp_path / "link"
    link.symlink_to(mine)
    assert not server_process.orphaned(link)


def test_embedded_redis_is_built_on_these_steps(private_redis: EmbeddedRedis) -> None:
    assert server_process.is_server(private_redis.pid, port=private_redis.port)
    assert private_redis.workdir is not None
    assert server_process.read_pid(private_redis.workdir / "owner.pid") == os.getpid()
    assert server_process.read_pid(private_redis.workdir / "redis.pid") == private_redis.pid
