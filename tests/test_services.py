"""The lab's publisher and subscriber against a real Redis, over real HTTP on loopback,
as threads in this process and as the processes `python -m helpers.services` starts."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
import yaml

from helpers import background, pubsub, services
from helpers.http_service import PortInUse
from helpers.redis_server import RedisUnavailable, free_port
from helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
MODULE = [sys.executable, "-m", "helpers.services"]


pytestmark = pytest.mark.usefixtures("nothing_left_running")


@pytest.fixture(autouse=True)
def no_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_NAMESPACE", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)


def ping(publisher: services.Publisher | services.ServiceProcess) -> dict:
    status, body = services.request(f"{publisher.url}/ping")
    assert status == 200, body
    return body


def wait_received(subscriber_url: str, count: int, timeout: float = 5.0) -> dict:
    """/stats once `count` messages arrived, or as they are after `timeout` s."""
    try:
        return services.wait_received(subscriber_url, count, timeout)
    except TimeoutError:
        return services.request(f"{subscriber_url}/stats")[1]


def test_ping_reaches_the_subscriber_with_number_time_and_source(private_redis) -> None:
    publisher = services.start_publisher(0, redis_url=private_redis.url)
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    replies = [ping(publisher) for _ in range(3)]
    assert [reply["receivers"] for reply in replies] == [1, 1, 1]
    assert [reply["message"]["seq"] for reply in replies] == [1, 2, 3]
    assert replies[0]["channel"] == "my_channel"
    assert replies[0]["message"]["source"].endswith(f":{publisher.port}")

    stats = wait_received(subscriber.url, 3)
    assert (stats["received"], stats["last_seq"], stats["missed"]) == (3, 3, 0)
    assert (stats["gaps"], stats["connected"]) == ([], True)
    status, body = services.request(f"{subscriber.url}/messages?n=2")
    assert status == 200
    assert [entry["message"] for entry in body["messages"]] == [r["message"] for r in replies[1:]]
    assert all(entry["latency_us"] > 0 for entry in body["messages"])
    assert services.request(f"{publisher.url}/health") == (
        200,
        {
            "status": "ok",
            "redis": f"127.0.0.1:{private_redis.port}/0",
            "redis_reachable": True,
            "channel": "my_channel",
            "published": 3,
            "unconfirmed": 0,
        },
    )
    assert services.request(f"{subscriber.url}/health")[0] == 200


def test_fan_out_to_three_subscribers(private_redis) -> None:
    publisher = services.start_publisher(0, redis_url=private_redis.url)
    subscribers = [
        services.start_subscriber(0, redis_url=private_redis.url, name=f"subscriber {i}")
        for i in range(3)
    ]
    assert ping(publisher)["receivers"] == 3
    assert [wait_received(s.url, 1)["received"] for s in subscribers] == [1, 1, 1]

    background.stop("subscriber 2")  # a stopped subscriber's messages are simply gone
    assert ping(publisher)["receivers"] == 2
    assert [wait_received(s.url, 2)["received"] for s in subscribers[:2]] == [2, 2]


def test_a_message_on_a_channel_and_a_matching_pattern_arrives_twice(private_redis) -> None:
    client = redis.Redis.from_url(private_redis.url, decode_responses=True)
    listener = client.pubsub()
    listener.subscribe("news.sport")
    listener.psubscribe("news.*")
    pubsub.wait_subscribed(listener, 2)
    assert client.publish("news.sport", "goal") == 2
    got = [listener.get_message(timeout=2) for _ in range(2)]
    assert sorted(message["type"] for message in got) == ["message", "pmessage"]
    pattern_message = next(m for m in got if m["type"] == "pmessage")
    assert pattern_message == {
        "type": "pmessage",
        "pattern": "news.*",
        "channel": "news.sport",
        "data": "goal",
    }
    listener.close()
    client.close()


def test_a_late_subscriber_receives_nothing(private_redis) -> None:
    client = redis.Redis.from_url(private_redis.url, decode_responses=True)
    assert [client.publish("my_channel", f"early {i}") for i in range(10)] == [0] * 10
    late = pubsub.Collector(private_redis.url, channels=("my_channel",))
    assert late.wait_for(1, timeout=0.3) == []
    late.stop()
    client.close()


def test_starting_five_times_leaves_one_service_one_thread_one_port(private_redis) -> None:
    port, other_port = free_port(), free_port()
    while other_port == port:
        other_port = free_port()
    for _ in range(5):
        publisher = services.start_publisher(port, redis_url=private_redis.url, fallback=False)
        subscriber = services.start_subscriber(
            other_port, redis_url=private_redis.url, fallback=False
        )
    assert sorted(background.running()) == sorted([publisher.name, subscriber.name])
    assert publisher.port == port
    names = [t.name for t in threading.enumerate()]
    assert sum(publisher.name in n for n in names) == 1
    assert sum(subscriber.name in n for n in names) == 2  # HTTP server and listener
    assert ping(publisher)["receivers"] == 1
    client = redis.Redis.from_url(private_redis.url)
    assert client.pubsub_numsub("my_channel") == [(b"my_channel", 1)]
    client.close()


def test_stop_joins_the_threads_closes_the_connection_and_frees_the_port(private_redis) -> None:
    port = free_port()
    subscriber = services.start_subscriber(port, redis_url=private_redis.url, fallback=False)
    threads = [t for t in threading.enumerate() if subscriber.name in t.name]
    assert len(threads) == 2
    background.stop(subscriber.name)
    assert not any(t.is_alive() for t in threads)
    client = redis.Redis.from_url(private_redis.url)
    assert client.pubsub_numsub("my_channel") == [(b"my_channel", 0)]
    client.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # would raise if the port were still held


def test_a_busy_port_falls_back_to_a_free_one_and_says_so(private_redis, capsys) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        publisher = services.start_publisher(taken, redis_url=private_redis.url)
        assert publisher.port != taken
        assert f"Port {taken} is in use" in capsys.readouterr().out
        assert ping(publisher)["receivers"] == 0
        with pytest.raises(PortInUse, match=f"Port {taken} .* in use"):
            services.start_publisher(taken, redis_url=private_redis.url, fallback=False)
    # The same name again replaced (stopped) the first publisher before trying the port.
    assert background.running() == []


def test_bad_requests_get_clear_json_answers(private_redis) -> None:
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    status, body = services.request(f"{subscriber.url}/nowhere")
    assert (status, body["paths"]) == (404, ["/messages", "/stats", "/health"])
    status, body = services.request(f"{subscriber.url}/messages?n=many")
    assert status == 400 and "n='many'" in body["error"]
    status, body = services.request(f"{subscriber.url}/stats", method="POST")
    assert (status, body) == (405, {"error": "method POST not allowed"})
    with pytest.raises(ValueError, match="not a port number"):
        services.start_publisher("eighty", redis_url=private_redis.url)


def test_redis_down_gives_503_and_both_recover_with_the_gap_reported(private_redis) -> None:
    publisher = services.start_publisher(0, redis_url=private_redis.url)
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    assert ping(publisher)["receivers"] == 1

    private_redis.stop()
    status, body = services.request(f"{publisher.url}/ping")
    assert status == 503 and "unreachable" in body["error"]
    assert services.request(f"{publisher.url}/health")[0] == 503
    deadline = time.monotonic() + 5
    while services.request(f"{subscriber.url}/health")[0] != 503 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert services.request(f"{subscriber.url}/health")[0] == 503

    private_redis.start()  # same port; the subscriber retries every RECONNECT_EVERY s
    unheard = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reply = ping(publisher)  # the publisher is back at once: no 503 here
        if reply["receivers"]:
            break
        unheard.append(reply["message"]["seq"])
    assert unheard, "the subscriber was back before the first publish: no gap to see"
    stats = wait_received(subscriber.url, 2)
    assert stats["connected"] and stats["disconnects"] == 1
    assert stats["gaps"] == [
        {
            "source": publisher.source,
            "from": unheard[0],
            "to": unheard[-1],
            "missed": len(unheard),
        }
    ]
    assert unheard[0] == 2  # the failed /ping used up no number
    assert stats["missed"] == len(unheard)


def test_a_publisher_restart_is_not_a_gap(private_redis) -> None:
    subscriber = services.start_subscriber(0, redis_url=private_redis.url)
    port = free_port()
    for _ in range(2):
        publisher = services.start_publisher(port, redis_url=private_redis.url, fallback=False)
        ping(publisher)
        ping(publisher)
    stats = wait_received(subscriber.url, 4)
    assert (stats["missed"], stats["publisher_restarts"], stats["last_seq"]) == (0, 1, 2)


def test_namespaces_keep_learners_apart(private_redis, monkeypatch) -> None:
    heard = {}
    for user in ("alice", "bob"):
        monkeypatch.setenv("JUPYTERHUB_USER", user)
        heard[user] = (
            services.start_publisher(0, redis_url=private_redis.url, name=f"{user} publisher"),
            services.start_subscriber(0, redis_url=private_redis.url, name=f"{user} sub"),
        )
    alice_publisher, alice_subscriber = heard["alice"]
    reply = ping(alice_publisher)
    assert (reply["channel"], reply["receivers"]) == ("alice:my_channel", 1)
    assert wait_received(alice_subscriber.url, 1)["received"] == 1
    assert wait_received(heard["bob"][1].url, 1, timeout=0.3)["received"] == 0


def test_unreachable_redis_is_a_clear_error_in_the_kernel() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(RedisUnavailable, match="no Redis answers at .* Start Redis"):
        services.start_subscriber(0, redis_url=dead)
    with pytest.raises(RedisUnavailable, match="not a Redis URL"):
        services.start_publisher(0, redis_url="http://127.0.0.1:6379")
    assert background.running() == []


# The process form, exactly as deployed.


def launch(kind: str, *arguments: str) -> services.ServiceProcess:
    return services.launch(f"{kind} process", [*MODULE, kind, *arguments])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_processes_answer_ping_and_exit_cleanly_on_a_signal(private_redis, sig) -> None:
    subscriber = launch("subscriber", "--port", "0", "--redis-url", private_redis.url)
    publisher = launch("publisher", "--port", "0", "--redis-url", private_redis.url)
    reply = ping(publisher)
    assert reply["receivers"] == 1
    stats = wait_received(subscriber.url, 1)
    assert (stats["received"], stats["last_seq"]) == (1, 1)
    assert publisher.stop(sig) == 0
    assert subscriber.stop(sig) == 0
    assert f'received {{"seq": 1, "timestamp": "{reply["message"]["timestamp"]}"' in (
        subscriber.output()
    )
    assert "published #1 to 'my_channel': 1 receiver(s)" in publisher.output()
    assert publisher.output().rstrip().endswith("publisher: stopped")
    assert subscriber.output().rstrip().endswith("subscriber: stopped")


def test_a_process_applies_the_namespace_to_its_channel(private_redis, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_NAMESPACE", "carol")
    publisher = launch("publisher", "--port", "0", "--redis-url", private_redis.url)
    assert ping(publisher)["channel"] == "carol:my_channel"


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MODULE, *arguments], capture_output=True, text=True, timeout=30)


def test_a_process_without_redis_exits_saying_what_to_do() -> None:
    port = free_port()
    result = run("subscriber", "--port", "0", "--redis-url", f"redis://127.0.0.1:{port}/0")
    assert result.returncode == 1
    assert f"no Redis answers at 127.0.0.1:{port}/0" in result.stderr
    assert "--redis-url" in result.stderr


def test_a_process_given_a_bad_port_exits_saying_what_to_give() -> None:
    result = run("publisher", "--port", "http")
    assert result.returncode == 2
    assert "'http' is not a port number: give a whole number from 1 to 65535" in result.stderr


def test_a_process_on_a_busy_port(private_redis) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = str(holder.getsockname()[1])
        strict = run(
            "publisher", "--port", taken, "--no-fallback", "--redis-url", private_redis.url
        )
        assert strict.returncode == 1
        assert f"Port {taken} on 127.0.0.1 is in use by another program" in strict.stderr
        moved = launch("publisher", "--port", taken, "--redis-url", private_redis.url)
        assert f"Port {taken} is in use by another program" in moved.output()
        assert not moved.url.endswith(f":{taken}")
        assert ping(moved)["receivers"] == 0


def test_compose_runs_the_two_services_on_loopback_ports() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for kind, port in (("publisher", "8000"), ("subscriber", "8001")):
        service = compose[kind]
        command = service["command"]
        assert command[:4] == ["python", "-m", "helpers.services", kind]
        assert command[command.index("--port") + 1] == port
        assert command[command.index("--host") + 1] == "0.0.0.0"  # inside the container
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}


def test_a_process_started_from_a_killed_kernel_exits_and_frees_its_port(private_redis) -> None:
    kernel = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from helpers import services\n"
            f"command = [*{MODULE!r}, 'publisher', '--port', '0', '--redis-url', sys.argv[1]]\n"
            "service = services.ServiceProcess('publisher', command)\n"
            "print(service.url, service.log_path, flush=True)\n"
            "time.sleep(60)\n",
            private_redis.url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    url, log_path = kernel.stdout.readline().split()
    assert services.request(f"{url}/health")[0] == 200
    kernel.kill()  # like a kernel killed outright: no atexit, nothing stopped
    kernel.wait()
    kernel.stdout.close()

    def refused() -> bool:
        try:
            services.request(f"{url}/health", timeout=0.5)
        except OSError:
            return True
        return False

    wait_until(refused, "the orphaned publisher to exit", timeout=10)
    assert "is gone" in Path(log_path).read_text()
    Path(log_path).unlink()
