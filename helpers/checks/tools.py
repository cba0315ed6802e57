"""The checks' shared tools: plain data of exact types, inputs drawn per run, timed calls.

The same rules decide a question in two places: `check("q1")` in the learner's kernel
(instant feedback) and the grader's judge (helpers.judge), outside the kernel, talking
to it over helpers.bridge. In both, what the learner's code gives back becomes *plain data* first:
None, bool, int, float, str, bytes, and lists and dicts of them, of exactly those types.
A tuple becomes a list; a str subclass, or an object whose __eq__ always says True,
stays what it is (in the kernel) or a reference (in the judge), and is never `same` as
any data. Comparisons go through `same`, which checks types as well as values, so
`True` is not `1` and `1.0` is not `1`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from helpers.language import _

CALL_TIMEOUT = 5.0  # seconds a call into the learner's code may take, in the kernel and the judge
rng = random.SystemRandom()  # inputs drawn per run: not reproducible from a seed
PLAIN = (type(None), bool, int, float, str, bytes)
SHOW_LIMIT = 300


def plain(value: Any) -> Any:
    """`value` as plain data where it is plain data, as the bridge would send it; else itself."""
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind in (list, tuple):
        return [plain(item) for item in value]
    if kind is dict and all(type(key) is str for key in value):
        return {key: plain(item) for key, item in value.items()}
    return value


def is_plain(value: Any) -> bool:
    """True for plain data all the way down."""
    kind = type(value)
    if kind in PLAIN:
        return True
    if kind is list:
        return all(is_plain(item) for item in value)
    if kind is dict:
        return all(type(key) is str and is_plain(item) for key, item in value.items())
    return False


def same(got: Any, want: Any) -> bool:
    """Equal values of exactly the same types, all the way down; False for anything not plain."""
    if type(got) is not type(want) or not is_plain(want):
        return False
    if type(want) is list:
        return len(got) == len(want) and all(map(same, got, want))
    if type(want) is dict:
        return got.keys() == want.keys() and all(same(got[key], want[key]) for key in want)
    return got == want


def is_int(value: Any) -> bool:
    return type(value) is int


def is_number(value: Any) -> bool:
    return type(value) in (int, float)


def is_text(value: Any) -> bool:
    return type(value) is str


def show(value: Any, limit: int = SHOW_LIMIT) -> str:
    """A short description of `value` for feedback: its repr if plain, its type if not."""
    text = repr(value) if is_plain(value) else describe(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """What a value that is not plain data is, without running any of its code."""
    name = getattr(value, "remote_type", None) or type(value).__name__
    text = _("a {name} object (not plain data: a str, int, float, bool, list, dict or None)")
    return text.format(name=name)


def random_text(length: int = 12) -> str:
    """A text drawn for this run: quotes, colons, unicode, spaces at the ends, a line break.

    Hidden inputs are drawn per run, so an answer typed in for the inputs a learner saw
    fails: only code that handles any text passes.
    """
    pieces = ["a", "Z", "7", " ", ":", '"', "'", ",", "{", "}", "\\", "é", "ü", "🙂", "\n", "\t"]
    middle = "".join(rng.choice(pieces) for _ in range(length))
    return f" {middle} "


def random_message(length: int = 12) -> str:
    """A text drawn for this run, with no spaces at its ends: for the questions after the
    one that tests the edge cases, so a bug there costs that question only (as the visible
    and hidden tests of nbgrader score it)."""
    return f"<{random_text(length).strip()}>"


def random_word(length: int = 6) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(length))


def call_in_thread(
    function: Callable, args: tuple, kwargs: dict, *, name: str, timeout: float
) -> dict:
    """Call the learner's `function` in a thread of its own, so a hang cannot hold the caller.

    Returns {"value": what it returned}, {"raised": {"type", "message"}} (kept short: both
    travel as feedback or over the grader's bridge) or {"timeout": timeout} if it is still
    running; the thread is left to finish on its own (a daemon).
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - reported to the learner or the judge
            outcome["error"] = error

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return {"timeout": timeout}
    if "error" in outcome:
        error = outcome["error"]
        return {"raised": {"type": type(error).__name__[:80], "message": str(error)[:2000]}}
    return {"value": outcome.get("value")}


class Listener:
    """The checker's own subscriber, on a connection of its own: what really went through Redis."""

    def __init__(self, client: Any, channel: str) -> None:
        from helpers import pubsub

        self.pubsub = client.pubsub()
        self.pubsub.subscribe(channel)
        pubsub.wait_subscribed(self.pubsub, 1)

    def next(self, timeout: float = 3.0) -> Any:
        """The data of the next message, or None if none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.1)
            if message and message["type"] == "message":
                return message["data"]
        return None

    def close(self) -> None:
        self.pubsub.close()


class LearnerError(Exception):
    """The learner's code raised while the judge called it; `kind` is the exception's name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind, self.message = kind, message


class LocalService:
    """The learner's JSON-RPC `methods` on a server of the check's own, in this process."""

    def __init__(self, methods: dict, *, timeout: float = CALL_TIMEOUT) -> None:
        from helpers import rpc

        self.name = f"check-kv-{rng.getrandbits(32):08x}"
        self.server = rpc.start(methods, name=self.name)
        self.client = rpc.Client(self.server.url, timeout=timeout)

    def send(self, payload: Any) -> Any:
        return plain(self.client.send(payload))

    def close(self) -> None:
        from helpers import rpc

        self.client.close()
        rpc.stop(self.name)
