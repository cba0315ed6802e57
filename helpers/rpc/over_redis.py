"""The same JSON-RPC messages served over a Redis list instead of HTTP.

worker = serve_redis(methods, redis_url, queue="rpc:requests")   # .stop(); re-run replaces
"""

from __future__ import annotations

import json

import redis

from helpers import background
from helpers.rpc.dispatcher import Methods, dispatch, prepared


class RedisWorker(background.Worker):
    """Serves JSON-RPC messages that arrive on a Redis list instead of over HTTP.

    A client LPUSHes an envelope `{"reply_to": KEY, "body": JSON-RPC text}` onto `queue`;
    the worker BRPOPs it, dispatches the body exactly as the HTTP server would, and pushes
    the reply text onto KEY (which expires after `reply_ttl` s if nobody collects it).
    Several workers on one queue share the load. Notifications get no reply.
    """

    def __init__(
        self,
        methods: Methods,
        url: str,
        *,
        queue: str = "rpc:requests",
        name: str = "json-rpc over redis",
        reply_ttl: int = 60,
    ) -> None:
        super().__init__(name)
        self.methods, self.queue, self.reply_ttl = prepared(methods), queue, reply_ttl
        self.client = redis.Redis.from_url(url, socket_timeout=None)
        try:
            self.client.ping()  # fail here, in the cell, if Redis is not reachable
        except redis.ConnectionError as problem:
            self.client.close()
            raise redis.ConnectionError(
                f"No Redis answered at {url} ({problem}). Pass the URL of a running server, "
                "e.g. redis_server.server().url"
            ) from None
        self.handled = 0
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                item = self.client.brpop([self.queue], timeout=0.1)
                if item is not None:
                    self._answer(item[1])
            except (redis.ConnectionError, redis.TimeoutError) as problem:
                self.errors.append(str(problem))  # Redis went away: wait, then retry
                self.stopping.wait(0.1)

    def _answer(self, raw: bytes) -> None:
        try:
            envelope = json.loads(raw)
            reply_to, body = envelope["reply_to"], envelope["body"]
        except (ValueError, TypeError, KeyError):
            self.errors.append(f"dropped a message that is not an envelope: {raw[:80]!r}")
            return
        answer = dispatch(body, self.methods)
        self.handled += 1
        if answer and isinstance(reply_to, str):
            with self.client.pipeline() as pipe:
                pipe.lpush(reply_to, answer).expire(reply_to, self.reply_ttl).execute()

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        return f"on list {self.queue!r}, {self.handled} handled"


def serve_redis(
    methods: Methods, url: str, *, queue: str = "rpc:requests", name: str = "json-rpc over redis"
) -> RedisWorker:
    """Start a RedisWorker under `name`, replacing an earlier one of that name.

    The methods are checked before the old worker stops, so a mistake leaves it running.
    """
    methods = prepared(methods)
    return background.replace(
        name, lambda: RedisWorker(methods, url, queue=queue, name=name).start()
    )
