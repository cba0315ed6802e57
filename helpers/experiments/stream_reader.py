"""The hardened stream consumer of notebook 06: XREADGROUP, handle, XACK, in a background worker."""

from __future__ import annotations

# What `helpers.experiments` offers from this module (its __init__ imports them all).
__all__ = ["StreamReader"]

import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.background import Worker
from helpers.experiments.harness import Progress, Server, parse, url_of
from helpers.experiments.results import Arrival
from helpers.language import _


class StreamReader(Worker):
    """A consumer in a consumer group: XREADGROUP, handle, XACK, until it is stopped.

    On start, and after every reconnect, it first takes over entries that were
    delivered but never acknowledged (by itself or by a consumer that died) with
    XAUTOCLAIM, so nothing in the pending entries list (PEL) is left behind.
    `crash_after=n` makes it die after n entries, leaving its last batch unacknowledged.
    `StreamReader(...).start()` starts it; `stop()` ends it and closes its connection.
    """

    def __init__(
        self,
        server: Server,
        stream: str,
        group: str,
        consumer: str,
        *,
        delay: float = 0.0,
        crash_after: int | None = None,
        batch: int = 100,
    ) -> None:
        super().__init__(f"stream reader {consumer}")
        self.client = redis.Redis.from_url(
            url_of(server), decode_responses=True, retry=Retry(NoBackoff(), 0), socket_timeout=2
        )
        self.stream, self.group, self.consumer = stream, group, consumer
        self.delay, self.crash_after, self.batch = delay, crash_after, batch
        self.arrivals: list[Arrival] = []
        self.events: list[tuple[int, str]] = []
        self.claimed = 0

    def _process(self, entries: list) -> bool:
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
        while not self.stopping.is_set():
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
                self.stopping.wait(0.05)

    def distinct(self) -> int:
        """How many different entries arrived (a claimed entry may arrive twice)."""
        return len({a.seq for a in self.arrivals})

    def wait_for(self, count: int, timeout: float = 5.0, progress: Progress = None) -> None:
        """Wait until `count` distinct entries arrived, the reader stopped, or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running:
            got = self.distinct()
            if progress:
                progress(min(1.0, got / count))
            if got >= count:
                return
            time.sleep(0.01)

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        return f"{len(self.arrivals)} read from {self.stream}"
