"""The methods `python -m helpers.rpc` serves: the course's and the JSON-RPC 2.0 spec's.

The course's methods are the ones notebooks 03 and 04 define in their method cells, with
the same names and parameters (tests/test_rpc_methods.py reads those cells and checks):
the notebooks keep them in view because learners edit them; this module serves them from
a process, for the bench and the tests. Two differences, both hardening: `slow` refuses
to sleep more than 10 s, and the Redis connection is this process's own (REDIS_URL, else
a private server). The spec's methods (`sum`, `get_data`, `update`, ...) make every
example of the specification get the spec's answer.
"""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime
from typing import Any

import redis

from helpers import redis_server
from helpers.pubsub import channel

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonrpcserver import Error, InvalidParams, Result, Success

DIVISION_BY_ZERO = 1001  # an application error: outside -32768..-32000
NOTES = channel("rpc-notes")  # the list `remember` appends to, as in notebook 03
EVENTS = channel("rpc-events")  # the channel `slow` and `publish` publish on, as in 04
MAX_SLOW_SECONDS = 10

_redis: redis.Redis | None = None


def _connection() -> redis.Redis:
    """This process's Redis client, made on first use: most calls never need Redis."""
    global _redis
    if _redis is None:
        _redis = redis_server.connect()
    return _redis


def add(a: float, b: float) -> Result:
    """The original lab's method: add(3, 4) -> 7."""
    return Success(a + b)


def subtract(minuend: float, subtrahend: float) -> Result:
    """Positional ([42, 23]) or named ({"minuend": 42, "subtrahend": 23}) params."""
    return Success(minuend - subtrahend)


def echo(value: Any) -> Result:
    return Success(value)


def divide(dividend: float, divisor: float) -> Result:
    """-32602 for params that are not numbers; our own error 1001 when divisor is 0."""
    if not isinstance(dividend, int | float) or not isinstance(divisor, int | float):
        return InvalidParams("dividend and divisor must be numbers")
    if divisor == 0:
        return Error(DIVISION_BY_ZERO, "Division by zero", {"dividend": dividend})
    return Success(dividend / divisor)


def remember(text: str) -> Result:
    """Append `text` to the list NOTES; the result is the list's new length."""
    return Success(_connection().rpush(NOTES, text))


def slow(seconds: float, ticket: str) -> Result:
    """Sleep, then publish "slow TICKET finished" on EVENTS: to run into a client's timeout."""
    if not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_SLOW_SECONDS:
        return InvalidParams(f"seconds must be a number from 0 to {MAX_SLOW_SECONDS}")
    time.sleep(seconds)
    _connection().publish(EVENTS, f"slow {ticket} finished")
    return Success(f"slept {seconds} s")


def now() -> Result:
    """A mistake on purpose, as in notebook 04: JSON has no dates, so the reply is -32603."""
    return Success(datetime.now(UTC))


def publish(message: str) -> Result:
    """PUBLISH `message` on EVENTS; the result is how many subscribers it was queued for."""
    return Success(_connection().publish(EVENTS, message))


def sum_(*numbers: float) -> Result:
    return Success(sum(numbers))


def get_data() -> Result:
    return Success(["hello", 5])


def ignore(*_args: Any) -> Result:
    """`update`, `notify_hello`, `notify_sum`: the spec only ever sends them as notifications."""
    return Success(None)


COURSE = (add, subtract, echo, divide, remember, slow, now, publish)


def course_methods() -> dict[str, Any]:
    """The methods of notebooks 03 and 04, under their own names."""
    return {function.__name__: function for function in COURSE}


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
    """Close the Redis connection the methods opened, if any."""
    global _redis
    if _redis is not None:
        _redis.close()
        _redis = None
