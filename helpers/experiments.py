"""The measurement harness of notebooks 05 and 06: latency and message-loss experiments.

Every function here runs a real experiment against a real Redis server and returns
plain data (per-message records and their summary), and draws nothing: the
notebooks plot the results with `helpers.plots`, and the tests assert on them.

Conventions shared by every experiment:
- Messages carry their sequence number and send time: `"<seq>:<perf_counter_ns>:<padding>"`
  (`message()` builds one, `parse()` reads it). Publisher and subscriber live in this
  process, so the precise `time.perf_counter_ns()` clock is comparable on both ends.
- Publishing is paced against a schedule (`paced()`), not with `sleep(1 / rate)`:
  sleep overshoots, and the overshoots add up to a lower rate than asked for.
- Experiments that restart Redis or change its settings take the private embedded
  server (`redis_server.embedded()`), refuse a shared URL unless `allow_shared=True`,
  and restore the settings they changed.
- Long experiments accept `progress`, a callable given the fraction done (0..1).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import numpy as np
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers import pubsub
from helpers.language import N_, _
from helpers.redis_server import EmbeddedRedis

Progress = Callable[[float], None] | None
P = ParamSpec("P")
T = TypeVar("T")
Server = EmbeddedRedis | str


# ---------------------------------------------------------------- messages and clocks


def message(seq: int, sent_ns: int, payload: int = 0) -> str:
    """A numbered, timestamped message padded to at least `payload` characters."""
    head = f"{seq}:{sent_ns}:"
    return head + "x" * max(0, payload - len(head))


def parse(data: str | bytes) -> tuple[int, int]:
    """(seq, sent_ns) from a message built by `message()`."""
    if isinstance(data, bytes):
        data = data.decode()
    seq, sent, _padding = data.split(":", 2)
    return int(seq), int(sent)


def unique_name(kind: str) -> str:
    """A fresh key/channel name, so re-running an experiment never hears an old run."""
    return pubsub.channel(f"course:{kind}:{secrets.token_hex(4)}")


def paced(count: int, rate: float | None, progress: Progress = None) -> Iterator[int]:
    """Yield 0..count-1, each at its scheduled time start + seq / rate.

    A message that is late is sent at once, so the average rate holds even though
    `time.sleep()` overshoots. rate=None sends as fast as possible.
    """
    start = time.perf_counter_ns()
    step = 1e9 / rate if rate else 0.0
    report_every = max(1, count // 50)
    for seq in range(count):
        if step:
            delay = (start + seq * step - time.perf_counter_ns()) / 1e9
            if delay > 0:
                time.sleep(delay)
        yield seq
        if progress and seq % report_every == 0:
            progress(seq / count)
    if progress:
        progress(1.0)


def pacing_drift(rate: float = 2000, count: int = 400) -> dict[str, float]:
    """Achieved rate (msg/s) of `sleep(1 / rate)` between sends versus pacing on a schedule."""
    start = time.perf_counter()
    for _step in range(count):
        time.sleep(1 / rate)
    naive = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _step in paced(count, rate):
        pass
    scheduled = count / (time.perf_counter() - start)
    return {"asked": float(rate), "sleep(1/rate)": naive, "schedule": scheduled}


def clock_cost(count: int = 20_000) -> dict[str, float]:
    """What the harness costs per message, in ns: reading each clock, building and parsing."""

    def per_call(fn: Callable[[], object]) -> float:
        start = time.perf_counter_ns()
        for _step in range(count):
            fn()
        return (time.perf_counter_ns() - start) / count

    text = message(1, time.perf_counter_ns(), 64)
    return {
        "perf_counter_ns()": per_call(time.perf_counter_ns),
        "time_ns()": per_call(time.time_ns),
        "message(seq, ts, 64)": per_call(lambda: message(1, 2, 64)),
        "parse(message)": per_call(lambda: parse(text)),
    }


def _steady(experiment: Callable[P, T]) -> Callable[P, T]:
    """Run `experiment` with Python's garbage collector paused.

    A full collection of a kernel's heap (figures, earlier results) stops every thread
    for tens of milliseconds: it would show up as latency and as publishing stalls
    that have nothing to do with Redis. Collect first, then pause until the end.
    """

    @functools.wraps(experiment)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            return experiment(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run


# ---------------------------------------------------------------------------- latency


@dataclass
class LatencyResult:
    """Latency samples of one run, in ns, in the order the messages were sent."""

    label: str
    samples_ns: list[int] = field(repr=False)
    sent: int
    seconds: float
    rate: float | None = None
    payload: int = 0
    seqs: list[int] = field(default_factory=list, repr=False)

    @property
    def received(self) -> int:
        return len(self.samples_ns)

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile in microseconds."""
        if not self.samples_ns:
            raise ValueError(f"{self.label}: no samples, so no percentiles")
        return float(np.percentile(np.asarray(self.samples_ns), q)) / 1000

    @property
    def p50_us(self) -> float:
        return self.percentile(50)

    @property
    def p99_us(self) -> float:
        return self.percentile(99)

    @property
    def max_us(self) -> float:
        return max(self.samples_ns) / 1000

    def __str__(self) -> str:
        return _(
            "{label}: {received} of {sent} samples, "
            "p50 {p50:.0f} µs, p99 {p99:.0f} µs, max {max:.0f} µs ({rate:.0f} per s)"
        ).format(
            label=self.label,
            received=self.received,
            sent=self.sent,
            p50=self.p50_us,
            p99=self.p99_us,
            max=self.max_us,
            rate=self.achieved_rate,
        )


@_steady
def call_latency(
    call: Callable[[], object],
    count: int = 1000,
    rate: float | None = None,
    label: str = N_("round trip"),
    progress: Progress = None,
) -> LatencyResult:
    """Time `count` calls of `call()`, each from just before to just after it returns."""
    samples = []
    start = time.perf_counter()
    for _step in paced(count, rate, progress):
        sent = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - sent)
    return LatencyResult(
        _(label), samples, count, time.perf_counter() - start, rate, seqs=list(range(count))
    )


def ping_latency(
    client: redis.Redis, count: int = 1000, rate: float | None = None
) -> LatencyResult:
    """The floor under everything else: one PING round trip to Redis and back."""
    return call_latency(client.ping, count, rate, label=N_("Redis PING round trip"))


@_steady
def pubsub_latency(
    url: str,
    count: int = 1000,
    rate: float | None = 1000,
    payload: int = 16,
    channel: str | None = None,
    progress: Progress = None,
) -> LatencyResult:
    """End-to-end pub/sub latency: PUBLISH in this thread, heard by a `pubsub.Collector` thread.

    Each sample is receive time minus the send time carried in the message, both from
    `perf_counter_ns()` in this process. Publisher and subscriber share the process (and
    its GIL): that is part of what is measured. Pass `channel` to let another subscriber
    (a baseline to compare with) hear the very same messages; it must be subscribed first.
    """
    channel = channel or unique_name("latency")
    collector = pubsub.Collector(url, (channel,))
    client = redis.Redis.from_url(url)
    try:
        start = time.perf_counter()
        for seq in paced(count, rate, progress):
            client.publish(channel, message(seq, time.perf_counter_ns(), payload))
        seconds = time.perf_counter() - start
        arrived = collector.wait_for(count, timeout=5)
    finally:
        collector.stop()
        client.close()
    seqs, samples = [], []
    for item in arrived:
        seq, sent = parse(item.data)
        seqs.append(seq)
        samples.append(item.received_perf_ns - sent)
    if rate:
        label = f"pub/sub, {rate:.0f} msg/s, {payload} B"
    else:
        label = _("pub/sub, flood, {payload} B").format(payload=payload)
    return LatencyResult(label, samples, count, seconds, rate, payload, seqs)


@_steady
def stream_latency(
    url: str,
    count: int = 1000,
    rate: float | None = 1000,
    payload: int = 16,
    progress: Progress = None,
) -> LatencyResult:
    """End-to-end latency through a stream and a consumer group: XADD to XREADGROUP (then XACK)."""
    stream = unique_name("stream-latency")
    admin = redis.Redis.from_url(url, decode_responses=True)
    admin.xgroup_create(stream, "latency", id="$", mkstream=True)
    reader = StreamReader(url, stream, "latency", "reader")
    try:
        start = time.perf_counter()
        for seq in paced(count, rate, progress):
            admin.xadd(stream, {"m": message(seq, time.perf_counter_ns(), payload)})
        seconds = time.perf_counter() - start
        reader.wait_for(count, timeout=5)
    finally:
        reader.stop()
        admin.delete(stream)
        admin.close()
    if rate:
        label = f"stream, {rate:.0f} msg/s, {payload} B"
    else:
        label = _("stream, flood, {payload} B").format(payload=payload)
    arrivals = reader.arrivals
    samples = [a.received_ns - a.sent_ns for a in arrivals]
    return LatencyResult(label, samples, count, seconds, rate, payload, [a.seq for a in arrivals])


def rate_sweep(
    url: str,
    rates: list[float],
    seconds: float = 0.25,
    payload: int = 16,
    progress: Progress = None,
) -> list[LatencyResult]:
    """Pub/sub latency at each publish rate, each run lasting about `seconds`."""
    results = []
    for index, rate in enumerate(rates):
        results.append(pubsub_latency(url, max(20, int(rate * seconds)), rate, payload))
        if progress:
            progress((index + 1) / len(rates))
    return results


def payload_sweep(
    url: str,
    sizes: list[int],
    rate: float = 1000,
    count: int = 250,
    progress: Progress = None,
) -> list[LatencyResult]:
    """Pub/sub latency for each message size (bytes), at one publish rate."""
    results = []
    for index, size in enumerate(sizes):
        results.append(pubsub_latency(url, count, rate, size))
        if progress:
            progress((index + 1) / len(sizes))
    return results


# ---------------------------------------------------------------------- loss: results


@dataclass(frozen=True)
class Published:
    """One publish attempt: `receivers` is what PUBLISH returned, None if the call failed."""

    seq: int
    sent_ns: int
    receivers: int | None


@dataclass(frozen=True)
class Arrival:
    """One message as the subscriber or consumer got it."""

    seq: int
    sent_ns: int
    received_ns: int


@dataclass
class LossResult:
    """What was published and what arrived in one fault experiment, with exact counts.

    Times are `perf_counter_ns()` values; `start_ns` is the experiment's zero.
    `events` are (time, what happened) marks for the timeline.
    """

    name: str
    transport: str
    published: list[Published]
    arrivals: list[Arrival]
    start_ns: int
    events: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def received_seqs(self) -> set[int]:
        return {a.seq for a in self.arrivals}

    @property
    def lost(self) -> list[int]:
        """Sequence numbers the publisher tried to send that never arrived, in order."""
        got = self.received_seqs
        return sorted({p.seq for p in self.published} - got)

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """The lost sequence numbers as contiguous (first, last) ranges."""
        ranges: list[tuple[int, int]] = []
        for seq in self.lost:
            if ranges and ranges[-1][1] == seq - 1:
                ranges[-1] = (ranges[-1][0], seq)
            else:
                ranges.append((seq, seq))
        return ranges

    @property
    def duplicates(self) -> int:
        """Messages that arrived more than once (at-least-once delivery can repeat)."""
        return len(self.arrivals) - len(self.received_seqs)

    def _final_attempts(self) -> dict[int, Published]:
        """The last publish attempt of each seq (a producer may retry a failed one)."""
        return {p.seq: p for p in self.published}

    def counts(self) -> dict[str, int]:
        """The exact tally: attempts, arrivals, and the lost split by what the send returned."""
        final = self._final_attempts()
        lost = self.lost
        tally = {  # the keys stay English (code reads them); N_: __str__ shows them translated
            N_("published"): len(final),
            N_("received"): len(self.received_seqs),
            N_("lost"): len(lost),
            N_("returned 0"): sum(1 for p in final.values() if p.receivers == 0),
            N_("failed (error)"): sum(1 for p in final.values() if p.receivers is None),
            N_("sent again after an error"): sum(
                1 for p in self.published if p.receivers is None and final[p.seq].receivers
            ),
            N_("lost though counted as delivered"): sum(
                1 for seq in lost if (final[seq].receivers or 0) > 0
            ),
            N_("duplicates"): self.duplicates,
            N_("gaps"): len(self.gaps),
        }
        if self.transport == "stream":  # XADD counts no receivers: say what it did say
            renamed = {"lost though counted as delivered": N_("lost though XADD succeeded")}
            tally = {renamed.get(k, k): v for k, v in tally.items() if k != "returned 0"}
        return tally

    def seconds(self, t_ns: int) -> float:
        return (t_ns - self.start_ns) / 1e9

    def __str__(self) -> str:
        counts = [(_(key), value) for key, value in self.counts().items()]
        notes = []
        if self.gaps:
            shown = ", ".join(f"{a}-{b}" for a, b in self.gaps[:5])
            if len(self.gaps) > 5:
                shown += _(" and {count} more").format(count=len(self.gaps) - 5)
            notes.append((_("lost ranges (seq)"), shown))
        if self.error:
            notes.append((_("error seen by the subscriber"), self.error))
        width = max(34, *(len(name) for name, _value in counts + notes))
        lines = [f"{self.name} ({self.transport})"]
        lines += [f"  {name:{width}} {value:>6}" for name, value in counts]
        lines += [f"  {name:{width}} {value}" for name, value in notes]
        return "\n".join(lines)


def _publisher(url: str) -> redis.Redis:
    """A publishing client that fails at once instead of retrying, so failures are counted."""
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), socket_timeout=2)


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


def _on_our_clock(wall_ns: int) -> int:
    """A time.time_ns() stamp (what Collector notes a drop with) on the perf_counter_ns clock."""
    return wall_ns + time.perf_counter_ns() - time.time_ns()


def _private_url(server: Server, allow_shared: bool, what: str) -> str:
    """The URL of a server this experiment may reconfigure; refuse a shared one unless allowed."""
    if isinstance(server, EmbeddedRedis):
        return server.url
    if allow_shared:
        return server
    raise ValueError(
        _(
            "{what} changes server settings, which would disturb everyone on a shared server "
            "({server}). Pass the private server, `redis_server.embedded()`, "
            "or allow_shared=True if this server is yours alone."
        ).format(what=what, server=server)
    )


@contextlib.contextmanager
def buffer_limit(url: str, pubsub_limit: str | None) -> Iterator[str]:
    """Set `client-output-buffer-limit pubsub ...` for the block, then put back what was there.

    Yields the pubsub limit in force. None leaves the server's setting alone: notebook 05
    makes the `CONFIG SET` call in a cell of its own, where the learner can see and change it.
    """
    admin = redis.Redis.from_url(url, decode_responses=True)
    before = admin.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    if pubsub_limit is None:
        admin.close()
        yield "pubsub " + before.split("pubsub ", 1)[1]
        return
    try:
        admin.config_set("client-output-buffer-limit", f"pubsub {pubsub_limit}")
        yield f"pubsub {pubsub_limit}"
    finally:
        admin.config_set("client-output-buffer-limit", before)
        admin.close()


# ------------------------------------------------------------------- loss: pub/sub


@_steady
def late_subscriber(
    url: str, before: int = 100, after: int = 100, rate: float = 1000
) -> LossResult:
    """Publish `before` messages, then SUBSCRIBE, then publish `after` more.

    Pub/sub keeps nothing for absent subscribers: all of the first part is lost, and
    PUBLISH said so each time by returning 0.
    """
    channel = unique_name("late")
    client = _publisher(url)
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
    arrivals = _arrivals(collector)
    settings = {"before": before, "after": after, "rate": rate}
    return LossResult(
        _("Late subscriber"), "pub/sub", published, arrivals, start, events, None, settings
    )


class _AwaySubscriber(threading.Thread):
    """Subscribes, leaves cleanly for a while, comes back.

    It leaves with UNSUBSCRIBE and reads on until the server confirms, so every message
    sent while it was subscribed is received: the only loss is what was sent while it
    was away, exactly the PUBLISH calls that returned 0.
    """

    def __init__(self, url: str, channel: str, leave_ns: int, away_for: float) -> None:
        super().__init__(name="away subscriber", daemon=True)
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=None)
        self.pubsub = self.client.pubsub()
        self.channel, self.leave_ns, self.away_for = channel, leave_ns, away_for
        self.arrivals: list[Arrival] = []
        self.events: list[tuple[int, str]] = []
        self.halt = threading.Event()
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
        while not self.halt.is_set() and time.perf_counter_ns() < self.leave_ns:
            self._read()
        if self.halt.is_set():
            return
        self.pubsub.unsubscribe(self.channel)
        while not self._read("unsubscribe"):
            pass
        self.events.append((time.perf_counter_ns(), _("UNSUBSCRIBE confirmed")))
        if self.halt.wait(self.away_for):
            return
        self.pubsub.subscribe(self.channel)
        while not self._read("subscribe"):
            pass
        self.events.append((time.perf_counter_ns(), _("SUBSCRIBE confirmed")))
        while not self.halt.is_set():
            self._read()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)
        self.pubsub.close()
        self.client.close()


@_steady
def subscriber_away(
    url: str,
    count: int = 1500,
    rate: float = 1000,
    away_at: float = 0.5,
    away_for: float = 0.5,
    progress: Progress = None,
) -> LossResult:
    """Publish `count` messages at `rate`; the subscriber leaves at `away_at` s for `away_for` s."""
    channel = unique_name("away")
    client = _publisher(url)
    start = time.perf_counter_ns()
    subscriber = _AwaySubscriber(url, channel, start + int(away_at * 1e9), away_for)
    subscriber.start()
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
    return LossResult(
        _("Subscriber away for {seconds} s").format(seconds=away_for),
        "pub/sub",
        published,
        subscriber.arrivals,
        start,
        subscriber.events,
        None,
        settings,
    )


@_steady
def slow_consumer(
    server: Server,
    payload: int = 10_000,
    rate: float = 5000,
    count: int = 3000,
    delay: float = 0.001,
    limit: str | None = "1mb 256kb 1",
    allow_shared: bool = False,
    progress: Progress = None,
) -> LossResult:
    """A subscriber slower than the publisher, cut off by `client-output-buffer-limit pubsub`.

    `limit` is "<hard> <soft> <soft seconds>" for the pubsub class, set for the run only
    (None: run under the server's setting as it is).
    Publishing stops soon after Redis drops the subscriber (PUBLISH starts returning 0).
    The subscriber learns of it only after reading what its socket still held, as a
    ConnectionError: its client has zero retries, so it cannot silently reconnect.
    """
    url = _private_url(server, allow_shared, _("The slow-consumer experiment"))
    channel = unique_name("slow")
    client = _publisher(url)
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
        seen_ns = _on_our_clock(subscriber.disconnects[0][0])
        events.append((seen_ns, _("subscriber sees ConnectionError")))
    error = f"{type(subscriber.error).__name__}: {subscriber.error}" if subscriber.error else None
    settings = {"payload": payload, "rate": rate, "delay": delay, "limit": in_force}
    name = _("Slow consumer")
    arrivals = _arrivals(subscriber)
    return LossResult(name, "pub/sub", published, arrivals, start, events, error, settings)


def _restart_later(
    server: EmbeddedRedis, at_ns: int, down_for: float, keep_data: bool
) -> tuple[threading.Thread, list[tuple[int, str]]]:
    """A thread that restarts `server` at `at_ns`, noting when it went down and came back."""
    events: list[tuple[int, str]] = []

    def run() -> None:
        time.sleep(max(0.0, (at_ns - time.perf_counter_ns()) / 1e9))
        events.append((time.perf_counter_ns(), _("Redis stops")))
        server.restart(down_for, keep_data=keep_data)
        events.append((time.perf_counter_ns(), _("Redis is back")))

    thread = threading.Thread(target=run, name="redis restart", daemon=True)
    thread.start()
    return thread, events


@_steady
def redis_restart(
    server: EmbeddedRedis,
    count: int = 1500,
    rate: float = 1000,
    restart_at: float = 0.5,
    down_for: float = 0.3,
    progress: Progress = None,
) -> LossResult:
    """Restart Redis under a subscriber that reconnects on its own (redis-py's default retry).

    The subscriber comes back subscribed without a word to the application; the
    messages published while it was gone are lost all the same.
    """
    if not isinstance(server, EmbeddedRedis):
        raise TypeError(_("redis_restart needs the private server: pass redis_server.embedded()"))
    channel = unique_name("restart")
    collector = pubsub.Collector(server.url, (channel,))
    client = _publisher(server.url)
    start = time.perf_counter_ns()
    restarter, events = _restart_later(server, start + int(restart_at * 1e9), down_for, False)
    published = []
    try:
        for seq in paced(count, rate, progress):
            published.append(_publish(client, channel, seq, 0))
        restarter.join(timeout=30)
        collector.wait_for(sum(1 for p in published if p.receivers), timeout=2)
    finally:
        collector.stop()
        client.close()
    if collector.disconnects:
        events.append((_on_our_clock(collector.disconnects[0][0]), _("subscriber drops")))
    settings = {"count": count, "rate": rate, "restart_at": restart_at, "down_for": down_for}
    name, arrivals = _("Redis restarted"), _arrivals(collector)
    return LossResult(name, "pub/sub", published, arrivals, start, events, None, settings)


# ------------------------------------------------------------------- streams


class StreamReader(threading.Thread):
    """A consumer in a consumer group: XREADGROUP, handle, XACK, in a daemon thread.

    On start, and after every reconnect, it first takes over entries that were
    delivered but never acknowledged (by itself or by a consumer that died) with
    XAUTOCLAIM, so nothing in the pending entries list (PEL) is left behind.
    `crash_after=n` makes it die after n entries, leaving its last batch unacknowledged.
    """

    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        consumer: str,
        delay: float = 0.0,
        crash_after: int | None = None,
        batch: int = 100,
    ) -> None:
        super().__init__(name=f"stream reader {consumer}", daemon=True)
        self.client = redis.Redis.from_url(
            url, decode_responses=True, retry=Retry(NoBackoff(), 0), socket_timeout=2
        )
        self.stream, self.group, self.consumer = stream, group, consumer
        self.delay, self.crash_after, self.batch = delay, crash_after, batch
        self.arrivals: list[Arrival] = []
        self.events: list[tuple[int, str]] = []
        self.claimed = 0
        self.halt = threading.Event()
        self.start()

    def _process(self, entries: list) -> bool:  # not `_handle`: Python 3.13's Thread has one
        """Process and acknowledge a batch; False if the reader 'crashed' on the way."""
        for entry_id, fields in entries:
            if fields is None:  # trimmed away while pending
                continue
            seq, sent = parse(fields["m"])
            self.arrivals.append(Arrival(seq, sent, time.perf_counter_ns()))
            if self.crash_after is not None and len(self.arrivals) >= self.crash_after:
                now = time.perf_counter_ns()
                what = _("{consumer} crashes").format(consumer=self.consumer)
                self.events.append((now, what))
                return False
            if self.delay:
                time.sleep(self.delay)
            self.client.xack(self.stream, self.group, entry_id)
        return True

    def _claim_pending(self) -> bool:
        """XAUTOCLAIM everything pending in the group to this consumer and handle it."""
        cursor = "0-0"
        while True:
            cursor, entries = self.client.xautoclaim(
                self.stream, self.group, self.consumer, 0, cursor, count=self.batch
            )[:2]
            if entries:
                self.claimed += len(entries)
                now = time.perf_counter_ns()
                what = _("{consumer}: XAUTOCLAIM took {count}").format(
                    consumer=self.consumer, count=len(entries)
                )
                self.events.append((now, what))
                if not self._process(entries):
                    return False
            if cursor == "0-0":
                return True

    def run(self) -> None:
        recover = True
        while not self.halt.is_set():
            try:
                if recover and not self._claim_pending():
                    return
                recover = False
                reply = self.client.xreadgroup(
                    self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=50
                )
                for _stream, entries in reply or []:
                    if not self._process(entries):
                        return
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                if not recover:
                    now = time.perf_counter_ns()
                    what = _("{consumer} disconnected").format(consumer=self.consumer)
                    self.events.append((now, what))
                recover = True
                self.halt.wait(0.05)

    def wait_for(self, count: int, timeout: float = 5.0, progress: Progress = None) -> None:
        """Wait until `count` distinct entries arrived, the reader stopped, or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_alive():
            got = len({a.seq for a in self.arrivals})
            if progress:
                progress(min(1.0, got / count))
            if got >= count:
                return
            time.sleep(0.01)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)
        self.client.close()


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
    return LossResult(name, "stream", published, arrivals, start, events, None, settings)


@_steady
def stream_late_consumer(
    url: str, before: int = 100, after: int = 100, rate: float = 1000
) -> LossResult:
    """XADD `before` entries, then create the group from the start (id 0) and read, then more."""
    stream = unique_name("stream-late")
    client = _publisher(url)
    start = time.perf_counter_ns()
    published = [_xadd(client, stream, seq, 0) for seq in paced(before, rate)]
    client.xgroup_create(stream, "late", id="0", mkstream=True)
    events = [(time.perf_counter_ns(), _("XGROUP CREATE ... 0, consumer starts"))]
    reader = StreamReader(url, stream, "late", "consumer-1")
    try:
        published += [_xadd(client, stream, before + seq, 0) for seq in paced(after, rate)]
        reader.wait_for(before + after, timeout=5)
    finally:
        reader.stop()
        client.delete(stream)
        client.close()
    settings = {"before": before, "after": after, "rate": rate}
    return _stream_result(_("Late consumer"), published, [reader], start, events, settings)


@_steady
def stream_consumer_away(
    url: str,
    count: int = 1500,
    rate: float = 1000,
    away_at: float = 0.5,
    away_for: float = 0.5,
    progress: Progress = None,
) -> LossResult:
    """Consumer 1 crashes mid-batch at `away_at`; consumer 2 starts `away_for` s later.

    Consumer 2 takes over what consumer 1 left unacknowledged (XAUTOCLAIM on the PEL),
    then reads everything published while nobody was reading.
    """
    stream = unique_name("stream-away")
    client = _publisher(url)
    client.xgroup_create(stream, "workers", id="$", mkstream=True)
    start = time.perf_counter_ns()
    crash_after = max(1, int(away_at * rate))
    first = StreamReader(url, stream, "workers", "consumer-1", crash_after=crash_after)
    second = None
    events: list[tuple[int, str]] = []
    published = []
    try:
        for seq in paced(count, rate, progress):
            published.append(_xadd(client, stream, seq, 0))
            if second is None and not first.is_alive():
                crashed_ns = first.events[-1][0] if first.events else time.perf_counter_ns()
                if time.perf_counter_ns() - crashed_ns >= away_for * 1e9:
                    pending = client.xpending(stream, "workers")["pending"]
                    what = _("{count} pending in the PEL").format(count=pending)
                    events.append((time.perf_counter_ns(), what))
                    second = StreamReader(url, stream, "workers", "consumer-2")
        if second is None:
            second = StreamReader(url, stream, "workers", "consumer-2")
        deadline = time.monotonic() + 5
        readers = [first, second]
        while time.monotonic() < deadline and _distinct(readers) < count:
            time.sleep(0.01)
    finally:
        first.stop()
        if second:
            second.stop()
        client.delete(stream)
        client.close()
    settings = {"count": count, "rate": rate, "away_at": away_at, "away_for": away_for}
    name = _("Consumer away for {seconds} s").format(seconds=away_for)
    return _stream_result(name, published, [first, second], start, events, settings)


def _distinct(readers: list[StreamReader]) -> int:
    return len({a.seq for reader in readers for a in reader.arrivals})


@_steady
def stream_slow_consumer(
    server: Server,
    payload: int = 10_000,
    rate: float = 5000,
    count: int = 1500,
    delay: float = 0.001,
    limit: str | None = "1mb 256kb 1",
    allow_shared: bool = False,
    progress: Progress = None,
) -> LossResult:
    """The slow consumer again, reading a stream under the same buffer limit.

    A consumer pulls at its own pace (XREADGROUP COUNT n): the backlog waits in the
    stream, not in the server's output buffer, so nothing is cut off.
    """
    url = _private_url(server, allow_shared, _("The slow-consumer experiment"))
    stream = unique_name("stream-slow")
    client = _publisher(url)
    client.xgroup_create(stream, "slow", id="$", mkstream=True)
    with buffer_limit(url, limit) as in_force:
        start = time.perf_counter_ns()
        reader = StreamReader(url, stream, "slow", "consumer-1", delay=delay, batch=10)
        try:
            published = [_xadd(client, stream, seq, payload) for seq in paced(count, rate)]
            backlog = len(published) - len(reader.arrivals)
            now = time.perf_counter_ns()
            what = _("last XADD, {count} not yet read").format(count=backlog)
            events = [(now, what)]
            reader.wait_for(count, timeout=count * delay * 3 + 5, progress=progress)
        finally:
            reader.stop()
            client.delete(stream)
            client.close()
    settings = {"payload": payload, "rate": rate, "delay": delay, "limit": in_force}
    return _stream_result(_("Slow consumer"), published, [reader], start, events, settings)


@_steady
def stream_restart(
    server: EmbeddedRedis,
    count: int = 1500,
    rate: float = 1000,
    restart_at: float = 0.5,
    down_for: float = 0.3,
    progress: Progress = None,
) -> LossResult:
    """Restart Redis (saving its data on the way down) under a producer and a consumer.

    The producer keeps what XADD could not send and sends it when Redis is back; the
    consumer reconnects and XAUTOCLAIMs what it had read but not acknowledged.
    """
    if not isinstance(server, EmbeddedRedis):
        raise TypeError(_("stream_restart needs the private server: pass redis_server.embedded()"))
    stream = unique_name("stream-restart")
    client = _publisher(server.url)
    client.xgroup_create(stream, "workers", id="$", mkstream=True)
    start = time.perf_counter_ns()
    reader = StreamReader(server.url, stream, "workers", "consumer-1")
    restarter, events = _restart_later(server, start + int(restart_at * 1e9), down_for, True)
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
        reader.stop()
        with contextlib.suppress(redis.RedisError):
            client.delete(stream)
        client.close()
    settings = {"count": count, "rate": rate, "restart_at": restart_at, "down_for": down_for}
    name = _("Redis restarted")
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


@_steady
def stream_trimmed(
    url: str, count: int = 1000, maxlen: int = 100, rate: float | None = None
) -> LossResult:
    """XADD with MAXLEN while the consumer is not reading: the oldest unread entries are gone."""
    stream = unique_name("stream-trim")
    client = _publisher(url)
    client.xgroup_create(stream, "late", id="$", mkstream=True)
    start = time.perf_counter_ns()
    published = [_xadd(client, stream, seq, 0, maxlen=maxlen) for seq in paced(count, rate)]
    what = _("consumer starts, XLEN {length}").format(length=client.xlen(stream))
    events = [(time.perf_counter_ns(), what)]
    reader = StreamReader(url, stream, "late", "consumer-1")
    try:
        reader.wait_for(maxlen, timeout=5)
    finally:
        reader.stop()
        client.delete(stream)
        client.close()
    settings = {"count": count, "maxlen": maxlen}
    return _stream_result(f"MAXLEN {maxlen}", published, [reader], start, events, settings)
