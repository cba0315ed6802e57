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
    # 07 Scaling out with Redis Cluster
    "cluster-publish-cost": Question(
        text="A Redis Cluster has 10 nodes. One client subscribes to `news` on node 4. How many "
        "cluster-bus messages does one classic `PUBLISH news ...`, sent to node 1, cost?",
        choices={
            "a": "1: node 1 forwards it to node 4, where the subscriber is",
            "b": "9: node 1 sends it to every other node",
            "c": "0: classic pub/sub stays on the node it was sent to",
        },
        answer="b",
        reasons={
            "a": "Nodes do not tell each other who subscribes to what, so node 1 cannot know "
            "that only node 4 needs it.",
            "b": "Every other node gets a copy, subscribers or not: the cost grows with the "
            "cluster, which is why classic pub/sub does not scale out.",
            "c": "Then the subscriber on node 4 would never hear it. The cell with two nodes "
            "showed that it does.",
        },
    ),
    "sharded-failover": Question(
        text="A subscriber ran `SSUBSCRIBE orders` on the master that owns the slot of "
        "`orders`. The master crashes; its replica takes over 1.5 s later. What happens to "
        "the messages published to `orders` in those 1.5 s?",
        choices={
            "a": "the replica kept them and delivers them once the subscriber is back",
            "b": "they are lost: the SPUBLISH failed, or reached a master with nobody subscribed",
            "c": "nothing is lost: the subscription moves to the replica by itself",
        },
        answer="b",
        reasons={
            "a": "Pub/sub stores nothing, on a master or on a replica: there is nothing to "
            "deliver later.",
            "b": "The timeline showed it: one contiguous range lost, failed sends first, then "
            "sends that the new master counted for 0 subscribers.",
            "c": "The subscription lived on the dead master's connection. The subscriber has "
            "to find the new owner and SSUBSCRIBE again; until then messages pass it by.",
        },
    ),
    "wait-confirmed": Question(
        text="After an `XADD`, `WAIT 1 100` returned 1. What do you know about the entry?",
        choices={
            "a": "it is on disk and can never be lost",
            "b": "one replica has it, so a failover that promotes that replica keeps it",
            "c": "a consumer has read it",
        },
        answer="b",
        reasons={
            "a": "WAIT counts replicas that received the write into memory; it says nothing "
            "about disk, and both copies can still be lost together.",
            "b": "That is all it says, and it is what kept the confirmed batches alive in the "
            "failover above. It narrows the window; it does not make Redis strongly consistent.",
            "c": "WAIT is about replication, not consumers: a consumer group tracks reads.",
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
