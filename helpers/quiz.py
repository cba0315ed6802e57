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
