"""JSON-RPC over HTTP: the request handler, the server in a background thread, the client.

server = start(methods, port=0, name="json-rpc")   # .url .port .stop(); re-run replaces
with Client(server.url) as client: client.send(request("add", params=(3, 4)))
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import socket
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from helpers import background, http_service
from helpers.rpc.dispatcher import (
    INVALID_REQUEST,
    MAX_BODY_BYTES,
    SERVER_ERROR,
    Methods,
    dispatch,
    error_reply,
    prepared,
)


class _Date:
    """The HTTP Date header, formatted once a second rather than once a request."""

    second = -1
    text = ""

    @classmethod
    def now(cls) -> str:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.text = second, formatdate(second, usegmt=True)
        return cls.text


class RPCHandler(http_service.QuietJSONHandler):
    """POST / with Content-Type application/json, answered by `dispatch`.

    The request line and headers are parsed here in a few lines instead of through the
    email package, and the reply leaves in one write: together with the compiled schema
    that makes a call several times cheaper than http.server's defaults with jsonrpcserver's
    `dispatch`. `self.headers` is therefore a dict with lower-case names.
    """

    methods: Methods = {}

    def handle(self) -> None:
        # A client that vanishes mid-request is simply dropped, without a traceback.
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def parse_request(self) -> bool:
        words = self.raw_requestline.decode("latin-1").split()
        self.command, self.request_version = "", "HTTP/1.1"
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self.refuse(400, "not an HTTP/1.x request")
            return False
        self.command, self.path, self.request_version = words
        headers: dict[str, str] = {}
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon or len(line) > 65536 or len(headers) >= 100:
                self.refuse(431, "malformed or too many HTTP headers")
                return False
            headers[name.strip().lower()] = value.strip()
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        return True

    def reply(self, status: int, text: str, extra: str = "") -> None:
        """Status line, headers and body in one write (one TCP segment for small replies)."""
        body = text.encode()
        reason = self.responses.get(status, ("",))[0]
        head = (
            f"{self.protocol_version} {status} {reason}\r\n"
            f"Server: {self.server_version}\r\nDate: {_Date.now()}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}"
        )
        if body:
            head += "Content-Type: application/json\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        self._send(head.encode("latin-1") + b"\r\n" + body)

    def _send(self, data: bytes) -> None:
        """Write with one system call what the socket takes at once: all of a small reply.

        `wfile.write` is `socket.sendall`, which under the idle timeout polls for room before
        every send, a second system call per reply (~1 us). The timeout makes the socket
        non-blocking underneath, so `os.write` writes what fits now; sendall sends the rest.
        """
        try:
            sent = os.write(self.connection.fileno(), data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self.wfile.write(data[sent:])

    def refuse(self, status: int, data: str, extra: str = "") -> None:
        """An HTTP-level refusal, still with a JSON-RPC error body saying what to do.

        The connection closes after it: a body left unread must not be taken for the
        next request on the same connection.
        """
        self.close_connection = True
        self.reply(status, error_reply(INVALID_REQUEST, "Invalid Request", data), extra)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != "/":
            self.refuse(404, f"no endpoint at {self.path}: POST JSON-RPC requests to /")
            return
        media_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            self.refuse(415, "send the request with Content-Type: application/json")
            return
        length = self._length()
        if length is None:
            return
        if length > MAX_BODY_BYTES:
            self.refuse(413, f"the body is {length} bytes; the limit is {MAX_BODY_BYTES}")
            self._discard(length)
            return
        if self.headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True  # the client hung up mid-body: nobody to answer
            return
        answer = dispatch(body, self.methods)
        self.reply(200 if answer else 204, answer)

    def _length(self) -> int | None:
        """The body's length from Content-Length; None once a refusal has been sent.

        With Transfer-Encoding as well, two framings could disagree about where the body
        ends (request smuggling): RFC 9112 section 6.1 lets the server refuse and close.
        """
        text = self.headers.get("content-length")
        if "transfer-encoding" in self.headers:
            self.refuse(
                411 if text is None else 400,
                "send the body with Content-Length and no Transfer-Encoding "
                "(chunked bodies are not accepted)",
            )
            return None
        if text is None:
            self.refuse(411, "send a Content-Length header")
            return None
        length = http_service.whole_number(text, 18)
        if length is None:
            self.refuse(400, f"Content-Length {text[:40]!r} is not a number of bytes")
        return length

    @classmethod
    def busy_body(cls, limit: int) -> bytes:
        data = f"the server has {limit} connections open, its limit: try again in a moment"
        return error_reply(SERVER_ERROR, "Server busy", data).encode()

    def _discard(self, length: int) -> None:
        """Read and drop a refused body, a chunk at a time, so that a client still sending it
        gets to read the refusal instead of a connection reset. Gives up past 16x the limit."""
        if length > 16 * MAX_BODY_BYTES:
            return
        self.connection.settimeout(1.0)
        while length > 0 and (chunk := self.rfile.read1(min(length, 65536))):
            length -= len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (line too long, unknown verb) in the same JSON form."""
        self.refuse(code, message or self.responses.get(code, ("refused",))[0])

    def _not_allowed(self) -> None:
        self.refuse(
            405, f"{self.command} is not allowed: POST JSON-RPC requests to /", "Allow: POST\r\n"
        )

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed


class Server(http_service.HTTPService):
    """A JSON-RPC server in a daemon thread: `.url`, `.port`, `.methods`, `.stop()`.

    Port 0 picks a free port. A taken port falls back to a free one (and says so) unless
    fallback=False, which raises `http_service.PortInUse` instead.
    """

    def __init__(
        self,
        methods: Methods,
        *,
        port: int = 0,
        name: str = "json-rpc",
        host: str = "127.0.0.1",
        fallback: bool = True,
    ) -> None:
        self.methods = prepared(methods)
        handler = type("RPCHandler", (RPCHandler,), {"methods": self.methods})
        super().__init__(name, handler, port, host, fallback)


def start(methods: Methods, *, name: str = "json-rpc", **options: Any) -> Server:
    """Serve `methods` on http://host:port/ in the background; starting a name again replaces it.

    `options` are Server's: port (0, a free one), host ("127.0.0.1"), fallback (True).
    The methods are checked before the old server stops, so a mistake leaves it running.
    """
    methods = prepared(methods)
    return background.replace(name, lambda: Server(methods, name=name, **options))


def stop(name: str = "json-rpc") -> bool:
    """Stop the server (or Redis worker) started under `name`; False if none was running."""
    return background.stop(name)


def _readable(sock: socket.socket) -> bool:
    """Whether a read would not block; poll, as select() fails for descriptors past 1023."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class Client:
    """One keep-alive HTTP connection to a JSON-RPC server.

    jsonrpcclient builds requests and parses replies but has no transport; this is the
    transport. `send` takes what `jsonrpcclient.request()` returns and gives back what
    `jsonrpcclient.parse()` takes (None when the server sends no body).
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected a URL like http://127.0.0.1:3000, got {url!r}")
        self.url, self.timeout = url, timeout
        self.path = parts.path or "/"
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    def send_text(
        self, body: str | bytes, content_type: str = "application/json"
    ) -> tuple[int, str]:
        """POST raw text and return (HTTP status, response text): the wire, unparsed."""
        payload = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": content_type}
        idle = self.connection.sock
        if idle is not None and _readable(idle):
            # Readable before we asked anything: the server closed this connection while
            # it sat idle (past its idle timeout, or a restart). Nothing was sent: reconnect.
            self.connection.close()
        try:
            self.connection.request("POST", self.path, payload, headers)
            response = self.connection.getresponse()
            return response.status, response.read().decode()
        except BaseException:
            # After a timeout or a dropped connection the next reply on this socket could
            # belong to this request: start the next call on a fresh connection.
            self.connection.close()
            raise

    def send(self, message: Any) -> Any:
        """Send a request, notification or batch; return the decoded reply or None."""
        _status, text = self.send_text(json.dumps(message))
        return json.loads(text) if text else None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
