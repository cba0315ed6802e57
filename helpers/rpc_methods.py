"""The methods `python -m helpers.rpc` serves: the course's and the JSON-RPC 2.0 spec's.

Notebook 03 defines the course's methods itself, in a cell the learner reads; this
module is the same set for the server run as a process, plus the methods the
specification's examples call (`sum`, `get_data`, `update`, ...), so that every example
in the spec can be sent to it and gets the spec's answer.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import redis

from helpers import redis_server

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonrpcserver import Error, InvalidParams, Result, Success

_redis: redis.Redis | None = None


def add(a: float, b: float) -> Result:
    """The original lab's method: add(3, 4) -> 7."""
    return Success(a + b)


def subtract(minuend: float, subtrahend: float) -> Result:
    """Positional ([42, 23]) or named ({"minuend": 42, "subtrahend": 23}) params."""
    return Success(minuend - subtrahend)


def echo(value: Any) -> Result:
    return Success(value)


def divide(dividend: float, divisor: float) -> Result:
    """Fails on purpose with an application-defined error (code 1001) when divisor is 0."""
    if divisor == 0:
        return Error(1001, "Division by zero", {"dividend": dividend})
    return Success(dividend / divisor)


def sleep(seconds: float) -> Result:
    """A slow method, to run into a client's timeout. At most 10 s."""
    if not 0 <= seconds <= 10:
        return InvalidParams("seconds must be between 0 and 10")
    time.sleep(seconds)
    return Success(seconds)


def publish(channel: str, message: str) -> Result:
    """PUBLISH to Redis (REDIS_URL, or this process's private server); result: receivers."""
    global _redis
    if _redis is None:
        _redis = redis_server.connect()
    return Success(_redis.publish(channel, message))


def sum_(*numbers: float) -> Result:
    return Success(sum(numbers))


def get_data() -> Result:
    return Success(["hello", 5])


def ignore(*_args: Any) -> Result:
    """`update`, `notify_hello`, `notify_sum`: the spec only ever sends them as notifications."""
    return Success(None)


def course_methods() -> dict[str, Any]:
    return {
        "add": add,
        "subtract": subtract,
        "echo": echo,
        "divide": divide,
        "sleep": sleep,
        "publish": publish,
    }


def spec_methods() -> dict[str, Any]:
    """What the JSON-RPC 2.0 spec's examples call; `foobar` and `foo.get` must stay missing."""
    return {
        "subtract": subtract,
        "sum": sum_,
        "get_data": get_data,
        "update": ignore,
        "notify_hello": ignore,
        "notify_sum": ignore,
    }


def close() -> None:
    """Close the Redis connection `publish` opened, if any."""
    global _redis
    if _redis is not None:
        _redis.close()
        _redis = None
