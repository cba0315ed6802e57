"""Instant feedback in the assignment notebooks: `check("q1")` after each question, `check_all()`.

Each check reads the learner's definitions from the notebook (the calling cell's
globals), runs them against the kernel's Redis with fresh channel names of its own,
and says what was expected, what the code did and a hint. Checks create and close
everything they use, so re-running cells, or running them out of order, does not
change what a check sees. A call into the learner's code that does not return within
CALL_TIMEOUT seconds is reported, not waited for.

Under a grader a failed check raises CheckFailed, so its test cell errors and scores
zero: under the pack's (COURSE_GRADING=1 in the kernel's environment) and under
nbgrader's autograde and validate (which set NBGRADER_EXECUTION). A check shows its
result as printed text, not as the cell's value, which nbgrader would read as a score.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from helpers import pubsub, redis_server

GRADING_ENV = "COURSE_GRADING"
NBGRADER_ENV = "NBGRADER_EXECUTION"  # "autograde" or "validate" while nbgrader runs a notebook
CALL_TIMEOUT = 5.0


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
    passed: bool
    expected: str = ""
    got: str = ""
    hint: str = ""

    @property
    def earned(self) -> float:
        return self.points if self.passed else 0.0

    def __str__(self) -> str:
        score = f"{self.earned:g}/{self.points:g} points"
        if self.passed:
            return f"✅ {self.question} · {self.title}: passed ({score})"
        lines = [f"❌ {self.question} · {self.title}: not yet ({score})"]
        lines.append(f"   expected:  {self.expected}")
        lines.append(f"   your code: {self.got}")
        if self.hint:
            lines.append(f"   hint:      {self.hint}")
        return "\n".join(lines)

    __repr__ = __str__

    def _ipython_display_(self) -> None:
        print(self)


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Answers:
    """The learner's notebook namespace, read by name, with learner-friendly failures."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def get(self, name: str, where: str) -> Any:
        """The value the notebook gave `name`; a Mismatch saying which cell to run if none."""
        if name not in self.namespace:
            raise Mismatch(
                f"`{name}`, defined in {where}",
                f"`{name}` is not defined in this kernel",
                f"Run the cell of {where} first. After a kernel restart, run the cells "
                "above again (Run → Run All Above Selected Cell).",
            )
        value = self.namespace[name]
        if value is None or value is ...:
            raise Mismatch(
                f"`{name}` set by your code in {where}",
                f"`{name}` is still {value!r}",
                f"Replace the `# YOUR CODE HERE` line of {where} with your answer, run it, "
                "then this check again.",
            )
        return value

    def call(self, label: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call the learner's `function`, turning hangs and exceptions into feedback."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = function(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - reported to the learner below
                outcome["error"] = error

        worker = threading.Thread(target=run, name=f"check: {label}", daemon=True)
        worker.start()
        worker.join(CALL_TIMEOUT)
        if worker.is_alive():
            raise Mismatch(
                f"{label} to return within {CALL_TIMEOUT:g} s",
                "it was still running",
                "Look for a loop that never ends, or a blocking read such as listen() "
                "without a timeout. It is still running in the background: restart the "
                "kernel (Kernel → Restart) once you have fixed it.",
            )
        error = outcome.get("error")
        if isinstance(error, NotImplementedError):
            raise Mismatch(
                f"{label} to run your code",
                "it raised NotImplementedError: the answer is still the prompt",
                "Replace `# YOUR CODE HERE` and the `raise NotImplementedError()` line "
                "with your code, run that cell, then this check again.",
            )
        if error is not None:
            raise Mismatch(
                f"{label} to work",
                f"it raised {type(error).__name__}: {error}",
                f"Call {label} in a cell of your own to see the whole traceback.",
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
class Question:
    id: str
    title: str
    points: float
    run: Callable[[Answers], None]


ASSIGNMENTS: dict[str, dict[str, Question]] = {}


def question(assignment: str, qid: str, title: str, points: float) -> Callable:
    """Register the decorated function as the check of `qid` in `assignment`."""

    def register(run: Callable[[Answers], None]) -> Callable[[Answers], None]:
        ASSIGNMENTS.setdefault(assignment, {})[qid] = Question(qid, title, points, run)
        return run

    return register


def title(assignment: str, qid: str) -> str:
    """The question's title, given here once, beside its check; the grade_id if it has none."""
    item = ASSIGNMENTS.get(assignment, {}).get(qid)
    return item.title if item else qid


def grading() -> bool:
    """True in a kernel that a grader runs: the pack's, or nbgrader's autograde or validate."""
    return os.environ.get(GRADING_ENV) == "1" or bool(os.environ.get(NBGRADER_ENV))


def run_check(assignment: str, qid: str, namespace: dict[str, Any]) -> Result:
    """Run one check against `namespace` and return its Result (never raises Mismatch)."""
    questions = ASSIGNMENTS.get(assignment)
    if questions is None:
        raise KeyError(f"no assignment {assignment!r}; there are: {', '.join(ASSIGNMENTS)}")
    if qid not in questions:
        raise KeyError(
            f"no question {qid!r} in {assignment}; the questions are: {', '.join(questions)}"
        )
    item = questions[qid]
    try:
        item.run(Answers(namespace))
    except Mismatch as failed:
        return Result(qid, item.title, item.points, False, failed.expected, failed.got, failed.hint)
    return Result(qid, item.title, item.points, True)


@dataclass(frozen=True)
class Summary:
    """Every check of an assignment, as check_all() shows it."""

    results: list[Result]

    @property
    def earned(self) -> float:
        return sum(result.earned for result in self.results)

    @property
    def points(self) -> float:
        return sum(result.points for result in self.results)

    def __str__(self) -> str:
        lines = [str(result) for result in self.results]
        lines.append(f"Score so far: {self.earned:g} / {self.points:g} (before hidden tests)")
        return "\n".join(lines)

    __repr__ = __str__

    def _ipython_display_(self) -> None:
        print(self)


def assignment(name: str) -> tuple[Callable[[str], Result], Callable[[], Summary]]:
    """The `check` and `check_all` functions for the assignment notebook `name`."""
    if name not in ASSIGNMENTS:
        raise KeyError(f"no assignment {name!r}; there are: {', '.join(ASSIGNMENTS)}")

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


# ---------------------------------------------------------------------------
# Assignment 1: a chat room over pub/sub


CHAT = "a1_chat_room"


def _entries(history: Any) -> list[tuple]:
    return [tuple(entry) for entry in history] if isinstance(history, list) else history


@question(CHAT, "q1", "channel names and messages", 1)
def _chat_names(answers: Answers) -> None:
    channel_for = answers.get("channel_for", "question 1")
    encode = answers.get("encode", "question 1")
    decode = answers.get("decode", "question 1")
    got = answers.call("channel_for('lobby')", channel_for, "lobby")
    want = pubsub.channel("chat:lobby")
    expect(
        got == want,
        f"channel_for('lobby') == {want!r}",
        f"it returned {_short(got)}",
        "Put every room under the `chat:` prefix, passed through channel(...), so "
        "learners sharing one Redis do not hear each other.",
    )
    for sender, text in [("ann", "hello"), ("bo:b", 'a "quoted" line: ünïcode, commas, {}')]:
        data = answers.call(f"encode({sender!r}, {text!r})", encode, sender, text)
        expect(
            isinstance(data, str | bytes),
            "encode() to return a string, which is what PUBLISH sends",
            f"it returned {type(data).__name__} {_short(data)}",
            "json.dumps({...}) gives a string that keeps any text intact.",
        )
        back = answers.call("decode(encode(...))", decode, data)
        expect(
            tuple(back) == (sender, text) if isinstance(back, tuple | list) else False,
            f"decode(encode({sender!r}, {text!r})) == {(sender, text)!r}",
            f"it returned {_short(back)}",
            "A sender or text can contain any character, even ':' or quotes: a format "
            "like JSON survives that, splitting on ':' does not.",
        )


@question(CHAT, "q2", "join, say and history", 3)
def _chat_room(answers: Answers) -> None:
    chat_client = answers.get("ChatClient", "question 2")
    room = fresh_name("room")
    made = []
    try:
        ann, bob, cy = (
            answers.call(f"ChatClient({n!r})", chat_client, n) for n in ["ann", "bob", "cy"]
        )
        made += [ann, bob, cy]
        answers.call(f"ann.join({room!r})", ann.join, room)
        answers.call(f"bob.join({room!r})", bob.join, room)
        count = answers.call(f"ann.say({room!r}, 'hello bob')", ann.say, room, "hello bob")
        expect(
            count == 2,
            "ann.say(...) to return 2: Redis queued the message for ann and bob",
            f"it returned {_short(count)}",
            "Return what r.publish(...) returns. It counts the subscribers Redis queued "
            "the message for, and ann is subscribed to her own room too.",
        )
        heard = _entries(answers.call("bob.history()", bob.history))
        want = [(room, "ann", "hello bob")]
        expect(
            heard == want,
            f"bob.history() == {want!r}",
            f"it returned {_short(heard)}",
            "_heard() must append (room, sender, text) to self.seen; the room is the "
            "channel name without the channel_for('') prefix.",
        )
        answers.call(f"bob.say({room!r}, 'hi ann')", bob.say, room, "hi ann")
        both = _entries(answers.call("ann.history()", ann.history))
        want = [(room, "ann", "hello bob"), (room, "bob", "hi ann")]
        expect(
            both == want,
            f"ann.history() == {want!r}, oldest first",
            f"it returned {_short(both)}",
            "history() returns everything this member heard so far, in arrival order.",
        )
        nothing = _entries(answers.call("cy.history()", cy.history))
        expect(
            nothing == [],
            "cy, who never joined, to have heard nothing",
            f"cy.history() returned {_short(nothing)}",
            "Each ChatClient needs its own pubsub; only join() subscribes it.",
        )
    finally:
        close_all(*made)


@question(CHAT, "q3", "joining with a pattern", 2)
def _chat_pattern(answers: Answers) -> None:
    chat_client = answers.get("ChatClient", "question 2")
    base = fresh_name("team")
    red_room, blue_room = f"{base}-red", f"{base}-blue"
    made = []
    try:
        watcher, red, ann = (
            answers.call(f"ChatClient({n!r})", chat_client, n) for n in ("watcher", "red", "ann")
        )
        made += [watcher, red, ann]
        answers.call(f"watcher.join({base + '-*'!r})", watcher.join, f"{base}-*")
        answers.call(f"red.join({red_room!r})", red.join, red_room)
        count = answers.call(f"red.say({red_room!r}, 'go')", red.say, red_room, "go")
        expect(
            count == 2,
            f"red.say({red_room!r}, ...) to reach 2 subscribers: red, and watcher by pattern",
            f"it returned {_short(count)}",
            "join() must use psubscribe for a room name with * in it, subscribe otherwise.",
        )
        answers.call(f"ann.say({blue_room!r}, 'blue here')", ann.say, blue_room, "blue here")
        answers.call(f"ann.say({base + 'lobby'!r}, 'not a team')", ann.say, base + "lobby", "x")
        heard = _entries(answers.call("watcher.history()", watcher.history))
        want = [(red_room, "red", "go"), (blue_room, "ann", "blue here")]
        expect(
            heard == want,
            f"watcher.history() == {want!r}",
            f"it returned {_short(heard)}",
            "For a pattern subscription the message type is 'pmessage': message['channel'] "
            "is the room's own channel, message['pattern'] is what was joined.",
        )
    finally:
        close_all(*made)


@question(CHAT, "q4", "a late joiner misses messages", 2)
def _chat_late(answers: Answers) -> None:
    where = "question 4"
    alice_heard = _entries(answers.get("alice_heard", where))
    bob_heard = _entries(answers.get("bob_heard", where))
    first = answers.get("first_receivers", where)
    later = answers.get("later_receivers", where)
    expect(
        isinstance(alice_heard, list) and len(alice_heard) >= 2,
        "alice_heard: alice's history() with at least the two messages she said",
        f"alice_heard is {_short(alice_heard)}",
        "alice joins, says something, bob joins, alice says something again; then "
        "alice_heard = alice.history().",
    )
    expect(
        isinstance(bob_heard, list) and alice_heard[0] not in bob_heard,
        f"bob_heard without alice's first message {alice_heard[0]!r}: bob was not there",
        f"bob_heard is {_short(bob_heard)}",
        "bob must join after alice's first say() and before her second one.",
    )
    expect(
        alice_heard[-1] in bob_heard,
        f"bob_heard to contain alice's last message {alice_heard[-1]!r}",
        f"bob_heard is {_short(bob_heard)}",
        "Call bob.history() after alice's second say().",
    )
    expect(
        isinstance(first, int) and isinstance(later, int) and later == first + 1,
        "later_receivers == first_receivers + 1: bob's subscription is the one more",
        f"first_receivers={_short(first)}, later_receivers={_short(later)}",
        "Keep what each alice.say(...) returned: PUBLISH counts the subscribers present "
        "at that moment, and nobody keeps the message for anyone who joins later.",
    )


# ---------------------------------------------------------------------------
# Assignment 3: measure and explain the loss


LOSS = "a3_measure_loss"


def _experiment(answers: Answers) -> tuple[int, list[int], list[int]]:
    """(COUNT, published, received) from the learner's run, checked for shape."""
    where = "the experiment cell"
    count = answers.get("COUNT", "question 1")
    published = answers.get("published", where)
    received = answers.get("received", where)
    expect(
        isinstance(published, list) and len(published) == count,
        f"published: one PUBLISH return value per message, {count} of them",
        f"published has {len(published) if isinstance(published, list) else published!r}",
        "Run the experiment cell again after changing the parameters.",
    )
    return count, published, sorted(set(received))


def _near(guess: Any, want: float) -> bool:
    """A number within 20% (or 5 messages) of `want`: what an estimate needs to be."""
    number = isinstance(guess, int | float) and not isinstance(guess, bool)
    return number and abs(guess - want) <= max(0.2 * want, 5)


@question(LOSS, "q1", "your parameters and your prediction", 1)
def _loss_run(answers: Answers) -> None:
    rate = answers.get("RATE", "question 1")
    count = answers.get("COUNT", "question 1")
    away = answers.get("AWAY_SECONDS", "question 1")
    expect(
        isinstance(rate, int | float) and 100 <= rate <= 5000,
        "RATE between 100 and 5000 messages per second",
        f"RATE = {_short(rate)}",
        "Pick a rate this machine can pace: a few hundred to a few thousand per second.",
    )
    expect(
        isinstance(count, int) and 100 <= count <= 10_000 and count / rate <= 10,
        "COUNT between 100 and 10,000, and a run of at most 10 s (COUNT / RATE)",
        f"COUNT = {_short(count)} at RATE {rate} ({count / rate:.1f} s)",
        "Fewer messages or a higher rate keep the experiment short.",
    )
    expect(
        isinstance(away, int | float) and 0 < away < 0.6 * count / rate,
        f"0 < AWAY_SECONDS < {0.6 * count / rate:.2f} s, so the subscriber comes back in time",
        f"AWAY_SECONDS = {_short(away)}",
        "The subscriber leaves after a third of the run: it must be back before the end.",
    )
    predicted = answers.get("predicted_lost", "question 1")
    count, published, received = _experiment(answers)
    measured = len(_lost(count, received))
    expect(
        _near(predicted, rate * away) or _near(predicted, measured),
        f"predicted_lost: about {rate * away:g}, what your RATE and AWAY_SECONDS give "
        f"(or the {measured} you measured), within 20%",
        f"predicted_lost = {_short(predicted)}",
        "Nobody listens while the subscriber is away: how many messages are published in "
        "AWAY_SECONDS at RATE per second? Write the reason in a comment beside it.",
    )
    expect(
        all(isinstance(n, int) and 0 <= n < count for n in received) and received,
        f"received: sequence numbers between 0 and {count - 1}",
        f"received starts {_short(received[:10])}",
        "Run the experiment cell again.",
    )


def _lost(count: int, received: list[int]) -> list[int]:
    heard = set(received)
    return [seq for seq in range(count) if seq not in heard]


def _gaps(lost: list[int]) -> list[tuple[int, int]]:
    found: list[list[int]] = []
    for seq in sorted(set(lost)):
        if found and seq == found[-1][1] + 1:
            found[-1][1] = seq
        else:
            found.append([seq, seq])
    return [tuple(gap) for gap in found]


@question(LOSS, "q2", "which messages were lost", 2)
def _loss_lost(answers: Answers) -> None:
    lost_messages = answers.get("lost_messages", "question 2")
    count, _, received = _experiment(answers)
    got = answers.call("lost_messages(COUNT, received)", lost_messages, count, list(received))
    want = _lost(count, received)
    expect(
        isinstance(got, list) and list(got) == want,
        f"the {len(want)} sequence numbers from 0 to COUNT-1 missing from received, "
        f"starting {want[:5]}",
        f"{len(got) if isinstance(got, list) else 0} numbers: {_short(got)}",
        "Every number in range(published_count) that is not in received, in order.",
    )


@question(LOSS, "q3", "the gaps", 2)
def _loss_gaps(answers: Answers) -> None:
    gaps = answers.get("gaps", "question 3")
    count, _, received = _experiment(answers)
    lost = _lost(count, received)
    got = answers.call("gaps(lost)", gaps, list(lost))
    want = _gaps(lost)
    got_tuples = [tuple(gap) for gap in got] if isinstance(got, list) else got
    expect(
        got_tuples == want,
        f"gaps(lost) == {_short(want)}: (first, last) of each run of consecutive lost numbers",
        f"it returned {_short(got)}",
        "Walk the sorted lost numbers; a number that is not last + 1 starts a new gap.",
    )


@question(LOSS, "q4", "report your numbers", 2)
def _loss_numbers(answers: Answers) -> None:
    count, published, received = _experiment(answers)
    lost = _lost(count, received)
    zero = sum(1 for n in published if n == 0)
    counted = sum(1 for seq in lost if published[seq] > 0)
    for name, want, meaning in [
        ("lost_count", len(lost), "messages the subscriber never received"),
        ("zero_returns", zero, "PUBLISH calls that returned 0"),
        ("counted_but_lost", counted, "lost messages whose PUBLISH returned 1 or more"),
    ]:
        got = answers.get(name, "question 4")
        expect(
            got == want,
            f"{name} == {want} ({meaning}), from your own published and received",
            f"{name} = {_short(got)}",
            "Compute it from the lists in a cell, do not type the number in.",
        )
    fraction = answers.get("loss_fraction", "question 4")
    expect(
        isinstance(fraction, int | float)
        and math.isclose(fraction, len(lost) / count, abs_tol=1e-3),
        f"loss_fraction ≈ {len(lost) / count:.4f} (lost_count / COUNT)",
        f"loss_fraction = {_short(fraction)}",
        "A fraction between 0 and 1, not a percentage.",
    )


@question(LOSS, "q5", "explain the loss", 2)
def _loss_explain(answers: Answers) -> None:
    why = answers.get("why", "question 5")
    expect(
        str(why).strip().lower() == "b",
        "the letter of the explanation that fits your data",
        f"why = {_short(why)}",
        "Compare zero_returns and lost_count: what did Redis do with a message "
        "published while nobody was subscribed?",
    )
    count, _, received = _experiment(answers)
    rate = answers.get("RATE", "question 1")
    away = answers.get("AWAY_SECONDS", "question 1")
    guess = answers.get("lost_if_away_twice", "question 5")
    measured = len(_lost(count, received))
    after = count - count // 3  # the subscriber leaves at message COUNT // 3
    model = min(2 * rate * away, after)
    expect(
        _near(guess, model) or _near(guess, min(2 * measured, after)),
        f"about {model:g}: twice RATE × AWAY_SECONDS = {2 * rate * away:g}, but no more than "
        f"the {after} messages published after the subscriber left, within 20%",
        f"lost_if_away_twice = {_short(guess)}",
        "At a steady rate the loss grows with the time away, until the subscriber has "
        "missed everything published after it left (at message COUNT // 3).",
    )


# ---------------------------------------------------------------------------
# Assignment 2: a JSON-RPC key-value service


KV = "a2_kv_service"
# Application errors: codes outside -32768..-32000, which JSON-RPC 2.0 reserves (notebook 03).
KEY_NOT_FOUND = 1001
NOT_AN_INTEGER = 1002
INVALID_PARAMS = -32602


class _KVService:
    """The learner's `methods`, served by a server of the check's own for one check."""

    def __init__(self, answers: Answers) -> None:
        from helpers import rpc  # imported here: only assignment 2 needs the RPC stack

        methods = answers.get("methods", "the methods cell")
        expect(
            isinstance(methods, dict) and {"set", "get", "delete", "incr"} <= set(methods),
            "methods: a dict with the keys 'set', 'get', 'delete' and 'incr'",
            f"methods has {sorted(methods) if isinstance(methods, dict) else _short(methods)}",
            'methods = {"set": kv_set, "get": kv_get, "delete": kv_delete, "incr": kv_incr}',
        )
        self.key_for = answers.get("key_for", "the set-up cell")
        self.methods = methods
        self.name = fresh_name("check-kv")
        self.server = rpc.start(methods, name=self.name)
        self.client = rpc.Client(self.server.url, timeout=CALL_TIMEOUT)
        self.answers = answers
        self.redis = redis_server.connect()
        self.prefix = fresh_name("k")

    def key(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def call(self, method: str, *params: Any) -> dict:
        from jsonrpcclient import request

        label = f"{method}({', '.join(map(repr, params))}) over JSON-RPC"
        reply = self.answers.call(label, self.client.send, request(method, params=params))
        expect(
            isinstance(reply, dict) and ("result" in reply or "error" in reply),
            f"a JSON-RPC response to {label}",
            f"{_short(reply)}",
            "Each method returns Success(...), Error(...) or InvalidParams(...).",
        )
        if "error" in reply and reply["error"].get("code") == -32603:
            # The server hides the exception; calling the method here names it.
            function = self.methods[method]
            self.answers.call(
                f"{getattr(function, '__name__', method)}{params!r}", function, *params
            )
            raise Mismatch(
                f"{label} to answer",
                f"the method raised inside the server: {_short(reply['error'].get('data'))}",
                "An exception in a method becomes -32603 Internal error. Call the function "
                "directly in a cell to see the traceback.",
            )
        return reply

    def expect_result(self, reply: dict, want: Any, label: str, hint: str) -> None:
        expect(
            reply.get("result") == want and "error" not in reply,
            f"{label} -> result {want!r}",
            f"the reply was {_short(reply)}",
            hint,
        )

    def expect_error(self, reply: dict, code: int, label: str, hint: str) -> None:
        error = reply.get("error") or {}
        expect(
            error.get("code") == code,
            f"{label} -> an error with code {code}",
            f"the reply was {_short(reply)}",
            hint,
        )

    def close(self) -> None:
        from helpers import background

        self.client.close()
        background.stop(self.name)
        self.redis.close()


def _kv(answers: Answers, run: Callable[[_KVService], None]) -> None:
    service = _KVService(answers)
    try:
        run(service)
    finally:
        service.close()


@question(KV, "q1", "set and get", 2)
def _kv_set_get(answers: Answers) -> None:
    def run(kv: _KVService) -> None:
        key = kv.key("colour")
        kv.expect_result(
            kv.call("set", key, "blue"), True, f"set({key!r}, 'blue')", "Return Success(True)."
        )
        stored = kv.redis.get(kv.key_for(key))
        expect(
            stored == "blue",
            f"Redis to hold 'blue' under key_for({key!r})",
            f"Redis has {_short(stored)} there",
            "Store with r.set(key_for(key), value): the service is backed by Redis.",
        )
        kv.expect_result(kv.call("get", key), "blue", f"get({key!r})", "Return Success(value).")
        missing = kv.key("never-set")
        reply = kv.call("get", missing)
        kv.expect_error(
            reply,
            KEY_NOT_FOUND,
            f"get({missing!r}) of a key never set",
            "r.get() returns None for a missing key: answer "
            'Error(KEY_NOT_FOUND, "Key not found", {"key": key}).',
        )
        expect(
            (reply["error"].get("data") or {}).get("key") == missing,
            f'the error\'s data to name the key: {{"key": {missing!r}}}',
            f"data was {_short(reply['error'].get('data'))}",
            "A good error says what went wrong with what: put the key in `data`.",
        )

    _kv(answers, run)


@question(KV, "q2", "delete and incr", 2)
def _kv_delete_incr(answers: Answers) -> None:
    def run(kv: _KVService) -> None:
        key, counter, word = kv.key("gone"), kv.key("visits"), kv.key("word")
        kv.call("set", key, "x")
        kv.expect_result(kv.call("delete", key), 1, f"delete({key!r})", "Return r.delete(...).")
        kv.expect_result(
            kv.call("delete", key), 0, f"delete({key!r}) again", "Deleting nothing deletes 0 keys."
        )
        kv.expect_error(
            kv.call("get", key), KEY_NOT_FOUND, f"get({key!r}) after delete", "It is gone."
        )
        hint = "INCRBY starts a missing key at 0; return Success(the new value)."
        kv.expect_result(kv.call("incr", counter), 1, f"incr({counter!r})", hint)
        kv.expect_result(kv.call("incr", counter, 5), 6, f"incr({counter!r}, 5)", hint)
        kv.call("set", word, "hello")
        kv.expect_error(
            kv.call("incr", word),
            NOT_AN_INTEGER,
            f"incr({word!r}) of a key holding 'hello'",
            "Redis raises redis.ResponseError; catch it and answer "
            'Error(NOT_AN_INTEGER, "Value is not an integer", {"key": key}).',
        )

    _kv(answers, run)


@question(KV, "q3", "wrong types give -32602", 2)
def _kv_types(answers: Answers) -> None:
    def run(kv: _KVService) -> None:
        key = kv.key("typed")
        hint = "Check isinstance(...) first and return InvalidParams('...') for a wrong type."
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
            kv.redis.exists(kv.key_for(key)) == 0,
            f"nothing stored under key_for({key!r}) by calls that were refused",
            "a value was stored",
            "Refuse before writing to Redis.",
        )

    _kv(answers, run)


@question(KV, "q4", "a batch", 2)
def _kv_batch(answers: Answers) -> None:
    batch = answers.get("batch", "question 4")
    replies = answers.get("batch_replies", "question 4")
    ids = [item.get("id") for item in batch if isinstance(item, dict) and "id" in item]
    expect(
        isinstance(batch, list) and len(ids) >= 3,
        "batch: a list of at least 3 requests (with ids), sent in one call",
        f"batch is {_short(batch)}",
        "Build it with [request(...), request(...), ...] and send it with client.send(batch).",
    )
    expect(
        isinstance(replies, list)
        and sorted(map(str, ids)) == sorted(str(x.get("id")) for x in replies),
        f"batch_replies: one reply per request with an id ({len(ids)}), none for notifications",
        f"batch_replies is {_short(replies)}",
        "batch_replies = client.send(batch), after the server is started.",
    )
    kinds = {("error" if "error" in reply else "result") for reply in replies}
    expect(
        kinds == {"error", "result"},
        "a mixed batch: at least one request that succeeds and one that fails",
        f"only {', '.join(sorted(kinds))} replies",
        "Add a get() of a key you never set: its error comes back beside the results.",
    )

    def run(kv: _KVService) -> None:
        from jsonrpcclient import request

        key = kv.key("batched")
        sent = [
            request("set", params=(key, "41")),
            request("incr", params=(key,)),
            request("get", params=(key,)),
            request("get", params=(kv.key("missing"),)),
            request("incr", params=(key, "x")),
        ]
        got = answers.call("a batch of 5 requests", kv.client.send, sent)
        by_id = {reply.get("id"): reply for reply in got} if isinstance(got, list) else {}
        want = [("result", True), ("result", 42), ("result", "42"), ("error", KEY_NOT_FOUND)]
        want.append(("error", INVALID_PARAMS))
        for request_sent, (kind, value) in zip(sent, want, strict=True):
            reply = by_id.get(request_sent["id"], {})
            found = reply.get("result") if kind == "result" else reply.get("error", {}).get("code")
            expect(
                kind in reply and found == value,
                f"{request_sent['method']}{tuple(request_sent['params'])} in a batch -> "
                f"{kind} {value!r}",
                f"the reply was {_short(reply)}",
                "Each element of a batch is answered on its own, in order.",
            )

    _kv(answers, run)
