"""The two services run in this kernel's background threads, as a cell starts them.

Calling `start_publisher()` / `start_subscriber()` again (a re-run cell) replaces the
service started under that name before, freeing its port first; background.stop_all()
(the notebook's clean-up, or kernel exit) stops them.
"""

from __future__ import annotations

from typing import Any, TypedDict, TypeVar, Unpack

from helpers import background, pubsub, redis_server
from helpers.services.core import CHANNEL, PUBLISHER_PORT, SUBSCRIBER_PORT, Service
from helpers.services.publisher import REDIS_TIMEOUT, Publisher
from helpers.services.subscriber import KEEP, Subscriber

S = TypeVar("S", bound=Service)


class Options(TypedDict, total=False):
    """What both start functions take, by keyword; defaults in the comments."""

    redis_url: str | None  # None: the course's Redis, redis_server.server()
    channel: str  # CHANNEL, inside this user's namespace (pubsub.channel)
    host: str  # "127.0.0.1"
    fallback: bool  # True: a busy port falls back to a free one, and says so
    name: str | None  # None: "publisher :8000"; the name a re-run replaces


def _start(
    cls: type[S],
    port: int,
    settings: dict[str, Any],
    *,
    redis_url: str | None = None,
    channel: str = CHANNEL,
    host: str = "127.0.0.1",
    fallback: bool = True,
    name: str | None = None,
) -> S:
    """Start `cls` under `name`, stopping first what that name ran; `settings` are its own
    (redis_timeout, keep). A misspelt option is a TypeError naming it."""
    name = name or f"{cls.kind} :{port}"
    url = redis_url or redis_server.server().url
    channel = pubsub.channel(channel)

    def start() -> S:
        # echo stays off: no printing from background threads into whichever cell runs
        return cls(name, url, channel=channel, port=port, host=host, fallback=fallback, **settings)

    return background.replace(name, start)


def start_publisher(
    port: int = PUBLISHER_PORT,
    *,
    redis_timeout: float = REDIS_TIMEOUT,
    **options: Unpack[Options],
) -> Publisher:
    """Run the publisher in this kernel; calling it again replaces the earlier one.

    The channel gets this user's namespace prefix (pubsub.channel); a busy port
    falls back to a free one and says so, unless fallback=False. A PUBLISH that Redis
    does not confirm within redis_timeout seconds gets 504 (outcome unknown).
    """
    return _start(Publisher, port, {"redis_timeout": redis_timeout}, **options)


def start_subscriber(
    port: int = SUBSCRIBER_PORT, *, keep: int = KEEP, **options: Unpack[Options]
) -> Subscriber:
    """Run a subscriber in this kernel; calling it again (same port or name) replaces it.

    It keeps the last `keep` messages for /messages; `options` as for start_publisher.
    """
    return _start(Subscriber, port, {"keep": keep}, **options)
