"""The checks of assignment 1, a chat room over pub/sub: one definition for check() and the judge.

`answers` is the learner's notebook seen from a check: in the kernel (helpers.checks.core)
or from the grader, over the bridge (helpers.remote). Values come back as plain data
(helpers.checks.tools). Where the lesson is about messages, the check looks at Redis itself:
it publishes its own messages and listens with its own subscriber, so a ChatClient
that only pretends (a list shared between objects, numbers typed in) does not pass.
Rooms and texts are drawn afresh each run.
"""

from __future__ import annotations

from typing import Any

from helpers.checks.core import Answers, close_all, expect, fresh_name, question
from helpers.checks.tools import (
    Listener,
    is_int,
    is_text,
    random_message,
    random_text,
    random_word,
    same,
    show,
)
from helpers.language import _

CHAT = "a1_chat_room"


def _members(answers: Answers, *names: str) -> list[Any]:
    chat_client = answers.get("ChatClient", _("question 2"))
    return [answers.call(f"ChatClient({name!r})", chat_client, name) for name in names]


@question(CHAT, "q1")
def _chat_names(answers: Answers) -> None:
    channel_for = answers.get("channel_for", _("question 1"))
    encode = answers.get("encode", _("question 1"))
    decode = answers.get("decode", _("question 1"))
    for room in ("lobby", random_word(), f"{random_word()}-*"):
        got = answers.call(f"channel_for({room!r})", channel_for, room)
        want = answers.channel(f"chat:{room}")
        expect(
            same(got, want),
            f"channel_for({room!r}) == {want!r}",
            _("it returned {value}").format(value=show(got)),
            _(
                "Put every room under the `chat:` prefix, passed through channel(...), so "
                "learners sharing one Redis do not hear each other."
            ),
        )
    pairs = [("ann", "hello"), ("bo:b", 'a "quoted" line: ünïcode, commas, {}')]
    pairs += [(random_word(), random_text()), (random_text(4), random_text(20))]
    for sender, text in pairs:
        data = answers.call(f"encode({sender!r}, {text!r})", encode, sender, text)
        expect(
            type(data) in (str, bytes),
            _("encode() to return a string, which is what PUBLISH sends"),
            _("it returned {value}").format(value=show(data)),
            _("json.dumps({...}) gives a string that keeps any text intact."),
        )
        back = answers.call("decode(encode(...))", decode, data)
        expect(
            same(back, [sender, text]),
            f"decode(encode({sender!r}, {text!r})) == {(sender, text)!r}",
            _("it returned {value}").format(value=show(back)),
            _(
                "A sender or text can contain any character, even ':', quotes or spaces at the "
                "ends: a format like JSON survives that, splitting on ':' does not."
            ),
        )


def _returns(
    answers: Answers, label: str, function: Any, *, want: Any, hint: str, note: str = ""
) -> None:
    """Call the learner's `function` (no arguments) and expect exactly `want` back."""
    got = answers.call(label, function)
    expect(
        same(got, want),
        f"{label} == {want!r}{note}",
        _("it returned {value}").format(value=show(got)),
        hint,
    )


def _publish_as_zed(
    answers: Answers, room: str, text: str, *, reach: int, who: str, hint: str
) -> str:
    """Publish zed's `text` as the learner's encode() makes it, on their channel for `room`,
    with the check's own connection; expect Redis to queue it for `reach` subscribers.

    Returns the channel. What Redis itself counts cannot be faked by a ChatClient.
    """
    channel_for = answers.get("channel_for", _("question 1"))
    channel = answers.call(f"channel_for({room!r})", channel_for, room)
    data = answers.call("encode('zed', ...)", answers.get("encode", _("question 1")), "zed", text)
    expect(
        is_text(channel) and type(data) in (str, bytes),
        _("channel_for() and encode() to return strings"),
        _("they returned {first} and {second}").format(first=show(channel), second=show(data)),
        _("Question 1 first: the chat needs a channel name and a message string."),
    )
    reached = answers.redis.publish(channel, data)
    expect(
        reached == reach,
        _("a message the check published itself on channel_for({room!r}) to reach {who}").format(
            room=room, who=who
        ),
        _("Redis queued it for {count} subscriber(s)").format(count=reached),
        hint,
    )
    return channel


@question(CHAT, "q2")
def _chat_room(answers: Answers) -> None:
    room, text = fresh_name("room"), random_message()
    made, spy = [], None
    try:
        ann, bob, cy = made[:] = _members(answers, "ann", "bob", "cy")
        answers.call(f"ann.join({room!r})", ann.join, room)
        answers.call(f"bob.join({room!r})", bob.join, room)
        count = answers.call(f"ann.say({room!r}, 'hello bob')", ann.say, room, "hello bob")
        expect(
            same(count, 2),
            _("ann.say(...) to return 2: Redis queued the message for ann and bob"),
            _("it returned {value}").format(value=show(count)),
            _(
                "Return what r.publish(...) returns. It counts the subscribers Redis queued "
                "the message for, and ann is subscribed to her own room too."
            ),
        )
        _returns(
            answers,
            "bob.history()",
            bob.history,
            want=[[room, "ann", "hello bob"]],
            hint=_(
                "_heard() must append (room, sender, text) to self.seen; the room is the "
                "channel name without the channel_for('') prefix."
            ),
        )
        hint = _("join() must subscribe, on Redis, to channel_for(room).")
        channel = _publish_as_zed(answers, room, text, reach=2, who=_("ann and bob"), hint=hint)
        answers.call(f"bob.say({room!r}, 'hi ann')", bob.say, room, "hi ann")
        _returns(
            answers,
            "ann.history()",
            ann.history,
            want=[[room, "ann", "hello bob"], [room, "zed", text], [room, "bob", "hi ann"]],
            note=_(", oldest first (zed's message was published by the check)"),
            hint=_("history() returns everything this member heard from Redis, in arrival order."),
        )
        spy = Listener(answers.redis, channel)
        count = answers.call(f"bob.say({room!r}, ...)", bob.say, room, text)
        expect(
            same(count, 3),
            _("bob.say(...) to return 3: ann, bob and the check's own listener"),
            _("it returned {value}").format(value=show(count)),
            _("say() publishes on channel_for(room) and returns what r.publish(...) returns."),
        )
        sent = spy.next()
        back = answers.call("decode(...)", answers.get("decode", _("question 1")), sent)
        expect(
            same(back, ["bob", text]),
            _("the check's listener on channel_for({room!r}) to hear ('bob', {text!r})").format(
                room=room, text=text
            ),
            _("it heard {value}").format(value=show(sent)),
            _("say() must PUBLISH encode(self.name, text) on channel_for(room)."),
        )
        nothing = answers.call("cy.history()", cy.history)
        expect(
            same(nothing, []),
            _("cy, who never joined, to have heard nothing"),
            _("cy.history() returned {value}").format(value=show(nothing)),
            _("Each ChatClient needs its own pubsub; only join() subscribes it."),
        )
    finally:
        close_all(*made, spy)


@question(CHAT, "q3")
def _chat_pattern(answers: Answers) -> None:
    base = fresh_name("team")
    red_room, blue_room, green_room = f"{base}-red", f"{base}-blue", f"{base}-green"
    text = random_message()
    made = []
    try:
        watcher, red, ann = made[:] = _members(answers, "watcher", "red", "ann")
        answers.call(f"watcher.join({base + '-*'!r})", watcher.join, f"{base}-*")
        answers.call(f"red.join({red_room!r})", red.join, red_room)
        count = answers.call(f"red.say({red_room!r}, 'go')", red.say, red_room, "go")
        expect(
            same(count, 2),
            _("red.say({room!r}, ...) to reach 2 subscribers: red, and watcher by pattern").format(
                room=red_room
            ),
            _("it returned {value}").format(value=show(count)),
            _("join() must use psubscribe for a room name with * in it, subscribe otherwise."),
        )
        hint = _("watcher.join('...-*') must psubscribe to channel_for('...-*') on Redis.")
        _publish_as_zed(answers, green_room, text, reach=1, who=_("the watcher"), hint=hint)
        answers.call(f"ann.say({blue_room!r}, 'blue here')", ann.say, blue_room, "blue here")
        answers.call(f"ann.say({base + 'lobby'!r}, 'x')", ann.say, base + "lobby", "x")
        want = [[red_room, "red", "go"], [green_room, "zed", text], [blue_room, "ann", "blue here"]]
        _returns(
            answers,
            "watcher.history()",
            watcher.history,
            want=want,
            hint=_(
                "For a pattern subscription the message type is 'pmessage': message['channel'] "
                "is the room's own channel, message['pattern'] is what was joined."
            ),
        )
    finally:
        close_all(*made)


def _entry(value: Any) -> bool:
    return type(value) is list and len(value) == 3 and all(map(is_text, value))


@question(CHAT, "q4")
def _chat_late(answers: Answers) -> None:
    where = _("question 4")
    alice_heard = answers.get("alice_heard", where)
    bob_heard = answers.get("bob_heard", where)
    first = answers.get("first_receivers", where)
    later = answers.get("later_receivers", where)
    expect(
        type(alice_heard) is list and len(alice_heard) >= 2 and all(map(_entry, alice_heard)),
        _("alice_heard: alice's history() with at least the two messages she said"),
        _("alice_heard is {value}").format(value=show(alice_heard)),
        _(
            "alice joins, says something, bob joins, alice says something again; then "
            "alice_heard = alice.history()."
        ),
    )
    expect(
        type(bob_heard) is list
        and all(map(_entry, bob_heard))
        and not any(same(entry, alice_heard[0]) for entry in bob_heard),
        _("bob_heard without alice's first message {message!r}: bob was not there").format(
            message=alice_heard[0]
        ),
        _("bob_heard is {value}").format(value=show(bob_heard)),
        _("bob must join after alice's first say() and before her second one."),
    )
    expect(
        any(same(entry, alice_heard[-1]) for entry in bob_heard),
        _("bob_heard to contain alice's last message {message!r}").format(message=alice_heard[-1]),
        _("bob_heard is {value}").format(value=show(bob_heard)),
        _("Call bob.history() after alice's second say()."),
    )
    expect(
        is_int(first) and is_int(later) and later == first + 1,
        _("later_receivers == first_receivers + 1: bob's subscription is the one more"),
        f"first_receivers={show(first)}, later_receivers={show(later)}",
        _(
            "Keep what each alice.say(...) returned: PUBLISH counts the subscribers present "
            "at that moment, and nobody keeps the message for anyone who joins later."
        ),
    )
    _replay_late_joiner(answers)


def _replay_late_joiner(answers: Answers) -> None:
    """The same story with the check's own room and texts: your numbers came from real code."""
    room, before, after = fresh_name("room"), random_message(), random_message()
    made = []
    try:
        carol, dave = made[:] = _members(answers, "carol", "dave")
        answers.call(f"carol.join({room!r})", carol.join, room)
        first = answers.call("carol.say(...)", carol.say, room, before)
        answers.call(f"dave.join({room!r})", dave.join, room)
        later = answers.call("carol.say(...)", carol.say, room, after)
        heard = answers.call("dave.history()", dave.history)
        expect(
            same([first, later, heard], [1, 2, [[room, "carol", after]]]),
            _(
                "the check's own run of your chat: carol says, dave joins, carol says again -> "
                "say() returns 1 then 2, and dave hears only the second message"
            ),
            _("say() returned {first} then {later}; dave heard {heard}").format(
                first=show(first), later=show(later), heard=show(heard)
            ),
            _("Your ChatClient from question 2 must work for question 4's story too."),
        )
    finally:
        close_all(*made)
