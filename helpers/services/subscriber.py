"""The lab's subscriber: it listens on the channel and reports what it heard.

`/messages` shows the latest messages, `/stats` counts them and lists the sequence
numbers it knows it missed, `/health` says whether it is listening. A Redis that goes
away makes it reconnect every RECONNECT_EVERY s; `/stats` then shows what it missed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers import background, http_service, pubsub
from helpers.redis_server import RedisUnavailable
from helpers.services.core import SUBSCRIBER_PORT, BadRequest, Route, Service, iso, where

RECONNECT_EVERY = 0.5  # seconds between a disconnected subscriber's attempts to get back
KEEP = 1000  # messages a subscriber keeps for /messages
KEEP_BYTES = 65_536  # a message longer than this is kept cut short
KEEP_GAPS = 100  # the latest gaps listed in /stats (all are counted)
KEEP_SOURCES = 1000  # publishers whose last number a subscriber remembers
SOURCE_CHARS = 200  # of a message's source, the part that names its publisher
SEQ_LIMIT = 2**63  # a seq or sent_ns outside 0..SEQ_LIMIT is not taken as a number


def _number(value: Any) -> int | None:
    """`value` if it is a whole number a publisher could have sent (not a bool, not
    negative, below SEQ_LIMIT): bigger ones break float conversion and JSON output."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < SEQ_LIMIT:
        return value
    return None


def _entry(data: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a subscriber keeps of a message it received (cut short past KEEP_BYTES), and
    the message's fields if it is a JSON object."""
    received_ns = time.time_ns()
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to parse
        message = data
    fields = message if isinstance(message, dict) else {}
    if len(data) > KEEP_BYTES:
        message = f"{data[:KEEP_BYTES]}... ({len(data)} characters in all)"
    entry: dict[str, Any] = {"received_at": iso(received_ns), "message": message}
    sent_ns = _number(fields.get("sent_ns"))
    if sent_ns is not None:
        entry["latency_us"] = (received_ns - sent_ns) / 1000
    return entry, fields


class _Listener(background.Worker):
    """The subscriber's thread: hears the channel, hands each message to `record`, and
    while Redis is away tries every RECONNECT_EVERY s to subscribe again.

    It exists before the HTTP server answers, so /health can say "not listening" until
    `listen()` has subscribed (confirmed by Redis) and started the thread.
    """

    def __init__(
        self, name: str, record: Callable[[str], None], log: Callable[[str], None]
    ) -> None:
        super().__init__(name)
        self.record, self.log = record, log
        self.connected = False
        self.disconnects = 0

    def listen(self, client: redis.Redis, channel: str) -> None:
        """Subscribe (or raise), then start the thread: a publish from here on is heard."""
        self.client, self.channel = client, channel
        self.thread.name = f"{self.name} (listening on {channel})"
        self.subscription = self._subscribe()
        self.start()

    def _subscribe(self) -> redis.client.PubSub:
        """A fresh subscription, confirmed by the server before it is used."""
        subscription = self.client.pubsub()
        try:
            subscription.subscribe(self.channel)
            pubsub.wait_subscribed(subscription, 1, timeout=2)
        except (redis.RedisError, TimeoutError):
            subscription.close()
            raise
        self.connected = True
        return subscription

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    message = self.subscription.get_message(timeout=0.1)
                except (redis.RedisError, OSError) as error:  # dropped, or Redis is gone
                    self._reconnect(error)
                    continue
                if message and message["type"] == "message":
                    self.record(message["data"])
        finally:
            pubsub.leave(self.subscription)
            self.connected = False

    def _reconnect(self, error: Exception) -> None:
        """Try every RECONNECT_EVERY seconds until subscribed again or stopped."""
        self.subscription.close()
        self.connected = False
        self.disconnects += 1
        self.log(f"lost Redis ({error}); retrying every {RECONNECT_EVERY} s")
        while not self.stopping.wait(RECONNECT_EVERY):
            try:
                self.subscription = self._subscribe()
            except (redis.RedisError, TimeoutError):
                continue
            self.log(f"reconnected, listening on {self.channel!r} again")
            return


class Subscriber(Service):
    """Listens on the channel in a daemon thread; /messages, /stats and /health report.

    Its memory stays bounded whatever is published: the last `keep` messages (each cut
    at KEEP_BYTES), the last KEEP_GAPS gaps with running totals of all, and the last
    numbers of the KEEP_SOURCES publishers heard from most recently.
    """

    kind = "subscriber"
    default_port = SUBSCRIBER_PORT

    def __init__(self, name: str, redis_url: str, *, keep: int = KEEP, **options: Any) -> None:
        """`options` are Service's: channel, port, host, fallback, echo."""
        self._lock = threading.Lock()
        self.received = 0
        self.unnumbered = 0  # messages without a sequence number, e.g. published by hand
        self.recent: deque[dict] = deque(maxlen=keep)
        # Per source, as publishers number independently; least recently heard first.
        self.last_seq: dict[str, int] = {}
        self.forgotten_sources = 0
        self.gaps: deque[dict] = deque(maxlen=KEEP_GAPS)
        self.gap_count = 0
        self.missed = 0
        self.publisher_restarts = 0
        self.listener = _Listener(name, self._record, self.log)  # /health asks it
        # No hidden retries and no read timeout: a dropped connection surfaces at
        # once, and the listener reconnects and re-subscribes in plain sight.
        no_retries = Retry(NoBackoff(), 0)
        super().__init__(name, redis_url, retry=no_retries, socket_timeout=None, **options)
        try:
            self.listener.listen(self.client, self.channel)
        except (redis.RedisError, TimeoutError) as error:
            super().stop()
            raise RedisUnavailable(f"{self.name}: could not subscribe ({error})") from None

    def routes(self) -> dict[str, Route]:
        return {"/messages": self._messages, "/stats": self._stats, "/health": self._health}

    def _record(self, data: str) -> None:
        entry, fields = _entry(data)
        seq = _number(fields.get("seq"))
        with self._lock:
            self.received += 1
            self.recent.append(entry)
            if seq is None:
                self.unnumbered += 1
            else:
                self._track(str(fields.get("source"))[:SOURCE_CHARS], seq)
        self.log(f"received {data[:1000]}")

    def _track(self, source: str, seq: int) -> None:
        """Note a gap when a source's number jumps; a number going back is a restart."""
        last = self.last_seq.pop(source, None)  # put back below, as the latest heard
        if last is not None and seq > last + 1:
            missed = seq - last - 1
            self.gaps.append({"source": source, "from": last + 1, "to": seq - 1, "missed": missed})
            self.gap_count += 1
            self.missed += missed
        elif last is not None and seq <= last:
            self.publisher_restarts += 1
        self.last_seq[source] = seq
        if len(self.last_seq) > KEEP_SOURCES:
            del self.last_seq[next(iter(self.last_seq))]
            self.forgotten_sources += 1

    def _messages(self, query: dict) -> tuple[int, Any]:
        text = query.get("n", ["10"])[-1]
        count = http_service.whole_number(text, 9)
        if count is None:
            raise BadRequest(
                f"n={text[:40]!r}: give the number of messages, for example /messages?n=5"
            )
        with self._lock:
            recent = list(self.recent)
        return 200, {"channel": self.channel, "messages": recent[-count:] if count else []}

    def _stats(self, _query: dict) -> tuple[int, Any]:
        with self._lock:
            newest = self.recent[-1]["message"] if self.recent else None
            return 200, {
                "channel": self.channel,
                "received": self.received,
                "last_seq": newest.get("seq") if isinstance(newest, dict) else None,
                "missed": self.missed,
                "gaps": list(self.gaps),
                "gap_count": self.gap_count,  # all gaps; "gaps" lists the last KEEP_GAPS
                "publisher_restarts": self.publisher_restarts,
                "forgotten_sources": self.forgotten_sources,
                "unnumbered": self.unnumbered,
                "disconnects": self.listener.disconnects,
                "connected": self.listener.connected,
            }

    def _health(self, _query: dict) -> tuple[int, Any]:
        listening, connected = self.listener.running, self.listener.connected
        if not listening:
            status = "not listening: the listening thread has stopped; restart the subscriber"
        else:
            status = "ok" if connected else "redis unreachable, reconnecting"
        body = {
            "status": status,
            "redis": where(self.redis_url),
            "subscribed": connected and listening,
            "listening": listening,
            "channel": self.channel,
        }
        return (200 if connected and listening else 503), body

    def stop(self) -> None:
        """Stop listening (the thread leaves its subscription), then the HTTP server."""
        self.listener.stop()
        super().stop()
