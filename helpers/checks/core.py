"""The check framework: what a check reads, how it fails, and what it shows.

A question's rules (helpers.checks.a1_chat_room, ...) get an Answers, the learner's
notebook as a check sees it, and fail with a Mismatch: what was expected, what the code
did, and a hint. run_check turns that into a Result, with the title and points the source
notebook's metadata gives the question (helpers.checks.catalog).
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

from helpers import pubsub, redis_server
from helpers.checks import catalog, tools
from helpers.grading.contract import GRADING_ENV
from helpers.language import _

NBGRADER_ENV = "NBGRADER_EXECUTION"  # "autograde" or "validate" while nbgrader runs a notebook


class Mismatch(Exception):
    """The learner's code did something other than what the question asks."""

    def __init__(self, expected: str, got: str, hint: str = "") -> None:
        super().__init__(f"expected {expected}, got {got}")
        self.expected, self.got, self.hint = expected, got, hint


class CheckFailed(Exception):
    """Raised by a failed check under the grader; its message is the feedback text."""


@dataclass(frozen=True)
class Result:
    """The outcome of one check, printed under the cell (not its value: see above)."""

    question: str
    title: str
    points: float
    _: KW_ONLY
    passed: bool
    expected: str = ""
    got: str = ""
    hint: str = ""

    @property
    def earned(self) -> float:
        return self.points if self.passed else 0.0

    def __str__(self) -> str:
        score = _("{earned:g}/{points:g} points").format(earned=self.earned, points=self.points)
        if self.passed:
            return _("✅ {question} · {title}: passed ({score})").format(
                question=self.question, title=self.title, score=score
            )
        lines = [
            _("❌ {question} · {title}: not yet ({score})").format(
                question=self.question, title=self.title, score=score
            )
        ]
        lines.append(_("   expected:  {expected}").format(expected=self.expected))
        lines.append(_("   your code: {got}").format(got=self.got))
        if self.hint:
            lines.append(_("   hint:      {hint}").format(hint=self.hint))
        return "\n".join(lines)

    __repr__ = __str__

    def _ipython_display_(self) -> None:
        print(self)


class Answers:
    """The learner's notebook as a check sees it: names and calls, values as plain data.

    This one reads the calling cell's namespace, in the learner's kernel. The grader's
    judge uses helpers.remote.RemoteAnswers instead, which overrides lookup(), invoke(),
    redis, channel() and serve() to reach the kernel from outside; the rules of each
    question (helpers.checks.a1_chat_room, ...) see no difference.
    """

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self._redis: Any = None

    # --- what differs between the kernel and the judge ---------------------------------

    def lookup(self, name: str) -> tuple[bool, Any]:
        """(whether `name` is defined, its value as plain data)."""
        if name not in self.namespace:
            return False, None
        return True, tools.plain(self.namespace[name])

    def invoke(self, function: Any, args: tuple, kwargs: dict) -> dict:
        """Call `function` in a thread: {"value": ...}, {"raised": {...}} or {"timeout": s}."""
        outcome = tools.call_in_thread(
            function, args, kwargs, name="check: a call of your code", timeout=tools.CALL_TIMEOUT
        )
        if "value" in outcome:
            outcome["value"] = tools.plain(outcome["value"])
        return outcome

    @property
    def redis(self) -> Any:
        """A connection of the check's own to the Redis the learner's code uses."""
        if self._redis is None:
            self._redis = redis_server.connect()
        return self._redis

    def channel(self, name: str) -> str:
        """`name` in the learner's channel namespace, as helpers.pubsub.channel gives it."""
        return pubsub.channel(name)

    def serve(self, methods: Any) -> Any:
        """The learner's JSON-RPC `methods` on a server of the check's own: .send(), .close()."""
        return tools.LocalService(methods, timeout=tools.CALL_TIMEOUT)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()

    # --- the same for both ---------------------------------------------------------------

    def get(self, name: str, where: str) -> Any:
        """The value the notebook gave `name`; a Mismatch saying which cell to run if none."""
        defined, value = self.lookup(name)
        if not defined:
            raise Mismatch(
                _("`{name}`, defined in {where}").format(name=name, where=where),
                _("`{name}` is not defined in this kernel").format(name=name),
                _(
                    "Run the cell of {where} first. After a kernel restart, run the cells "
                    "above again (Run → Run All Above Selected Cell)."
                ).format(where=where),
            )
        if value is None or value is ... or getattr(value, "remote_type", "") == "ellipsis":
            raise Mismatch(
                _("`{name}` set by your code in {where}").format(name=name, where=where),
                _("`{name}` is still {value}").format(
                    name=name, value="None" if value is None else "..."
                ),
                _(
                    "Replace the `# YOUR CODE HERE` line of {where} with your answer, run it, "
                    "then this check again."
                ).format(where=where),
            )
        return value

    def call(self, label: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call the learner's `function`, turning hangs and exceptions into feedback."""
        outcome = self.invoke(function, args, kwargs)
        if "timeout" in outcome:
            raise Mismatch(
                _("{label} to return within {seconds:g} s").format(
                    label=label, seconds=outcome["timeout"]
                ),
                _("it was still running"),
                _(
                    "Look for a loop that never ends, or a blocking read such as listen() "
                    "without a timeout. It is still running in the background: restart the "
                    "kernel (Kernel → Restart) once you have fixed it."
                ),
            )
        raised = outcome.get("raised")
        if raised and raised.get("type") == "NotImplementedError":
            raise Mismatch(
                _("{label} to run your code").format(label=label),
                _("it raised NotImplementedError: the answer is still the prompt"),
                _(
                    "Replace `# YOUR CODE HERE` and the `raise NotImplementedError()` line "
                    "with your code, run that cell, then this check again."
                ),
            )
        if raised:
            raise Mismatch(
                _("{label} to work").format(label=label),
                _("it raised {kind}: {message}").format(
                    kind=raised.get("type"), message=raised.get("message")
                ),
                _("Call {label} in a cell of your own to see the whole traceback.").format(
                    label=label
                ),
            )
        return outcome.get("value")


def expect(condition: bool, expected: str, got: str, hint: str = "") -> None:
    """Fail the check with this feedback unless `condition` holds."""
    if not condition:
        raise Mismatch(expected, got, hint)


def fresh_name(prefix: str = "check") -> str:
    """A name no earlier run used, so re-running a check never sees old messages."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class QuestionCheck:
    """The check of one question: the function that decides it, under the question's grade_id.

    Its title and points are not typed here: they are the source notebook's (catalog).
    """

    assignment: str
    id: str
    run: Callable[[Answers], None]

    @property
    def title(self) -> str:
        return catalog.heading(self.assignment, self.id).title

    @property
    def points(self) -> float:
        return catalog.heading(self.assignment, self.id).points


ASSIGNMENTS: dict[str, dict[str, QuestionCheck]] = {}


def question(assignment: str, qid: str) -> Callable:
    """Register the decorated function as the check of question `qid` in `assignment`."""

    def register(run: Callable[[Answers], None]) -> Callable[[Answers], None]:
        ASSIGNMENTS.setdefault(assignment, {})[qid] = QuestionCheck(assignment, qid, run)
        return run

    return register


def grading() -> bool:
    """True in a kernel that a grader runs: the pack's, or nbgrader's autograde or validate."""
    return os.environ.get(GRADING_ENV) == "1" or bool(os.environ.get(NBGRADER_ENV))


def run_check(assignment: str, qid: str, namespace: dict[str, Any]) -> Result:
    """Run one check against `namespace` and return its Result (never raises Mismatch)."""
    questions = ASSIGNMENTS.get(assignment)
    if questions is None:
        raise KeyError(
            _("no assignment {assignment!r}; there are: {names}").format(
                assignment=assignment, names=", ".join(ASSIGNMENTS)
            )
        )
    if qid not in questions:
        raise KeyError(
            _("no question {qid!r} in {assignment}; the questions are: {names}").format(
                qid=qid, assignment=assignment, names=", ".join(questions)
            )
        )
    item = questions[qid]
    answers = Answers(namespace)
    try:
        item.run(answers)
    except Mismatch as failed:
        return Result(
            qid,
            item.title,
            item.points,
            passed=False,
            expected=failed.expected,
            got=failed.got,
            hint=failed.hint,
        )
    finally:
        answers.close()
    return Result(qid, item.title, item.points, passed=True)


@dataclass(frozen=True)
class Summary:
    """Every check of an assignment, as check_all() shows it."""

    results: list[Result]

    def __str__(self) -> str:
        lines = [str(result) for result in self.results]
        earned = sum(result.earned for result in self.results)
        possible = sum(result.points for result in self.results)
        lines.append(
            _("Score so far: {earned:g} / {possible:g} (before hidden tests)").format(
                earned=earned, possible=possible
            )
        )
        return "\n".join(lines)

    __repr__ = __str__

    def _ipython_display_(self) -> None:
        print(self)


def assignment(name: str) -> tuple[Callable[[str], Result], Callable[[], Summary]]:
    """The `check` and `check_all` functions for the assignment notebook `name`."""
    if name not in ASSIGNMENTS:
        raise KeyError(
            _("no assignment {assignment!r}; there are: {names}").format(
                assignment=name, names=", ".join(ASSIGNMENTS)
            )
        )

    def check(qid: str) -> Result:
        """Check question `qid` against what this notebook has defined so far."""
        result = run_check(name, qid, sys._getframe(1).f_globals)
        if grading() and not result.passed:
            raise CheckFailed(str(result))
        return result

    def check_all() -> Summary:
        """Run every check of this assignment in order."""
        namespace = sys._getframe(1).f_globals
        return Summary([run_check(name, qid, namespace) for qid in ASSIGNMENTS[name]])

    return check, check_all


def close_all(*clients: Any) -> None:
    """Close what a check created, ignoring what cannot be closed."""
    for client in clients:
        close = getattr(client, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):  # a learner's close() must not hide the result
                close()
