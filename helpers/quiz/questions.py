"""The self-check questions of the lesson notebooks, by key: data, in English.

Each is shown and answered through helpers.quiz.check, which translates every text
here for the learner's language (the catalog collects them through quiz.texts()).
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
    # 01 Pub/Sub fundamentals
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
    "decoupled-in-time": Question(
        text="Pub/Sub decouples publishers and subscribers in space, but not in time. "
        "What does 'not in time' mean?",
        choices={
            "a": "publisher and subscriber must run on the same machine",
            "b": "a subscriber gets only what is published while it is subscribed",
            "c": "the publisher waits until every subscriber has read the message",
        },
        answer="b",
        reasons={
            "a": "That would be coupling in space, and Pub/Sub removes it: both ends know only "
            "Redis's address and a channel name.",
            "b": "Both must be there at the same moment. A queue or a log (Streams, Kafka) keeps "
            "messages until a consumer comes: that is decoupling in time.",
            "c": "PUBLISH returns once Redis has queued the copies: the publisher never waits for "
            "a subscriber. That is the asynchronous part.",
        },
    ),
    # 02 Publisher and subscriber services
    "ping-no-receivers": Question(
        text="You changed the publisher to publish on `other_channel`, and `/ping` answered "
        "`receivers: 0`. What happened to the message?",
        choices={
            "a": "Redis keeps it on `other_channel` until someone subscribes there",
            "b": "nobody was subscribed to `other_channel`, so it went to nobody and is gone",
            "c": "the publish failed: the HTTP answer should have been an error",
        },
        answer="b",
        reasons={
            "a": "Pub/Sub stores nothing; a subscriber that comes later gets only what is "
            "published after it subscribed.",
            "b": "Channels are just names, matched exactly: our subscriber listens on "
            "`my_channel` only. PUBLISH succeeded and reached 0 connections.",
            "c": "Publishing to a channel without subscribers is not an error: PUBLISH "
            "succeeds and returns 0. Only a Redis that cannot be reached makes it fail.",
        },
    ),
    "any-language": Question(
        text="The original lab's Node.js `sub.js` and our Python subscriber both subscribe to "
        "`my_channel` on the same Redis. Our Python publisher handles one `/ping`. Who gets "
        "the message?",
        choices={
            "a": "only the Python subscriber: a message reaches clients of the same language",
            "b": "both: Redis sees a channel name and bytes, not who wrote the client",
            "c": "whichever subscribed first: a channel delivers to one subscriber",
        },
        answer="b",
        reasons={
            "a": "Redis speaks one protocol (RESP) to every client library: Node's `redis`, "
            "redis-py, go-redis. It cannot tell them apart.",
            "b": "Same channel, any language: PUBLISH returns 2, and each prints the same JSON. "
            "The JSON shape is an agreement between the two ends; Redis does not look at it.",
            "c": "That is a queue (one consumer per item). Pub/Sub fans out to every "
            "subscriber of the channel.",
        },
    ),
    "restarted-no-gap": Question(
        text="A subscriber was stopped while three messages were published, then started "
        "again. Its `/stats` shows no gap. Why?",
        choices={
            "a": "Redis re-sent the three messages when it subscribed again",
            "b": "it starts from nothing: with no earlier number to compare, it cannot see a jump",
            "c": "the publisher did not number the three messages it sent meanwhile",
        },
        answer="b",
        reasons={
            "a": "Pub/Sub keeps no copy to re-send: the three are gone for this subscriber.",
            "b": "Gaps are seen by comparing a number with the previous one. A subscriber that "
            "stays up and reconnects can report them (next section); a new one cannot.",
            "c": "They were numbered: `seq` went up with each `/ping` (the cell printed them). "
            "The subscriber was simply not there to see them.",
        },
    ),
    # Notebooks 03_json_rpc and 04_json_rpc_failures_and_transports
    "rpc-app-error": Question(
        text="A `get(key)` method of a key-value service is called with a key that was never "
        "stored. Which answer should it send?",
        choices={
            "a": 'InvalidParams("no such key"), that is -32602',
            "b": 'Error(1001, "Key not found", {"key": key}), a code of the application\'s own',
            "c": 'Error(-32001, "Key not found", {"key": key}), a code from the server-error range',
        },
        answer="b",
        reasons={
            "a": "The params were fine: one string, as `get` expects. -32602 says the caller "
            "sent the wrong arguments; here the call worked and the answer is 'no'.",
            "b": "A missing key is an answer of the application, so it gets an application "
            "code, outside the range -32768..-32000 that the spec reserves.",
            "c": "-32000 to -32099 is reserved for the server implementation itself (the spec "
            "keeps all of -32768..-32000): an application error takes a code outside it.",
        },
    ),
    "rpc-notification": Question(
        text='A client sends {"jsonrpc": "2.0", "method": "divide", "params": [1, 0]} '
        "(no id). What comes back?",
        choices={
            "a": 'the error 1001 "Division by zero", because errors are always reported',
            "b": "nothing: it is a notification, so the client never learns that the call failed",
            "c": 'a response with "id": null and "result": null',
        },
        answer="b",
        reasons={
            "a": "A notification gets no response at all, not even an error: the spec is "
            "explicit. Send a request with an id when you need to know.",
            "b": "No id, no reply: the method runs, and its error is dropped. Use "
            "notifications only for calls whose outcome you do not need.",
            "c": '"id": null appears only in errors for requests the server could not read '
            "(-32700, -32600); a notification gets no body at all (HTTP 204).",
        },
    ),
    "rpc-error-ran": Question(
        text="A reply carries an error. Which code tells you that your method's code ran?",
        choices={
            "a": "-32601 Method not found",
            "b": "-32602 Invalid params, for a call with too few params",
            "c": "-32603 Internal error",
            "d": "-32700 Parse error",
        },
        answer="c",
        reasons={
            "a": "The library looked the name up in `methods` and found nothing: no code of "
            "yours ran.",
            "b": "The library binds the params to the function's signature before calling it: "
            "too few params never reach your code. (Your own InvalidParams would have run it.)",
            "c": "Your function ran and raised, or returned a result JSON cannot carry. "
            "An application code of your own (like 1001) also means it ran.",
            "d": "The body was not JSON: nothing was even read, let alone run.",
        },
    ),
    "rpc-reply-list": Question(
        text="Why does the Redis worker push each reply onto a list of its own, read with "
        "BLPOP, rather than PUBLISH it on a reply channel?",
        choices={
            "a": "PUBLISH is slower than LPUSH",
            "b": "a reply published before the client has subscribed would be lost; a list "
            "keeps it until the client reads it",
            "c": "a channel can carry only one message at a time",
        },
        answer="b",
        reasons={
            "a": "Both are single, fast commands; speed is not the reason.",
            "b": "Pub/sub is at-most-once (notebook 01): a reply for nobody is gone. The list "
            "holds the reply, and EXPIRE removes it if the client never comes.",
            "c": "A channel carries any number of messages; what it cannot do is keep one.",
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
