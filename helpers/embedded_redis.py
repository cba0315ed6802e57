"""A private Redis on 127.0.0.1 that this process starts, and stops again at exit.

The kernel's shared server is one of these; tests, experiments and the grader make
their own. Each keeps a working dir with pidfiles, so that a server left behind by a
killed kernel is found and stopped next time one starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from helpers import server_process
from helpers.redis_binary import FIXES, RedisUnavailable, find_binary
from helpers.server_process import START_TIMEOUT


def state_dir() -> Path:
    """Where embedded servers keep their working dirs and pidfiles, one folder each."""
    path = Path(tempfile.gettempdir()) / f"redis-course-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def reap_orphans() -> list[int]:
    """Stop embedded servers whose owning process is gone (a killed kernel); return their pids."""
    stopped = []
    for workdir in state_dir().iterdir():
        with contextlib.suppress(FileNotFoundError):  # another kernel removed it meanwhile
            if not server_process.orphaned(workdir):
                continue
            server = server_process.read_pid(workdir / "redis.pid")
            if server is not None and server_process.kill_left_behind(server):
                stopped.append(server)
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
                self.port = server_process.free_port()
            if self._spawn_and_wait():
                return self
            log = self._log_tail()
            self.stop()
        raise RedisUnavailable(f"{self.binary} did not start.\n{log}\n{FIXES}")

    def _spawn_and_wait(self, workdir: Path | None = None) -> bool:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"{self.port}-", dir=state_dir()))
        server_process.claim(self.workdir)
        options = ["--port", str(self.port), "--bind", "127.0.0.1"]
        command = server_process.command(self.binary, self.workdir, *options)
        self.process = server_process.spawn(command)
        (self.workdir / "redis.pid").write_text(str(self.process.pid))
        return server_process.wait_until(
            self.process,
            lambda: server_process.answers(self.process.pid, port=self.port),
            poll=0.002,
        )

    def _log_tail(self) -> str:
        if self.workdir and (self.workdir / "redis.log").exists():
            return "\n".join((self.workdir / "redis.log").read_text().splitlines()[-5:])
        return ""

    def stop(self) -> None:
        """Stop the server and remove its directory; safe to call twice, or after it died."""
        if self.process is not None:
            server_process.stop(self.process)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def restart(self, down_for: float = 0.0, *, keep_data: bool = False) -> None:
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
