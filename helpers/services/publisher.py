"""The lab's publisher: `GET /ping` publishes a numbered, timestamped JSON message.

A Redis that goes away makes `/ping` answer 503 (nothing was published); a Redis that
stalls makes it answer 504 after REDIS_TIMEOUT: the message was sent but not confirmed,
so it may or may not have been published, and its number is used up, never sent again.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers.services.core import PUBLISHER_PORT, Route, Service, iso, where

REDIS_TIMEOUT = 2.0  # seconds the publisher waits for Redis to confirm a PUBLISH


class Publisher(Service):
    """GET /ping publishes {seq, timestamp, sent_ns, source} to the channel.

    Answers 200 (published), 503 (not published: Redis unreachable) or 504 (sent, but
    Redis did not confirm within redis_timeout: the outcome is unknown).
    """

    kind = "publisher"
    default_port = PUBLISHER_PORT

    def __init__(
        self, name: str, redis_url: str, *, redis_timeout: float = REDIS_TIMEOUT, **options: Any
    ) -> None:
        """`options` are Service's: channel, port, host, fallback, echo."""
        self.sequence = 0  # numbers used up: published, or sent with the outcome unknown
        self.unconfirmed = 0  # of those, sent but never confirmed (504)
        self.redis_timeout = redis_timeout
        self._publish_lock = threading.Lock()
        # No hidden retries: a command Redis may have run must not be sent twice. The
        # pool replaces a connection Redis closed (after a restart) before handing it out.
        no_retries = Retry(NoBackoff(), 0)
        super().__init__(name, redis_url, retry=no_retries, socket_timeout=redis_timeout, **options)

    @property
    def source(self) -> str:
        """Who sent a message: the subscriber numbers each source's messages separately."""
        return f"publisher@{socket.gethostname()}:{self.port}"

    def routes(self) -> dict[str, Route]:
        return {"/ping": self._ping, "/health": self._health}

    def _ping(self, _query: dict) -> tuple[int, Any]:
        """Publish the next number. One publish at a time, so numbers reach Redis in order;
        a /ping that waits longer than redis_timeout for its turn gives up (503)."""
        if not self._publish_lock.acquire(timeout=self.redis_timeout):
            return self._not_published(
                f"another /ping has waited over {self.redis_timeout} s for Redis to answer"
            )
        try:
            return self._publish(self._next_message())
        finally:
            self._publish_lock.release()

    def _next_message(self) -> dict[str, Any]:
        sent_ns = time.time_ns()
        return {
            "seq": self.sequence + 1,
            "timestamp": iso(sent_ns),
            "sent_ns": sent_ns,
            "source": self.source,
        }

    def _publish(self, message: dict[str, Any]) -> tuple[int, Any]:
        """PUBLISH, telling apart "not sent" (503, the number is kept for the next message)
        from "sent, no answer" (504: Redis may have run it, so the number is used up)."""
        pool = self.client.connection_pool
        try:
            connection = pool.get_connection()
        except redis.RedisError as error:
            return self._not_published(str(error))
        try:
            try:
                connection.send_command("PUBLISH", self.channel, json.dumps(message))
            except redis.RedisError as error:
                return self._not_published(str(error))
            self.sequence += 1
            try:
                receivers = connection.read_response()
            except redis.RedisError as error:
                return self._unconfirmed(message, str(error))
        finally:
            pool.release(connection)
        self.log(f"published #{message['seq']} to {self.channel!r}: {receivers} receiver(s)")
        return 200, {"channel": self.channel, "message": message, "receivers": receivers}

    def _not_published(self, problem: str) -> tuple[int, Any]:
        self.log(f"Redis unreachable, nothing published: {problem}")
        return 503, {
            "error": f"Redis at {where(self.redis_url)} is unreachable ({problem}); "
            "nothing was published. The publisher keeps running: "
            "call /ping again once Redis is back."
        }

    def _unconfirmed(self, message: dict[str, Any], problem: str) -> tuple[int, Any]:
        self.unconfirmed += 1
        self.log(f"sent #{message['seq']}, Redis did not confirm: {problem}")
        return 504, {
            "error": f"outcome unknown: #{message['seq']} was sent to Redis at "
            f"{where(self.redis_url)}, which did not confirm it ({problem}). It may or may "
            "not have been published; its number is not used again, so a subscriber that "
            "never got it shows it as a gap.",
            "message": message,
        }

    def _health(self, _query: dict) -> tuple[int, Any]:
        try:
            self.client.ping()
            redis_ok, problem = True, None
        except redis.RedisError as error:
            redis_ok, problem = False, str(error)
        body = {
            "status": "ok" if redis_ok else "redis unreachable",
            "redis": where(self.redis_url),
            "redis_reachable": redis_ok,
            "channel": self.channel,
            "published": self.sequence - self.unconfirmed,
            "unconfirmed": self.unconfirmed,
        }
        if problem:
            body["problem"] = problem
        return (200 if redis_ok else 503), body
