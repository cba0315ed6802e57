"""Latency experiments of notebooks 05 and 06: round trips, pub/sub, streams, and sweeps.

Each sample is receive time minus the send time carried in the message, both from
`perf_counter_ns()` in this process, with the garbage collector paused (`steady`).
"""

from __future__ import annotations

# What `helpers.experiments` offers from this module (its __init__ imports them all).
__all__ = [
    "call_latency",
    "payload_sweep",
    "ping_latency",
    "pubsub_latency",
    "rate_sweep",
    "stream_latency",
]

import time
from collections.abc import Callable

import redis

from helpers import pubsub
from helpers.experiments.harness import (
    Progress,
    Server,
    message,
    paced,
    parse,
    steady,
    unique_name,
    url_of,
)
from helpers.experiments.results import LatencyResult
from helpers.experiments.stream_reader import StreamReader
from helpers.language import N_, _


@steady
def call_latency(
    call: Callable[[], object],
    count: int = 1000,
    rate: float | None = None,
    label: str = N_("round trip"),
    *,
    progress: Progress = None,
) -> LatencyResult:
    """Time `count` calls of `call()`, each from just before to just after it returns."""
    samples = []
    start = time.perf_counter()
    for _step in paced(count, rate, progress):
        sent = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - sent)
    seconds = time.perf_counter() - start
    return LatencyResult(_(label), samples, count, seconds, rate=rate, seqs=list(range(count)))


def ping_latency(server: Server, count: int = 1000, rate: float | None = None) -> LatencyResult:
    """The floor under everything else: one PING round trip to Redis and back."""
    with redis.Redis.from_url(url_of(server)) as client:
        client.ping()  # connect first: the samples are round trips, not a connection setup
        return call_latency(client.ping, count, rate, label=N_("Redis PING round trip"))


def _label(kind: str, rate: float | None, payload: int) -> str:
    if rate:
        return f"{kind}, {rate:.0f} msg/s, {payload} B"
    if kind == "stream":
        return _("stream, flood, {payload} B").format(payload=payload)
    return _("pub/sub, flood, {payload} B").format(payload=payload)


@steady
def pubsub_latency(
    server: Server, count: int = 1000, rate: float | None = 1000, payload: int = 16,
    *, channel: str | None = None, progress: Progress = None,
) -> LatencyResult:  # fmt: skip
    """End-to-end pub/sub latency: PUBLISH in this thread, heard by a `pubsub.Collector` thread.

    Publisher and subscriber share the process (and its GIL): that is part of what is
    measured. Pass `channel` to let another subscriber (a baseline to compare with) hear
    the very same messages; it must be subscribed first.
    """
    url = url_of(server)
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
    label = _label("pub/sub", rate, payload)
    return LatencyResult(label, samples, count, seconds, rate=rate, payload=payload, seqs=seqs)


@steady
def stream_latency(
    server: Server, count: int = 1000, rate: float | None = 1000, payload: int = 16,
    *, progress: Progress = None,
) -> LatencyResult:  # fmt: skip
    """End-to-end latency through a stream and a consumer group: XADD to XREADGROUP (then XACK)."""
    stream = unique_name("stream-latency")
    admin = redis.Redis.from_url(url_of(server), decode_responses=True)
    admin.xgroup_create(stream, "latency", id="$", mkstream=True)
    reader = StreamReader(server, stream, "latency", "reader").start()
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
    arrivals = reader.arrivals
    samples = [a.received_ns - a.sent_ns for a in arrivals]
    seqs = [a.seq for a in arrivals]
    label = _label("stream", rate, payload)
    return LatencyResult(label, samples, count, seconds, rate=rate, payload=payload, seqs=seqs)


def rate_sweep(
    server: Server, rates: list[float], seconds: float = 0.25, payload: int = 16,
    *, progress: Progress = None,
) -> list[LatencyResult]:  # fmt: skip
    """Pub/sub latency at each publish rate, each run lasting about `seconds`."""
    results = []
    for index, rate in enumerate(rates):
        results.append(pubsub_latency(server, max(20, int(rate * seconds)), rate, payload))
        if progress:
            progress((index + 1) / len(rates))
    return results


def payload_sweep(
    server: Server, sizes: list[int], rate: float = 1000, count: int = 250,
    *, progress: Progress = None,
) -> list[LatencyResult]:  # fmt: skip
    """Pub/sub latency for each message size (bytes), at one publish rate."""
    results = []
    for index, size in enumerate(sizes):
        results.append(pubsub_latency(server, count, rate, size))
        if progress:
            progress((index + 1) / len(sizes))
    return results
