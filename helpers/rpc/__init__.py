"""JSON-RPC 2.0 for notebooks 03 and 04: a spec-correct dispatcher, an HTTP server in a
background thread, a keep-alive client, and a worker that serves the same messages over Redis.

The methods themselves (`add`, `subtract`, ...) are the lesson and stay in the notebook;
they are plain functions returning jsonrpcserver's `Success` / `Error`, passed in as an
explicit dict so several servers can live in one kernel.

    server = start(methods, port=0, name="json-rpc")   # .url .port .stop(); re-run replaces
    with Client(server.url) as client: client.send(request("add", params=(3, 4)))
    worker = serve_redis(methods, redis_url, queue="rpc:requests")   # .stop()
    dispatch(body, methods) -> str                      # "" when nothing is to be sent back

The package, one file per job:
    dispatcher.py  `dispatch`, `prepared`, error replies: the only file using
                   jsonrpcserver's internals
    http.py        RPCHandler, Server, start, stop, Client
    over_redis.py  RedisWorker, serve_redis
    methods.py     the course's methods (notebooks 03 and 04) and the spec's
    __main__.py    `python -m helpers.rpc --port 3000` serves methods.py's
"""

from helpers.rpc.dispatcher import (
    BATCH_SECONDS,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    MAX_BATCH,
    MAX_BODY_BYTES,
    PARSE_ERROR,
    SERVER_ERROR,
    Methods,
    dispatch,
    error_reply,
    prepared,
)
from helpers.rpc.http import Client, RPCHandler, Server, start, stop
from helpers.rpc.over_redis import RedisWorker, serve_redis

__all__ = [
    "BATCH_SECONDS",
    "INTERNAL_ERROR",
    "INVALID_REQUEST",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "PARSE_ERROR",
    "SERVER_ERROR",
    "Client",
    "Methods",
    "RPCHandler",
    "RedisWorker",
    "Server",
    "dispatch",
    "error_reply",
    "prepared",
    "serve_redis",
    "start",
    "stop",
]
