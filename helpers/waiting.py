"""Waiting for something to become true, without sleep() guesses.

A demonstration or a test that sleeps a fixed time is too slow on a fast machine and
flaky on a busy one. Polling a check with a deadline is neither, and a timeout says
what was awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, timeout: float = 5.0) -> T:
    """Poll `check` every 10 ms until it returns something true; return that, or time out.

    The TimeoutError names `what`, so a failing cell or test says what never happened.
    """
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.01)
    return result
