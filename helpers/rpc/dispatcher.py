"""A spec-correct JSON-RPC 2.0 dispatcher: the one file that reaches into jsonrpcserver.

jsonrpcserver 5.0.9 gets batches wrong on its own (one bad element turns the whole batch
into a single error; `[1]` must get `[error]`), raises instead of answering -32603 when a
result cannot be encoded, and validates with jsonschema at ~55 us a request. `dispatch`
here parses the body once, checks every element against the library's own request schema
compiled by fastjsonschema, hands each valid element to jsonrpcserver, and encodes each
reply on its own. The library's pipeline is entered below its public `dispatch`, so its
internals (`dispatch_request`, `call`, its sentinels and result types) are used here and
nowhere else: a new jsonrpcserver is checked against this file alone.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema

with warnings.catch_warnings():
    # jsonrpcserver's import raises a DeprecationWarning on 3.11+ (importlib.resources
    # .read_text); in a notebook that shows as a red stderr box.
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonrpcserver.dispatcher import call, create_request, dispatch_request, to_response
    from jsonrpcserver.main import schema as _library_schema
    from jsonrpcserver.request import Request
    from jsonrpcserver.response import to_serializable_one
    from jsonrpcserver.result import InvalidParamsResult, Left, Result, Right  # oslash's, via it
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


# Each method's signature and arity, worked out once by `prepared`. Kept here, keyed by
# the function, rather than on it: the learner's function object stays exactly as written,
# and an entry goes when its function does (an edited method is a new function).
_signatures: weakref.WeakKeyDictionary[Callable[..., Any], tuple[inspect.Signature, int]] = (
    weakref.WeakKeyDictionary()
)


def prepared(methods: Methods) -> dict[str, Callable[..., Any]]:
    """Check `methods` is a dict of functions, and work out each one's signature once.

    jsonrpcserver checks params against `inspect.signature(method)`, which it rebuilds on
    every call; `_result` binds against the signature found here instead. A callable that
    Python cannot inspect, or that takes no weak reference, is left to the library.
    """
    if not isinstance(methods, Mapping) or not all(callable(f) for f in methods.values()):
        raise TypeError("methods must be a dict of name -> function, e.g. {'add': add}")
    for function in methods.values():
        try:
            signature = inspect.signature(function)
            _signatures[function] = (signature, _arity(signature))
        except (TypeError, ValueError):
            continue
    return dict(methods)


def _arity(signature: inspect.Signature) -> int:
    """How many positional params always bind to `signature`; -1 when no count is sure to.

    With positional parameters only (no *args, **kwargs or keyword-only), a list of exactly
    that many params binds whatever the defaults.
    """
    positional = {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}
    if all(parameter.kind in positional for parameter in signature.parameters.values()):
        return len(signature.parameters)
    return -1


def _result(methods: Methods, request: Request) -> Result:
    """jsonrpcserver's `dispatch_request`, with the signature of a prepared method cached.

    The library's params check (`validate_args`: `inspect.signature`, then `bind`) is most
    of its time for a call. For a prepared method it is made here on the cached signature,
    with the library's own error for params that do not bind (-32602, `bind`'s message);
    a list exactly as long as the method's arity is not checked at all, as it always
    binds. Then the library's `call` runs the method and turns what it raises into -32603.
    A method not found (-32601) or never prepared takes the library's whole path.
    """
    method = methods.get(request.method)
    try:
        signature, arity = _signatures[method]
    except (KeyError, TypeError):  # not found, not prepared, or takes no weak reference
        return dispatch_request(methods, NOCONTEXT, request)[1]
    params = request.params
    if not (isinstance(params, list) and len(params) == arity):
        try:
            if isinstance(params, list):
                signature.bind(*params)
            else:
                signature.bind(**params)
        except TypeError as problem:
            return Left(InvalidParamsResult(str(problem)))
    return call(request, NOCONTEXT, method)


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
