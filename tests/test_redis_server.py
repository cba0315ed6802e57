"""The kernel's Redis: a private embedded server or REDIS_URL, with errors that say what to do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from helpers import redis_server
from helpers.redis_server import EmbeddedRedis, RedisUnavailable
from tests.conftest import ROOT, alive, gone


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
    assert "redis-server" in first.source and first.version
    a.close()
    b.close()


def test_shutdown_stops_the_server_and_removes_its_directory(fresh_module) -> None:
    fresh_module.server()
    process, workdir = fresh_module._embedded.process, fresh_module._embedded.workdir
    fresh_module.shutdown()
    assert process.poll() is not None
    assert not workdir.exists()


def test_a_dead_server_is_replaced_on_next_use(fresh_module) -> None:
    first = fresh_module.server()
    fresh_module._embedded.process.kill()
    fresh_module._embedded.process.wait()
    second = fresh_module.server()
    assert second.pid != first.pid
    assert fresh_module.connect().ping()


def test_server_of_a_killed_kernel_is_reaped_next_time() -> None:
    """A kernel killed with SIGKILL runs no atexit: its redis-server must go on the next start."""
    script = (
        "from helpers import redis_server; info = redis_server.server(); "
        "print(info.pid, flush=True); import time; time.sleep(60)"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    kernel = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    orphan = int(kernel.stdout.readline())
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
    assert not info.private and info.url == private_redis.url
    assert fresh_module._embedded is None, "no private server is started when REDIS_URL is set"
    with pytest.raises(RedisUnavailable, match="needs the private embedded server"):
        fresh_module.embedded()


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


def test_no_binary_anywhere_lists_the_three_fixes(fresh_module, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(redis_server.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RedisUnavailable) as error:
        fresh_module.server()
    message = str(error.value)
    for fix in ("docker compose up -d redis", "environment.yml", "apt-get install redis-server"):
        assert fix in message


def test_a_port_in_use_is_reported_with_the_log(private_redis) -> None:
    taken = EmbeddedRedis(port=private_redis.port)
    with pytest.raises(RedisUnavailable, match="did not start"):
        taken.start()
    assert taken.workdir is None


def run_cli(redis_url: str | None) -> subprocess.CompletedProcess:
    """`python -m helpers.redis_server` as a learner types it, with or without REDIS_URL."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
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
    assert result.stdout.startswith("OK: Redis ") and "127.0.0.1" in result.stdout


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
