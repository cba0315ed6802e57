"""The publisher, the subscriber and the JSON-RPC server under hostile clients and a stalled
Redis (issue 14): deadlines, idle timeouts, a connection cap, honest answers, bounded memory.

Everything runs on loopback against a real Redis, with limits shrunk per server so that
each test takes a second or two; the figures for the default limits are in the README.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import redis
from jsonrpcserver import Success

from helpers import http_service, rpc, services
from helpers.rpc import dispatcher
from helpers.rpc import methods as rpc_methods
from helpers.waiting import wait_until

CALL = b'{"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}'
RPC_REQUEST = (
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(CALL), CALL)
)
GET_REQUEST = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


pytestmark = pytest.mark.usefixtures("nothing_left_running")


@dataclass
class Target:
    """One HTTP service under test: where it listens, its server object, a valid request."""

    url: str
    port: int
    server: http_service._Server
    request: bytes

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def wait_open(self, count: int, idle: int = 0) -> None:
        """Until `count` connections are open, `idle` of them waiting for a request."""

        def reached() -> bool:
            with self.server.connections_lock:
                return (len(self.server.connections), len(self.server.waiting)) >= (count, idle)

        wait_until(reached, f"{count} connections, {idle} idle")


@pytest.fixture(params=["publisher", "json-rpc"])
def target(request: pytest.FixtureRequest, private_redis) -> Target:
    if request.param == "publisher":
        publisher = services.start_publisher(0, redis_url=private_redis.url, name="hostile")
        return Target(publisher.url, publisher.port, publisher.http.server, GET_REQUEST)
    server = rpc.start({"add": rpc_methods.add}, name="hostile")
    return Target(server.url, server.port, server.server, RPC_REQUEST)


def closed(sock: socket.socket, wait: float) -> bool:
    """True if the server closes `sock` within `wait` s (whatever it sent before that)."""
    sock.settimeout(wait)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


# 1. Idle and slow connections are reclaimed; past the cap, 503.


def test_a_request_dripping_in_is_cut_off_at_its_deadline(target: Target) -> None:
    """A per-read timeout restarts with each byte; the request's deadline does not."""
    target.server.request_timeout = 0.5
    with target.connect() as sock:
        for position in range(len(target.request) - 1):  # one byte every 0.1 s: ~4 s
            sock.sendall(target.request[position : position + 1])
            if closed(sock, 0.1):
                break
        else:
            pytest.fail("the server still waited for a request begun 4 s earlier")


def test_an_idle_keep_alive_connection_is_closed(target: Target) -> None:
    target.server.idle_timeout = 0.3
    with target.connect() as sock:
        sock.sendall(target.request)
        reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200 ")
        assert closed(sock, 3), "an idle keep-alive connection was still open after 3 s"


def test_past_the_cap_the_connection_idle_longest_makes_room(target: Target) -> None:
    target.server.max_connections = 4
    idle = []
    for count in range(1, 5):  # one after the other: idle[0] has been idle longest
        idle.append(target.connect())
        target.wait_open(count, idle=count)
    with target.connect() as fresh:
        fresh.sendall(target.request)
        assert fresh.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert closed(idle[0], 3), "the connection idle longest was not closed for the newcomer"
    assert not any(closed(sock, 0.1) for sock in idle[1:])
    for sock in idle:
        sock.close()


def test_past_the_cap_with_every_connection_busy_a_newcomer_gets_503(target: Target) -> None:
    target.server.max_connections = 4
    busy = [target.connect() for _ in range(4)]
    for sock in busy:
        sock.sendall(target.request[:10])  # a request begun, not finished
    target.wait_open(4)
    with target.connect() as fresh:
        fresh.sendall(target.request)
        head, _, body = fresh.recv(65536).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in head
    assert "4 connections open, its limit" in json.dumps(json.loads(body))
    for sock in busy:
        sock.close()


def test_a_short_load_with_hundreds_of_idle_sockets(private_redis) -> None:
    """150 idle sockets held on each server (past a cap of 100), then 2,000 JSON-RPC calls
    from 20 keep-alive clients and 400 pings from 20 threads: threads bounded, every
    answer right, no message lost or doubled, all connections closed at the end. (Well
    under 1,024 descriptors in all, a common limit.)"""
    server = rpc.start({"add": rpc_methods.add}, name="load rpc")
    publisher = services.start_publisher(0, redis_url=private_redis.url, name="load pub")
    subscriber = services.start_subscriber(0, redis_url=private_redis.url, name="load sub")
    servers = (server.server, publisher.http.server)
    for http in servers:
        http.max_connections = 100
    idle = [
        socket.create_connection(("127.0.0.1", http.server_address[1]))
        for http in servers
        for _ in range(150)
    ]
    for http in servers:  # the 50 idle longest made room for the last 50: one thread each
        wait_until(lambda h=http: len(h.connections) == 100, "100 connections")

    def calls(number: int) -> list[str]:
        with rpc.Client(server.url, timeout=30) as client:
            replies = [(n, client.send(rpc_request(number, n))) for n in range(100)]
        return [f"{n}: {r}" for n, r in replies if r.get("result") != number + n]

    def pings(_number: int) -> list[int]:
        return [services.request(f"{publisher.url}/ping", timeout=30)[0] for _ in range(20)]

    with ThreadPoolExecutor(40) as pool:
        wrong, statuses = pool.map(calls, range(20)), pool.map(pings, range(20))
        assert [w for ws in wrong for w in ws] == []
        assert [s for ss in statuses for s in ss] == [200] * 400
    stats = services.wait_received(subscriber.url, 400, timeout=30)
    assert (stats["received"], stats["missed"], stats["publisher_restarts"]) == (400, 0, 0)
    for sock in idle:
        sock.close()
    for http in servers:
        wait_until(lambda h=http: not h.connections, "every connection to close")


def rpc_request(number: int, n: int) -> dict:
    return {"jsonrpc": "2.0", "method": "add", "params": [number, n], "id": f"{number}-{n}"}


# 2. A Redis stall: 504 "outcome unknown", a number used once, nobody queued behind it.


def test_a_stalled_redis_gets_504_and_no_number_is_sent_twice(private_redis) -> None:
    publisher = services.start_publisher(0, redis_url=private_redis.url, redis_timeout=0.5)
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    assert services.request(f"{publisher.url}/ping")[0] == 200

    os.kill(private_redis.pid, signal.SIGSTOP)
    try:
        status, body = services.request(f"{publisher.url}/ping")
        assert status == 504 and "outcome unknown" in body["error"]
        assert body["message"]["seq"] == 2
        with ThreadPoolExecutor(3) as pool:  # each answered, none queued behind the others
            during = list(pool.map(lambda _: services.request(f"{publisher.url}/ping"), "abc"))
    finally:
        os.kill(private_redis.pid, signal.SIGCONT)
    assert {status for status, _ in during} <= {503, 504}
    unconfirmed = 1 + sum(status == 504 for status, _ in during)

    check = redis.Redis.from_url(private_redis.url)
    for _ in range(3):  # Redis runs again, and has read what waited for it (new connections too)
        check.ping()
    check.close()
    status, body = services.request(f"{publisher.url}/ping")
    last = body["message"]["seq"]
    assert (status, last) == (200, 2 + unconfirmed)
    health = services.request(f"{publisher.url}/health")[1]
    assert (health["published"], health["unconfirmed"]) == (2, unconfirmed)

    stats = services.wait_received(subscriber.url, 2)
    seqs = [e["message"]["seq"] for e in services.request(f"{subscriber.url}/messages")[1][
        "messages"]]  # fmt: skip
    assert len(seqs) == len(set(seqs)) and stats["publisher_restarts"] == 0, seqs
    assert len(seqs) + stats["missed"] == last  # each number either heard or a gap


# 3. The subscriber's memory stays bounded; hostile messages do not stop it.


def publish_all(url: str, messages: list) -> None:
    client = redis.Redis.from_url(url)
    with client.pipeline(transaction=False) as pipe:
        for message in messages:
            pipe.publish("my_channel", message if isinstance(message, str) else json.dumps(message))
        pipe.execute()
    client.close()


def test_gaps_and_sources_are_kept_bounded(private_redis) -> None:
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    publish_all(private_redis.url, [{"seq": 2 * n + 1, "source": "gappy"} for n in range(3000)])
    publish_all(private_redis.url, [{"seq": 1, "source": f"s{n}"} for n in range(1500)])
    stats = services.wait_received(subscriber.url, 4500, timeout=20)
    assert (stats["missed"], stats["gap_count"]) == (2999, 2999)
    assert len(stats["gaps"]) == services.KEEP_GAPS
    assert stats["gaps"][-1] == {"source": "gappy", "from": 5998, "to": 5998, "missed": 1}
    assert len(subscriber.last_seq) == services.KEEP_SOURCES
    assert stats["forgotten_sources"] == 1501 - services.KEEP_SOURCES
    assert len(json.dumps(stats)) < 20_000


HOSTILE = [
    "[" * 100_000 + "]" * 100_000,  # too deep for the JSON parser
    {"seq": 1, "sent_ns": 10**400},  # a latency no float can hold
    {"seq": 10**400},  # a gap no JSON encoder would write
    {"seq": True},
    {"seq": 1, "padding": "x" * 200_000},  # kept cut short
]


def test_hostile_messages_are_counted_and_the_subscriber_keeps_listening(private_redis) -> None:
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    publish_all(private_redis.url, [*HOSTILE, {"seq": 2}])
    stats = services.wait_received(subscriber.url, len(HOSTILE) + 1)
    assert (stats["unnumbered"], stats["missed"], stats["last_seq"]) == (3, 0, 2)
    assert services.request(f"{subscriber.url}/health")[0] == 200
    kept = services.request(f"{subscriber.url}/messages?n=2")[1]["messages"][0]["message"]
    assert kept.endswith("characters in all)") and len(kept) < 70_000


# 4, 5 and 7. Numbers that are not ASCII digits, an over-long request line, two framings.


def test_odd_numbers_in_a_query_get_400_and_nothing_on_stderr(private_redis, capfd) -> None:
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    for n in ("%C2%B2", "9" * 5000, "-1", "1.5"):
        status, body = services.request(f"{subscriber.url}/messages?n={n}")
        assert status == 400 and "give the number of messages" in body["error"]
    with pytest.raises(ValueError, match="not a port number"):
        services.check_port("²")
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"Content-Length: \xb2\r\n", 400),  # "²" in Latin-1, which HTTP headers are read as
        (b"Content-Length: " + b"9" * 5000 + b"\r\n", 400),
        (b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", 400),
        (b"Transfer-Encoding: chunked\r\n", 411),
    ],
    ids=["superscript", "5000 digits", "both framings", "chunked"],
)
def test_a_body_length_the_server_cannot_trust_is_refused(head, status, capfd) -> None:
    server = rpc.start({"add": rpc_methods.add}, name="hostile")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n"
            b"2\r\n{}\r\n0\r\n\r\n" % head
        )
        reply = sock.recv(65536).decode("latin-1")
        assert closed(sock, 3)
    assert reply.startswith(f"HTTP/1.1 {status} "), reply
    assert json.loads(reply.partition("\r\n\r\n")[2])["error"]["code"] == -32600
    assert capfd.readouterr().err == ""


def test_a_request_line_over_64_kb_gets_a_proper_414(target: Target) -> None:
    with target.connect() as sock:
        sock.sendall(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 414 ")


def sleep(seconds: float) -> object:
    """A slow method with no Redis behind it (the course's `slow` publishes)."""
    time.sleep(seconds)
    return Success(seconds)


def test_a_batch_of_slow_calls_stops_starting_them_after_its_time(monkeypatch) -> None:
    monkeypatch.setattr(dispatcher, "BATCH_SECONDS", 0.2)
    batch = [{"jsonrpc": "2.0", "method": "sleep", "params": [0.05], "id": n} for n in range(20)]
    batch.append({"jsonrpc": "2.0", "method": "sleep", "params": [0.05]})  # a notification
    replies = json.loads(rpc.dispatch(json.dumps(batch), {"sleep": sleep}))
    assert [reply["id"] for reply in replies] == list(range(20))
    unrun = [reply for reply in replies if "error" in reply]
    assert 0 < len(unrun) < 20 and replies[0]["result"] is not None
    assert all(reply["error"]["code"] == -32000 for reply in unrun)
    assert "not run" in unrun[0]["error"]["data"]


# 6. A closed stdout ends the logging, not the service.


def test_a_closed_stdout_does_not_stop_the_services(private_redis) -> None:
    processes = {
        kind: subprocess.Popen(
            [sys.executable, "-m", "helpers.services", kind, "--port", "0"]
            + ["--redis-url", private_redis.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ("subscriber", "publisher")
    }
    urls = {}
    for kind, process in processes.items():  # like `| head -1`: one line read, then closed
        urls[kind] = services.READY.search(process.stdout.readline()).group(1).rstrip(",")
        process.stdout.close()
    try:
        for _ in range(3):
            assert services.request(f"{urls['publisher']}/ping")[0] == 200
        assert services.wait_received(urls["subscriber"], 3)["received"] == 3
        assert services.request(f"{urls['subscriber']}/health")[0] == 200
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        assert process.wait(timeout=10) == 0
        assert process.stderr.read() == ""
        process.stderr.close()


def test_health_says_when_the_listening_thread_has_stopped(private_redis) -> None:
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    subscriber.listener.interrupt()  # the thread ends as if something had killed it
    subscriber.listener.join()
    status, body = services.request(f"{subscriber.url}/health")
    assert status == 503 and body["listening"] is False
    assert body["status"].startswith("not listening")
