"""The server processes of a cluster: one per node, and those a killed kernel left behind.

Each node runs on free 127.0.0.1 ports with its own folder and no persistence, started,
checked and stopped by `server_process` like the kernel's embedded server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers import server_process
from helpers.language import _

NODE_TIMEOUT_MS = 1000  # how long a node may stay silent before it is suspected: failover speed


class ClusterError(RuntimeError):
    """A node did not start, or the cluster did not come together; the message shows why."""


def state_dir() -> Path:
    """Where clusters keep their nodes' directories, one folder per cluster; ours alone."""
    path = Path(tempfile.gettempdir()) / f"redis-course-cluster-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.is_symlink() or path.stat().st_uid != os.getuid():
        raise ClusterError(
            _("{path} is not a folder of yours: remove it, then run the cell again.").format(
                path=path
            )
        )
    return path


def reap_orphans() -> list[int]:
    """Stop the nodes of clusters whose kernel is gone (killed), remove their folders; the pids."""
    stopped = []
    for folder in state_dir().iterdir():
        if not server_process.orphaned(folder):
            continue
        for record in folder.glob("node-*/node.json"):
            if record.parent.is_symlink():
                continue
            try:
                node = json.loads(record.read_text())
                pid, port = int(node["pid"]), int(node["port"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if server_process.kill_left_behind(pid, port=port):
                stopped.append(pid)
        shutil.rmtree(folder, ignore_errors=True)
    return stopped


@dataclass(eq=False)
class Node:
    """One server process of a cluster."""

    index: int
    port: int
    bus_port: int
    workdir: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def client(self, **options) -> redis.Redis:
        """A plain client for this node alone, no cluster logic; strings in and out.

        No retries: a node that is down should say so at once, not after backing off.
        """
        options.setdefault("decode_responses", True)
        options.setdefault("retry", Retry(NoBackoff(), 0))
        options.setdefault("socket_connect_timeout", 2)
        options.setdefault("socket_timeout", 5)
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def log_tail(self, lines: int = 8) -> str:
        """The last lines the server wrote, to say why it failed."""
        text = []
        for name in ("console.log", "server.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text) or "(the server wrote nothing)"

    def wait_answers(self) -> bool:
        """Wait until *this* process answers on its port; False if it exited or took too long."""
        return server_process.wait_until(
            self.process, lambda: server_process.answers(self.pid, host="127.0.0.1", port=self.port)
        )

    def terminate(self) -> None:
        """Ask the server to exit; wake it first in case a lesson froze it with SIGSTOP."""
        server_process.terminate(self.process)

    def reap(self) -> None:
        """Wait for the process to exit (a killed one too), killing it after 5 s."""
        server_process.reap(self.process)


def spawn_node(path: str, workdir: Path, *, index: int, node_timeout_ms: int) -> Node:
    """Start one cluster-enabled server on free ports; it still has to answer."""
    port, bus_port = server_process.free_port(), server_process.free_port()
    workdir.mkdir(exist_ok=True)
    options = [
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        # Explicit: the default, port + 10000, is refused above port 55535.
        "--cluster-port", str(bus_port),
        "--cluster-node-timeout", str(node_timeout_ms),
        # A replica's first sync would otherwise wait 5 s for more replicas to join it.
        "--repl-diskless-sync-delay", "0",
    ]  # fmt: skip
    command = server_process.command(path, workdir, *options, log="server.log")
    process = server_process.spawn(command, console=workdir / "console.log")
    (workdir / "node.json").write_text(json.dumps({"pid": process.pid, "port": port}))
    return Node(index, port, bus_port, workdir, process)
