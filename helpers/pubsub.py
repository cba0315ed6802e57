"""Pub/sub plumbing the lessons lean on: a background collector, waiting for subscribers,
and per-user channel names.

The lesson's own `subscribe` / `publish` calls stay in the notebook cells. What lives
here is what a learner should not have to read first: a subscriber that records in a
daemon thread, and the waits that make demonstrations deterministic without sleep().
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers import background
from helpers.grading import contract


def namespace() -> str:
    """A per-user channel prefix for shared servers: COURSE_NAMESPACE, else the hub user."""
    return os.environ.get(contract.NAMESPACE_ENV) or os.environ.get(contract.HUB_USER_ENV) or ""


def channel(name: str) -> str:
    """`name` inside this user's namespace, so two learners on one Redis don't hear each other."""
    prefix = namespace()
    return f"{prefix}:{name}" if prefix else name


def wait_subscribed(pubsub: redis.client.PubSub, count: int, timeout: float = 5.0) -> None:
    """Read confirmations until `count` (p)subscriptions are active on the server.

    subscribe() only sends the command; a message published before the server has
    processed it is lost. Returning from here means the subscription exists.
    """
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"only {seen} of {count} subscriptions confirmed in {timeout} s")
        message = pubsub.get_message(timeout=min(left, 0.5))
        if message and message["type"] in ("subscribe", "psubscribe", "ssubscribe"):
            seen += 1


def leave(subscription: redis.client.PubSub, timeout: float = 1.0) -> None:
    """Unsubscribe from everything, wait until Redis confirms, then close the connection.

    Closing alone is not enough when a PUBLISH follows at once: Redis may run that
    PUBLISH before it notices the closed socket, and count the closed subscriber.
    """
    if subscription.connection is not None and (subscription.channels or subscription.patterns):
        with contextlib.suppress(redis.RedisError, OSError):
            if subscription.channels:
                subscription.unsubscribe()
            if subscription.patterns:
                subscription.punsubscribe()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = subscription.get_message(timeout=0.1)
                if message and message["type"].endswith("unsubscribe") and message["data"] == 0:
                    break
    subscription.close()


class _Leaving:
    """A subscription in the background registry: stopping it is leave()."""

    def __init__(self, subscription: redis.client.PubSub) -> None:
        self.subscription = subscription

    def stop(self) -> None:
        leave(self.subscription)


def replace(name: str, subscription: redis.client.PubSub) -> redis.client.PubSub:
    """Keep `subscription` as `name`, first leaving the one kept under that name before.

    For notebook cells: re-running `x = pubsub.replace("x", r.pubsub())` closes the
    subscriber of the last run instead of leaving it subscribed, where it would count
    as one more receiver. background.stop_all() (the clean-up, or kernel exit) leaves it.
    """
    background.register(name, _Leaving(subscription))
    return subscription


def drain(subscription: redis.client.PubSub) -> int:
    """Read and drop what already waits in the inbox; return how many messages that was.

    A cell run out of order can leave a message unread, and the next read would get
    that old message instead of the one the cell is about to publish.
    """
    dropped = 0
    while subscription.get_message(timeout=0.01) is not None:
        dropped += 1
    return dropped


@dataclass(frozen=True)
class Received:
    """One message as a subscriber saw it, with when it arrived."""

    channel: str
    data: str
    pattern: str | None
    received_ns: int  # time.time_ns(): comparable across processes on one host
    received_perf_ns: int  # time.perf_counter_ns(): precise within this process


class Collector(background.Worker):
    """A subscriber on its own connection that records messages in a daemon thread.

    The subscription is confirmed before the constructor returns, so a publish
    right after it is heard. By default it reconnects whenever Redis comes back
    (each drop noted in `.disconnects`); with retries=False the first dropped
    connection ends the collector and is kept in `.error` (and `.disconnects`).
    `delay` is the time it spends on each message: a slow consumer. Given a `name`,
    it is registered under it, replacing the collector of a cell's previous run.
    """

    def __init__(
        self,
        url: str,
        channels: tuple[str, ...] = (),
        *,
        patterns: tuple[str, ...] = (),
        name: str | None = None,
        retries: bool = True,
        delay: float = 0.0,
    ) -> None:
        super().__init__(name or f"collector {channels or patterns}")
        options: dict = {"decode_responses": True, "socket_timeout": None}
        if not retries:
            options["retry"] = Retry(NoBackoff(), 0)
        self.client = redis.Redis.from_url(url, **options)
        self.pubsub = self.client.pubsub()
        self.messages: list[Received] = []
        self.error: Exception | None = None
        self.retries, self.delay = retries, delay
        self.disconnects: list[tuple[int, str]] = []  # (time.time_ns(), error) per drop
        if channels:
            self.pubsub.subscribe(*channels)
        if patterns:
            self.pubsub.psubscribe(*patterns)
        wait_subscribed(self.pubsub, len(channels) + len(patterns))
        self.start()
        if name:
            background.register(name, self)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                message = self.pubsub.get_message(timeout=0.1)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                self.disconnects.append((time.time_ns(), str(error)))
                if not self.retries:
                    self.error = error
                    return
                # Keep trying until Redis is back; redis-py re-subscribes on reconnect.
                self.stopping.wait(0.05)
                continue
            if message and message["type"] in ("message", "pmessage", "smessage"):
                self.messages.append(
                    Received(
                        channel=message["channel"],
                        data=message["data"],
                        pattern=message.get("pattern"),
                        received_ns=time.time_ns(),
                        received_perf_ns=time.perf_counter_ns(),
                    )
                )
                if self.delay:
                    time.sleep(self.delay)  # the work of a slow consumer, not a wait

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least `count` messages arrived (or timeout); return what arrived."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline and self.running:
            time.sleep(0.002)
        return list(self.messages)

    def close(self) -> None:
        """Close the subscription and its connection, once the thread has ended."""
        self.pubsub.close()
        self.client.close()

    def describe(self) -> str:
        return f"{len(self.messages)} messages"
