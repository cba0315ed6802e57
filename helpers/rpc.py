"""JSON-RPC 2.0 plumbing for notebook 03: a spec-correct dispatcher, an HTTP server in a
background thread, a keep-alive client, and a worker that serves the same messages over Redis.

The methods themselves (`add`, `subtract`, ...) are the lesson and stay in the notebook;
they are plain functions returning jsonrpcserver's `Success` / `Error`, passed in as an
explicit dict so several servers can live in one kernel.

jsonrpcserver 5.0.9 gets batches wrong on its own (one bad element turns the whole batch
into a single error; `[1]` must get `[error]`), raises instead of answering -32603 when a
result cannot be encoded, and validates with jsonschema at ~55 us a request. `dispatch`
here parses the body once, checks every element against the library's own request schema
compiled by fastjsonschema, hands each valid element to jsonrpcserver, and encodes each
reply on its own.

Public API (used by the notebook, the tests and the benchmark):

    server = start(methods, port=0, name="json-rpc")   # .url .port .stop(); re-run replaces
    with Client(server.url) as client: client.send(request("add", params=(3, 4)))
    worker = serve_redis(methods, redis_url, queue="rpc:requests")   # .stop()
    dispatch(body, methods) -> str                      # "" when nothing is to be sent back

Run as a process: `python -m helpers.rpc --port 3000` serves `helpers.rpc_methods`.
"""

from __future__ import annotations

import contextlib
import http.client
import inspect
import json
import logging
import math
import os
import select
import socket
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import fastjsonschema
import redis
from oslash.either import Right  # jsonrpcserver's result type

from helpers import background, http_service

with warnings.catch_warnings():
    # jsonrpcserver's import raises a DeprecationWarning on 3.11+ (importlib.resources
    # .read_text); in a notebook that shows as a red stderr box.
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonrpcserver.dispatcher import call, create_request, dispatch_request, to_response
    from jsonrpcserver.main import schema as _library_schema
    from jsonrpcserver.request import Request
    from jsonrpcserver.response import to_serializable_one
    from jsonrpcserver.result import Result
    from jsonrpcserver.sentinels import NOCONTEXT, NOID

# jsonrpcserver logs every exception a method raises; with no logging configured Python
# prints that to stderr. The error already travels back to the caller as -32603.
_library_log = logging.getLogger("jsonrpcserver")
_library_log.addHandler(logging.NullHandler())
_library_log.propagate = False

Methods = Mapping[str, Callable[..., Any]]

MAX_BODY_BYTES = 1_000_000  # bigger bodies are refused before they are read
MAX_BATCH = 1_000  # requests in one batch
BATCH_SECONDS = 10.0  # a batch's calls must start within this; later ones get -32000, unrun

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000

# The library's own schema for one request (jsonrpc "2.0", method a string, params an
# array or object, id a string, number or null, nothing else), compiled to Python code.
_request_schema = {
    "$schema": _library_schema["$schema"],
    **_library_schema["definitions"]["request"],
}
_validate_request = fastjsonschema.compile(_request_schema)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON value")


def _finite(number: str) -> float:
    value = float(number)
    if math.isinf(value):
        raise ValueError(f"the number {number[:40]} is out of range")
    return value


# Python's json takes NaN, Infinity and 1e999, which are not JSON: refuse them on the way
# in (rather than fail to encode an id later) and on the way out. One decoder and one
# encoder for all calls: json.loads/dumps with options build a new one every time.
_decode = json.JSONDecoder(parse_constant=_not_json, parse_float=_finite).decode
_encode_strict = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


def _error(code: int, message: str, data: Any = None, id: Any = None) -> dict[str, Any]:  # noqa: A002
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": id}


def error_reply(code: int, message: str, data: Any = None) -> str:
    """A JSON-RPC error response with id null, for failures found before any request is read."""
    return _encode_strict(_error(code, message, data))


def prepared(methods: Methods) -> dict[str, Callable[..., Any]]:
    """Check `methods` is a dict of functions, and cache each one's signature on it.

    jsonrpcserver checks params against `inspect.signature(method)`, which rebuilds the
    signature on every call unless `__signature__` is set. `_rpc_arity` (see `_result`)
    lets the commonest call skip that check where it cannot fail.
    """
    if not isinstance(methods, Mapping) or not all(callable(f) for f in methods.values()):
        raise TypeError("methods must be a dict of name -> function, e.g. {'add': add}")
    for function in methods.values():
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            function.__signature__ = signature = inspect.signature(function)
            function._rpc_arity = _arity(signature)
    return dict(methods)


def _arity(signature: inspect.Signature) -> int:
    """How many positional params always bind to `signature`; -1 leaves every check to the library.

    With positional parameters only (no *args, **kwargs or keyword-only), a list of exactly
    that many params binds whatever the defaults; anything else is left to the library.
    """
    positional = {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}
    if all(parameter.kind in positional for parameter in signature.parameters.values()):
        return len(signature.parameters)
    return -1


def _result(methods: Methods, request: Request) -> Result:
    """jsonrpcserver's `dispatch_request`, minus its params check when that cannot fail.

    The check (`validate_args`: `Signature.bind`, ~2.5 us) is half of the library's time
    for a call. A list of params exactly as long as a prepared method's `_rpc_arity` always
    binds, so it goes straight to the library's `call` (which runs the method and turns
    what it raises into -32603); every other request takes the library's full path,
    which answers -32601 and -32602 with the library's own messages.
    """
    method = methods.get(request.method)
    params = request.params
    if isinstance(params, list) and len(params) == getattr(method, "_rpc_arity", -1):
        return call(request, NOCONTEXT, method)
    return dispatch_request(methods, NOCONTEXT, request)[1]


def _one(request: Any, methods: Methods, deadline: float = math.inf) -> dict[str, Any] | None:
    """Validate and run one request object; None for a notification.

    A request still waiting at `deadline` (its batch's calls took too long) is not run.

    After validation this is jsonrpcserver's own per-request pipeline (find the method,
    bind the params to its signature, call it, catch what it raises), entered below
    `dispatch_to_response`, whose parse, whole-message validation and batch handling
    are replaced here. A success becomes the dict `to_response` and
    `to_serializable_one` would make of it, built directly (they take ~0.8 us).
    """
    try:
        _validate_request(request)
    except fastjsonschema.JsonSchemaException as problem:
        data = problem.message.replace("data", "request", 1)  # "request.method must be string"
        return _error(INVALID_REQUEST, "Invalid Request", data)
    if time.monotonic() > deadline:
        if "id" not in request:
            return None  # a notification gets no answer, run or not
        data = f"not run: this batch's calls took over {BATCH_SECONDS} s; send fewer at once"
        return _error(SERVER_ERROR, "Server error", data, request["id"])
    try:
        parsed = create_request(request)
        result = _result(methods, parsed)
    except Exception as problem:  # noqa: BLE001 (the library's own catch-all, kept: -32000)
        data = f"{type(problem).__name__}: {problem}"
        return _error(SERVER_ERROR, "Server error", data, request.get("id"))
    if parsed.id is NOID:
        return None
    if isinstance(result, Right):
        return {"jsonrpc": "2.0", "result": result._value.result, "id": parsed.id}
    return to_serializable_one(to_response(parsed, result))


def _encode(response: dict[str, Any]) -> str:
    """Encode one response; a result JSON cannot represent becomes -32603 for that id."""
    try:
        return _encode_strict(response)
    except (TypeError, ValueError, OverflowError, RecursionError) as problem:
        data = f"the method's result cannot be sent as JSON: {problem}"
        return _encode_strict(_error(INTERNAL_ERROR, "Internal error", data, response.get("id")))


def dispatch(body: str | bytes, methods: Methods) -> str:
    """Answer one JSON-RPC 2.0 message exactly as the spec's examples do.

    Returns the response text, or "" when nothing must be sent back (a notification,
    or a batch of notifications). Never raises for anything a client can send.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as problem:
            return error_reply(PARSE_ERROR, "Parse error", f"the body is not UTF-8: {problem}")
    try:
        message = _decode(body)
    except RecursionError:
        return error_reply(PARSE_ERROR, "Parse error", "the JSON is nested too deeply")
    except ValueError as problem:
        return error_reply(PARSE_ERROR, "Parse error", str(problem))
    if not isinstance(message, list):
        response = _one(message, methods)
        return "" if response is None else _encode(response)
    if not message:
        return error_reply(INVALID_REQUEST, "Invalid Request", "a batch must not be empty")
    if len(message) > MAX_BATCH:
        data = f"a batch may hold at most {MAX_BATCH} requests; this one has {len(message)}"
        return error_reply(INVALID_REQUEST, "Invalid Request", data)
    deadline = time.monotonic() + BATCH_SECONDS
    answers = (_one(item, methods, deadline) for item in message)
    replies = [_encode(answer) for answer in answers if answer is not None]
    return f"[{','.join(replies)}]" if replies else ""


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
    """A JSON-RPC server in a daemon thread: `.url`, `.port`, `.methods`, `.stop()`."""

    def __init__(
        self,
        methods: Methods,
        port: int = 0,
        name: str = "json-rpc",
        host: str = "127.0.0.1",
        fallback: bool = True,
    ) -> None:
        self.methods = prepared(methods)
        handler = type("RPCHandler", (RPCHandler,), {"methods": self.methods})
        super().__init__(name, handler, port, host, fallback)


def start(
    methods: Methods,
    port: int = 0,
    name: str = "json-rpc",
    host: str = "127.0.0.1",
    fallback: bool = True,
) -> Server:
    """Serve `methods` on http://host:port/ in the background; starting a name again replaces it.

    Port 0 picks a free port. A taken port falls back to a free one (and says so) unless
    fallback=False, which raises `http_service.PortInUse` instead.
    """
    methods = prepared(methods)
    background.stop(name)
    server = Server(methods, port, name, host, fallback)
    background.register(name, server)
    return server


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


class RedisWorker:
    """Serves JSON-RPC messages that arrive on a Redis list instead of over HTTP.

    A client LPUSHes an envelope `{"reply_to": KEY, "body": JSON-RPC text}` onto `queue`;
    the worker BRPOPs it, dispatches the body exactly as the HTTP server would, and pushes
    the reply text onto KEY (which expires after `reply_ttl` s if nobody collects it).
    Several workers on one queue share the load. Notifications get no reply.
    """

    def __init__(
        self,
        methods: Methods,
        url: str,
        queue: str = "rpc:requests",
        name: str = "json-rpc over redis",
        reply_ttl: int = 60,
    ) -> None:
        self.methods, self.queue, self.name = prepared(methods), queue, name
        self.reply_ttl = reply_ttl
        self.client = redis.Redis.from_url(url, socket_timeout=None)
        try:
            self.client.ping()  # fail here, in the cell, if Redis is not reachable
        except redis.ConnectionError as problem:
            self.client.close()
            raise redis.ConnectionError(
                f"No Redis answered at {url} ({problem}). Pass the URL of a running server, "
                "e.g. redis_server.server().url"
            ) from None
        self.handled = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self.client.brpop([self.queue], timeout=0.1)
                if item is not None:
                    self._answer(item[1])
            except (redis.ConnectionError, redis.TimeoutError) as problem:
                self.errors.append(str(problem))  # Redis went away: wait, then retry
                self._stop.wait(0.1)

    def _answer(self, raw: bytes) -> None:
        try:
            envelope = json.loads(raw)
            reply_to, body = envelope["reply_to"], envelope["body"]
        except (ValueError, TypeError, KeyError):
            self.errors.append(f"dropped a message that is not an envelope: {raw[:80]!r}")
            return
        answer = dispatch(body, self.methods)
        self.handled += 1
        if answer and isinstance(reply_to, str):
            with self.client.pipeline() as pipe:
                pipe.lpush(reply_to, answer).expire(reply_to, self.reply_ttl).execute()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        """Stop taking requests, join the thread, close the connection."""
        self._stop.set()
        self.thread.join(timeout=5)
        self.client.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RedisWorker {self.name!r} {state} on list {self.queue!r}, {self.handled} handled>"


def serve_redis(
    methods: Methods, url: str, queue: str = "rpc:requests", name: str = "json-rpc over redis"
) -> RedisWorker:
    """Start a RedisWorker under `name`, replacing an earlier one of that name."""
    methods = prepared(methods)
    background.stop(name)
    worker = RedisWorker(methods, url, queue, name)
    background.register(name, worker)
    return worker


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.rpc --port 3000`: the course's and the spec's methods as a process."""
    import argparse
    import signal

    from helpers import rpc_methods

    parser = argparse.ArgumentParser(prog="python -m helpers.rpc", description=main.__doc__)
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    args = parser.parse_args(argv)
    methods = {**rpc_methods.spec_methods(), **rpc_methods.course_methods()}
    try:
        server = Server(methods, args.port, "json-rpc", args.host, fallback=False)
    except OSError as problem:
        parser.exit(1, f"{problem}\n")
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    print(f"JSON-RPC 2.0 on {server.url}/ methods: {', '.join(sorted(methods))}", flush=True)
    done.wait()
    server.stop()
    rpc_methods.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
