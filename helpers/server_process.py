"""One server process on this machine: start it, wait until it answers, stop it, reap it.

The kernel's embedded Redis, every node of a cluster and the grader's Redis for one
submission are each a redis-server (or valkey-server) that this process starts and must
stop again, whatever happens to the kernel. They share these steps, so that a fix to
one (a pid reused by another program, a server frozen with SIGSTOP) reaches all three.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.redis_binary import SERVER_COMMANDS

START_TIMEOUT = 10.0  # seconds a starting server has to answer
ORPHAN_GRACE = 60.0  # seconds a folder without owner.pid may be one still being created


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def command(binary: str, folder: Path, *options: str, log: str = "redis.log") -> list[str]:
    """The command line of a server that keeps nothing: no RDB, no AOF, files in `folder`.

    It stays in the foreground (`--daemonize no`), so that its pid is the one we started.
    """
    files = ["--dir", str(folder), "--logfile", str(folder / log)]
    return [binary, *options, "--save", "", "--appendonly", "no", *files, "--daemonize", "no"]


def spawn(command: list[str], *, console: Path | None = None) -> subprocess.Popen:
    """Start a server in a session of its own; its output goes to `console` or nowhere.

    A session of its own, so that interrupting the kernel (SIGINT to its process group)
    does not take the server down with the cell.
    """
    with open(console or os.devnull, "wb") as output:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def answers(pid: int, **client_options) -> bool:
    """True once the server with process id `pid` answers, not some other server at that address.

    `client_options` say where: `port=...` or `unix_socket_path=...`. No retries: the
    caller polls, and a server not up yet should say so at once.
    """
    client_options.setdefault("socket_connect_timeout", 0.5)
    client_options.setdefault("socket_timeout", 0.5)
    client = redis.Redis(retry=Retry(NoBackoff(), 0), **client_options)
    try:
        return client.info("server")["process_id"] == pid
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def wait_until(
    process: subprocess.Popen,
    ready: Callable[[], bool],
    *,
    timeout: float = START_TIMEOUT,
    poll: float = 0.005,
) -> bool:
    """Wait until `ready()` says yes; False once the process exits or `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            return True
        time.sleep(poll)
    return False


def terminate(process: subprocess.Popen) -> None:
    """Ask a server to exit; wake it first in case a lesson froze it with SIGSTOP."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
            process.terminate()


def reap(process: subprocess.Popen, *, timeout: float = 5.0) -> None:
    """Wait for the process to exit (a killed one too), killing it after `timeout` s."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop(process: subprocess.Popen) -> None:
    """Terminate, then reap: the server is gone when this returns."""
    terminate(process)
    reap(process)


# ------------------------------------------------------- left behind by a killed kernel


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (perhaps another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_server(pid: int, *, port: int | None = None) -> bool:
    """Guard against killing an unrelated process that reused a recorded pid.

    Redis and Valkey retitle themselves "<binary> 127.0.0.1:<port>"; with `port`, the
    title must name it too.
    """
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        title = cmdline.read_bytes()
    else:  # macOS: no /proc
        ps = ["ps", "-p", str(pid), "-o", "command="]
        title = subprocess.run(ps, capture_output=True).stdout
    if port is not None and f":{port}".encode() not in title:
        return False
    return any(name.encode() in title for name in SERVER_COMMANDS)


def kill_left_behind(pid: int, *, port: int | None = None) -> bool:
    """SIGKILL a server a killed kernel left running; False if it is gone or not a server."""
    if not (pid_alive(pid) and is_server(pid, port=port)):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def read_pid(path: Path) -> int | None:
    """The pid written in `path`, or None if it is missing or not a number."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def claim(folder: Path) -> None:
    """Write this process's pid into `folder`, so a later reaper knows whose it is."""
    (folder / "owner.pid").write_text(str(os.getpid()))


def orphaned(folder: Path) -> bool:
    """True if `folder` is one of ours (a real folder, no link) and its owner is gone."""
    if folder.is_symlink() or not folder.is_dir():
        return False  # not one of ours: nothing to stop, nothing to remove
    owner = read_pid(folder / "owner.pid")
    if owner is not None:
        return not pid_alive(owner)
    return time.time() - folder.stat().st_mtime >= ORPHAN_GRACE  # else being created now
