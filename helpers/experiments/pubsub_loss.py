"""Pub/sub faults of notebooks 05 and 06: a subscriber late, away, too slow, or Redis restarted.

Each returns a `LossResult`: every publish attempt with what PUBLISH returned, every
arrival, and the events of the run, all timestamped for the timeline.
"""

from __future__ import annotations

# What `helpers.experiments` offers from this module (its __init__ imports them all).
__all__ = [
    "late_subscriber",
    "redis_restart",
    "slow_consumer",
    "subscriber_away",
]

import time

import redis

from helpers import pubsub
from helpers.background import Worker
from helpers.experiments.harness import (
    Progress,
    Restarter,
    Server,
    buffer_limit,
    message,
    on_our_clock,
    paced,
    parse,
    private_url,
    publisher,
    steady,
    unique_name,
    url_of,
)
from helpers.experiments.results import Arrival, LossResult, Published
from helpers.language import _
from helpers.redis_server import EmbeddedRedis


def _publish(client: redis.Redis, channel: str, seq: int, payload: int) -> Published:
    sent = time.perf_counter_ns()
    try:
        receivers = client.publish(channel, message(seq, sent, payload))
    except (redis.ConnectionError, redis.TimeoutError):
        receivers = None
    return Published(seq, sent, receivers)


def _arrivals(collector: pubsub.Collector) -> list[Arrival]:
    result = []
    for item in collector.messages:
        seq, sent = parse(item.data)
        result.append(Arrival(seq, sent, item.received_perf_ns))
    return result


@steady
def late_subscriber(
    server: Server, before: int = 100, after: int = 100, rate: float = 1000
) -> LossResult:
    """Publish `before` messages, then SUBSCRIBE, then publish `after` more.

    Pub/sub keeps nothing for absent subscribers: all of the first part is lost, and
    PUBLISH said so each time by returning 0.
    """
    url = url_of(server)
    channel = unique_name("late")
    client = publisher(url)
    start = time.perf_counter_ns()
    published: list[Published] = []
    events = []
    collector = None
    try:
        for seq in paced(before, rate):
            published.append(_publish(client, channel, seq, 0))
        collector = pubsub.Collector(url, (channel,))
        events.append((time.perf_counter_ns(), _("SUBSCRIBE confirmed")))
        for seq in paced(after, rate):
            published.append(_publish(client, channel, before + seq, 0))
        collector.wait_for(after, timeout=2)
    finally:
        if collector:
            collector.stop()
        client.close()
    settings = {"before": before, "after": after, "rate": rate}
    name, arrivals = _("Late subscriber"), _arrivals(collector)
    return LossResult(name, "pub/sub", published, arrivals, start, events=events, settings=settings)


class _AwaySubscriber(Worker):
    """Subscribes, leaves cleanly for a while, comes back.

    It leaves with UNSUBSCRIBE and reads on until the server confirms, so every message
    sent while it was subscribed is received: the only loss is what was sent while it
    was away, exactly the PUBLISH calls that returned 0.
    """

    def __init__(self, url: str, channel: str, leave_ns: int, away_for: float) -> None:
        super().__init__("away subscriber")
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=None)
        self.pubsub = self.client.pubsub()
        self.channel, self.leave_ns, self.away_for = channel, leave_ns, away_for
        self.arrivals: list[Arrival] = []
        self.events: list[tuple[int, str]] = []
        self.pubsub.subscribe(channel)
        pubsub.wait_subscribed(self.pubsub, 1)

    def _read(self, until_type: str | None = None) -> bool:
        """Read one message; True when it is a confirmation of `until_type`."""
        item = self.pubsub.get_message(timeout=0.05)
        if item and item["type"] == "message":
            seq, sent = parse(item["data"])
            self.arrivals.append(Arrival(seq, sent, time.perf_counter_ns()))
        return bool(item and item["type"] == until_type)

    def run(self) -> None:
        while not self.stopping.is_set() and time.perf_counter_ns() < self.leave_ns:
            self._read()
        if self.stopping.is_set():
            return
        self.pubsub.unsubscribe(self.channel)
        while not self._read("unsubscribe"):
            pass
        self.events.append((time.perf_counter_ns(), _("UNSUBSCRIBE confirmed")))
        if self.stopping.wait(self.away_for):
            return
        self.pubsub.subscribe(self.channel)
        while not self._read("subscribe"):
            pass
        self.events.append((time.perf_counter_ns(), _("SUBSCRIBE confirmed")))
        while not self.stopping.is_set():
            self._read()

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@steady
def subscriber_away(
    server: Server, count: int = 1500, rate: float = 1000,
    away_at: float = 0.5, away_for: float = 0.5, *, progress: Progress = None,
) -> LossResult:  # fmt: skip
    """Publish `count` messages at `rate`; the subscriber leaves at `away_at` s for `away_for` s."""
    url = url_of(server)
    channel = unique_name("away")
    client = publisher(url)
    start = time.perf_counter_ns()
    subscriber = _AwaySubscriber(url, channel, start + int(away_at * 1e9), away_for).start()
    published = []
    try:
        for seq in paced(count, rate, progress):
            published.append(_publish(client, channel, seq, 0))
        expected = sum(1 for p in published if p.receivers)
        deadline = time.monotonic() + 2
        while len(subscriber.arrivals) < expected and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        subscriber.stop()
        client.close()
    settings = {"count": count, "rate": rate, "away_at": away_at, "away_for": away_for}
    name = _("Subscriber away for {seconds} s").format(seconds=away_for)
    arrivals, events = subscriber.arrivals, subscriber.events
    return LossResult(name, "pub/sub", published, arrivals, start, events=events, settings=settings)


@steady
def slow_consumer(
    server: Server, payload: int = 10_000, rate: float = 5000, count: int = 3000,
    delay: float = 0.001, *, limit: str | None = "1mb 256kb 1", allow_shared: bool = False,
    progress: Progress = None,
) -> LossResult:  # fmt: skip
    """A subscriber slower than the publisher, cut off by `client-output-buffer-limit pubsub`.

    `limit` is "<hard> <soft> <soft seconds>" for the pubsub class, set for the run only
    (None: run under the server's setting as it is).
    Publishing stops soon after Redis drops the subscriber (PUBLISH starts returning 0).
    The subscriber learns of it only after reading what its socket still held, as a
    ConnectionError: its client has zero retries, so it cannot silently reconnect.
    """
    url = private_url(server, allow_shared, _("The slow-consumer experiment"))
    channel = unique_name("slow")
    client = publisher(url)
    published: list[Published] = []
    events: list[tuple[int, str]] = []
    with buffer_limit(url, limit) as in_force:
        subscriber = pubsub.Collector(url, (channel,), retries=False, delay=delay)
        start = time.perf_counter_ns()
        try:
            cut_ns = None
            for seq in paced(count, rate, progress):
                record = _publish(client, channel, seq, payload)
                published.append(record)
                if record.receivers == 0 and cut_ns is None:
                    cut_ns = record.sent_ns
                    events.append((cut_ns, _("PUBLISH returns 0: Redis cut it off")))
                if cut_ns and record.sent_ns - cut_ns > 100_000_000:
                    break  # enough to show that nothing gets through any more
            if progress:
                progress(1.0)
            # Until the cut-off reaches the subscriber, or (limit never hit) it has read it all.
            delivered = sum(1 for p in published if p.receivers)
            subscriber.wait_for(delivered, timeout=delivered * delay * 3 + 5)
        finally:
            subscriber.stop()
            client.close()
    if subscriber.disconnects:
        seen_ns = on_our_clock(subscriber.disconnects[0][0])
        events.append((seen_ns, _("subscriber sees ConnectionError")))
    error = f"{type(subscriber.error).__name__}: {subscriber.error}" if subscriber.error else None
    settings = {"payload": payload, "rate": rate, "delay": delay, "limit": in_force}
    name, arrivals = _("Slow consumer"), _arrivals(subscriber)
    return LossResult(
        name, "pub/sub", published, arrivals, start, events=events, error=error, settings=settings
    )


@steady
def redis_restart(
    server: EmbeddedRedis, count: int = 1500, rate: float = 1000, restart_at: float = 0.5,
    down_for: float = 0.3, *, progress: Progress = None,
) -> LossResult:  # fmt: skip
    """Restart Redis under a subscriber that reconnects on its own (redis-py's default retry).

    The subscriber comes back subscribed without a word to the application; the
    messages published while it was gone are lost all the same.
    """
    if not isinstance(server, EmbeddedRedis):
        raise TypeError(_("redis_restart needs the private server: pass redis_server.embedded()"))
    channel = unique_name("restart")
    collector = pubsub.Collector(server.url, (channel,))
    client = publisher(server.url)
    start = time.perf_counter_ns()
    at_ns = start + int(restart_at * 1e9)
    restarter = Restarter(server, at_ns, down_for, keep_data=False).start()
    published = []
    try:
        for seq in paced(count, rate, progress):
            published.append(_publish(client, channel, seq, 0))
        restarter.join(timeout=30)
        collector.wait_for(sum(1 for p in published if p.receivers), timeout=2)
    finally:
        restarter.stop()
        collector.stop()
        client.close()
    events = restarter.events
    if collector.disconnects:
        events.append((on_our_clock(collector.disconnects[0][0]), _("subscriber drops")))
    settings = {"count": count, "rate": rate, "restart_at": restart_at, "down_for": down_for}
    name, arrivals = _("Redis restarted"), _arrivals(collector)
    return LossResult(name, "pub/sub", published, arrivals, start, events=events, settings=settings)
