"""The learner's kernel as the grader's judge (helpers.judge) reaches it: a black box.

The kernel is reached over helpers.bridge: the judge asks
it for a name or to call a function with inputs the judge chose (drawn per run), and
gets JSON back, which it turns into plain data and compares with exact types. Effects
are checked where they happen: the grader's own connection to the submission's Redis,
and its own HTTP client, through a relay, to the learner's JSON-RPC server.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import socket
import time
from typing import Any

from helpers import bridge, checks, pubsub
from helpers.checks import Mismatch
from helpers.checks.tools import LearnerError
from helpers.grading.contract import BRIDGE_MODULE

MAX_REPLY = 8 * 2**20  # bytes of one bridge answer or one JSON-RPC reply
MARGIN = 5.0  # seconds on top of the bridge's own call timeout


class KernelLost(Exception):
    """The kernel stopped answering the judge (died or hung): the caller replays without it."""


class Kernel:
    """The judge's line to one learner kernel: one JSON request in, one JSON reply out.

    `execute(code, timeout)` runs code in the kernel without storing it in its history
    and returns what it printed; the grader provides it (nbclient underneath).
    """

    def __init__(self, execute: Any, deadline: float) -> None:
        self.execute, self.deadline = execute, deadline

    def ask(self, request: dict) -> dict:
        left = self.deadline - time.monotonic()
        if left <= 1:
            raise TimeoutError("the check ran out of time")
        token = secrets.token_hex(16)
        text = json.dumps(request)
        code = f"__import__({BRIDGE_MODULE!r}, fromlist=['handle']).handle({text!r}, {token!r})"
        printed = self.execute(code, min(bridge.CALL_TIMEOUT + MARGIN, left))
        for line in reversed(printed.splitlines()):
            if line.startswith(token) and len(line) < MAX_REPLY:
                try:
                    reply = json.loads(line[len(token) :])
                except (ValueError, RecursionError):
                    break
                if type(reply) is dict:
                    return reply
                break
        return {"raised": {"type": "NoAnswer", "message": "the kernel gave the grader no answer"}}

    def call(self, ref: int, args: tuple, kwargs: dict) -> dict:
        """Call the kernel's object `ref`; the reply with its value decoded."""
        request = {"op": "call", "ref": ref, "args": encode(list(args)), "kwargs": encode(kwargs)}
        return self.decoded(self.ask(request))

    def decoded(self, reply: dict) -> dict:
        if "value" in reply:
            return {"value": self.decode(reply["value"])}
        if "raised" in reply:
            raised = reply["raised"] if type(reply["raised"]) is dict else {}
            kind, message = raised.get("type"), raised.get("message")
            return {"raised": {"type": str(kind)[:80], "message": str(message)[:2000]}}
        if "timeout" in reply:
            return {"timeout": bridge.CALL_TIMEOUT}
        return {"raised": {"type": "NoAnswer", "message": "the kernel gave no usable answer"}}

    def decode(self, value: Any) -> Any:
        """JSON from the kernel as plain data; its references as Proxies."""
        if type(value) is list:
            return [self.decode(item) for item in value]
        if type(value) is dict:
            if set(value) == {"$bytes"} and type(value["$bytes"]) is str:
                return base64.b64decode(value["$bytes"])
            if type(value.get("$ref")) is int:
                return Proxy(self, value["$ref"], str(value.get("type"))[:80])
            return {key: self.decode(item) for key, item in value.items()}
        return value


def encode(value: Any) -> Any:
    """What the judge sends: plain data, bytes, and Proxies as references."""
    if isinstance(value, Proxy):
        return {"$ref": value.remote_ref}
    kind = type(value)
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode()}
    if kind in (list, tuple):
        return [encode(item) for item in value]
    if kind is dict:
        return {str(key): encode(item) for key, item in value.items()}
    if kind in (type(None), bool, int, float, str):
        return value
    raise TypeError(f"the judge cannot send a {kind.__name__} to the kernel")


class Proxy:
    """An object that stays in the learner's kernel: call it, read its attributes; that is all.

    It is never equal to any data (comparisons use helpers.checks.tools.same), and its methods
    run nothing of the learner's here.
    """

    def __init__(self, kernel: Kernel, ref: int, remote_type: str) -> None:
        self.remote_kernel, self.remote_ref, self.remote_type = kernel, ref, remote_type

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        outcome = self.remote_kernel.call(self.remote_ref, args, kwargs)
        if "timeout" in outcome:
            raise LearnerError(
                "TimeoutError", f"it did not return within {bridge.CALL_TIMEOUT:g} s"
            )
        if "raised" in outcome:
            raise LearnerError(outcome["raised"]["type"], outcome["raised"]["message"])
        return outcome["value"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name.startswith("remote_"):
            raise AttributeError(name)
        reply = self.remote_kernel.ask({"op": "attr", "ref": self.remote_ref, "name": name})
        if reply.get("missing"):
            raise AttributeError(f"{self.remote_type!r} object has no attribute {name!r}")
        outcome = self.remote_kernel.decoded(reply)
        if "value" not in outcome:
            raised = outcome.get("raised", {"type": "TimeoutError", "message": "no answer"})
            raise LearnerError(raised["type"], raised["message"])
        return outcome["value"]

    def __repr__(self) -> str:
        return f"<{self.remote_type} object in the learner's kernel>"

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other


class RemoteAnswers(checks.Answers):
    """checks.Answers for the judge: names and calls over the bridge, effects seen from here."""

    def __init__(self, kernel: Kernel, box: Any) -> None:
        super().__init__({})
        self.kernel, self.box = kernel, box

    def lookup(self, name: str) -> tuple[bool, Any]:
        reply = self.kernel.ask({"op": "get", "name": name})
        if reply.get("missing"):
            return False, None
        outcome = self.kernel.decoded(reply)
        if "value" not in outcome:
            raised = outcome.get("raised", {})
            raise Mismatch(
                f"`{name}` to be readable as data",
                f"reading it failed ({raised.get('type')}: {raised.get('message')})",
                "Keep answers to plain values: strings, numbers, lists and dicts.",
            )
        return True, outcome["value"]

    def invoke(self, function: Any, args: tuple, kwargs: dict) -> dict:
        if not isinstance(function, Proxy):
            return {"raised": {"type": "TypeError", "message": "this is not a function"}}
        return self.kernel.call(function.remote_ref, args, kwargs)

    @property
    def redis(self) -> Any:
        if self._redis is None:
            self._redis = self.box.client()
        return self._redis

    def channel(self, name: str) -> str:
        return pubsub.channel(name)  # the grader gives kernels no channel namespace

    def serve(self, methods: Any) -> RelayService:
        return RelayService(self.kernel, self.box, methods)


class _RelayConnection(http.client.HTTPConnection):
    """HTTP to 127.0.0.1:port inside the sandbox, through the relay's Unix socket."""

    def __init__(self, path: str, port: int, timeout: float) -> None:
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.relay = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(self.timeout)
        sock.connect(self.relay)
        sock.sendall(f"{self.port}\n".encode())
        self.sock = sock


class RelayService:
    """The learner's methods served in their kernel by the pack's server; called from here."""

    def __init__(self, kernel: Kernel, box: Any, methods: Any) -> None:
        self.kernel = kernel
        relay = str(box.run / "relay.sock")
        reply = kernel.decoded(
            kernel.ask({"op": "serve", "methods": encode(methods), "relay": relay})
        )
        value = reply.get("value")
        if type(value) is not dict or type(value.get("port")) is not int:
            raised = reply.get("raised", {})
            raise Mismatch(
                "your methods served over JSON-RPC by the check's own server",
                f"the server did not start ({raised.get('type')}: {raised.get('message')})",
                "methods must be a dict of plain functions, as in the methods cell.",
            )
        self.name = str(value.get("name"))
        self.connection = _RelayConnection(relay, value["port"], bridge.CALL_TIMEOUT)

    def send(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        try:
            self.connection.request("POST", "/", body, headers)
            response = self.connection.getresponse()
            data = response.read(MAX_REPLY + 1)
        except BaseException:
            self.connection.close()
            raise
        if len(data) > MAX_REPLY:
            self.connection.close()
            raise ValueError("the reply is larger than the grader reads")
        return json.loads(data) if data.strip() else None

    def close(self) -> None:
        self.connection.close()
        self.kernel.ask({"op": "stop", "name": self.name})
