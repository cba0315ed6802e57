"""helpers.rpc against a real server on loopback: every example of the JSON-RPC 2.0
specification, bad input of every kind, 64 concurrent clients, random bodies, the
server's life cycle, the process form and the Redis transport."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator

import jsonschema
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import background, http_service, rpc
from helpers.pubsub import wait_subscribed
from helpers.redis_server import free_port
from helpers.rpc import dispatcher
from helpers.rpc import methods as rpc_methods

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import jsonrpcserver
    from jsonrpcclient import Error, Ok, parse, request
    from jsonrpcserver import Success


def unencodable() -> object:
    return Success(object())


def not_a_number() -> object:
    return Success(math.nan)


def boom() -> object:
    raise RuntimeError("boom")


def sleep(seconds: float) -> object:
    """A slow method with no Redis behind it (the course's `slow` publishes), for timeouts."""
    time.sleep(seconds)
    return Success(seconds)


METHODS = {
    **rpc_methods.spec_methods(),
    "add": rpc_methods.add,
    "echo": rpc_methods.echo,
    "divide": rpc_methods.divide,
    "sleep": sleep,
    "unencodable": unencodable,
    "not_a_number": not_a_number,
    "boom": boom,
}


@pytest.fixture(scope="module")
def server() -> Iterator[rpc.Server]:
    started = rpc.start(METHODS, name="test json-rpc")
    yield started
    started.stop()
    background.stop("test json-rpc")


@pytest.fixture
def client(server: rpc.Server) -> Iterator[rpc.Client]:
    with rpc.Client(server.url) as connection:
        yield connection
    assert_still_serves(server)


def assert_still_serves(server: rpc.Server) -> None:
    """After whatever a test threw at it, the server answers the next valid request."""
    with rpc.Client(server.url) as fresh:
        assert fresh.send({"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}) == {
            "jsonrpc": "2.0",
            "result": 7,
            "id": 1,
        }


def without_data(reply):
    """The spec's examples omit the optional error `data` member; compare without it."""
    if isinstance(reply, list):
        return [without_data(item) for item in reply]
    if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
        return {**reply, "error": {k: v for k, v in reply["error"].items() if k != "data"}}
    return reply


# The examples section of https://www.jsonrpc.org/specification, verbatim: what is sent,
# and what must come back (None: nothing at all).
SPEC_EXAMPLES = {
    "positional params": (
        '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}',
        '{"jsonrpc": "2.0", "result": 19, "id": 1}',
    ),
    "positional params, swapped": (
        '{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}',
        '{"jsonrpc": "2.0", "result": -19, "id": 2}',
    ),
    "named params": (
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, '
        '"id": 3}',
        '{"jsonrpc": "2.0", "result": 19, "id": 3}',
    ),
    "named params, reordered": (
        '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, '
        '"id": 4}',
        '{"jsonrpc": "2.0", "result": 19, "id": 4}',
    ),
    "notification": ('{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', None),
    "notification of a missing method": ('{"jsonrpc": "2.0", "method": "foobar"}', None),
    "non-existent method": (
        '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}',
        '{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}',
    ),
    "invalid JSON": (
        '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
        '{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}',
    ),
    "invalid Request object": (
        '{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
        '{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}',
    ),
    "batch, invalid JSON": (
        '[ {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
        '{"jsonrpc": "2.0", "method" ]',
        '{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}',
    ),
    "empty array": (
        "[]",
        '{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}',
    ),
    "invalid batch, not empty": (
        "[1]",
        '[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]',
    ),
    "invalid batch": (
        "[1,2,3]",
        "["
        + ",".join(
            [
                '{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, '
                '"id": null}'
            ]
            * 3
        )
        + "]",
    ),  # fmt: skip
    "mixed batch": (
        """[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
        ]""",
        """[
        {"jsonrpc": "2.0", "result": 7, "id": "1"},
        {"jsonrpc": "2.0", "result": 19, "id": "2"},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
        {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
        ]""",
    ),
    "batch of notifications": (
        '[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},'
        '{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]',
        None,
    ),
}


@pytest.mark.parametrize("name", list(SPEC_EXAMPLES))
def test_every_spec_example_gets_the_specs_answer(name: str, client: rpc.Client) -> None:
    sent, expected = SPEC_EXAMPLES[name]
    status, text = client.send_text(sent)
    if expected is None:
        assert (status, text) == (204, ""), f"{name}: the spec says no reply, got {text!r}"
        return
    assert status == 200
    assert without_data(json.loads(text)) == json.loads(expected)


def test_dispatch_alone_gives_the_same_answers() -> None:
    """The transport-free function the Redis worker uses agrees with the spec too."""
    for name, (sent, expected) in SPEC_EXAMPLES.items():
        answer = rpc.dispatch(sent, METHODS)
        if expected is None:
            assert answer == "", name
        else:
            assert without_data(json.loads(answer)) == json.loads(expected), name


def test_jsonrpcclient_request_and_parse_round_trip(client: rpc.Client) -> None:
    reply = parse(client.send(request("add", params=(3, 4))))
    assert isinstance(reply, Ok) and reply.result == 7
    failed = parse(client.send(request("divide", params=(1, 0))))
    assert isinstance(failed, Error)
    assert (failed.code, failed.message, failed.data) == (1001, "Division by zero", {"dividend": 1})
    batch = list(parse(client.send([request("add", params=(1, 2)), request("nope")])))
    assert [type(r) for r in batch] == [Ok, Error]


def test_wrong_params_get_32602(client: rpc.Client) -> None:
    reply = client.send({"jsonrpc": "2.0", "method": "add", "params": [1], "id": 7})
    assert reply["error"]["code"] == -32602 and reply["id"] == 7
    assert "b" in reply["error"]["data"]


def test_a_raising_method_gets_32603_and_writes_nothing_to_stderr(
    client: rpc.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    reply = client.send({"jsonrpc": "2.0", "method": "boom", "id": 1})
    assert reply["error"] == {"code": -32603, "message": "Internal error", "data": "boom"}
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("method", ["unencodable", "not_a_number"])
def test_a_result_json_cannot_encode_gets_32603(method: str, client: rpc.Client) -> None:
    reply = client.send({"jsonrpc": "2.0", "method": method, "id": "x"})
    assert reply["error"]["code"] == -32603 and reply["id"] == "x"
    batch = client.send(
        [
            {"jsonrpc": "2.0", "method": method, "id": 1},
            {"jsonrpc": "2.0", "method": "add", "params": [1, 1], "id": 2},
        ]
    )
    assert [r.get("result", r.get("error", {}).get("code")) for r in batch] == [-32603, 2]


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: rpc.Server) -> None:
    """The server answers 413 from the headers alone, while the body is still unsent."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (rpc.MAX_BODY_BYTES + 1)
        )
        head = sock.recv(65536).decode()
    status_line, _, body = head.partition("\r\n\r\n")
    assert status_line.startswith("HTTP/1.1 413")
    assert "Connection: close" in status_line
    assert json.loads(body)["error"]["code"] == -32600
    assert_still_serves(server)


def test_a_body_over_the_limit_sent_in_full_is_refused(client: rpc.Client) -> None:
    """A client that sends the whole body first (as http.client does) still reads the 413."""
    status, text = client.send_text(b"[" + b"1," * (rpc.MAX_BODY_BYTES // 2) + b"1]")
    assert status == 413 and "limit" in json.loads(text)["error"]["data"]


def test_a_body_that_is_not_utf8_gets_a_parse_error(client: rpc.Client) -> None:
    status, text = client.send_text(
        '{"jsonrpc": "2.0", "method": "echo", "params": ["é"]}'.encode("latin-1")
    )
    reply = json.loads(text)
    assert status == 200 and reply["error"]["code"] == -32700 and "UTF-8" in reply["error"]["data"]


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_deeply_nested_json_gets_a_parse_error(depth: int, client: rpc.Client) -> None:
    body = (
        '{"jsonrpc": "2.0", "method": "echo", "params": ['
        + "[" * depth
        + "]" * depth
        + '], "id": 1}'
    )
    reply = json.loads(client.send_text(body)[1])
    assert reply["error"]["code"] == -32700 and reply["id"] is None


def test_nesting_just_inside_the_parser_limit_gets_an_answer_not_a_crash(
    client: rpc.Client,
) -> None:
    """Parsed, echoed back; whether the encoder manages it or answers -32603, it answers."""
    for depth in (500, 900, 990):
        nested = "[" * depth + "]" * depth
        text = client.send_text(
            f'{{"jsonrpc": "2.0", "method": "echo", "params": [{nested}], "id": 1}}'
        )[1]
        reply = json.loads(text)
        assert reply["id"] in (1, None) and ("result" in reply or "error" in reply)


def test_a_huge_batch_gets_one_clear_error(client: rpc.Client) -> None:
    call = {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}
    reply = client.send([call] * (rpc.MAX_BATCH + 1))
    assert reply["error"]["code"] == -32600 and str(rpc.MAX_BATCH) in reply["error"]["data"]
    assert len(client.send([call] * rpc.MAX_BATCH)) == rpc.MAX_BATCH


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_wrong_content_type_gets_415(content_type: str, client: rpc.Client) -> None:
    status, text = client.send_text(
        '{"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}', content_type
    )
    assert status == 415 and "application/json" in json.loads(text)["error"]["data"]


def test_content_type_parameters_are_accepted(client: rpc.Client) -> None:
    body = '{"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}'
    assert client.send_text(body, "Application/JSON; charset=utf-8") == (
        200,
        '{"jsonrpc":"2.0","result":7,"id":1}',
    )


def raw_exchange(server: rpc.Server, data: bytes) -> str:
    """Send bytes on a fresh connection and read until the server closes or 2 s pass."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received.decode("latin-1")


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405),
        (b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405),
        (b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405),
        (b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 2\r\nConnection: close\r\n\r\n{}", 404),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411),
        (b"HELLO\r\n\r\n", 400),
        (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nno colon here\r\n\r\n", 431),
    ],
)  # fmt: skip
def test_http_misuse_gets_a_status_and_a_json_rpc_error(
    request_head: bytes, status: int, server: rpc.Server
) -> None:
    response = raw_exchange(server, request_head)
    head, _, body = response.partition("\r\n\r\n")
    assert head.split()[1] == str(status), response
    assert json.loads(body)["error"]["code"] == -32600
    if status == 405:
        assert "Allow: POST" in head
    assert_still_serves(server)


def test_expect_100_continue_is_honoured(server: rpc.Server) -> None:
    body = b'{"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}'
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert sock.recv(4096).endswith(b'{"jsonrpc":"2.0","result":7,"id":1}')


def test_a_client_that_hangs_up_mid_request_is_dropped(
    server: rpc.Server, capfd: pytest.CaptureFixture[str]
) -> None:
    for partial in (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"js',
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Ty",
        b"POST / HT",
    ):
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(partial)
        assert_still_serves(server)
    assert capfd.readouterr().err == ""


def test_a_client_that_leaves_before_a_slow_reply_does_not_hurt(server: rpc.Server) -> None:
    with pytest.raises(TimeoutError), rpc.Client(server.url, timeout=0.1) as impatient:
        impatient.send({"jsonrpc": "2.0", "method": "sleep", "params": [0.3], "id": 1})
    time.sleep(0.4)  # let the slow call finish writing to the closed connection
    assert_still_serves(server)


def test_after_a_timeout_the_client_does_not_read_the_stale_reply(server: rpc.Server) -> None:
    with rpc.Client(server.url, timeout=0.2) as client:
        with pytest.raises(TimeoutError):
            client.send({"jsonrpc": "2.0", "method": "sleep", "params": [0.4], "id": "slow"})
        reply = client.send({"jsonrpc": "2.0", "method": "add", "params": [1, 1], "id": "next"})
    assert reply == {"jsonrpc": "2.0", "result": 2, "id": "next"}


def test_64_concurrent_clients_all_get_their_own_answers(server: rpc.Server) -> None:
    clients, calls = 64, 20
    barrier = threading.Barrier(clients)
    wrong: list[str] = []

    failures: list[BaseException] = []

    def one_client(number: int) -> None:
        barrier.wait()  # all connect at the same moment: the listen backlog must hold them
        try:
            with rpc.Client(server.url, timeout=30) as connection:
                for call in range(calls):
                    ident = f"{number}-{call}"
                    sent = {
                        "jsonrpc": "2.0",
                        "method": "add",
                        "params": [number, call],
                        "id": ident,
                    }
                    reply = connection.send(sent)
                    if reply != {"jsonrpc": "2.0", "result": number + call, "id": ident}:
                        wrong.append(f"{ident}: {reply}")
        except BaseException as problem:  # noqa: BLE001 (reported by the main thread)
            failures.append(problem)

    threads = [threading.Thread(target=one_client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures and not wrong, (failures[:3], wrong[:5])
    assert not any(thread.is_alive() for thread in threads)


def refused(url: str) -> bool:
    try:
        with rpc.Client(url, timeout=2) as client:
            client.send({"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1})
    except ConnectionRefusedError:
        return True
    return False


def test_starting_a_name_again_replaces_the_old_server() -> None:
    first = rpc.start({"add": rpc_methods.add}, name="test replace")
    second = rpc.start({"add": rpc_methods.add}, name="test replace")
    try:
        assert background.running().count("test replace") == 1
        assert not first.thread.is_alive() and refused(first.url)
        assert_still_serves(second)
        again = rpc.start({"add": rpc_methods.add}, port=second.port, name="test replace")
        assert again.port == second.port  # the explicit port is free again at once
        assert_still_serves(again)
    finally:
        assert rpc.stop("test replace")
    assert "test replace" not in background.running()


def test_stop_joins_the_thread_closes_the_port_and_drops_keep_alive_clients() -> None:
    server = rpc.start({"add": rpc_methods.add}, name="test stop")
    client = rpc.Client(server.url)
    assert (
        client.send({"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1})["result"] == 3
    )
    assert rpc.stop("test stop")
    assert not server.thread.is_alive()
    with pytest.raises((ConnectionError, OSError)):
        client.send({"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 2})
    assert refused(server.url)
    assert not rpc.stop("test stop")
    client.close()


def test_two_servers_in_one_kernel_keep_their_own_methods() -> None:
    english = rpc.start({"hello": lambda: Success("hello")}, name="test english")
    french = rpc.start({"hello": lambda: Success("bonjour")}, name="test french")
    try:
        call = {"jsonrpc": "2.0", "method": "hello", "id": 1}
        with rpc.Client(english.url) as a, rpc.Client(french.url) as b:
            assert (a.send(call)["result"], b.send(call)["result"]) == ("hello", "bonjour")
    finally:
        rpc.stop("test english")
        rpc.stop("test french")


def test_a_taken_port_falls_back_or_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(http_service.PortInUse, match="port 0 picks a free one"):
            rpc.start({"add": rpc_methods.add}, port=taken, name="test taken", fallback=False)
        moved = rpc.start({"add": rpc_methods.add}, port=taken, name="test taken")
        try:
            assert moved.port != taken
            assert f"Port {taken} is in use" in capsys.readouterr().out
            assert_still_serves(moved)
        finally:
            rpc.stop("test taken")


@pytest.mark.parametrize("methods", [{"add": 3}, [rpc_methods.add], None])
def test_methods_must_be_a_dict_of_functions(methods: object) -> None:
    with pytest.raises(TypeError, match="dict of name -> function"):
        rpc.start(methods, name="test bad methods")  # type: ignore[arg-type]
    assert "test bad methods" not in background.running()


def test_client_rejects_a_url_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="http://127.0.0.1:3000"):
        rpc.Client("127.0.0.1:3000")


# ---- random bodies (hypothesis) ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
request_like = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2.0]) | json_values,
        "method": st.sampled_from(
            ["add", "subtract", "echo", "divide", "sum", "get_data", "update", "nope"]
        )
        | json_values,
        "params": json_values,
        "id": json_values,
        "extra": json_values,
    },
)
bodies = (
    st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | json_values.map(lambda v: json.dumps(v).encode())
    | request_like.map(lambda v: json.dumps(v).encode())
    | st.lists(request_like | json_values, max_size=6).map(lambda v: json.dumps(v).encode())
)

REQUEST_SCHEMA = jsonschema.Draft4Validator(
    {
        "$schema": "http://json-schema.org/draft-04/schema#",
        **dispatcher._library_schema["definitions"]["request"],
    }
)


def is_response(reply: object) -> bool:
    """A JSON-RPC 2.0 response object: exactly jsonrpc, id and one of result / error."""
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0" or "id" not in reply:
        return False
    if isinstance(reply["id"], bool) or not isinstance(reply["id"], str | int | float | None):
        return False
    if set(reply) == {"jsonrpc", "id", "result"}:
        return True
    error = reply.get("error")
    return (
        set(reply) == {"jsonrpc", "id", "error"}
        and isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and isinstance(error.get("message"), str)
        and set(error) <= {"code", "message", "data"}
    )


def expected_replies(message: object) -> int | None:
    """How many responses the spec requires for a parsed message (None: one single error)."""
    items = message if isinstance(message, list) and message else [message]
    return sum(1 for item in items if not (REQUEST_SCHEMA.is_valid(item) and "id" not in item))


def strict_json(text: str) -> object:
    """json.loads, except that NaN and Infinity (which are not JSON) fail."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"the reply contains {constant}, which is not JSON: {text[:200]}")

    def finite(number: str) -> float:
        if math.isinf(float(number)):
            refuse(number)
        return float(number)

    return json.loads(text, parse_constant=refuse, parse_float=finite)


def check_reply(body: bytes, status: int, text: str) -> None:
    try:
        message = strict_json(body.decode("utf-8"))
    except (ValueError, AssertionError, RecursionError):
        message = Exception  # not JSON: a single parse error
    if text == "":
        assert status == 204 and message is not Exception and expected_replies(message) == 0
        return
    assert status == 200
    reply = strict_json(text)
    if isinstance(reply, list):
        assert isinstance(message, list) and reply and all(is_response(r) for r in reply), reply
        assert len(reply) == expected_replies(message)
        return
    assert is_response(reply), reply
    if isinstance(message, dict) and REQUEST_SCHEMA.is_valid(message):
        assert reply["id"] == message.get("id")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_random_bodies_get_valid_json_rpc_or_nothing(body: bytes, client: rpc.Client) -> None:
    status, text = client.send_text(body)
    check_reply(body, status, text)


@settings(max_examples=300, deadline=None)
@given(body=bodies)
def test_dispatch_never_raises_and_answers_valid_json_rpc(body: bytes) -> None:
    text = rpc.dispatch(body, METHODS)
    check_reply(body, 204 if text == "" else 200, text)


# ---- the server as a process ---------------------------------------------------------------


def test_python_m_helpers_rpc_serves_the_course_and_the_spec_and_stops_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.rpc", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in banner and "add" in banner and "get_data" in banner
        with rpc.Client(f"http://127.0.0.1:{port}") as client:
            reply = parse(client.send(request("add", params=(3, 4))))
            assert isinstance(reply, Ok) and reply.result == 7
            sent, expected = SPEC_EXAMPLES["mixed batch"]
            assert without_data(json.loads(client.send_text(sent)[1])) == json.loads(expected)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr.read() == ""
        assert refused(f"http://127.0.0.1:{port}")
    finally:
        process.kill()
        process.wait()


def test_python_m_helpers_rpc_on_a_taken_port_says_so() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "helpers.rpc", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"Port {port}" in done.stderr and "in use" in done.stderr


def test_python_m_helpers_rpc_runs_the_notebooks_redis_methods_on_redis_url(private_redis) -> None:
    """`remember`, `publish` and `slow` reach the Redis of REDIS_URL, on the notebooks'
    list and channel names in the learner's namespace; `now` fails as in notebook 04."""
    namespace = f"t{uuid.uuid4().hex[:8]}"
    listener = redis.Redis.from_url(private_redis.url, decode_responses=True)
    events = listener.pubsub()
    events.subscribe(f"{namespace}:rpc-events")
    wait_subscribed(events, 1)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.rpc", "--port", str(port)],
        env={**os.environ, "REDIS_URL": private_redis.url, "COURSE_NAMESPACE": namespace},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "remember" in process.stdout.readline()
        with rpc.Client(f"http://127.0.0.1:{port}") as client:

            def call(method: str, *params: object) -> dict:
                return client.send(request(method, params=params))

            assert call("remember", "a note")["result"] == 1
            assert call("publish", "hello")["result"] == 1
            assert call("slow", 0, "t1")["result"] == "slept 0 s"
            assert call("slow", 11, "t2")["error"]["code"] == -32602  # over its 10 s
            assert call("now")["error"]["code"] == -32603  # a date is not JSON
        assert listener.lrange(f"{namespace}:rpc-notes", 0, -1) == ["a note"]
        heard = []
        deadline = time.monotonic() + 5
        while len(heard) < 2 and time.monotonic() < deadline:
            message = events.get_message(timeout=0.5)
            if message and message["type"] == "message":
                heard.append(message["data"])
        assert heard == ["hello", "slow t1 finished"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr.read() == ""
    finally:
        process.kill()
        process.wait()
        events.close()
        listener.close()


# ---- the same messages over Redis ----------------------------------------------------------


def call_over_redis(client: redis.Redis, queue: str, body: str, timeout: float = 5.0) -> str | None:
    """The client side of the Redis transport, written here from the envelope contract."""
    reply_to = f"{queue}:reply:{uuid.uuid4().hex}"
    client.lpush(queue, json.dumps({"reply_to": reply_to, "body": body}))
    popped = client.blpop([reply_to], timeout=timeout)
    return None if popped is None else popped[1]


@pytest.fixture
def worker(private_redis) -> Iterator[tuple[rpc.RedisWorker, redis.Redis]]:
    started = rpc.serve_redis(METHODS, private_redis.url, queue="test:rpc", name="test redis rpc")
    client = redis.Redis.from_url(private_redis.url, decode_responses=True)
    yield started, client
    rpc.stop("test redis rpc")
    client.close()


def test_the_spec_examples_get_the_same_answers_over_redis(worker) -> None:
    _worker, client = worker
    for name, (sent, expected) in SPEC_EXAMPLES.items():
        timeout = 0.3 if expected is None else 5.0
        answer = call_over_redis(client, "test:rpc", sent, timeout)
        if expected is None:
            assert answer is None, name
        else:
            assert without_data(json.loads(answer)) == json.loads(expected), name


def test_notifications_over_redis_leave_no_reply_key(worker) -> None:
    started, client = worker
    before = started.handled
    client.lpush(
        "test:rpc",
        json.dumps({"reply_to": "test:rpc:reply:n", "body": '{"jsonrpc":"2.0","method":"update"}'}),
    )
    deadline = time.monotonic() + 5
    while started.handled == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.handled == before + 1 and client.exists("test:rpc:reply:n") == 0


def test_a_reply_nobody_collects_expires(worker) -> None:
    started, client = worker
    client.lpush(
        "test:rpc",
        json.dumps(
            {
                "reply_to": "test:rpc:reply:lost",
                "body": '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}',
            }
        ),
    )
    assert client.blpop(["test:rpc:reply:lost"], timeout=5)[1].endswith('"result":3,"id":1}')
    client.lpush(
        "test:rpc",
        json.dumps(
            {
                "reply_to": "test:rpc:reply:lost",
                "body": '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":2}',
            }
        ),
    )
    deadline = time.monotonic() + 5
    while client.ttl("test:rpc:reply:lost") < 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 0 < client.ttl("test:rpc:reply:lost") <= started.reply_ttl


def test_a_malformed_envelope_is_noted_and_the_worker_carries_on(worker) -> None:
    started, client = worker
    client.lpush("test:rpc", "not an envelope", json.dumps({"body": "{}"}))
    answer = call_over_redis(
        client, "test:rpc", '{"jsonrpc":"2.0","method":"add","params":[3,4],"id":1}'
    )
    assert json.loads(answer)["result"] == 7
    assert len(started.errors) == 2 and "not an envelope" in started.errors[0]


def test_the_redis_worker_survives_redis_going_away(worker, private_redis) -> None:
    started, client = worker
    private_redis.restart(down_for=0.3)
    client = redis.Redis.from_url(private_redis.url, decode_responses=True)
    answer = call_over_redis(
        client, "test:rpc", '{"jsonrpc":"2.0","method":"add","params":[3,4],"id":1}'
    )
    client.close()
    assert json.loads(answer)["result"] == 7 and started.errors  # it noticed, and came back


def test_stopping_the_redis_worker_joins_its_thread(private_redis) -> None:
    started = rpc.serve_redis(
        {"add": rpc_methods.add}, private_redis.url, queue="test:stop", name="test redis stop"
    )
    again = rpc.serve_redis(
        {"add": rpc_methods.add}, private_redis.url, queue="test:stop", name="test redis stop"
    )
    assert not started.running and again.running
    assert rpc.stop("test redis stop") and not again.running
    assert "test redis stop" not in background.running()


def test_serve_redis_says_when_redis_is_not_there() -> None:
    with pytest.raises(redis.ConnectionError, match="No Redis answered"):
        rpc.serve_redis(
            {"add": rpc_methods.add}, f"redis://127.0.0.1:{free_port()}/0", name="test no redis"
        )
    assert "test no redis" not in background.running()


def test_stop_waits_for_a_call_still_running() -> None:
    """A slow method outlives its client; once stop() returns, its thread is gone too."""
    server = rpc.start({"sleep": sleep}, name="test in flight")
    with pytest.raises(TimeoutError), rpc.Client(server.url, timeout=0.1) as impatient:
        impatient.send({"jsonrpc": "2.0", "method": "sleep", "params": [0.5], "id": 1})
    busy = list(server.server.workers)
    assert busy and all(thread.is_alive() for thread in busy)
    rpc.stop("test in flight")
    assert not any(thread.is_alive() for thread in busy)


def test_the_client_reconnects_when_the_server_closed_an_idle_connection() -> None:
    """A learner reads for a while; the server drops the idle keep-alive connection; the
    next call must still work, without resending anything that had been sent."""
    quick = rpc.start({"add": rpc_methods.add}, name="test idle")
    quick.server.idle_timeout = 0.2
    try:
        with rpc.Client(quick.url) as client:
            call = {"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}
            assert client.send(call)["result"] == 7
            time.sleep(0.5)  # past the server's idle timeout: it closes the connection
            assert client.send(call)["result"] == 7
    finally:
        rpc.stop("test idle")


def test_a_method_python_cannot_inspect_gets_32000_not_a_dropped_connection() -> None:
    answer = rpc.dispatch(
        '{"jsonrpc": "2.0", "method": "int", "params": [1], "id": 1}', {"int": int}
    )
    assert json.loads(answer)["error"]["code"] == -32000 and json.loads(answer)["id"] == 1


def test_a_refused_body_is_never_read_as_the_next_request(server: rpc.Server) -> None:
    """404 before the body is read: the server closes rather than parse the body as HTTP."""
    body = b'{"jsonrpc": "2.0", "method": "add", "params": [3, 4], "id": 1}'
    wrong_path = (
        b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    response = raw_exchange(server, wrong_path + wrong_path.replace(b"/rpc", b"/"))
    assert response.count("HTTP/1.1 ") == 1 and "Connection: close" in response


def scale(x: float, factor: float = 2) -> object:
    return Success(x * factor)


def total(*values: float) -> object:
    return Success(sum(values))


def shout(*, word: str) -> object:
    return Success(word.upper())


def nothing() -> object:
    return Success(None)


def not_a_result() -> object:
    return 5


SIGNATURES = {
    "add": rpc_methods.add,
    "scale": scale,
    "total": total,
    "shout": shout,
    "nothing": nothing,
    "boom": boom,
    "not_a_result": not_a_result,
}


@pytest.mark.parametrize("method", sorted(SIGNATURES))
@pytest.mark.parametrize(
    "params", [None, [], [3], [3, 4], [3, 4, 5], {"a": 3, "b": 4}, {"x": 3}, {"word": "hi"}]
)
def test_a_valid_request_gets_exactly_the_librarys_own_answer(method: str, params: object) -> None:
    """`dispatch` skips the library's params check when a list of params certainly binds;
    for every signature and params shape, the answer must still be the library's own."""
    call = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        call["params"] = params
    sent = json.dumps(call)
    expected = jsonrpcserver.dispatch(sent, methods=SIGNATURES)
    assert json.loads(rpc.dispatch(sent, rpc.prepared(SIGNATURES))) == json.loads(expected)


def test_serving_a_function_leaves_the_function_as_it_was() -> None:
    """What the dispatcher works out about a method (its signature, its arity) it keeps to
    itself: the learner's function object gets no attribute from being served."""

    def add(a, b):
        return Success(a + b)

    before = dict(vars(add)), set(dir(add))
    server = rpc.start({"add": add}, name="test untouched")
    try:
        with rpc.Client(server.url) as client:
            for params in ([3, 4], {"a": 3, "b": 4}, [3]):
                client.send({"jsonrpc": "2.0", "method": "add", "params": params, "id": 1})
            assert client.send(request("add", params=(3, 4)))["result"] == 7
    finally:
        rpc.stop("test untouched")
    assert (dict(vars(add)), set(dir(add))) == before
    assert not hasattr(add, "__signature__")


def test_a_reply_bigger_than_the_socket_buffer_arrives_whole() -> None:
    """A small reply leaves in one write; the rest of one bigger than any socket buffer
    (4 MB at most on Linux) must follow it."""
    text = "x" * 6_000_000
    server = rpc.start({"big": lambda: Success(text)}, name="test big reply")
    try:
        with rpc.Client(server.url) as client:
            reply = client.send({"jsonrpc": "2.0", "method": "big", "id": 1})
            assert reply == {"jsonrpc": "2.0", "result": text, "id": 1}
            assert client.send({"jsonrpc": "2.0", "method": "big", "id": 2})["id"] == 2
    finally:
        rpc.stop("test big reply")
