"""One load generator for every JSON-RPC server the bench drives, so that a ratio between
two servers measures the servers and not two different clients.

It sends the same pre-built HTTP/1.1 POST of `add(3, 4)` over one keep-alive TCP
connection, one request at a time, and times each round trip. The client does as
little as it can (no HTTP library), and checks every answer is 7, so a server that
answers fast but wrongly cannot win.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

REQUEST_BODY = json.dumps({"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}).encode()


class LoadError(RuntimeError):
    """The server broke the keep-alive connection or answered something other than 7."""


@dataclass
class Run:
    """One bounded run: requests per second, and every request's latency in seconds."""

    requests_per_s: float
    latencies: list[float]


def _request(host: str, port: int, path: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(REQUEST_BODY)}\r\n\r\n"
    )
    return head.encode() + REQUEST_BODY


def _read_response(reader) -> bytes:
    """Read one HTTP/1.1 response with a Content-Length body; return the body."""
    status = reader.readline()
    if not status:
        raise LoadError("the server closed the keep-alive connection")
    if b" 200 " not in status:
        raise LoadError(f"the server answered {status.decode(errors='replace').strip()!r}")
    length = None
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"connection" and value.strip().lower() == b"close":
            raise LoadError("the server asked to close the connection: no keep-alive")
    if length is None:
        raise LoadError("the response has no Content-Length")
    return reader.read(length)


class Connection:
    """One keep-alive connection to a JSON-RPC server, sending `add(3, 4)` in bursts."""

    def __init__(self, host: str, port: int, path: str = "/") -> None:
        self.request = _request(host, port, path)
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def burst(self, count: int) -> tuple[float, list[float]]:
        """Send `count` requests one at a time: (seconds taken, each latency in seconds)."""
        latencies = []
        began = time.perf_counter()
        for _ in range(count):
            sent = time.perf_counter_ns()
            self.sock.sendall(self.request)
            body = _read_response(self.reader)
            latencies.append((time.perf_counter_ns() - sent) / 1e9)
            if json.loads(body).get("result") != 7:
                raise LoadError(f"add(3, 4) answered {body[:200]!r}, expected a result of 7")
        return time.perf_counter() - began, latencies

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def interleaved(
    ports: dict[str, int], count: int, chunk: int = 250, warmup: int = 1000, host: str = "127.0.0.1"
) -> dict[str, Run]:
    """Drive several servers in turn, `chunk` requests at a time, until each had `count`.

    On a shared machine the load from other work comes and goes within a second; small
    alternating chunks expose every server to the same conditions. The warm-up requests
    are not counted: they give Node's JIT compiler and every cache time to settle.
    """
    connections = {name: Connection(host, port) for name, port in ports.items()}
    try:
        for connection in connections.values():
            connection.burst(warmup)
        spent = dict.fromkeys(connections, 0.0)
        latencies: dict[str, list[float]] = {name: [] for name in connections}
        for start in range(0, count, chunk):
            for name, connection in connections.items():
                seconds, samples = connection.burst(min(chunk, count - start))
                spent[name] += seconds
                latencies[name] += samples
    finally:
        for connection in connections.values():
            connection.close()
    return {name: Run(count / spent[name], latencies[name]) for name in connections}
