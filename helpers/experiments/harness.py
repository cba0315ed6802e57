"""What every experiment shares: numbered messages, clocks, pacing, the server argument.

- Messages carry their sequence number and send time: `"<seq>:<perf_counter_ns>:<padding>"`
  (`message()` builds one, `parse()` reads it). Publisher and subscriber live in this
  process, so the precise `time.perf_counter_ns()` clock is comparable on both ends.
- Publishing is paced against a schedule (`paced()`), not with `sleep(1 / rate)`:
  sleep overshoots, and the overshoots add up to a lower rate than asked for.
- Every experiment takes the server first, as `server`: a Redis URL or the private
  embedded server (`redis_server.embedded()`). Those that restart Redis or change its
  settings need the private one (`private_url`, `Restarter`).
"""

from __future__ import annotations

# What `helpers.experiments` offers from this module (its __init__ imports them all).
__all__ = [
    "Progress",
    "Server",
    "buffer_limit",
    "clock_cost",
    "message",
    "paced",
    "pacing_drift",
    "parse",
    "unique_name",
]

import contextlib
import functools
import gc
import secrets
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers import pubsub
from helpers.background import Worker
from helpers.language import _
from helpers.redis_server import EmbeddedRedis

Progress = Callable[[float], None] | None
Server = EmbeddedRedis | str
P = ParamSpec("P")
T = TypeVar("T")


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


def steady(experiment: Callable[P, T]) -> Callable[P, T]:
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


def url_of(server: Server) -> str:
    """The URL to connect to: a URL as given, or the private embedded server's."""
    if isinstance(server, EmbeddedRedis):
        return server.url
    if isinstance(server, str):
        return server
    raise TypeError(
        _(
            "server must be a Redis URL (e.g. REDIS_URL) or redis_server.embedded(), "
            "not {kind}: an experiment opens its own connections"
        ).format(kind=type(server).__name__)
    )


def private_url(server: Server, allow_shared: bool, what: str) -> str:
    """The URL of a server this experiment may reconfigure; refuse a shared one unless allowed."""
    if isinstance(server, EmbeddedRedis):
        return server.url
    if allow_shared:
        return url_of(server)
    raise ValueError(
        _(
            "{what} changes server settings, which would disturb everyone on a shared server "
            "({server}). Pass the private server, `redis_server.embedded()`, "
            "or allow_shared=True if this server is yours alone."
        ).format(what=what, server=server)
    )


def publisher(url: str) -> redis.Redis:
    """A publishing client that fails at once instead of retrying, so failures are counted."""
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), socket_timeout=2)


def on_our_clock(wall_ns: int) -> int:
    """A time.time_ns() stamp (what Collector notes a drop with) on the perf_counter_ns clock."""
    return wall_ns + time.perf_counter_ns() - time.time_ns()


@contextlib.contextmanager
def buffer_limit(server: Server, pubsub_limit: str | None) -> Iterator[str]:
    """Set `client-output-buffer-limit pubsub ...` for the block, then put back what was there.

    Yields the pubsub limit in force. None leaves the server's setting alone: notebook 05
    makes the `CONFIG SET` call in a cell of its own, where the learner can see and change it.
    """
    admin = redis.Redis.from_url(url_of(server), decode_responses=True)
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


class Restarter(Worker):
    """Restarts the private server at `at_ns`, noting in `events` when it stopped and was back."""

    join_timeout = 30.0  # a restart saving its data takes a while

    def __init__(
        self, server: EmbeddedRedis, at_ns: int, down_for: float, *, keep_data: bool
    ) -> None:
        super().__init__("redis restart")
        self.server, self.at_ns, self.down_for, self.keep_data = server, at_ns, down_for, keep_data
        self.events: list[tuple[int, str]] = []

    def run(self) -> None:
        if self.stopping.wait(max(0.0, (self.at_ns - time.perf_counter_ns()) / 1e9)):
            return
        self.events.append((time.perf_counter_ns(), _("Redis stops")))
        self.server.restart(self.down_for, keep_data=self.keep_data)
        self.events.append((time.perf_counter_ns(), _("Redis is back")))
