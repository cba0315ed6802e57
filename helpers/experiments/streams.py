"""The pub/sub faults again with a stream and a consumer group (notebook 06): nothing lost.

Each experiment XADDs numbered entries and reads them with `StreamReader`s; the result
is a `LossResult` with transport "stream", to set beside its pub/sub twin.
"""

from __future__ import annotations

# What `helpers.experiments` offers from this module (its __init__ imports them all).
__all__ = [
    "stream_consumer_away",
    "stream_late_consumer",
    "stream_restart",
    "stream_slow_consumer",
    "stream_trimmed",
]

import contextlib
import time
from collections import deque

import redis

from helpers.experiments.harness import (
    Progress,
    Restarter,
    Server,
    buffer_limit,
    message,
    paced,
    private_url,
    publisher,
    steady,
    unique_name,
    url_of,
)
from helpers.experiments.results import LossResult, Published
from helpers.experiments.stream_reader import StreamReader
from helpers.language import _
from helpers.redis_server import EmbeddedRedis


def _xadd(
    client: redis.Redis, stream: str, seq: int, payload: int, maxlen: int | None = None
) -> Published:
    sent = time.perf_counter_ns()
    try:
        client.xadd(stream, {"m": message(seq, sent, payload)}, maxlen=maxlen, approximate=False)
    except (redis.ConnectionError, redis.TimeoutError):
        return Published(seq, sent, None)
    return Published(seq, sent, 1)


def _stream_result(
    name: str,
    published: list[Published],
    readers: list[StreamReader],
    start: int,
    events: list[tuple[int, str]],
    settings: dict[str, object],
) -> LossResult:
    arrivals = [a for reader in readers for a in reader.arrivals]
    events = sorted(events + [e for reader in readers for e in reader.events])
    return LossResult(name, "stream", published, arrivals, start, events=events, settings=settings)


def _delete(client: redis.Redis, stream: str) -> None:
    """Remove the experiment's stream and close the client (Redis may be down after a restart)."""
    with contextlib.suppress(redis.RedisError):
        client.delete(stream)
    client.close()


@steady
def stream_late_consumer(
    server: Server, before: int = 100, after: int = 100, rate: float = 1000
) -> LossResult:
    """XADD `before` entries, then create the group from the start (id 0) and read, then more."""
    stream = unique_name("stream-late")
    client = publisher(url_of(server))
    start = time.perf_counter_ns()
    published = [_xadd(client, stream, seq, 0) for seq in paced(before, rate)]
    client.xgroup_create(stream, "late", id="0", mkstream=True)
    events = [(time.perf_counter_ns(), _("XGROUP CREATE ... 0, consumer starts"))]
    reader = StreamReader(server, stream, "late", "consumer-1").start()
    try:
        published += [_xadd(client, stream, before + seq, 0) for seq in paced(after, rate)]
        reader.wait_for(before + after, timeout=5)
    finally:
        reader.stop()
        _delete(client, stream)
    settings = {"before": before, "after": after, "rate": rate}
    return _stream_result(_("Late consumer"), published, [reader], start, events, settings)


@steady
def stream_consumer_away(
    server: Server, count: int = 1500, rate: float = 1000,
    away_at: float = 0.5, away_for: float = 0.5, *, progress: Progress = None,
) -> LossResult:  # fmt: skip
    """Consumer 1 crashes mid-batch at `away_at`; consumer 2 starts `away_for` s later.

    Consumer 2 takes over what consumer 1 left unacknowledged (XAUTOCLAIM on the PEL),
    then reads everything published while nobody was reading.
    """
    stream = unique_name("stream-away")
    client = publisher(url_of(server))
    client.xgroup_create(stream, "workers", id="$", mkstream=True)
    start = time.perf_counter_ns()
    crash_after = max(1, int(away_at * rate))
    first = StreamReader(server, stream, "workers", "consumer-1", crash_after=crash_after)
    first.start()
    second = None
    events: list[tuple[int, str]] = []
    published = []
    try:
        for seq in paced(count, rate, progress):
            published.append(_xadd(client, stream, seq, 0))
            if second is None and not first.running:
                crashed_ns = first.events[-1][0] if first.events else time.perf_counter_ns()
                if time.perf_counter_ns() - crashed_ns >= away_for * 1e9:
                    pending = client.xpending(stream, "workers")["pending"]
                    what = _("{count} pending in the PEL").format(count=pending)
                    events.append((time.perf_counter_ns(), what))
                    second = StreamReader(server, stream, "workers", "consumer-2").start()
        if second is None:
            second = StreamReader(server, stream, "workers", "consumer-2").start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _distinct([first, second]) < count:
            time.sleep(0.01)
    finally:
        first.stop()
        if second:
            second.stop()
        _delete(client, stream)
    settings = {"count": count, "rate": rate, "away_at": away_at, "away_for": away_for}
    name = _("Consumer away for {seconds} s").format(seconds=away_for)
    return _stream_result(name, published, [first, second], start, events, settings)


def _distinct(readers: list[StreamReader]) -> int:
    return len({a.seq for reader in readers for a in reader.arrivals})


@steady
def stream_slow_consumer(
    server: Server, payload: int = 10_000, rate: float = 5000, count: int = 1500,
    delay: float = 0.001, *, limit: str | None = "1mb 256kb 1",
    allow_shared: bool = False, progress: Progress = None,
) -> LossResult:  # fmt: skip
    """The slow consumer again, reading a stream under the same buffer limit.

    A consumer pulls at its own pace (XREADGROUP COUNT n): the backlog waits in the
    stream, not in the server's output buffer, so nothing is cut off.
    """
    url = private_url(server, allow_shared, _("The slow-consumer experiment"))
    stream = unique_name("stream-slow")
    client = publisher(url)
    client.xgroup_create(stream, "slow", id="$", mkstream=True)
    with buffer_limit(url, limit) as in_force:
        start = time.perf_counter_ns()
        reader = StreamReader(url, stream, "slow", "consumer-1", delay=delay, batch=10).start()
        try:
            published = [_xadd(client, stream, seq, payload) for seq in paced(count, rate)]
            backlog = len(published) - len(reader.arrivals)
            now = time.perf_counter_ns()
            what = _("last XADD, {count} not yet read").format(count=backlog)
            events = [(now, what)]
            reader.wait_for(count, timeout=count * delay * 3 + 5, progress=progress)
        finally:
            reader.stop()
            _delete(client, stream)
    settings = {"payload": payload, "rate": rate, "delay": delay, "limit": in_force}
    return _stream_result(_("Slow consumer"), published, [reader], start, events, settings)


@steady
def stream_restart(
    server: EmbeddedRedis, count: int = 1500, rate: float = 1000, restart_at: float = 0.5,
    down_for: float = 0.3, *, progress: Progress = None,
) -> LossResult:  # fmt: skip
    """Restart Redis (saving its data on the way down) under a producer and a consumer.

    The producer keeps what XADD could not send and sends it when Redis is back; the
    consumer reconnects and XAUTOCLAIMs what it had read but not acknowledged.
    """
    if not isinstance(server, EmbeddedRedis):
        raise TypeError(_("stream_restart needs the private server: pass redis_server.embedded()"))
    stream = unique_name("stream-restart")
    client = publisher(server.url)
    client.xgroup_create(stream, "workers", id="$", mkstream=True)
    start = time.perf_counter_ns()
    reader = StreamReader(server, stream, "workers", "consumer-1").start()
    at_ns = start + int(restart_at * 1e9)
    restarter = Restarter(server, at_ns, down_for, keep_data=True).start()
    producer = _RetryingProducer(client, stream)
    try:
        for seq in paced(count, rate, progress):
            producer.send(seq)
        restarter.join(timeout=30)
        deadline = time.monotonic() + 5
        while producer.queue and time.monotonic() < deadline:
            producer.send(None)
            time.sleep(0.01)
        reader.wait_for(count, timeout=5)
    finally:
        restarter.stop()
        reader.stop()
        _delete(client, stream)
    settings = {"count": count, "rate": rate, "restart_at": restart_at, "down_for": down_for}
    name, events = _("Redis restarted"), restarter.events
    return _stream_result(name, producer.published, [reader], start, events, settings)


class _RetryingProducer:
    """XADD in order, keeping what could not be sent and sending it first when Redis is back.

    `published` has the first failed attempt of a seq and its final successful one.
    """

    def __init__(self, client: redis.Redis, stream: str) -> None:
        self.client, self.stream = client, stream
        self.queue: deque[int] = deque()
        self.failed: set[int] = set()
        self.published: list[Published] = []

    def send(self, seq: int | None) -> None:
        """Queue `seq` (None: just retry), then send from the head of the queue until one fails.

        Each seq that cannot go out on time is recorded once, as a failed attempt.
        """
        if seq is not None:
            self.queue.append(seq)
        while self.queue:
            record = _xadd(self.client, self.stream, self.queue[0], 0)
            if record.receivers is not None:
                self.published.append(record)
                self.queue.popleft()
                continue
            for waiting in {self.queue[0], seq} - {None} - self.failed:
                self.failed.add(waiting)
                self.published.append(Published(waiting, record.sent_ns, None))
            return


@steady
def stream_trimmed(
    server: Server, count: int = 1000, maxlen: int = 100, rate: float | None = None
) -> LossResult:
    """XADD with MAXLEN while the consumer is not reading: the oldest unread entries are gone."""
    stream = unique_name("stream-trim")
    client = publisher(url_of(server))
    client.xgroup_create(stream, "late", id="$", mkstream=True)
    start = time.perf_counter_ns()
    published = [_xadd(client, stream, seq, 0, maxlen=maxlen) for seq in paced(count, rate)]
    what = _("consumer starts, XLEN {length}").format(length=client.xlen(stream))
    events = [(time.perf_counter_ns(), what)]
    reader = StreamReader(server, stream, "late", "consumer-1").start()
    try:
        reader.wait_for(maxlen, timeout=5)
    finally:
        reader.stop()
        _delete(client, stream)
    settings = {"count": count, "maxlen": maxlen}
    return _stream_result(f"MAXLEN {maxlen}", published, [reader], start, events, settings)
