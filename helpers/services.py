"""The original lab's two services: a publisher on port 8000 and a subscriber on port 8001.

`GET /ping` on the publisher publishes a numbered, timestamped JSON message to
`my_channel`; the subscriber listens on that channel and reports what it heard at
`/messages` and `/stats`, including the sequence numbers it knows it missed. Both
answer `/health`.

Each runs two ways. In the kernel, `start_publisher()` / `start_subscriber()` run it
in background threads that a cell can re-run (the new one replaces the old) and
stop. As a process, the way it is deployed:

    python -m helpers.services publisher --port 8000
    python -m helpers.services subscriber --port 8001

A Redis that goes away makes `/ping` answer 503 (nothing was published) and the
subscriber reconnect; both carry on once Redis is back, and the subscriber's `/stats`
shows what it missed. A Redis that stalls makes `/ping` answer 504 after REDIS_TIMEOUT:
the message was sent but not confirmed, so it may or may not have been published; its
number is used up and never sent again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpers import background, http_service, pubsub, redis_server
from helpers.language import _
from helpers.redis_server import RedisUnavailable, masked

PUBLISHER_PORT = 8000
SUBSCRIBER_PORT = 8001
CHANNEL = "my_channel"
RECONNECT_EVERY = 0.5  # seconds between a disconnected subscriber's attempts to get back
REDIS_TIMEOUT = 2.0  # seconds the publisher waits for Redis to confirm a PUBLISH
KEEP = 1000  # messages a subscriber keeps for /messages
KEEP_BYTES = 65_536  # a message longer than this is kept cut short
KEEP_GAPS = 100  # the latest gaps listed in /stats (all are counted)
KEEP_SOURCES = 1000  # publishers whose last number a subscriber remembers
SOURCE_CHARS = 200  # of a message's source, the part that names its publisher
SEQ_LIMIT = 2**63  # a seq or sent_ns outside 0..SEQ_LIMIT is not taken as a number
READY = re.compile(r"listening on (http://\S+)")
# Set by ServiceProcess: the kernel's pid, so a service it started exits when the
# kernel is killed (atexit does not run then) instead of holding its port forever.
PARENT_ENV = "COURSE_SERVICE_PARENT"

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


def _where(url: str) -> str:
    """host:port/db of a Redis URL, without any password, fit for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, as Python's docs advise after a BrokenPipeError, so that
    the flush at exit does not fail again (exit code 120 and a message on stderr)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
    entry: dict[str, Any] = {"received_at": _iso(received_ns), "message": message}
    sent_ns = _number(fields.get("sent_ns"))
    if sent_ns is not None:
        entry["latency_us"] = (received_ns - sent_ns) / 1000
    return entry, fields


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
            ).format(who=who, where=_where(url), error=error)
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


class _Service:
    """What both services share: a Redis client, an HTTP server thread, a log, a stop."""

    kind = "service"

    def __init__(
        self,
        name: str,
        redis_url: str,
        channel: str,
        port: int,
        host: str,
        fallback: bool,
        echo: bool,
        **redis_options: Any,
    ) -> None:
        self.name = name
        self.redis_url = redis_url
        self.channel = channel
        self.echo = echo
        port = check_port(port)
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
        state = "running" if self.http.thread.is_alive() else "stopped"
        return f"<{self.kind} {self.name!r} {state} at {self.url}, channel {self.channel!r}>"


class Publisher(_Service):
    """GET /ping publishes {seq, timestamp, sent_ns, source} to the channel.

    Answers 200 (published), 503 (not published: Redis unreachable) or 504 (sent, but
    Redis did not confirm within redis_timeout: the outcome is unknown).
    """

    kind = "publisher"

    def __init__(self, *args: Any, redis_timeout: float = REDIS_TIMEOUT, **kwargs: Any) -> None:
        self.sequence = 0  # numbers used up: published, or sent with the outcome unknown
        self.unconfirmed = 0  # of those, sent but never confirmed (504)
        self.redis_timeout = redis_timeout
        self._publish_lock = threading.Lock()
        # No hidden retries: a command Redis may have run must not be sent twice. The
        # pool replaces a connection Redis closed (after a restart) before handing it out.
        options = {"retry": Retry(NoBackoff(), 0), "socket_timeout": redis_timeout}
        super().__init__(*args, **options, **kwargs)

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
            "timestamp": _iso(sent_ns),
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
            "error": f"Redis at {_where(self.redis_url)} is unreachable ({problem}); "
            "nothing was published. The publisher keeps running: "
            "call /ping again once Redis is back."
        }

    def _unconfirmed(self, message: dict[str, Any], problem: str) -> tuple[int, Any]:
        self.unconfirmed += 1
        self.log(f"sent #{message['seq']}, Redis did not confirm: {problem}")
        return 504, {
            "error": f"outcome unknown: #{message['seq']} was sent to Redis at "
            f"{_where(self.redis_url)}, which did not confirm it ({problem}). It may or may "
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
            "redis": _where(self.redis_url),
            "redis_reachable": redis_ok,
            "channel": self.channel,
            "published": self.sequence - self.unconfirmed,
            "unconfirmed": self.unconfirmed,
        }
        if problem:
            body["problem"] = problem
        return (200 if redis_ok else 503), body


class Subscriber(_Service):
    """Listens on the channel in a daemon thread; /messages, /stats and /health report.

    Its memory stays bounded whatever is published: the last `keep` messages (each cut
    at KEEP_BYTES), the last KEEP_GAPS gaps with running totals of all, and the last
    numbers of the KEEP_SOURCES publishers heard from most recently.
    """

    kind = "subscriber"

    def __init__(self, *args: Any, keep: int = KEEP, **kwargs: Any) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.connected = False
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
        self.disconnects = 0
        self.thread = threading.Thread(target=self._listen, daemon=True)  # /health asks it
        # No hidden retries and no read timeout: a dropped connection surfaces at
        # once, and the loop below reconnects and re-subscribes in plain sight.
        super().__init__(*args, retry=Retry(NoBackoff(), 0), socket_timeout=None, **kwargs)
        try:
            self._pubsub = self._subscribe()
        except (redis.RedisError, TimeoutError) as error:
            super().stop()
            raise RedisUnavailable(f"{self.name}: could not subscribe ({error})") from None
        self.thread.name = f"{self.name} (listening on {self.channel})"
        self.thread.start()

    def routes(self) -> dict[str, Route]:
        return {"/messages": self._messages, "/stats": self._stats, "/health": self._health}

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

    def _listen(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    message = self._pubsub.get_message(timeout=0.1)
                except (redis.RedisError, OSError) as error:  # dropped, or Redis is gone
                    self._reconnect(error)
                    continue
                if message and message["type"] == "message":
                    self._record(message["data"])
        finally:
            self._leave()

    def _leave(self) -> None:
        """Unsubscribe and wait for Redis to confirm, then close.

        Closing alone is not enough: Redis may run a PUBLISH from another client before
        it notices the closed socket, and count this subscriber as a receiver.
        """
        if self.connected:
            with contextlib.suppress(redis.RedisError, OSError):
                self._pubsub.unsubscribe()
                deadline = time.monotonic() + 1
                while time.monotonic() < deadline:
                    message = self._pubsub.get_message(timeout=0.1)
                    if message and message["type"] == "unsubscribe":
                        break
        self.connected = False
        self._pubsub.close()

    def _reconnect(self, error: Exception) -> None:
        """Try every RECONNECT_EVERY seconds until subscribed again or stopped."""
        self._pubsub.close()
        self.connected = False
        self.disconnects += 1
        self.log(f"lost Redis ({error}); retrying every {RECONNECT_EVERY} s")
        while not self._stop.wait(RECONNECT_EVERY):
            try:
                self._pubsub = self._subscribe()
            except (redis.RedisError, TimeoutError):
                continue
            self.log(f"reconnected, listening on {self.channel!r} again")
            return

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
                "disconnects": self.disconnects,
                "connected": self.connected,
            }

    def _health(self, _query: dict) -> tuple[int, Any]:
        listening = self.thread.is_alive()
        if not listening:
            status = "not listening: the listening thread has stopped; restart the subscriber"
        else:
            status = "ok" if self.connected else "redis unreachable, reconnecting"
        body = {
            "status": status,
            "redis": _where(self.redis_url),
            "subscribed": self.connected and listening,
            "listening": listening,
            "channel": self.channel,
        }
        return (200 if self.connected and listening else 503), body

    def stop(self) -> None:
        """Stop listening (the thread closes its subscription), then the HTTP server."""
        self._stop.set()
        self.thread.join(timeout=5)
        super().stop()


def _start(
    cls: type[_Service],
    name: str,
    port: int,
    redis_url: str | None,
    channel: str,
    host: str,
    fallback: bool,
    **options: Any,
) -> Any:
    background.stop(name)  # frees the port a re-run cell asks for again
    service = cls(
        name,
        redis_url or redis_server.server().url,
        pubsub.channel(channel),
        port,
        host,
        fallback,
        False,  # no printing from background threads into whichever cell runs
        **options,
    )
    background.register(name, service)
    return service


def start_publisher(
    port: int = PUBLISHER_PORT,
    *,
    redis_url: str | None = None,
    channel: str = CHANNEL,
    host: str = "127.0.0.1",
    fallback: bool = True,
    name: str | None = None,
    redis_timeout: float = REDIS_TIMEOUT,
) -> Publisher:
    """Run the publisher in this kernel; calling it again replaces the earlier one.

    The channel gets this user's namespace prefix (pubsub.channel); a busy port
    falls back to a free one and says so, unless fallback=False. A PUBLISH that Redis
    does not confirm within redis_timeout seconds gets 504 (outcome unknown).
    """
    name = name or f"publisher :{port}"
    options = {"redis_timeout": redis_timeout}
    return _start(Publisher, name, port, redis_url, channel, host, fallback, **options)


def start_subscriber(
    port: int = SUBSCRIBER_PORT,
    *,
    redis_url: str | None = None,
    channel: str = CHANNEL,
    host: str = "127.0.0.1",
    fallback: bool = True,
    name: str | None = None,
    keep: int = KEEP,
) -> Subscriber:
    """Run a subscriber in this kernel; calling it again (same port or name) replaces it."""
    name = name or f"subscriber :{port}"
    return _start(Subscriber, name, port, redis_url, channel, host, fallback, keep=keep)


def request(url: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, Any]:
    """Send `method` to `url` and return (status, JSON body), error statuses included.

    Proxies from the environment are ignored: the services are on loopback.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, method=method), timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def wait_until(check: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
    """Poll `check` every 10 ms until it returns something true; return that, or time out."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.01)
    return result


def wait_received(subscriber_url: str, count: int, timeout: float = 5.0) -> dict:
    """The subscriber's /stats once it has received at least `count` messages in all.

    /ping returns when Redis has queued the message; the subscriber records it a
    moment later, so a cell that reads /messages right after /ping waits here first.
    """

    def stats() -> dict | None:
        body = request(f"{subscriber_url}/stats")[1]
        return body if body["received"] >= count else None

    return wait_until(stats, f"{count} messages at {subscriber_url}", timeout)


class ServiceProcess:
    """A service run as its own process, as deployed; its output goes to a log file.

    Started in a session of its own so interrupting the kernel leaves it alone;
    stop() sends SIGINT (Ctrl+C) and waits for it to exit.
    """

    def __init__(self, name: str, command: list[str], timeout: float = 15.0) -> None:
        self.name = name
        self.command = command
        handle, path = tempfile.mkstemp(prefix="course-service-", suffix=".log")
        self.log_path = Path(path)
        self._output = ""
        with os.fdopen(handle, "w") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())},
                start_new_session=True,
            )
        try:
            self.url = self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = READY.search(self.output())
            if found:
                return found.group(1).rstrip(",")
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.02)
        raise TimeoutError(
            f"{self.name} did not say it was listening within {timeout} s:\n{self.output()}"
        )

    def output(self) -> str:
        """Everything the process printed so far (kept after stop)."""
        if self.log_path.exists():
            self._output = self.log_path.read_text()
        return self._output

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal the process, wait for it (kill after 5 s), and return its exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output()
        self.log_path.unlink(missing_ok=True)
        return self.process.returncode

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited ({self.process.returncode})"
        return f"<process {self.name!r} pid {self.process.pid} {state}>"


def launch(name: str, command: list[str], timeout: float = 15.0) -> ServiceProcess:
    """Start `command` as a process registered under `name`; waits until it is listening."""
    background.stop(name)
    return background.register(name, ServiceProcess(name, command, timeout))


def _port_argument(text: str) -> int:
    try:
        return check_port(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    """Run one service in the foreground until SIGINT (Ctrl+C) or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.services",
        description="The lab's publisher (GET /ping publishes) or subscriber (prints, "
        "and reports at /messages and /stats).",
    )
    parser.add_argument("kind", choices=["publisher", "subscriber"])
    parser.add_argument(
        "--port", type=_port_argument, help="default 8000 (publisher) or 8001 (subscriber)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (0.0.0.0 inside a container)"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="default: $REDIS_URL, else redis://127.0.0.1:6379/0",
    )
    parser.add_argument(
        "--channel",
        default=CHANNEL,
        help="channel name; $COURSE_NAMESPACE or $JUPYTERHUB_USER is put in front of it",
    )
    parser.add_argument(
        "--no-fallback",
        action="store_true",
        help="exit if the port is taken (default: use a free one)",
    )
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    cls = Publisher if args.kind == "publisher" else Subscriber
    port = args.port
    if port is None:
        port = PUBLISHER_PORT if args.kind == "publisher" else SUBSCRIBER_PORT
    channel = pubsub.channel(args.channel)
    try:
        service = cls(
            args.kind, args.redis_url, channel, port, args.host, not args.no_fallback, True
        )
    except RedisUnavailable as error:
        print(error, file=sys.stderr, flush=True)
        return 1
    except OSError as error:  # PortInUse, or an address this machine does not have
        print(f"{args.kind}: {error}", file=sys.stderr, flush=True)
        return 1
    service.log(
        f"listening on {service.url}, channel {channel!r}, Redis at {_where(args.redis_url)}. "
        "Ctrl+C stops."
    )
    parent = os.environ.get(PARENT_ENV)
    while not stopping.wait(0.5):
        if parent and str(os.getppid()) != parent:
            service.log(f"the process that started this one ({parent}) is gone")
            break
    service.stop()
    service.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
