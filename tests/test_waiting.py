"""waiting.wait_until: the one poll-with-a-deadline the notebooks and tests share."""

from __future__ import annotations

import pytest

from helpers.waiting import wait_until


def test_returns_the_first_true_value_the_check_gives() -> None:
    answers = iter([None, 0, [], "ready"])
    assert wait_until(lambda: next(answers), "an answer") == "ready"


def test_times_out_saying_what_it_waited_for() -> None:
    calls = []
    with pytest.raises(TimeoutError, match=r"waited 0\.05 s for the moon"):
        wait_until(lambda: calls.append(1), "the moon", timeout=0.05)
    assert len(calls) > 1  # it polled, not checked once
