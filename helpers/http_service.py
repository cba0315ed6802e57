"""The HTTP server under every service of the course: bounded, quiet, and stoppable.

Every HTTP service here gets the same limits, so that idle, slow or too many clients
cannot hold all its threads: IDLE_TIMEOUT, REQUEST_TIMEOUT and MAX_CONNECTIONS below.
A port held by another program must not end in an `Address already in use` traceback:
`bind` takes a free port and says so, or raises `PortInUse` with what to do.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import re
import select
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from helpers.background import Worker
from helpers.language import _

# Limits of every HTTP service here; each _Server has them as attributes, to change per server.
IDLE_TIMEOUT = 15.0  # s a connection may wait for its next request; also each read's and write's
REQUEST_TIMEOUT = 10.0  # s from a request's first byte to its last (line, headers, body) in all
MAX_CONNECTIONS = 256  # one thread each; past it the one idle longest is closed, or 503 if none

_DIGITS = re.compile(r"[0-9]+")


class PortInUse(OSError):
    """The requested port is taken and falling back to a free one was not allowed."""


def whole_number(text: str, most_digits: int) -> int | None:
    """`text` as an int if it is 1 to `most_digits` ASCII digits, else None.

    `str.isdigit()` is no check: it accepts "²", which `int()` refuses, and `int()`
    refuses numbers over 4300 digits.
    """
    if len(text) > most_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)


class _Reader(io.RawIOBase):
    """A socket's reads under one deadline for a whole request.

    A per-read timeout starts again with every byte, so a client sending one byte every
    few seconds holds its thread forever; a deadline does not move.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        timeout = self.sock.gettimeout()
        left = self.deadline - time.monotonic()
        if timeout is None or left >= timeout:
            return self.sock.recv_into(buffer)
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(left)
        try:
            return self.sock.recv_into(buffer)
        finally:
            self.sock.settimeout(timeout)


class QuietJSONHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that answers JSON and logs nothing to stderr.

    Stderr in a notebook shows as an error box, so request logs are dropped.
    Subclasses implement do_GET / do_POST; other methods get 405 with JSON.
    The server's limits apply: idle_timeout between requests, request_timeout for each.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "course/1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)
        self.rfile.close()  # replaced by a reader that keeps each request's deadline
        self.reader = _Reader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        """Wait up to idle_timeout for a request to begin, then give it request_timeout."""
        self.reader.deadline = math.inf
        self.server.idle(self.connection, True)
        try:
            begun = self.rfile.peek(1)
        except OSError:  # the idle timeout passed, or the client reset the connection
            begun = b""
        finally:
            self.server.idle(self.connection, False)
        if not begun:
            self.close_connection = True
            return
        self.reader.deadline = time.monotonic() + self.server.request_timeout
        super().handle_one_request()

    @classmethod
    def busy_body(cls, limit: int) -> bytes:
        """The body of the 503 a connection past the server's limit gets."""
        text = f"the server has {limit} connections open, its limit: try again in a moment"
        return json.dumps({"error": text}).encode()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer carries headers only
            self.wfile.write(payload)

    def _not_allowed(self) -> None:
        self.send_json(405, {"error": f"method {self.command} not allowed"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed


class _Server(ThreadingHTTPServer):
    """Tracks open connections and their threads, so stop() can close keep-alive clients
    and wait for a request still running; a client that hangs up is not an error.

    At most max_connections are open (one thread each): a newcomer past that closes the
    connection idle longest, or, when every one is busy with a request, gets 503.
    """

    daemon_threads = True
    request_queue_size = 128  # the default 5 times out under 64 concurrent clients
    idle_timeout = IDLE_TIMEOUT
    request_timeout = REQUEST_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        self.waiting: dict[socket.socket, None] = {}  # idle connections, longest idle first
        self.closing: set[socket.socket] = set()  # closed to make room, their threads ending
        self.refused: deque[tuple[float, socket.socket]] = deque()
        self.workers: set[threading.Thread] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def idle(self, connection: socket.socket, waiting: bool) -> None:
        """While a connection waits for its next request, it may be closed for a newcomer.
        (Two calls rather than a context manager: this runs twice a request.)"""
        with self.connections_lock:
            if waiting:
                self.waiting[connection] = None
            else:
                self.waiting.pop(connection, None)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            live = len(self.connections) - len(self.closing)
            full = live >= self.max_connections and not self._make_room()
            if not full:
                self.connections.add(request)
        if full:
            self.refuse(request)
        else:
            super().process_request(request, client_address)

    def _make_room(self) -> bool:
        """Close the connection idle longest; False if none is idle. One whose next request
        has begun to arrive (its bytes wait in the socket) is not idle."""
        poller = select.poll()
        for connection in self.waiting:
            poller.register(connection, select.POLLIN)
        arriving = {fd for fd, _ in poller.poll(0)}
        for connection in self.waiting:
            if connection.fileno() not in arriving:
                del self.waiting[connection]
                self.closing.add(connection)
                # Its thread's wait ends (no more to read) and it closes; were a request
                # read meanwhile, it would still get its answer: only reading is shut.
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
                return True
        return False

    def refuse(self, request: socket.socket) -> None:
        """503 at once from the accepting thread, without reading; closed a second later.

        Closing at once, with the client's request unread, would reset the connection,
        and a reset can destroy the 503 before the client reads it.
        """
        body = self.RequestHandlerClass.busy_body(self.max_connections)  # type: ignore[attr-defined]
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.setblocking(False)
            request.send(head.encode() + body)  # a few hundred bytes: an empty buffer takes them
            request.shutdown(socket.SHUT_WR)
        self.refused.append((time.monotonic() + 1, request))

    def service_actions(self) -> None:
        """Called by serve_forever between requests: close refused connections a second on."""
        while self.refused and (
            self.refused[0][0] < time.monotonic() or len(self.refused) > self.max_connections
        ):
            self.refused.popleft()[1].close()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        worker = threading.current_thread()
        with self.connections_lock:
            self.workers.add(worker)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.workers.discard(worker)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up; report real errors (stderr) as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def join_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.connections_lock:
            running_now = list(self.workers)
        for worker in running_now:
            worker.join(max(0.0, deadline - time.monotonic()))

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
            self.closing.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        while self.refused:
            self.refused.popleft()[1].close()


def bind(
    handler: type[BaseHTTPRequestHandler],
    port: int,
    host: str = "127.0.0.1",
    fallback: bool = True,
    label: str = "server",
) -> ThreadingHTTPServer:
    """Bind an HTTP server; if `port` is taken and fallback is on, use a free port and say so."""
    try:
        return _Server((host, port), handler)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        if not fallback or port == 0:
            raise PortInUse(
                errno.EADDRINUSE,
                _(
                    "Port {port} on {host} is in use by another program. Stop that program "
                    "(`lsof -i :{port}` shows it) or choose another port; port 0 picks a free one."
                ).format(port=port, host=host),
            ) from None
    server = _Server((host, 0), handler)
    print(
        _("Port {port} is in use by another program: {label} is on port {free}.").format(
            port=port, label=label, free=server.server_port
        )
    )
    return server


class HTTPService(Worker):
    """An HTTP server running in a daemon thread, with a stop that really stops it.

    stop() stops accepting, drops open keep-alive connections, frees the port, and
    waits up to `join_timeout` s for requests still running, so that nothing of the
    service runs after.
    """

    def __init__(
        self,
        name: str,
        handler: type[BaseHTTPRequestHandler],
        port: int = 0,
        host: str = "127.0.0.1",
        fallback: bool = True,
    ) -> None:
        super().__init__(name)
        self.server = bind(handler, port, host, fallback, label=name)
        self.host, self.port = self.server.server_address[:2]
        self.thread.name = f"{name} (HTTP on {self.port})"
        self.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.05)

    def interrupt(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()

    def close(self) -> None:
        self.server.join_workers(self.join_timeout)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{self.name} {state} at {self.url}>"
