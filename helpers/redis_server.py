"""The Redis server a kernel talks to: the one in REDIS_URL, or a private embedded one.

Every notebook opens with `r = redis_server.connect()`. That one line has to work
on a laptop, a JupyterHub, Binder, Docker and CI alike, give every cell of the kernel
the same server, and leave nothing running when the kernel goes away. A server left
behind by a killed kernel is found through its pidfile and stopped next time.

Which binary the embedded server runs is `redis_binary`'s choice; starting and stopping
it is `embedded_redis`'s. The names of both stay importable from here.

Run `python -m helpers.redis_server` to see what was found, what was chosen, and
which server a kernel would get.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import redis

from helpers import redis_binary
from helpers.embedded_redis import EmbeddedRedis, reap_orphans
from helpers.redis_binary import FIXES, RedisUnavailable, find_binary
from helpers.server_process import free_port

# EmbeddedRedis, RedisUnavailable, find_binary, free_port and reap_orphans live in the
# modules above; notebooks, tests and bench keep importing them from here.
__all__ = [
    "EmbeddedRedis",
    "RedisUnavailable",
    "ServerInfo",
    "connect",
    "embedded",
    "find_binary",
    "free_port",
    "masked",
    "reap_orphans",
    "server",
    "server_name",
    "shutdown",
]


@dataclass(frozen=True)
class ServerInfo:
    """Which Redis server this kernel uses, for the learner to read."""

    url: str
    version: str  # redis_version; a Valkey server gives the Redis version it matches
    name: str  # what it really is: "Redis 7.0.15" or "Valkey 9.1.2 (Redis-compatible)"
    source: str
    private: bool
    pid: int | None = None

    def __str__(self) -> str:
        kind = "private embedded server" if self.private else "server from REDIS_URL"
        return f"{self.name} at {masked(self.url)} ({kind}; {self.source})"


def server_name(info: dict) -> str:
    """'Valkey 9.1.2 (Redis-compatible)' or 'Redis 7.0.15', from a server's INFO server."""
    if info.get("server_name") == "valkey" and info.get("valkey_version"):
        return f"Valkey {info['valkey_version']} (Redis-compatible)"
    return f"Redis {info['redis_version']}"


_embedded: EmbeddedRedis | None = None
_server: ServerInfo | None = None


def masked(url: str) -> str:
    """The URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _from_env(url: str) -> ServerInfo:
    shown = masked(url)
    unset = "or unset REDIS_URL to use a private embedded server"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    except ValueError as error:
        raise RedisUnavailable(
            f"REDIS_URL={shown!r} is not a valid Redis URL ({error}).\n"
            f"Use the form redis://HOST:PORT/DB, for example redis://127.0.0.1:6379/0, {unset}."
        ) from None
    try:
        with client:
            info = client.info("server")
    except redis.RedisError as error:
        raise RedisUnavailable(
            f"REDIS_URL={shown!r}: no Redis answered ({error}).\n"
            f"Start that server, correct REDIS_URL, {unset}.\n{FIXES}"
        ) from None
    return ServerInfo(
        url=url,
        version=str(info["redis_version"]),
        name=server_name(info),
        source="REDIS_URL",
        private=False,
    )


def _describe(embedded: EmbeddedRedis) -> ServerInfo:
    info = embedded.info()
    return ServerInfo(
        url=embedded.url,
        version=str(info["redis_version"]),
        name=server_name(info),
        source=embedded.origin,
        private=True,
        pid=embedded.pid,
    )


def _running_embedded() -> EmbeddedRedis:
    """The kernel's embedded server: started on first use, replaced (directory too) if it died."""
    global _embedded
    if _embedded is not None and _embedded.running():
        return _embedded
    if _embedded is not None:
        _embedded.stop()  # it died: remove its directory before starting the next one
        _embedded = None
    _embedded = EmbeddedRedis().start()
    return _embedded


def server() -> ServerInfo:
    """The kernel's Redis server, started on first use and shared by every later cell."""
    global _server
    url = os.environ.get("REDIS_URL")
    if url:
        if _server is None or _server.url != url:
            _server = _from_env(url)
        return _server
    embedded_server = _running_embedded()
    if _server is None or _server.pid != embedded_server.pid:  # new, or restarted by an experiment
        _server = _describe(embedded_server)
    return _server


def embedded() -> EmbeddedRedis:
    """A private server for experiments that change its settings or restart it.

    Without REDIS_URL it is the kernel's own server. With REDIS_URL, whose server others
    may share, it is a second server of the kernel's own, started once from the binary
    the pack would embed and stopped with the kernel; the shared server is never touched.
    Prints one line saying which server it is and why.
    """
    shared = server()
    if shared.private:
        print(
            f"This experiment runs on the kernel's own server, {shared.name} at {shared.url}: "
            "nobody else uses it."
        )
        return _running_embedded()
    try:
        private = _running_embedded()
    except RedisUnavailable as error:
        raise RedisUnavailable(
            f"This experiment changes server settings or restarts Redis, so it runs on a private "
            f"server and never on REDIS_URL's ({masked(shared.url)}), which others may share. "
            f"No private server can be started here:\n{error}"
        ) from None
    print(
        f"This experiment runs on a private {_describe(private).name} at {private.url}, started "
        f"for it: REDIS_URL's server ({masked(shared.url)}) may be shared, so it is left alone."
    )
    return private


def connect(**options) -> redis.Redis:
    """A new client for the kernel's server; strings in and out unless told otherwise."""
    options.setdefault("decode_responses", True)
    return redis.Redis.from_url(server().url, **options)


def shutdown() -> None:
    """Stop the kernel's embedded server, if it started one. Runs at kernel exit."""
    global _embedded, _server
    if _embedded is not None:
        _embedded.stop()
    _embedded = None
    _server = None


atexit.register(shutdown)


def main() -> int:
    """Report the binaries, then the server a kernel would use (started and stopped)."""
    have_binary = redis_binary.report()
    started = time.perf_counter()
    try:
        info = server()
    except RedisUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    print(f"OK: {info} (ready in {time.perf_counter() - started:.3f} s)")
    if not info.private and have_binary:
        print(
            "Experiments that change settings or restart Redis start a private server "
            "from the chosen binary; REDIS_URL's server is never touched."
        )
    elif not info.private:
        print(
            "Experiments that change settings or restart Redis cannot run: they need a "
            f"private server and REDIS_URL's may be shared.\n{FIXES}"
        )
    shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
