"""Quick self-check questions inside the lesson notebooks, with instant feedback.

The learner types an answer in a cell and runs `quiz.check(key, answer)`: a wrong
choice gets the reason it is wrong, a right one the reason it is right. Nothing is
recorded or graded; the assignments have their own checks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with a reason for every choice."""

    text: str
    choices: dict[str, str]  # letter -> choice
    answer: str
    reasons: dict[str, str]  # letter -> why that choice is right or wrong


QUESTIONS = {
    "publish-returns": Question(
        text="`PUBLISH` returned 3. What does the 3 tell you?",
        choices={
            "a": "3 subscribers have read and processed the message",
            "b": "Redis queued the message for 3 subscribed connections",
            "c": "the message was stored and 3 copies are kept on the server",
        },
        answer="b",
        reasons={
            "a": "Redis never learns whether a subscriber read or processed anything: there is "
            "no acknowledgement in Pub/Sub.",
            "b": "It counts the connections the message was queued for at that moment. "
            "A slow or dropped subscriber can still lose it.",
            "c": "Pub/Sub stores nothing: the message lives only in the connections' output "
            "buffers until it is sent.",
        },
    ),
    "late-subscriber": Question(
        text="A publisher sends 5 messages to `orders`; nobody is subscribed. A minute later "
        "a subscriber subscribes to `orders`. How many of the 5 does it receive?",
        choices={"a": "all 5", "b": "only the last one", "c": "none"},
        answer="c",
        reasons={
            "a": "That is what a log or a queue does (Streams, Kafka). Pub/Sub keeps no history.",
            "b": "Redis keeps no 'last message' for a channel either.",
            "c": "Each PUBLISH returned 0: the messages were delivered to nobody and are gone.",
        },
    ),
    "pattern-twice": Question(
        text="One connection ran `SUBSCRIBE news.sport` and `PSUBSCRIBE news.*`. Someone "
        "publishes one message to `news.sport`. How many messages does the connection get?",
        choices={"a": "1", "b": "2", "c": "0: overlapping subscriptions cancel out"},
        answer="b",
        reasons={
            "a": "Redis does not de-duplicate: each matching subscription gets its copy.",
            "b": "One `message` for the channel and one `pmessage` for the pattern; "
            "PUBLISH returned 2.",
            "c": "Subscriptions add up; nothing cancels.",
        },
    ),
    # ---- 05_latency_and_message_loss and 06_reliable_delivery_with_streams
    "paced-publisher": Question(
        text="Why does the publisher send message n at `start + n / rate` instead of calling "
        "`sleep(1 / rate)` after every message?",
        choices={
            "a": "each sleep() overshoots a little and the overshoots add up, so the rate "
            "drops; a schedule sends a late message at once and the average rate holds",
            "b": "sleep() would block the subscriber thread while the publisher waits",
            "c": "Redis refuses messages that arrive faster than the rate it was told",
        },
        answer="a",
        reasons={
            "a": "The pacing cell measured it: `sleep(1/rate)` falls short of the rate asked "
            "for, the schedule reaches it.",
            "b": "time.sleep() releases the GIL: the subscriber thread runs while the "
            "publisher sleeps.",
            "c": "Redis has no rate limit on PUBLISH. A publisher too fast for its subscriber "
            "fills the subscriber's output buffer instead (loss experiment 3).",
        },
    ),
    "p99-tail": Question(
        text="At 1,000 messages per second a run measured p50 = 80 µs and p99 = 900 µs. "
        "Which statement is right?",
        choices={
            "a": "most messages took about 900 µs",
            "b": "about 10 messages every second took 900 µs or longer",
            "c": "the average latency was about 900 µs",
        },
        answer="b",
        reasons={
            "a": "Half of them took 80 µs or less: that is what the median (p50) says. "
            "900 µs is the tail.",
            "b": "1 in 100 is at or above p99, and 1% of 1,000 per second is 10 per second: "
            "the tail is something users meet all the time.",
            "c": "A percentile is not an average. When most messages are fast, the mean sits "
            "near the median, pulled up a little by the tail.",
        },
    ),
    "counted-but-lost": Question(
        text="`PUBLISH` returned 1 for a message, and the only subscriber never got it. "
        "How can that be?",
        choices={
            "a": "it cannot: 1 means the subscriber received it",
            "b": "Redis queued it in the subscriber's output buffer, then cut the subscriber "
            "off for passing `client-output-buffer-limit` and dropped that buffer",
            "c": "the subscriber's `get_message(timeout=0.1)` timed out and the message was "
            "thrown away",
        },
        answer="b",
        reasons={
            "a": "1 counts the connections the message was queued for, at that moment. Nobody "
            "acknowledges anything in pub/sub.",
            "b": "Loss experiment 3 counts exactly these: lost though counted as delivered.",
            "c": "A timeout only means nothing arrived within it; a message that comes later "
            "waits in the socket for the next call.",
        },
    ),
    "crash-before-xack": Question(
        text="A consumer read 10 entries with `XREADGROUP ... >` and crashed before sending "
        "`XACK`. What happens to the 10 entries?",
        choices={
            "a": "they are lost, as with pub/sub",
            "b": "they stay in the group's pending entries list until some consumer claims "
            "them (XAUTOCLAIM) and acknowledges them",
            "c": "the next `XREADGROUP ... >` of any consumer in the group gets them again",
        },
        answer="b",
        reasons={
            "a": "The stream keeps every entry, and the group remembers who holds which one "
            "unacknowledged: nothing is gone.",
            "b": "That is what the consumer loop's first step does: XAUTOCLAIM what was "
            "pending longer than a job should take, then handle and XACK it.",
            "c": "`>` means entries never delivered to anyone in the group. Pending ones come "
            "back only through XAUTOCLAIM / XCLAIM, or to the same consumer reading from id 0.",
        },
    ),
    "restart-lossless": Question(
        text="In fault 4 Redis was restarted and the stream lost nothing. What made that possible?",
        choices={
            "a": "streams are always written to disk",
            "b": "the server saved its data on the way down (SHUTDOWN SAVE), and the producer "
            "kept every XADD that failed and sent it again when Redis was back",
            "c": "XAUTOCLAIM alone: the consumer claimed everything again after the restart",
        },
        answer="b",
        reasons={
            "a": "A stream lives in memory. With no persistence (this pack's default), a "
            "plain restart empties it like any other key.",
            "b": "Both halves matter: without the save the stream is empty after the restart, "
            "without the resend the entries sent while Redis was down never reach it.",
            "c": "XAUTOCLAIM recovers entries that are in the stream and pending. It cannot "
            "recover an entry that never got into the stream, or a stream that was wiped.",
        },
    ),
}


def check(key: str, answer: str | None) -> None:
    """Print whether `answer` is right for question `key`, and why.

    Prints rather than returns, so the cell shows only the feedback.
    """
    question = QUESTIONS.get(key)
    if question is None:
        raise KeyError(f"no question {key!r}; the questions are {sorted(QUESTIONS)}")
    if answer is None:
        print(question.text)
        for letter, choice in question.choices.items():
            print(f"  {letter}) {choice}")
        print('Put your letter in place of None, e.g. answer = "a", and run the cell again.')
        return
    letter = str(answer).strip().lower().rstrip(")")
    if letter not in question.choices:
        print(f"{answer!r} is not one of the choices {', '.join(question.choices)}: try again.")
        return
    if letter == question.answer:
        print("Right. " + question.reasons[letter])
    else:
        print("Not quite. " + question.reasons[letter] + " Have another go.")
