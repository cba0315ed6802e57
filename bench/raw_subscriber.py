"""The baseline for the pub/sub row: the least a redis-py subscriber can do.

    python bench/raw_subscriber.py URL CHANNEL

Subscribes, prints "ready" once Redis has confirmed the subscription, then takes each
message from `listen()` and notes `time.perf_counter_ns()` at once; nothing else
runs in this process. On the message "stop" it prints one JSON line,
[[message, received_ns], ...], and exits. The pack's harness sends "<seq>:<sent_ns>:"
messages stamped with the same clock (CLOCK_MONOTONIC on Linux is one clock for every
process on the host), so the bench can work out each message's latency.
"""

from __future__ import annotations

import json
import sys
import time

import redis


def main(url: str, channel: str) -> int:
    client = redis.Redis.from_url(url, socket_timeout=None)
    pubsub = client.pubsub(ignore_subscribe_messages=False)
    pubsub.subscribe(channel)
    for message in pubsub.listen():
        if message["type"] == "subscribe":
            break
    print("ready", flush=True)
    seen = []
    for message in pubsub.listen():
        received = time.perf_counter_ns()
        if message["type"] != "message":
            continue
        if message["data"] == b"stop":
            break
        seen.append((message["data"], received))
    print(json.dumps([[data.decode(), at] for data, at in seen]), flush=True)
    pubsub.close()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
