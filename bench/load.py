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


def drive(host: str, port: int, count: int, warmup: int = 200, path: str = "/") -> Run:
    """Send `warmup` then `count` requests, one at a time, on one connection."""
    request = _request(host, port, path)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        latencies = []
        began = time.perf_counter()
        for index in range(warmup + count):
            if index == warmup:
                began = time.perf_counter()
            sent = time.perf_counter_ns()
            sock.sendall(request)
            body = _read_response(reader)
            elapsed = time.perf_counter_ns() - sent
            answer = json.loads(body)
            if answer.get("result") != 7:
                raise LoadError(f"add(3, 4) answered {body[:200]!r}, expected a result of 7")
            if index >= warmup:
                latencies.append(elapsed / 1e9)
        total = time.perf_counter() - began
        reader.close()
    return Run(requests_per_s=count / total, latencies=latencies)
