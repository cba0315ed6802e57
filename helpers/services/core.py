"""What the publisher and the subscriber share: settings, a checked Redis client, the
GET routes, a timestamped log, and a stop that frees both the port and the connection.

The two services themselves are in `publisher.py` and `subscriber.py`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis

from helpers import http_service
from helpers.language import _
from helpers.redis_server import RedisUnavailable, masked

PUBLISHER_PORT = 8000
SUBSCRIBER_PORT = 8001
CHANNEL = "my_channel"

Route = Callable[[dict[str, list[str]]], tuple[int, Any]]


class BadRequest(ValueError):
    """A query parameter the service cannot use; answered with 400 and this message."""


def check_port(port: Any) -> int:
    """`port` as an int in 0-65535 (0: any free port), or a ValueError saying what to give."""
    if isinstance(port, str):
        number = http_service.whole_number(port.strip(), 5)
        port = port if number is None else number
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(
            _(
                "{port!r} is not a port number: give a whole number from 1 to 65535, "
                "or 0 for any free port"
            ).format(port=port)
        )
    return port


def where(url: str) -> str:
    """host:port/db of a Redis URL, without any password, fit for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


def iso(ns: int) -> str:
    """A time.time_ns() stamp as ISO 8601 UTC to the millisecond, as the messages carry it."""
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, as Python's docs advise after a BrokenPipeError, so that
    the flush at exit does not fail again (exit code 120 and a message on stderr)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _connect(url: str, who: str, **options: Any) -> redis.Redis:
    """A client that fails fast, checked with PING, or RedisUnavailable saying what to do."""
    try:
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=1, **options
        )
    except ValueError as error:
        raise RedisUnavailable(
            _("{who}: {url!r} is not a Redis URL ({error}). Use redis://HOST:PORT/DB.").format(
                who=who, url=masked(url), error=error
            )
        ) from None
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise RedisUnavailable(
            _(
                "{who}: no Redis answers at {where} ({error}). Start Redis (for example "
                "`docker compose up -d redis`) or point --redis-url / REDIS_URL at a running one."
            ).format(who=who, where=where(url), error=error)
        ) from None
    return client


class _Routes(http_service.QuietJSONHandler):
    """GET routes of one service instance; unknown paths get 404, other methods 405."""

    routes: dict[str, Route] = {}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route = self.routes.get(parts.path.rstrip("/") or "/")
        if route is None:
            self.send_json(
                404, {"error": f"no such path {parts.path!r}", "paths": list(self.routes)}
            )
            return
        try:
            status, body = route(parse_qs(parts.query))
        except BadRequest as error:
            status, body = 400, {"error": str(error)}
        self.send_json(status, body)


class Service:
    """What both services share: a Redis client, an HTTP server thread, a log, a stop."""

    kind = "service"
    default_port = 0

    def __init__(
        self,
        name: str,
        redis_url: str,
        *,
        channel: str = CHANNEL,
        port: int | None = None,
        host: str = "127.0.0.1",
        fallback: bool = True,
        echo: bool = False,
        **redis_options: Any,
    ) -> None:
        """Connect to Redis, then serve the routes on `port` (None: the kind's default).

        `channel` is used as given (the callers put the namespace in front); `echo`
        prints each event, which only the process form wants.
        """
        self.name = name
        self.redis_url = redis_url
        self.channel = channel
        self.echo = echo
        port = check_port(self.default_port if port is None else port)
        self.client = _connect(redis_url, name, **redis_options)
        handler = type(f"{self.kind.title()}Handler", (_Routes,), {"routes": self.routes()})
        try:
            self.http = http_service.HTTPService(name, handler, port, host, fallback)
        except BaseException:
            self.client.close()
            raise

    def routes(self) -> dict[str, Route]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def port(self) -> int:
        return self.http.port

    def log(self, text: str) -> None:
        """Print a timestamped line when echo is on (the process form logs to stdout).

        A closed stdout (`... | head -1`) ends the logging, never the service.
        """
        if not self.echo:
            return
        try:
            print(f"{datetime.now():%H:%M:%S.%f}"[:-3] + f" {self.kind}: {text}", flush=True)
        except (OSError, ValueError):
            self.echo = False
            _silence_stdout()

    def stop(self) -> None:
        self.http.stop()
        self.client.close()

    def __repr__(self) -> str:
        state = "running" if self.http.running else "stopped"
        return f"<{self.kind} {self.name!r} {state} at {self.url}, channel {self.channel!r}>"
