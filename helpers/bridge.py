"""The kernel's end of the grader's bridge: JSON in, JSON out, nothing else.

While a submission is graded, the judge (helpers.judge, in the grader's own process)
asks the learner's kernel to look up a name or call a function, one request at a time,
as an execute request like `handle('{"op": "call", ...}', 'token')`. This module answers
with one printed line: the token, then JSON.

Values travel as JSON data of exact types: None, bool, int, float, str, and lists and
dicts of them (a tuple becomes a list; bytes become {"$bytes": base64}). Anything else
(a function, a client object, a str subclass that lies about equality) stays in the
kernel and travels as {"$ref": n, "type": name}: the judge can call it or read its
attributes, never compare it. Nothing here is trusted: the learner controls this kernel,
and may rewrite this module. The judge only ever believes data it checks itself.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from typing import Any

from helpers.checks.tools import CALL_TIMEOUT, call_in_thread

CALL_NAME = "grader bridge call"  # the thread's name: a call of the learner's code, timed
MAX_ITEMS = 100_000  # values in one answer; more is refused, not sent
PLAIN = (type(None), bool, int, float, str)

_objects: dict[int, Any] = {}
_ids: dict[int, int] = {}


def _ref(value: Any) -> dict:
    key = _ids.get(id(value))
    if key is None or _objects.get(key) is not value:
        key = len(_objects) + 1
        _objects[key], _ids[id(value)] = value, key
    return {"$ref": key, "type": type(value).__name__[:80], "callable": callable(value)}


def encode(value: Any, budget: list[int] | None = None) -> Any:
    """`value` as JSON data of exact types; anything else as a reference."""
    budget = budget if budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"the value is too large to check (more than {MAX_ITEMS} items)")
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode()}
    if kind in (list, tuple):
        return [encode(item, budget) for item in value]
    if kind is dict and all(type(key) is str for key in value):
        return {key: encode(item, budget) for key, item in value.items()}
    return _ref(value)


def decode(value: Any) -> Any:
    """The inverse of encode for what the judge sends: data, bytes and references."""
    if type(value) is list:
        return [decode(item) for item in value]
    if type(value) is dict:
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        if "$ref" in value:
            return _objects[value["$ref"]]
        return {key: decode(item) for key, item in value.items()}
    return value


def _namespace() -> dict:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


_MISSING = object()


def answer(request: dict) -> dict:
    """The reply to one request of the judge, values encoded."""
    op = request.get("op")
    if op == "get":
        reply = {"value": _namespace().get(request["name"], _MISSING)}
    elif op == "call":
        args, kwargs = decode(request.get("args", [])), decode(request.get("kwargs", {}))
        reply = call_in_thread(
            _objects[request["ref"]], args, kwargs, name=CALL_NAME, timeout=CALL_TIMEOUT
        )
    elif op == "attr":
        target = (_objects[request["ref"]], request["name"], _MISSING)
        reply = call_in_thread(getattr, target, {}, name=CALL_NAME, timeout=CALL_TIMEOUT)
    elif op == "serve":
        reply = _serve(decode(request["methods"]), request["relay"])
    elif op == "stop":
        from helpers import background

        reply = {"value": background.stop(request["name"])}
    else:
        return {"raised": {"type": "ValueError", "message": f"unknown request {op!r}"}}
    if reply.get("value") is _MISSING:
        return {"missing": True}
    if "value" in reply:
        reply["value"] = encode(reply["value"])
    return reply


def handle(text: str, token: str) -> None:
    """Answer the request `text` with one line: `token` then the JSON reply."""
    try:
        reply = answer(json.loads(text))
    except Exception as error:  # noqa: BLE001 - the judge reads it as a failure
        reply = {"raised": {"type": type(error).__name__, "message": str(error)[:2000]}}
    print(token + json.dumps(reply), flush=True)


# --- the JSON-RPC relay: the grader reaches a learner's server from outside ----------------

_relays: dict[str, socket.socket] = {}


def _serve(methods: Any, relay: str) -> dict:
    """Start the learner's `methods` on a server of the pack's own; a relay to reach it.

    The kernel has no network the grader can reach (it is in a namespace of its own),
    so the grader connects to a Unix socket in the kernel's connection folder; the relay
    copies the bytes to the server's TCP port inside.
    """
    from helpers import rpc

    name = f"grader-{len(_objects)}-{threading.get_ident()}"
    server = rpc.start(methods, name=name)
    if relay not in _relays:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(relay)
        listener.listen(16)
        _relays[relay] = listener
        threading.Thread(target=_accept, args=(listener,), daemon=True).start()
    return {"value": {"port": server.port, "name": name}}


def _accept(listener: socket.socket) -> None:
    while True:
        outside, _ = listener.accept()
        threading.Thread(target=_connect, args=(outside,), daemon=True).start()


def _connect(outside: socket.socket) -> None:
    """First line from the grader: the port; then bytes both ways until either side closes."""
    with outside:
        head = b""
        while not head.endswith(b"\n") and len(head) < 16:
            chunk = outside.recv(1)
            if not chunk:
                return
            head += chunk
        with socket.create_connection(("127.0.0.1", int(head)), timeout=CALL_TIMEOUT) as inside:
            threading.Thread(target=_pump, args=(inside, outside), daemon=True).start()
            _pump(outside, inside)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        return
