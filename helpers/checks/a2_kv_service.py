"""The checks of assignment 2, a JSON-RPC key-value service: one definition for check() and judge.

The learner's `methods` are served on a server of the check's own and called over
JSON-RPC by the check's own client: from outside the kernel when the grader judges
(helpers.remote). What the service stored is read from Redis with the check's own
connection. Keys, values and steps are drawn afresh each run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from helpers.checks.core import Answers, Mismatch, expect, fresh_name, question
from helpers.checks.tools import random_text, rng, same, show
from helpers.language import _

KV = "a2_kv_service"
# Application errors: codes outside -32768..-32000, which JSON-RPC 2.0 reserves (notebook 03).
KEY_NOT_FOUND = 1001
NOT_AN_INTEGER = 1002
INVALID_PARAMS = -32602
METHODS = {"set", "get", "delete", "incr"}
_ids = itertools.count(1)


def request(method: str, *params: Any) -> dict:
    return {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(_ids)}


class _KVService:
    """The learner's `methods`, served by a server of the check's own for one check."""

    def __init__(self, answers: Answers) -> None:
        methods = answers.get("methods", _("the methods cell"))
        expect(
            type(methods) is dict and set(methods) >= METHODS,
            _("methods: a dict with the keys 'set', 'get', 'delete' and 'incr'"),
            _("methods has {keys}").format(
                keys=sorted(methods) if type(methods) is dict else show(methods)
            ),
            'methods = {"set": kv_set, "get": kv_get, "delete": kv_delete, "incr": kv_incr}',
        )
        self.answers, self.methods = answers, methods
        self.service = answers.serve(methods)
        self.prefix = fresh_name("k")

    def key(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def stored(self, key: str) -> Any:
        """What Redis holds under key_for(key), read with the check's own connection."""
        return self.answers.redis.get(self.answers.channel(f"kv:{key}"))

    def send(self, payload: Any, label: str) -> Any:
        try:
            return self.service.send(payload)
        except (OSError, ValueError) as error:
            raise Mismatch(
                _("{label} to be answered").format(label=label),
                _("the server gave no JSON-RPC answer ({kind}: {error})").format(
                    kind=type(error).__name__, error=error
                ),
                _("Each method returns Success(...), Error(...) or InvalidParams(...) quickly."),
            ) from None

    def call(self, method: str, *params: Any) -> dict:
        label = _("{call} over JSON-RPC").format(call=f"{method}({', '.join(map(repr, params))})")
        reply = self.send(request(method, *params), label)
        expect(
            type(reply) is dict and ("result" in reply or "error" in reply),
            _("a JSON-RPC response to {label}").format(label=label),
            show(reply),
            _("Each method returns Success(...), Error(...) or InvalidParams(...)."),
        )
        error = reply.get("error")
        if type(error) is dict and same(error.get("code"), -32603):
            # The server hides the exception; calling the method here names it.
            self.answers.call(f"{method}{params!r}", self.methods[method], *params)
            raise Mismatch(
                _("{label} to answer").format(label=label),
                _("the method raised inside the server: {data}").format(
                    data=show(error.get("data"))
                ),
                _(
                    "An exception in a method becomes -32603 Internal error. Call the function "
                    "directly in a cell to see the traceback."
                ),
            )
        return reply

    def expect_result(self, reply: dict, want: Any, label: str, hint: str) -> None:
        expect(
            same(reply.get("result"), want) and "error" not in reply,
            f"{label} -> result {want!r}",
            _("the reply was {reply}").format(reply=show(reply)),
            hint,
        )

    def expect_error(self, reply: dict, code: int, label: str, hint: str) -> None:
        error = reply.get("error")
        expect(
            type(error) is dict and same(error.get("code"), code),
            _("{label} -> an error with code {code}").format(label=label, code=code),
            _("the reply was {reply}").format(reply=show(reply)),
            hint,
        )

    def close(self) -> None:
        self.service.close()


def _kv(answers: Answers, run: Callable[[_KVService], None]) -> None:
    service = _KVService(answers)
    try:
        run(service)
    finally:
        service.close()


@question(KV, "q1")
def _kv_set_get(answers: Answers) -> None:
    def run(kv: _KVService) -> None:
        for name, value in [("colour", "blue"), (random_text(6), random_text())]:
            key = kv.key(name)
            label = f"set({key!r}, {value!r})"
            kv.expect_result(kv.call("set", key, value), True, label, _("Return Success(True)."))
            stored = kv.stored(key)
            expect(
                same(stored, value),
                _("Redis to hold {value!r} under key_for({key!r})").format(value=value, key=key),
                _("Redis has {stored} there").format(stored=show(stored)),
                _("Store with r.set(key_for(key), value): the service is backed by Redis."),
            )
            kv.expect_result(
                kv.call("get", key), value, f"get({key!r})", _("Return Success(value).")
            )
        missing = kv.key("never-set")
        reply = kv.call("get", missing)
        kv.expect_error(
            reply,
            KEY_NOT_FOUND,
            _("get({key!r}) of a key never set").format(key=missing),
            _(
                "r.get() returns None for a missing key: answer "
                'Error(KEY_NOT_FOUND, "Key not found", {"key": key}).'
            ),
        )
        data = reply["error"].get("data")
        expect(
            type(data) is dict and same(data.get("key"), missing),
            _('the error\'s data to name the key: {{"key": {key!r}}}').format(key=missing),
            _("data was {data}").format(data=show(data)),
            _("A good error says what went wrong with what: put the key in `data`."),
        )

    _kv(answers, run)


@question(KV, "q2")
def _kv_delete_incr(answers: Answers) -> None:
    def run(kv: _KVService) -> None:
        key, counter, word = kv.key("gone"), kv.key("visits"), kv.key("word")
        kv.call("set", key, "x")
        kv.expect_result(kv.call("delete", key), 1, f"delete({key!r})", _("Return r.delete(...)."))
        kv.expect_result(
            kv.call("delete", key),
            0,
            _("delete({key!r}) again").format(key=key),
            _("Deleting nothing deletes 0 keys."),
        )
        kv.expect_error(
            kv.call("get", key),
            KEY_NOT_FOUND,
            _("get({key!r}) after delete").format(key=key),
            _("It is gone."),
        )
        hint = _("INCRBY starts a missing key at 0; return Success(the new value).")
        step = rng.randint(2, 99)
        kv.expect_result(kv.call("incr", counter), 1, f"incr({counter!r})", hint)
        kv.expect_result(
            kv.call("incr", counter, step), 1 + step, f"incr({counter!r}, {step})", hint
        )
        stored = kv.stored(counter)
        expect(
            same(stored, str(1 + step)),
            _("Redis to hold {value!r} under key_for({key!r})").format(
                value=str(1 + step), key=counter
            ),
            _("Redis has {stored} there").format(stored=show(stored)),
            _("Count in Redis with r.incrby(key_for(key), by)."),
        )
        kv.call("set", word, "hello")
        kv.expect_error(
            kv.call("incr", word),
            NOT_AN_INTEGER,
            _("incr({key!r}) of a key holding 'hello'").format(key=word),
            _(
                "Redis raises redis.ResponseError; catch it and answer "
                'Error(NOT_AN_INTEGER, "Value is not an integer", {"key": key}).'
            ),
        )

    _kv(answers, run)


@question(KV, "q3")
def _kv_types(answers: Answers) -> None:
    def run(kv: _KVService) -> None:
        key = kv.key("typed")
        hint = _("Check isinstance(...) first and return InvalidParams('...') for a wrong type.")
        for method, params in [
            ("set", (1, "one")),
            ("set", (key, ["a", "list"])),
            ("set", (key, 5)),
            ("get", (None,)),
            ("delete", ({"a": 1},)),
            ("incr", (key, "5")),
            ("incr", (key, 1.5)),
            ("set", (key,)),
        ]:
            label = f"{method}({', '.join(map(repr, params))})"
            kv.expect_error(kv.call(method, *params), INVALID_PARAMS, label, hint)
        expect(
            kv.stored(key) is None,
            _("nothing stored under key_for({key!r}) by calls that were refused").format(key=key),
            _("a value was stored"),
            _("Refuse before writing to Redis."),
        )

    _kv(answers, run)


@question(KV, "q4")
def _kv_batch(answers: Answers) -> None:
    batch = answers.get("batch", _("question 4"))
    replies = answers.get("batch_replies", _("question 4"))
    items = batch if type(batch) is list else []
    ids = [item.get("id") for item in items if type(item) is dict and "id" in item]
    expect(
        type(batch) is list and len(ids) >= 3,
        _("batch: a list of at least 3 requests (with ids), sent in one call"),
        _("batch is {value}").format(value=show(batch)),
        _("Build it with [request(...), request(...), ...] and send it with client.send(batch)."),
    )
    answered = [x.get("id") for x in replies if type(x) is dict] if type(replies) is list else []
    expect(
        type(replies) is list and sorted(map(str, ids)) == sorted(map(str, answered)),
        _(
            "batch_replies: one reply per request with an id ({count}), none for notifications"
        ).format(count=len(ids)),
        _("batch_replies is {value}").format(value=show(replies)),
        _("batch_replies = client.send(batch), after the server is started."),
    )
    kinds = {"error" if "error" in x else "result" for x in replies if type(x) is dict}
    expect(
        kinds == {"error", "result"},
        _("a mixed batch: at least one request that succeeds and one that fails"),
        _("only {kinds} replies").format(kinds=", ".join(sorted(kinds))),
        _("Add a get() of a key you never set: its error comes back beside the results."),
    )

    def run(kv: _KVService) -> None:
        key, start = kv.key("batched"), rng.randint(10, 99)
        sent = [
            request("set", key, str(start)),
            request("incr", key),
            request("get", key),
            request("get", kv.key("missing")),
            request("incr", key, "x"),
        ]
        got = kv.send(sent, _("a batch of 5 requests"))
        by_id = {r.get("id"): r for r in got if type(r) is dict} if type(got) is list else {}
        want = [("result", True), ("result", start + 1), ("result", str(start + 1))]
        want += [("error", KEY_NOT_FOUND), ("error", INVALID_PARAMS)]
        for request_sent, (kind, value) in zip(sent, want, strict=True):
            reply = by_id.get(request_sent["id"], {})
            found = reply.get(kind)
            if kind == "error":
                found = found.get("code") if type(found) is dict else None
            expect(
                same(found, value),
                _("{call} in a batch -> {kind} {value!r}").format(
                    call=f"{request_sent['method']}{tuple(request_sent['params'])}",
                    kind=kind,
                    value=value,
                ),
                _("the reply was {reply}").format(reply=show(reply)),
                _("Each element of a batch is answered on its own, in order."),
            )

    _kv(answers, run)
